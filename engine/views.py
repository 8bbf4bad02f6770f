"""What a viewer of an iteration needs at each position, read from the recorded steps, never recomputed.

A position is the index of the last step executed; −1 is the start, before the first operation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnstep.engine import names
from nnstep.engine.ops import LOSSES
from nnstep.engine.steps import Iteration, Step

START = -1


def parameter_names(run: Iteration) -> list[str]:
    """``W1, b1, W2, b2, …`` in layer order."""
    return names.parameters(len(run.layers))


def arrays_at(run: Iteration, position: int) -> dict[str, np.ndarray]:
    """Every named array as it stands after step ``position``: the iteration's x, d and parameters,
    then each step's value under its name (an update replaces the parameter it updates)."""
    known: dict[str, np.ndarray] = {"x": run.x}
    if run.d is not None:
        known["d"] = run.d
    for l, layer in enumerate(run.layers, start=1):
        known[names.param("W", l)], known[names.param("b", l)] = layer.W, layer.b
    for step in run.steps[: position + 1]:
        known[step.name] = step.value
    return known


def loss_at(run: Iteration, position: int) -> float | None:
    """The loss once its step has run, else None."""
    for step in run.steps[: position + 1]:
        if step.phase == "loss":
            return float(step.value)
    return None


def written_cells(step: Step) -> np.ndarray:
    """Which entries of the step's value it wrote: all of them, except that an update writes only the
    entries it changed (a parameter whose gradient is 0 keeps its value)."""
    if step.kind == "update":
        return step.value != step.inputs[step.name]
    return np.ones(np.shape(step.value), dtype=bool)


@dataclass(frozen=True)
class Update:
    """An update step's parameter before, its gradient, after, and the change after − before."""

    name: str
    before: np.ndarray
    gradient: np.ndarray
    after: np.ndarray
    change: np.ndarray


def update_parts(step: Step) -> Update:
    before, after = step.inputs[step.name], step.value
    change = after - before
    change.setflags(write=False)
    return Update(step.name, before, step.inputs[names.grad(step.param, step.layer)], after, change)


def phase_of(run: Iteration, position: int) -> str:
    """The phase of the step at ``position``; ``start`` before the first step."""
    return "start" if position < 0 else run.steps[position].phase


def phase_starts(run: Iteration) -> list[int]:
    """The index of each phase's first step, in order."""
    starts, last = [], None
    for step in run.steps:
        if step.phase != last:
            starts.append(step.index)
            last = step.phase
    return starts


def history_columns(values: np.ndarray, computed: int, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """A per-iteration history (losses, accuracies) squeezed into ``columns`` columns for a plot: each
    column's mean over its iterations (nan where none is computed yet, inf where one of them is not
    finite: a diverged run shows as such), and each column's first iteration (counted from 1)."""
    total = len(values)
    columns = max(1, min(columns, total))
    edges = np.linspace(0, total, columns + 1).round().astype(int)
    means = np.full(columns, np.nan)
    for c in range(columns):
        lo, hi = edges[c], min(edges[c + 1], computed)
        if hi > lo:
            chunk = values[lo:hi]
            means[c] = chunk.mean() if np.all(np.isfinite(chunk)) else np.inf
    return means, edges[:-1] + 1


def column_of(iteration: int, total: int, columns: int) -> int:
    """The plot column that holds ``iteration`` (counted from 1)."""
    columns = max(1, min(columns, total))
    edges = np.linspace(0, total, columns + 1).round().astype(int)
    return int(np.searchsorted(edges, iteration - 1, side="right") - 1)


def classes(array: np.ndarray, loss: str | None) -> np.ndarray | None:
    """The class each row of y (or d) stands for: argmax for softmax outputs, > 0.5 for one sigmoid unit."""
    return None if loss is None else LOSSES[loss].classes(array)
