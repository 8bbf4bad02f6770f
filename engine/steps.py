"""A run as an ordered list of steps, made by really executing each operation in turn.

One iteration is: forward (an affine step and an activation step per layer), the loss, backward
(delta, grad_W and grad_b per layer, output layer first) and the update (one step per parameter).
Each step records the named arrays it read and the array it produced, so that any view of the run
(the text trace, the seed printout, the app's panes) only reads steps and never redoes the maths.

:func:`iteration_steps` is a pure function of the parameters and the batch, so a later training run
can recompute any iteration from a parameter checkpoint instead of keeping every array.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping, Sequence

import numpy as np

from nnstep.engine.numbers import exact as full_text
from nnstep.engine.ops import ACTIVATIONS, LOSSES, batch_size, seed_cross_entropy
from nnstep.engine.scenario import Layer, Scenario

PHASES = ("forward", "loss", "backward", "update")


@dataclass(frozen=True)
class Step:
    """One operation of a run, with what it read and what it produced."""

    index: int
    iteration: int
    phase: str
    #: The layer the operation belongs to (1-based, as in ``W1``); None for the loss.
    layer: int | None
    #: The name of the array produced: ``u1``, ``z1``, ``y``, ``loss``, ``delta2``, ``grad_W1``, ``W1``.
    name: str
    #: The operation in the seed's notation: ``u2 = z1·W2 + b2``.
    formula: str
    #: The arrays read, by name, in the order the formula reads them (read-only).
    inputs: Mapping[str, np.ndarray]
    #: The array produced (a 0-d array for the loss; read-only).
    value: np.ndarray
    #: One or two plain sentences on what the step means for these numbers.
    note: str = ""
    #: The numpy code that computes the step, in the seed's style: ``u2 = np.dot(z1, W2) + b2``.
    code: str = ""
    #: The formula's shapes: ``(1×3)·(3×4) + (4) → (1×4)``.
    shapes: str = ""


def shape_label(array) -> str:
    """``(1×3)`` for a matrix, ``(3)`` for a vector, ``scalar`` for a number."""
    a = np.asarray(array)
    return "scalar" if a.ndim == 0 else "(" + "×".join(str(n) for n in a.shape) + ")"


def _frozen(array) -> np.ndarray:
    out = np.array(array, dtype=np.float64)
    out.setflags(write=False)
    return out


def _out_name(l: int, last: int) -> str:
    return "y" if l == last else f"z{l}"


def _in_name(l: int, last: int) -> str:
    return "x" if l == 1 else _out_name(l - 1, last)


def _entries(n: int, total: int) -> str:
    """``1 of 3 entries is`` / ``2 of 3 entries are``."""
    return f"{n} of {total} entr{'y' if total == 1 else 'ies'} {'is' if n == 1 else 'are'}"


class _Recorder:
    def __init__(self, iteration: int, start_index: int):
        self.iteration = iteration
        self.steps: list[Step] = []
        self.start = start_index

    def add(self, phase, layer, name, formula, inputs, value, note="", code="", shapes="") -> np.ndarray:
        """Record a step; in ``shapes``, ``{name}`` stands for an input's shape and ``{out}`` for the value's."""
        frozen_inputs = {k: v if isinstance(v, np.ndarray) and not v.flags.writeable else _frozen(v)
                         for k, v in inputs.items()}
        value = np.array(value, dtype=np.float64)
        value += 0.0  # turns −0.0 into 0.0 and changes nothing else
        value.setflags(write=False)
        bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
        if bad:
            which = f"{name} is" if value.size == 1 else \
                f"{bad} of the {value.size} entries of {name} {'is' if bad == 1 else 'are'}"
            note = (f"Overflow: {which} not finite (inf or nan): the numbers "
                    f"went beyond float64's range (about ±1.8e308), and everything computed from them is "
                    f"meaningless. " + note)
        self.steps.append(Step(index=self.start + len(self.steps), iteration=self.iteration, phase=phase,
                               layer=layer, name=name, formula=formula,
                               inputs=MappingProxyType(frozen_inputs), value=value, note=note, code=code,
                               shapes=shapes.format(out=shape_label(value),
                                                    **{k: shape_label(v) for k, v in frozen_inputs.items()})))
        return value


def _forward_note(act: str, l: int, u: np.ndarray, z: np.ndarray, out: str) -> str:
    if act == "relu":
        dead = u <= 0
        if np.any(dead):
            return (f"ReLU keeps u{l} where it is positive and writes 0 elsewhere; "
                    f"{_entries(int(dead.sum()), u.size)} ≤ 0, and those entries pass no gradient back.")
        return f"ReLU keeps positive entries and writes 0 for the rest; all of u{l} is positive here."
    if act == "sigmoid":
        return f"Sigmoid squashes each entry into (0, 1): {out} = 1 / (1 + exp(−u{l}))."
    if act == "tanh":
        return "tanh squashes each entry into (−1, 1)."
    if act == "step":
        return (f"The step function writes 1 where u{l} > 0, else 0. Its derivative is 0, so no gradient "
                f"will flow back through this layer.")
    if act == "softmax":
        return (f"Softmax turns each row into probabilities that sum to 1: exp(u{l}) / Σ exp(u{l}), "
                f"computed after subtracting the row's maximum so that exp cannot overflow.")
    return f"The identity activation: {out} = u{l} unchanged (as the seed writes y = u{l})."


def _first_difference(course: float, exact: float) -> str:
    """``, different from the 7th significant digit`` (counted on both numbers written to 16 places)."""
    a, b = f"{course:.15e}", f"{exact:.15e}"
    if a == b:
        return ", the same to all 16 significant digits"
    if a.split("e")[1] != b.split("e")[1]:
        return ", different in magnitude"
    digits_a, digits_b = a.split("e")[0].replace(".", ""), b.split("e")[0].replace(".", "")
    n = next(i for i, (p, q) in enumerate(zip(digits_a, digits_b)) if p != q) + 1
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f", different from the {n}{suffix} significant digit"


def _loss_note(loss: str, y: np.ndarray, d: np.ndarray, exact: float) -> str:
    if loss == "mse":
        return "Half the mean of the squared errors over every element of y."
    seed = float(seed_cross_entropy(y, d))
    if loss == "cross_entropy":
        note = "log y is taken as log_softmax(u), exactly and with no epsilon."
        course = (f" The course's cross_entropy_error adds 1e-7 inside the log and would print {full_text(seed)} here"
                  f"{_first_difference(seed, exact)}.")
    else:
        note = "log y and log(1 − y) are taken from u (softplus), so they stay finite."
        course = (f" The course applies its multi-class cross_entropy_error to one sigmoid unit: it would "
                  f"print {full_text(seed)} here whatever the label, since it reads only y; this loss depends on d.")
    return note + (course if math.isfinite(seed) else "")


@dataclass
class Pass:
    """Every array one iteration computes, in the order it computes them (the maths, with no words).

    The training loop keeps only the new parameters and the loss; :func:`iteration_steps` records all
    of it. Both call :func:`compute_pass`, so a recomputed iteration is the straight run's, bit for bit.
    """

    us: list[np.ndarray]
    #: ``zs[0]`` is x; ``zs[l]`` is layer l's output (``zs[-1]`` is y).
    zs: list[np.ndarray]
    loss: np.float64 | None = None
    #: (layer, delta) in the order computed: the output layer first.
    deltas: list[tuple[int, np.ndarray]] | None = None
    grads_W: list[np.ndarray] | None = None
    grads_b: list[np.ndarray] | None = None
    new_W: list[np.ndarray] | None = None
    new_b: list[np.ndarray] | None = None


def compute_pass(W: Sequence[np.ndarray], b: Sequence[np.ndarray], acts: Sequence, x: np.ndarray,
                 d: np.ndarray | None, loss_fn, learning_rate: float | None, in_place: bool = False) -> Pass:
    """Forward, loss, backward and update for one batch; forward only when ``loss_fn`` is None.

    With ``in_place`` the update writes into W and b (``W -= lr·grad``: the same numbers as
    ``W − lr·grad``, without allocating new parameters every iteration) and returns them as new_W, new_b.
    Call it under ``np.errstate(all="ignore")``: a diverging run carries inf or nan, not warnings.
    """
    last = len(W)
    us: list[np.ndarray] = []
    zs: list[np.ndarray] = [x]
    for l in range(last):
        u = np.dot(zs[-1], W[l]) + b[l]
        us.append(u)
        zs.append(acts[l].forward(u))
    if loss_fn is None:
        return Pass(us, zs)
    y, u_out = zs[-1], us[-1]
    loss = loss_fn.value(u_out, y, d)
    delta = loss_fn.delta(u_out, y, d, acts[-1])
    deltas = [(last, delta)]
    grads_W: list[np.ndarray] = [None] * last  # type: ignore[list-item]
    grads_b: list[np.ndarray] = [None] * last  # type: ignore[list-item]
    for l in range(last, 0, -1):
        z_prev = zs[l - 1]
        grads_W[l - 1] = np.outer(z_prev, delta) if delta.ndim == 1 else np.dot(z_prev.T, delta)
        grads_b[l - 1] = delta if delta.ndim == 1 else np.sum(delta, axis=0)
        if l > 1:
            delta = acts[l - 2].backward(us[l - 2], zs[l - 1], np.dot(delta, W[l - 1].T))
            deltas.append((l - 1, delta))
    lr = float(learning_rate)
    if in_place:
        for l in range(last):
            W[l] -= lr * grads_W[l]
            b[l] -= lr * grads_b[l]
        return Pass(us, zs, loss, deltas, grads_W, grads_b, list(W), list(b))
    new_W = [W[l] - lr * grads_W[l] for l in range(last)]
    new_b = [b[l] - lr * grads_b[l] for l in range(last)]
    return Pass(us, zs, loss, deltas, grads_W, grads_b, new_W, new_b)


def iteration_steps(layers: Sequence[Layer], x: np.ndarray, d: np.ndarray | None, loss: str | None,
                    learning_rate: float | None, iteration: int = 1, start_index: int = 0) -> list[Step]:
    """Execute one iteration on (x, d) and record every operation as a step.

    Without a loss the iteration is forward only. The update steps produce the new parameters; all of
    them are computed from gradients of the parameters the iteration started with.
    """
    rec = _Recorder(iteration, start_index)
    last = len(layers)
    acts = [ACTIVATIONS[layer.activation] for layer in layers]
    W = [_frozen(layer.W) for layer in layers]
    b = [_frozen(layer.b) for layer in layers]
    x = _frozen(x)
    d = None if d is None else _frozen(d)
    fn = None if loss is None else LOSSES[loss]

    with np.errstate(all="ignore"):  # a diverging run shows inf or nan in its steps, not warnings
        p = compute_pass(W, b, acts, x, d, fn, learning_rate)
        us, zs = p.us, p.zs
        for l in range(1, last + 1):
            prev, out = _in_name(l, last), _out_name(l, last)
            u = rec.add("forward", l, f"u{l}", f"u{l} = {prev}·W{l} + b{l}",
                        {prev: zs[l - 1], f"W{l}": W[l - 1], f"b{l}": b[l - 1]}, us[l - 1],
                        f"Each unit of {'layer ' + str(l) if l < last else 'the output layer'} adds up its "
                        f"inputs times its weights, plus its bias.",
                        f"u{l} = np.dot({prev}, W{l}) + b{l}", f"{{{prev}}}·{{W{l}}} + {{b{l}}} → {{out}}")
            z = rec.add("forward", l, out, f"{out} = {acts[l - 1].name}(u{l})", {f"u{l}": u}, zs[l],
                        _forward_note(acts[l - 1].name, l, u, zs[l], out),
                        acts[l - 1].code.format(u=f"u{l}", z=out),
                        ("row by row" if acts[l - 1].name == "softmax" else "entry by entry")
                        + f" on {{u{l}}} → {{out}}")
            us[l - 1], zs[l] = u, z

        if fn is None:
            return rec.steps

        y, u_out = zs[-1], us[-1]
        loss_inputs = {"y": y, "d": d} if loss == "mse" else {"y": y, "d": d, f"u{last}": u_out}
        rec.add("loss", None, "loss", fn.formula, loss_inputs, p.loss, _loss_note(loss, y, d, float(p.loss)),
                fn.code.format(u=f"u{last}", N=batch_size(y)), "{y}, {d} → {out}")

        deltas = iter(p.deltas)
        _, delta = next(deltas)
        delta = rec.add("backward", last, f"delta{last}", _output_delta_formula(loss, acts[-1].name, last),
                        _output_delta_inputs(loss, acts[-1].name, y, d, u_out, last), delta,
                        _output_delta_note(loss, acts[-1].name, y, last),
                        _output_delta_code(loss, acts[-1], y, last), "{y} − {d} → {out}")
        recorded_grads: dict[str, np.ndarray] = {}  # the update steps read the very arrays recorded here
        for l in range(last, 0, -1):
            prev = _in_name(l, last)
            z_prev = zs[l - 1]
            recorded_grads[f"W{l}"] = rec.add("backward", l, f"grad_W{l}", f"grad_W{l} = {prev}ᵀ·delta{l}",
                    {prev: z_prev, f"delta{l}": delta}, p.grads_W[l - 1],
                    "Each weight's gradient is the input it multiplies times the delta of "
                    "the unit it feeds" + (", summed over the batch." if delta.ndim == 2 else
                    f". For one sample, {prev} and delta{l} are row vectors, so {prev}ᵀ·delta{l} "
                    f"is their outer product, np.outer({prev}, delta{l})."),
                    f"grad_W{l} = " + (f"np.outer({prev}, delta{l})" if delta.ndim == 1
                                       else f"np.dot({prev}.T, delta{l})"),
                    f"outer({{{prev}}}, {{delta{l}}}) → {{out}}" if delta.ndim == 1 else
                    f"{{{prev}}}ᵀ·{{delta{l}}} → {{out}}")
            recorded_grads[f"b{l}"] = rec.add("backward", l, f"grad_b{l}",
                    f"grad_b{l} = delta{l}" if delta.ndim == 1 else f"grad_b{l} = Σ delta{l}",
                    {f"delta{l}": delta}, p.grads_b[l - 1],
                    "Each bias is added straight into its unit's u, so its gradient is that "
                    "unit's delta" + (", summed over the batch." if delta.ndim == 2 else "."),
                    f"grad_b{l} = delta{l}" if delta.ndim == 1 else
                    f"grad_b{l} = np.sum(delta{l}, axis=0)",
                    f"{{delta{l}}} → {{out}}" if delta.ndim == 1 else
                    f"Σ over the {delta.shape[0]} rows of {{delta{l}}} → {{out}}")
            if l > 1:
                _, below = next(deltas)
                delta = _hidden_delta(rec, acts[l - 2].name, l - 1, delta, W[l - 1], us[l - 2], zs[l - 1],
                                      last, below)

        lr = float(learning_rate)
        for l in range(1, last + 1):
            for name, old, grad, new in ((f"W{l}", W[l - 1], recorded_grads[f"W{l}"], p.new_W[l - 1]),
                                         (f"b{l}", b[l - 1], recorded_grads[f"b{l}"], p.new_b[l - 1])):
                rec.add("update", l, name, f"{name} = {name} − learning_rate·grad_{name}",
                        {name: old, f"grad_{name}": grad, "learning_rate": np.float64(lr)}, new,
                        f"Gradient descent: move {name} against its gradient, scaled by the learning "
                        f"rate {lr:g}.", f"{name} = {name} - learning_rate * grad_{name}",
                        f"{{{name}}} − scalar·{{grad_{name}}} → {{out}}")
    return rec.steps


def _output_delta_formula(loss: str, act: str, l: int) -> str:
    if loss == "cross_entropy":
        return f"delta{l} = (y − d) / N"
    if loss == "binary_cross_entropy" or act == "identity":
        return f"delta{l} = (y − d) / n"
    if act == "softmax":
        return f"delta{l} = softmax_backward(u{l}, (y − d) / n)"
    return f"delta{l} = (y − d) / n ⊙ {act}'(u{l})"


def _output_delta_code(loss: str, act, y: np.ndarray, l: int) -> str:
    if loss == "cross_entropy":
        return f"delta{l} = (y - d) / {batch_size(y)}"
    if loss == "binary_cross_entropy" or act.name == "identity":
        return f"delta{l} = (y - d) / {y.size}"
    return _backward_code(act, f"delta{l}", f"(y - d) / {y.size}", f"u{l}", "y")


def _backward_code(act, name: str, g: str, u: str, z: str) -> str:
    """``name = `` the activation's backward code, with g computed first where the code reads it twice."""
    if "{g}" in act.backward_code:
        return f"{name} = " + act.backward_code.format(g=g, u=u, z=z)
    return f"g = {g}; {name} = " + act.backward_code.format(u=u, z=z)


