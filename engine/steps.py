"""An iteration as an ordered list of typed steps, made by really executing each operation in turn.

One iteration is: forward (an affine step and an activation step per layer), the loss, backward
(delta, grad_W and grad_b per layer, output layer first) and the update (one step per parameter).
Each step records the named arrays it read and the array it produced, so that any view of the run
(the text trace, the seed printout, the app's panes) only reads steps and never redoes the maths.
A step says what it is with its ``kind`` and ``phase``; nobody parses its name.

:func:`iteration_steps` is a pure function of the parameters and the batch, so a training run can
recompute any iteration from a parameter checkpoint instead of keeping every array.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Literal, Mapping, Sequence, get_args

import numpy as np

from nnstep.engine import names
from nnstep.engine.names import Param
from nnstep.engine.ops import ACTIVATIONS, LOSSES, Activation, backward_code, batch_size
from nnstep.engine.scenario import Layer, Scenario

#: The four phases of an iteration, in order.
Phase = Literal["forward", "loss", "backward", "update"]
PHASES: tuple[Phase, ...] = get_args(Phase)
#: What a step computes: u = z·W + b, z = f(u), the loss, a delta, a gradient, or a parameter update.
Kind = Literal["affine", "activation", "loss", "delta", "grad_W", "grad_b", "update"]
KINDS: tuple[Kind, ...] = get_args(Kind)

#: The sentences of the steps that are not an activation's or a loss's (those are in :mod:`ops`).
TEXT = {
    "affine_note": "Each unit of {where} adds up its inputs times its weights, plus its bias.",
    "layer": "layer {l}",
    "output_layer": "the output layer",
    "grad_W_note": "Each weight's gradient is the input it multiplies times the delta of the unit it feeds",
    "grad_W_batch": ", summed over the batch.",
    "grad_W_one": ". For one sample, {prev} and {delta} are row vectors, so {prev}ᵀ·{delta} is their outer "
                  "product, np.outer({prev}, {delta}).",
    "grad_b_note": "Each bias is added straight into its unit's u, so its gradient is that unit's delta",
    "grad_b_batch": ", summed over the batch.",
    "grad_b_one": ".",
    "grad_b_shapes_batch": "Σ over the {rows} rows of {{{delta}}} → {{out}}",
    "update_note": "Gradient descent: move {name} against its gradient, scaled by the learning rate {lr}.",
    "overflow_one": "{name} is",
    "overflow_many": "{bad} of the {size} entries of {name} {verb}",
    "overflow": "Overflow: {which} not finite (inf or nan): the numbers went beyond float64's range (about "
                "±1.8e308), and everything computed from them is meaningless. ",
}


@dataclass(frozen=True)
class Step:
    """One operation of an iteration, with what it read and what it produced."""

    index: int
    iteration: int
    phase: Phase
    kind: Kind
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
    #: For a gradient or an update: which parameter of the layer (W or b); else None.
    param: Param | None = None
    #: The activation the step applies (an activation step) or passes back through (a delta); else None.
    activation: str | None = None
    #: The loss the step computes or differentiates (the loss step and the output delta); else None.
    loss: str | None = None


def shape_label(array) -> str:
    """``(1×3)`` for a matrix, ``(3)`` for a vector, ``scalar`` for a number."""
    a = np.asarray(array)
    return "scalar" if a.ndim == 0 else "(" + "×".join(str(n) for n in a.shape) + ")"


def _frozen(array) -> np.ndarray:
    out = np.array(array, dtype=np.float64)
    out.setflags(write=False)
    return out


class _Recorder:
    def __init__(self, iteration: int, start_index: int):
        self.iteration = iteration
        self.steps: list[Step] = []
        self.start = start_index

    def add(self, phase: Phase, kind: Kind, layer, name, formula, inputs, value, note="", code="", shapes="",
            param: Param | None = None, activation: str | None = None, loss: str | None = None) -> np.ndarray:
        """Record a step; in ``shapes``, ``{name}`` stands for an input's shape and ``{out}`` for the value's."""
        frozen_inputs = {k: v if isinstance(v, np.ndarray) and not v.flags.writeable else _frozen(v)
                         for k, v in inputs.items()}
        value = np.array(value, dtype=np.float64)
        value += 0.0  # turns −0.0 into 0.0 and changes nothing else
        value.setflags(write=False)
        bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
        if bad:
            which = TEXT["overflow_one"].format(name=name) if value.size == 1 else \
                TEXT["overflow_many"].format(bad=bad, size=value.size, name=name, verb="is" if bad == 1 else "are")
            note = TEXT["overflow"].format(which=which) + note
        self.steps.append(Step(index=self.start + len(self.steps), iteration=self.iteration, phase=phase,
                               kind=kind, layer=layer, name=name, formula=formula,
                               inputs=MappingProxyType(frozen_inputs), value=value, note=note, code=code,
                               shapes=shapes.format(out=shape_label(value),
                                                    **{k: shape_label(v) for k, v in frozen_inputs.items()}),
                               param=param, activation=activation, loss=loss))
        return value


# --- the maths of each kind of step, used by the straight run and by a step recomputed on its own -------


def affine(z: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """u = z·W + b."""
    return np.dot(z, W) + b


def hidden_delta(act: Activation, u: np.ndarray | None, z: np.ndarray | None, delta_above: np.ndarray,
                 W_above: np.ndarray) -> np.ndarray:
    """delta_l = (delta_{l+1}·W_{l+1}ᵀ) passed back through layer l's activation (which reads u or z)."""
    return act.backward(u, z, np.dot(delta_above, W_above.T))


