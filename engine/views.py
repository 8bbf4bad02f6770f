"""What a viewer of a run needs at each position, read from the recorded steps, never recomputed.

A position is the index of the last step executed; −1 is the start, before the first operation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.steps import Run, Step

START = -1


def parameter_names(run: Run) -> list[str]:
    """``W1, b1, W2, b2, …`` in layer order."""
    return [f"{kind}{l}" for l in range(1, len(run.scenario.layers) + 1) for kind in ("W", "b")]


def arrays_at(run: Run, position: int) -> dict[str, np.ndarray]:
    """Every named array as it stands after step ``position``: the scenario's x, d and parameters,
    then each step's value under its name (an update replaces the parameter it updates)."""
    sc = run.scenario
    known: dict[str, np.ndarray] = {"x": sc.x}
    if sc.d is not None:
        known["d"] = sc.d
    for l, layer in enumerate(sc.layers, start=1):
        known[f"W{l}"], known[f"b{l}"] = layer.W, layer.b
    for step in run.steps[: position + 1]:
        known[step.name] = step.value
    return known


def loss_at(run: Run, position: int) -> float | None:
    """The loss once its step has run, else None."""
    for step in run.steps[: position + 1]:
        if step.phase == "loss":
            return float(step.value)
    return None


def written_cells(step: Step) -> np.ndarray:
    """Which entries of the step's value it wrote: all of them, except that an update writes only the
    entries it changed (a parameter whose gradient is 0 keeps its value)."""
    if step.phase == "update":
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
    return Update(step.name, before, step.inputs[f"grad_{step.name}"], after, change)


def phase_of(run: Run, position: int) -> str:
    """The phase of the step at ``position``; ``start`` before the first step."""
    return "start" if position < 0 else run.steps[position].phase


def phase_starts(run: Run) -> list[int]:
    """The index of each phase's first step, in order."""
    starts, last = [], None
    for step in run.steps:
        if step.phase != last:
            starts.append(step.index)
            last = step.phase
    return starts
