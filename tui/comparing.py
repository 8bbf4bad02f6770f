"""The compare overlay's data: the user's own arrays (MINE) against the iteration on screen, as the panes
show them: each step's mark, theirs beside each array of a step, and what the Operation pane says.

Pure functions over :mod:`nnstep.engine.compare` (nothing here imports Textual): the debugger screen builds
an :class:`Overlay` when a file is opened and again for each iteration of a training run, and hands it down
to the panes as an attribute.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import numpy as np

from nnstep.engine import compare as engine
from nnstep.engine.compare import ArrayResult, Comparison, Mine, MineError, compare, read_mine
from nnstep.engine.limits import visible
from nnstep.engine.steps import Iteration, Step

#: A step's mark in the Steps list: theirs matches, differs, differs only as the course's own loss function
#: makes it (no later step reads it), or was not given.
Mark = Literal["match", "differs", "quirk", "missing"]

__all__ = ["Mark", "MineError", "Overlay", "Theirs", "load", "mine_path"]


@dataclass(frozen=True)
class Theirs:
    """The user's array beside one of ours: as given, and where it differs."""

    array: np.ndarray
    #: In theirs' shape, True where the cell differs; None when the shapes do not agree (see ``shapes``).
    differing: np.ndarray | None
    #: (ours, theirs) when the shapes differ by more than axes of length one.
    shapes: tuple[tuple[int, ...], tuple[int, ...]] | None = None


def mine_path(text: str) -> str:
    """A path as typed: ``~`` is the home folder; a relative path is relative to the current directory."""
    return os.path.expanduser(text.strip())


@dataclass(frozen=True)
class Overlay:
    """MINE compared with one iteration."""

    mine: Mine
    comparison: Comparison

    @property
    def name(self) -> str:
        """The file as the user gave it, safe to print."""
        return visible(self.mine.path)

    @property
    def source(self) -> str:
        """What the file is, in words: an .npz of arrays, a .json of arrays, a print_vec printout."""
        return engine.TEXT["source_" + self.mine.source]

    @property
    def iteration(self) -> Iteration:
        return self.comparison.iteration

    # --- the Steps list ------------------------------------------------------------------------------

    def marks(self) -> dict[int, Mark]:
        """Every step's mark, by its index."""
        out: dict[int, Mark] = {}
        for r in self.comparison.arrays:
            if r.step is None:
                continue
            if r.status == "differs":
                out[r.step.index] = "quirk" if r.course_quirk else "differs"
            else:
                out[r.step.index] = "match" if r.status == "match" else "missing"
        return out

    def counts(self) -> dict[Mark, int]:
        marks = list(self.marks().values())
        return {m: marks.count(m) for m in ("match", "differs", "quirk", "missing")}

    @property
    def first_divergence(self) -> int | None:
        """The index of the first step that differs (where the two runs part), or None."""
        name = self.comparison.first_divergence
        return next((r.step.index for r in self.comparison.arrays if r.name == name and r.step is not None), None)

    def unknown(self) -> list[ArrayResult]:
        """The names in MINE that nnstep has no array for."""
        return [r for r in self.comparison.arrays if r.status == "unknown"]

    # --- the Values pane -----------------------------------------------------------------------------

    def result(self, step: Step) -> ArrayResult | None:
        return self.comparison.for_step(step)

    def theirs_result(self, step: Step) -> Theirs | None:
        """Theirs of the array ``step`` produced (an update's parameter after it), when they gave it."""
        r = self.result(step)
        if r is None or r.theirs is None:
            return None
        return _theirs(r.theirs, r.differing, r.shapes)

    def theirs_input(self, step: Step | None, name: str, ours: np.ndarray) -> Theirs | None:
        """Theirs of ``ours``, an array that ``step`` reads by ``name`` (None: the data the run starts from):
        the result of the step that produced it, or what their run started from (x, d, a parameter before
        its update)."""
        producer = next((s for s in self.iteration.steps if s.name == name and s.kind != "update"), None)
        if producer is not None and (step is None or producer.index < step.index):
            return self.theirs_result(producer)
        given = self.mine.inputs.get(name)
        if given is None:
            return None
        return _theirs(given, *engine.input_differing(self.mine, name, np.asarray(ours)))


def _theirs(array: np.ndarray, differing: np.ndarray | None, shapes) -> Theirs:
    """Theirs as given, the mask (in ours' shape) laid onto theirs' shape (they agree but for axes of one)."""
    if differing is not None and differing.size == array.size:
        differing = np.asarray(differing).reshape(array.shape)
    elif differing is not None:
        differing = None
    return Theirs(np.asarray(array), differing, shapes)


def load(path: str, iteration: Iteration) -> Overlay:
    """MINE at ``path`` read and compared with ``iteration``; raises :class:`MineError` (one line)."""
    mine = read_mine(path, iteration)
    return Overlay(mine, compare(iteration, mine))
