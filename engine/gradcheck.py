"""Central-difference gradient checks of every gradient step of a run (float64).

Each backward step's array (``delta{l}`` = dE/du{l}, ``grad_W{l}``, ``grad_b{l}``) is compared,
element by element, with (E(p + h) − E(p − h)) / 2h, where E is recomputed from scratch by the
forward operations of :mod:`nnstep.engine.ops`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from nnstep.engine.ops import ACTIVATIONS, LOSSES
from nnstep.engine import names
from nnstep.engine.steps import Iteration

#: The finite-difference step.
H = 1e-5
#: An element passes when |analytic − numeric| ≤ ATOL + resolution(E) + RTOL·max(|analytic|, |numeric|):
#: a small absolute slack, what rounding of E costs the differences, and a relative part. (An absolute
#: part that grows with |E| itself would let a 100 % error pass when the loss is large.)
ATOL = 1e-7
RTOL = 1e-5
#: ReLU and step have a kink at u = 0; closer than this, finite differences straddle it.
KINK = 1e-4
#: Central differences lose about eps·|E|/H to rounding; an array whose every entry is smaller than
#: this many times that cannot be resolved by them at all (a diverged run, with E about 1e70).
RESOLVE = 100


def resolution(loss: float) -> float:
    """The smallest gradient that central differences of E resolve, for a loss of this size."""
    return RESOLVE * np.finfo(np.float64).eps * max(1.0, abs(loss)) / H


def tolerance(loss: float, size: np.ndarray) -> np.ndarray:
    """How far analytic and numeric may differ, per element of size max(|analytic|, |numeric|)."""
    return ATOL + resolution(loss) + RTOL * size


@dataclass(frozen=True)
class GradCheck:
    """The comparison for one gradient step."""

    name: str
    analytic: np.ndarray
    numeric: np.ndarray
    max_abs_error: float
    max_rel_error: float
    passed: bool
    #: True when the check says nothing either way (and does not pass): the two disagree but every
    #: entry is below what central differences resolve at this loss, or the numbers are not finite.
    unresolved: bool = False
    #: Why it is unresolved: "rounding" (below the resolution) or "not finite" (inf or nan, an overflow).
    reason: str | None = None


def _loss(run: Iteration, params: list[list[np.ndarray]], start: int = 0, u_start: np.ndarray | None = None) -> float:
    """E with the given parameters, optionally starting from a given u of layer ``start`` (0-based)."""
    z = run.x
    for i, ((W, b), layer) in enumerate(zip(params, run.layers)):
        if i < start:
            continue
        u = u_start if (i == start and u_start is not None) else np.dot(z, W) + b
        z = ACTIVATIONS[layer.activation].forward(u)
    return float(LOSSES[run.scenario.loss].value(u, z, run.d))


def _numeric(f, array: np.ndarray, progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Central differences of f() with respect to every element of ``array`` (perturbed in place);
    ``progress(2)`` after each element's two passes."""
    out = np.zeros_like(array)
    for idx in np.ndindex(array.shape):
        keep = array[idx]
        array[idx] = keep + H
        plus = f()
        array[idx] = keep - H
        minus = f()
        array[idx] = keep
        out[idx] = (plus - minus) / (2 * H)
        if progress is not None:
            progress(2)
    return out


def check_gradients(run: Iteration, progress: Callable[[int], None] | None = None) -> list[GradCheck]:
    """Compare every gradient step of the iteration with central differences; ``progress(n)`` is told
    of every n forward passes done, for a progress bar (2 per entry of every W, b and u in all)."""
    if run.scenario.loss is None:
        return []
    params = [[layer.W.copy(), layer.b.copy()] for layer in run.layers]
    first = run.steps
    values = {s.name: s.value for s in first if s.phase != "update"}
    results = []
    with np.errstate(all="ignore"):  # an overflowing scenario fails the check; it does not warn
        for step in (s for s in first if s.phase == "backward"):
            l = step.layer
            if step.kind == "delta":
                u = np.array(values[names.u(l)])
                numeric = _numeric(lambda: _loss(run, params, l - 1, u), u, progress)
            else:
                target = params[l - 1][0 if step.kind == "grad_W" else 1]
                numeric = _numeric(lambda: _loss(run, params), target, progress)
            analytic = np.asarray(step.value)
            err = np.abs(analytic - numeric)
            size = np.maximum(np.abs(analytic), np.abs(numeric))
            rel = np.divide(err, size, out=np.zeros_like(err), where=size > 0)
            rel[np.isnan(err)] = np.nan
            loss = float(values["loss"])
            passed = bool(np.all(err <= tolerance(loss, size)))
            if not (np.isfinite(loss) and np.all(np.isfinite(analytic)) and np.all(np.isfinite(numeric))):
                reason = "not finite"  # an overflow: there is no number for finite differences to check
            elif np.nanmax(size, initial=0.0) < resolution(loss) and np.nanmax(err, initial=0.0) > ATOL:
                reason = "rounding"
            else:
                reason = None
            results.append(GradCheck(step.name, analytic, numeric, float(err.max()), float(rel.max()),
                                     passed and reason is None, reason is not None, reason))
    return results


def kinks(run: Iteration) -> list[str]:
    """The total inputs of layers whose derivative jumps at 0 (ReLU, step) that lie within KINK of 0,
    where checks are unreliable."""
    found = []
    for step in run.steps:
        if step.kind == "affine":
            act = run.layers[step.layer - 1].activation
            near = np.abs(step.value) < KINK
            op = ACTIVATIONS[act]
            if op.kink and np.any(near):
                zero = np.zeros(1)
                at_zero = float(op.slopes(zero, zero, (1,))[0])  # what the backward pass takes at u = 0
                found.append(f"{step.name} has {int(near.sum())} entr{'y' if near.sum() == 1 else 'ies'} "
                             f"within {KINK:g} of 0, the kink of {act}, where its derivative is taken as {at_zero:g}")
    return found