def _output_delta_inputs(loss, act, y, d, u, l):
    if loss == "mse" and act != "identity":
        return {"y": y, "d": d, f"u{l}": u}
    return {"y": y, "d": d}


def _output_delta_note(loss: str, act: str, y: np.ndarray, l: int) -> str:
    n, N = y.size, batch_size(y)
    if loss == "cross_entropy":
        return (f"delta{l} = dE/du{l}. With softmax and cross entropy together, the derivative collapses "
                f"to y − d (each row of d sums to 1), divided by the batch size N = {N}.")
    if loss == "binary_cross_entropy":
        return (f"delta{l} = dE/du{l}. With a sigmoid output and binary cross entropy, the sigmoid's "
                f"slope cancels: y − d, divided by the n = {n} elements averaged in the loss.")
    base = f"delta{l} = dE/du{l}. The loss averages over n = {n} elements, so dE/dy = (y − d) / {n}"
    if act == "identity":
        return base + "; the identity output passes it unchanged."
    if act == "step":
        return base + "; step'(u) = 0, so the step output blocks it: delta is all zeros and nothing below learns."
    return base + f", then through {ACTIVATIONS[act].derivative}."


def _hidden_delta(rec: _Recorder, act: str, l: int, delta_above: np.ndarray, W_above: np.ndarray,
                  u: np.ndarray, z: np.ndarray, last: int, value: np.ndarray) -> np.ndarray:
    """Record delta{l} = (delta{l+1}·W{l+1}ᵀ) passed back through layer l's activation (``value``)."""
    a = ACTIVATIONS[act]
    out = _out_name(l, last)
    inputs = {f"delta{l + 1}": delta_above, f"W{l + 1}": W_above}
    back = f"delta{l + 1}·W{l + 1}ᵀ"
    if act == "identity":
        formula, note = f"delta{l} = {back}", "The identity activation passes the gradient unchanged."
    elif act == "relu":
        inputs[f"u{l}"] = u
        formula = f"delta{l} = ({back}) ⊙ relu'(u{l})"
        dead = u <= 0
        if np.any(dead):
            note = (f"ReLU passes the gradient only where u{l} > 0; where u{l} ≤ 0 "
                    f"({_entries(int(dead.sum()), u.size)}) delta{l} is 0")
            if u.ndim == 1:
                note += " and those units' weights get no gradient."
            else:
                always = [str(j + 1) for j in np.flatnonzero(dead.all(axis=0))]
                if always:
                    note += (f". Unit{'s' if len(always) > 1 else ''} {', '.join(always)} of layer {l} "
                             f"(counting from 1) {'are' if len(always) > 1 else 'is'} ≤ 0 for every sample, so "
                             f"{'their' if len(always) > 1 else 'its'} weights get no gradient from this batch.")
                else:
                    note += (". Every unit is positive for some sample, so every unit's weights still get a "
                             "gradient from the other samples.")
        else:
            note = f"ReLU passes the gradient only where u{l} > 0; here every entry of u{l} is positive."
    elif act == "step":
        inputs[f"u{l}"] = u
        formula = f"delta{l} = ({back}) ⊙ step'(u{l})"
        note = (f"step'(u) = 0 everywhere, so the step function blocks the gradient: delta{l} is all zeros, "
                f"and W{l}, b{l} and every layer below get zero gradients from this example.")
    elif act == "softmax":
        inputs[out] = z
        formula = f"delta{l} = softmax_backward({out}, {back})"
        note = f"The gradient flows back through W{l + 1}ᵀ, then through {a.derivative}."
    else:
        inputs[out] = z
        formula = f"delta{l} = ({back}) ⊙ {act}'(u{l})"
        note = f"The gradient flows back through W{l + 1}ᵀ, then through {a.derivative}."
    g_code = f"np.dot(delta{l + 1}, W{l + 1}.T)"
    code = _backward_code(a, f"delta{l}", g_code, f"u{l}", out)
    shapes = f"{{delta{l + 1}}}·{{W{l + 1}}}ᵀ" + ("" if act == "identity" else f" ⊙ {act}'(u{l})") + " → {out}"
    return rec.add("backward", l, f"delta{l}", formula, inputs, value, note, code, shapes)


@dataclass(frozen=True)
class Run:
    """A scenario and every step of its run, in order."""

    scenario: Scenario
    steps: tuple[Step, ...]
    #: For one iteration of a training run: what it starts from (its batch, whose parameters), in words.
    note: str = ""
    #: For one iteration of a training run: the training-set rows its batch took (counted from 0), or
    #: None when it took all of them.
    batch_rows: tuple[int, ...] | None = None

    def final_layers(self) -> tuple[Layer, ...]:
        """The parameters after the run's updates (the initial ones for a forward-only run)."""
        new = {s.name: s.value for s in self.steps if s.phase == "update"}
        return tuple(Layer(W=new.get(f"W{l}", layer.W), b=new.get(f"b{l}", layer.b), activation=layer.activation)
                     for l, layer in enumerate(self.scenario.layers, start=1))


def run(scenario: Scenario) -> Run:
    """Execute a scenario's iteration and record its steps (a training run's first iteration)."""
    if scenario.training is not None:
        from nnstep.engine.training import Training

        return Training(scenario).iteration(1)
    steps = iteration_steps(scenario.layers, scenario.x, scenario.d, scenario.loss, scenario.learning_rate)
    return Run(scenario=scenario, steps=tuple(steps))