def grad_W(z_prev: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """zᵀ·delta: the outer product for one sample, summed over the rows of a batch."""
    return np.outer(z_prev, delta) if delta.ndim == 1 else np.dot(z_prev.T, delta)


def grad_b(delta: np.ndarray) -> np.ndarray:
    """delta, summed over the rows of a batch."""
    return delta if delta.ndim == 1 else np.sum(delta, axis=0)


def update(param: np.ndarray, grad: np.ndarray, learning_rate: float) -> np.ndarray:
    """param − learning_rate·grad."""
    return param - learning_rate * grad


def recompute(step: Step, inputs: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """The step's value computed again from its inputs, with any of them replaced by ``inputs`` (by name).

    With no replacements it is the recorded value, bit for bit: the same functions made it.
    """
    given = dict(inputs or {})
    unknown = set(given) - set(step.inputs)
    if unknown:
        raise KeyError(f"{step.name} does not read {', '.join(sorted(unknown))}")
    # The inputs in the order the formula reads them: the loss and the output delta read y, d (and u),
    # a hidden delta the delta above, its weights (and u or z, as the activation's backward pass reads).
    a = [np.asarray(given.get(k, v), dtype=np.float64) for k, v in step.inputs.items()]
    third = a[2] if len(a) > 2 else None
    with np.errstate(all="ignore"):
        if step.kind == "affine":
            return affine(*a)
        if step.kind == "activation":
            return ACTIVATIONS[step.activation].forward(a[0])
        if step.kind == "loss":
            return LOSSES[step.loss].value(third, a[0], a[1])
        if step.kind == "delta" and step.loss is not None:
            return LOSSES[step.loss].delta(third, a[0], a[1], ACTIVATIONS[step.activation])
        if step.kind == "delta":
            act = ACTIVATIONS[step.activation]
            u, z = (third, None) if act.backward_reads == "u" else (None, third)
            return hidden_delta(act, u, z, a[0], a[1])
        if step.kind == "grad_W":
            return grad_W(*a)
        if step.kind == "grad_b":
            return grad_b(*a)
        return update(a[0], a[1], float(a[2]))


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
        u = affine(zs[-1], W[l], b[l])
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
        grads_W[l - 1] = grad_W(z_prev, delta)
        grads_b[l - 1] = grad_b(delta)
        if l > 1:
            delta = hidden_delta(acts[l - 2], us[l - 2], zs[l - 1], delta, W[l - 1])
            deltas.append((l - 1, delta))
    lr = float(learning_rate)
    if in_place:
        for l in range(last):
            W[l] -= lr * grads_W[l]
            b[l] -= lr * grads_b[l]
        return Pass(us, zs, loss, deltas, grads_W, grads_b, list(W), list(b))
    new_W = [update(W[l], grads_W[l], lr) for l in range(last)]
    new_b = [update(b[l], grads_b[l], lr) for l in range(last)]
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
            prev, out, u_name = names.z_in(l, last), names.z(l, last), names.u(l)
            W_name, b_name = names.param("W", l), names.param("b", l)
            where = TEXT["layer"].format(l=l) if l < last else TEXT["output_layer"]
            u = rec.add("forward", "affine", l, u_name, f"{u_name} = {prev}·{W_name} + {b_name}",
                        {prev: zs[l - 1], W_name: W[l - 1], b_name: b[l - 1]}, us[l - 1],
                        TEXT["affine_note"].format(where=where),
                        f"{u_name} = np.dot({prev}, {W_name}) + {b_name}",
                        f"{{{prev}}}·{{{W_name}}} + {{{b_name}}} → {{out}}")
            act = acts[l - 1]
            z = rec.add("forward", "activation", l, out, f"{out} = {act.name}({u_name})", {u_name: u}, zs[l],
                        act.forward_note(l, u, out), act.code.format(u=u_name, z=out), act.forward_shapes(u_name, out),
                        activation=act.name)
            us[l - 1], zs[l] = u, z

        if fn is None:
            return rec.steps

        y, u_out = zs[-1], us[-1]
        rec.add("loss", "loss", None, "loss", fn.formula, fn.inputs(y, d, u_out, last), p.loss,
                fn.note(u_out, y, d, float(p.loss)), fn.code.format(u=names.u(last), N=batch_size(y)),
                "{y}, {d} → {out}", loss=fn.name)

        deltas = iter(p.deltas)
        _, delta = next(deltas)
        delta = rec.add("backward", "delta", last, names.delta(last), fn.delta_formula(acts[-1], last),
                        fn.delta_inputs(acts[-1], y, d, u_out, last), delta, fn.delta_note(acts[-1], y, last),
                        fn.delta_code(acts[-1], y, last), "{y} − {d} → {out}", activation=acts[-1].name,
                        loss=fn.name)
        recorded_grads: dict[str, np.ndarray] = {}  # the update steps read the very arrays recorded here
        for l in range(last, 0, -1):
            prev, delta_name = names.z_in(l, last), names.delta(l)
            gW, gb = names.grad("W", l), names.grad("b", l)
            batch = delta.ndim == 2
            recorded_grads[gW] = rec.add(
                "backward", "grad_W", l, gW, f"{gW} = {prev}ᵀ·{delta_name}", {prev: zs[l - 1], delta_name: delta},
                p.grads_W[l - 1],
                TEXT["grad_W_note"] + (TEXT["grad_W_batch"] if batch else
                                       TEXT["grad_W_one"].format(prev=prev, delta=delta_name)),
                f"{gW} = " + (f"np.dot({prev}.T, {delta_name})" if batch else f"np.outer({prev}, {delta_name})"),
                f"{{{prev}}}ᵀ·{{{delta_name}}} → {{out}}" if batch else f"outer({{{prev}}}, {{{delta_name}}}) → {{out}}",
                param="W")
            recorded_grads[gb] = rec.add(
                "backward", "grad_b", l, gb, f"{gb} = Σ {delta_name}" if batch else f"{gb} = {delta_name}",
                {delta_name: delta}, p.grads_b[l - 1],
                TEXT["grad_b_note"] + (TEXT["grad_b_batch"] if batch else TEXT["grad_b_one"]),
                f"{gb} = np.sum({delta_name}, axis=0)" if batch else f"{gb} = {delta_name}",
                TEXT["grad_b_shapes_batch"].format(rows=delta.shape[0], delta=delta_name) if batch else
                f"{{{delta_name}}} → {{out}}", param="b")
            if l > 1:
                _, below = next(deltas)
                delta = _hidden_delta(rec, acts[l - 2], l - 1, delta, W[l - 1], us[l - 2], zs[l - 1], last, below)

        lr = float(learning_rate)
        for l in range(1, last + 1):
            for kind, old, new in (("W", W[l - 1], p.new_W[l - 1]), ("b", b[l - 1], p.new_b[l - 1])):
                name, grad = names.param(kind, l), names.grad(kind, l)
                rec.add("update", "update", l, name, f"{name} = {name} − learning_rate·{grad}",
                        {name: old, grad: recorded_grads[grad], "learning_rate": np.float64(lr)}, new,
                        TEXT["update_note"].format(name=name, lr=f"{lr:g}"),
                        f"{name} = {name} - learning_rate * {grad}", f"{{{name}}} − scalar·{{{grad}}} → {{out}}",
                        param=kind)
    return rec.steps


def _hidden_delta(rec: _Recorder, act: Activation, l: int, delta_above: np.ndarray, W_above: np.ndarray,
                  u: np.ndarray, z: np.ndarray, last: int, value: np.ndarray) -> np.ndarray:
    """Record delta{l} = (delta{l+1}·W{l+1}ᵀ) passed back through layer l's activation (``value``)."""
    out, above, W_name = names.z(l, last), names.delta(l + 1), names.param("W", l + 1)
    inputs = {above: delta_above, W_name: W_above, **act.reads(l, u, z, out)}
    back = f"{above}·{W_name}ᵀ"
    code = backward_code(act, names.delta(l), f"np.dot({above}, {W_name}.T)", names.u(l), out)
    shapes = f"{{{above}}}·{{{W_name}}}ᵀ" + act.hidden_shapes(l) + " → {out}"
    return rec.add("backward", "delta", l, names.delta(l), act.hidden_formula(l, out, back), inputs, value,
                   act.hidden_note(l, u), code, shapes, activation=act.name)


@dataclass(frozen=True)
class Iteration:
    """One iteration of a session: its batch, the parameters it starts from, and every step of it.

    ``scenario`` is always the file's scenario (its whole data set, its initial parameters); what this
    iteration read is ``x``, ``d`` and ``layers``.
    """

    scenario: Scenario
    #: Counted from 1.
    number: int
    #: The batch: one sample as vectors, or a matrix with one row per sample.
    x: np.ndarray
    d: np.ndarray | None
    #: The parameters the iteration starts from (with the scenario's activations).
    layers: tuple[Layer, ...]
    steps: tuple[Step, ...]
    #: The training-set rows its batch took (counted from 0), or None when it took all of them.
    rows: tuple[int, ...] | None = None
    #: For a training run: what it starts from (its batch, whose parameters), in words.
    note: str = ""

    @property
    def output(self) -> Step:
        """The step that computes y: the output layer's activation."""
        last = len(self.layers)
        return next(s for s in self.steps if s.kind == "activation" and s.layer == last)

    def final_layers(self) -> tuple[Layer, ...]:
        """The parameters after the iteration's updates (the initial ones for a forward-only run)."""
        new = {(s.layer, s.param): s.value for s in self.steps if s.kind == "update"}
        return tuple(Layer(W=new.get((l, "W"), layer.W), b=new.get((l, "b"), layer.b), activation=layer.activation)
                     for l, layer in enumerate(self.layers, start=1))

    @property
    def loss(self) -> float | None:
        """The loss on the batch, before the update (None for a forward-only run)."""
        return next((float(s.value) for s in self.steps if s.kind == "loss"), None)

    @cached_property
    def loss_after_update(self) -> float | None:
        """The loss that the updated parameters give on this same batch (None for a forward-only run): did
        the update lower it, and by how much. The forward pass and the loss of :func:`compute_pass`."""
        if self.scenario.loss is None:
            return None
        layers = self.final_layers()
        acts = [ACTIVATIONS[layer.activation] for layer in layers]
        with np.errstate(all="ignore"):
            p = compute_pass([l.W for l in layers], [l.b for l in layers], acts, self.x, None, None, None)
            return float(LOSSES[self.scenario.loss].value(p.us[-1], p.zs[-1], self.d))
