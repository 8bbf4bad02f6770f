"""The classic mistakes of a student's backprop, each a way to compute one step wrongly, written over the
ops (never by their names): a mistake recomputes the step from the arrays it is given, with the very
functions of the straight run, and :mod:`nnstep.engine.compare` names the one that reproduces a
student's numbers.

The mistakes, by kind of step:

- a hidden delta: the activation's derivative left out, taken at the output (``act'(z)``, as the
  course's SGD try-it's ``d_sigmoid(z1)``), another activation's derivative (at the input or the output),
  ``W`` not transposed (a square ``W``), or ``W`` already updated;
- the output delta and the loss: the batch handled wrongly (a sum where the mean belongs, or the other way
  round; for a loss that averages over every element, divided by the batch size only; a 1-D target's
  classes taken as its batch, as the course's ``d_softmax_with_loss`` does); the delta with its sign
  flipped (``d − y``, the course's (d, y) arguments swapped); the loss with the
  course's ``+1e-7`` inside the log, or its ``argmax`` of soft targets;
- a gradient: a mean over the batch where the sum belongs, transposed, a bias gradient not summed or
  summed along the wrong axis;
- an update: the wrong sign, without the learning rate, with it applied twice, or not applied;
- the forward pass: ``W`` transposed (square), the parameters already updated, another activation, a
  row-wise activation taken over the whole batch or down the columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from nnstep.engine import names
from nnstep.engine.ops import ACTIVATIONS, LOSSES, Activation, _first_difference, batch_size, seed_cross_entropy
from nnstep.engine.steps import Iteration, Step, affine, grad_W, hidden_delta, recompute, update

#: The name an update step reads the learning rate by.
LEARNING_RATE = "learning_rate"

#: The likely mistake in one sentence (``{name}`` is the array that differs).
TEXT = {
    "earlier": "{name} is what this step gives from your own {given}: the step itself is right, and the "
               "difference comes from earlier, from your {differing}.",
    "earlier_course": "{name} is what the course's cross_entropy_error (1e-7 inside the log) gives from your own "
                      "{given}: the difference comes from earlier, from your {differing}.",
    "none": "No known mistake explains it: recomputed from your own inputs with each of the usual mistakes, "
            "none gives your numbers.",
    "left_out": "The activation's derivative left out: {name} is {back} with no ⊙ {act}'({u}) after it.",
    "at_output": "The derivative taken at the output instead of the input: {act}'({z}), that is "
                 "{act}'({act}({u})), where {act}'({u}) belongs (as the course's SGD try-it takes d_sigmoid(z1)).",
    "other": "{other}'s derivative where the layer's activation is {act}: {name} passes back through "
             "{other}'({u}) instead of {act}'({u}).",
    "other_at_output": "{other}'s derivative taken at the output {z}, where the layer's activation is {act}: "
                       "{other}'({z}) instead of {act}'({u}), as the course's SGD try-it does with d_sigmoid(z1) "
                       "after a ReLU layer.",
    "not_transposed": "{W} used without its transpose: {above}·{W} instead of {above}·{W}ᵀ (numpy raised no "
                      "error because {W} is square).",
    "updated_above": "Computed with {W} already updated: the gradient passes back through the {W} the forward "
                     "pass used, before the update.",
    "transposed_forward": "{W} transposed: {prev}·{W}ᵀ instead of {prev}·{W} (numpy raised no error because {W} "
                          "is square).",
    "updated_forward": "The forward pass run with {W} and {b} already updated, not with the parameters the "
                       "iteration starts from (a cell run twice?).",
    "other_activation": "{other} applied where the layer's activation is {act}: {name} = {other}({u}).",
    "whole_batch": "{act} taken over the whole batch at once instead of row by row (each sample on its own), "
                   "as the course's softmax does with anything but a matrix.",
    "columns": "{act} taken down the columns (axis 0) instead of along each row.",
    "course_one_hot": "The course's cross_entropy_error: it adds 1e-7 inside the log (its loss and ours"
                      "{difference}).",
    "course_soft": "The course's cross_entropy_error: it reads the soft targets d as the one-hot labels of their "
                   "argmax, and adds 1e-7 inside the log.",
    "course_unit": "The course's multi-class cross_entropy_error on one output unit: the argmax of a one-entry "
                   "row is always 0, so it gives −log(y + 1e-7) whatever the label.",
    "epsilon": "1e-7 added inside the log: −Σ d·log(y + 1e-7) / {N} (as the course's cross_entropy_error does).",
    "classes_as_batch": "{name} is ours divided by {K}: a one-sample target d of {K} classes given as a vector "
                        "(1-D) is taken as a batch of {K} (the course's d_softmax_with_loss divides by B = "
                        "d.shape[0]); make d a row, d.reshape(1, -1), or divide by the batch size.",
    "delta_sign": "{name} with the wrong sign: d − y where y − d belongs (the course's functions take (d, y), the "
                  "target first; swapping them flips the sign).",
    "sum": "{name} is {f} times ours: a sum where the loss takes the mean over {what} (n = {f}).",
    "mean_twice": "{name} is ours divided by {f}: divided by n = {f} once more than the loss does (a mean where "
                  "a sum belongs).",
    "batch_only": "{name} is {K} times ours: divided by the batch size {N} only, not by all {n} elements the "
                  "loss averages over (as the course's d_mean_squared_error does).",
    "outputs_only": "{name} is {N} times ours: divided by the {K} outputs of a sample only, not by the batch "
                    "size {N} as well.",
    "what_batch": "the batch's samples",
    "what_elements": "every element of y",
    "grad_mean": "{name} is ours divided by {N}: a mean over the batch where the sum belongs ({delta} already "
                 "carries the loss's 1/{N}).",
    "grad_times": "{name} is {N} times ours: multiplied by the batch size {N}, which undoes the loss's mean.",
    "not_summed": "{name} is {delta} not summed over the batch's {N} rows: np.sum({delta}, axis=0) gives one "
                  "gradient per unit.",
    "wrong_axis": "{name} summed along the wrong axis: np.sum({delta}, axis=1), one number per sample, instead "
                  "of axis=0, one per unit.",
    "transposed_grad": "{name} transposed: {delta}ᵀ·{prev} instead of {prev}ᵀ·{delta}{square}.",
    "square": " (numpy raised no error because it is square)",
    "sign": "The update with the wrong sign: {name} + learning_rate·{grad} climbs the loss; gradient descent "
            "subtracts.",
    "no_rate": "The update without the learning rate: {name} − {grad}.",
    "rate_twice": "The learning rate applied twice: {name} − learning_rate²·{grad}.",
    "applied_twice": "The update applied twice: {name} − 2·learning_rate·{grad}.",
    "updated_again": "{name} updated twice: your update applied to the {name} that this iteration's update had "
                     "already made (a cell run twice?).",
    "not_applied": "{name} not updated: it is still the {name} the iteration started from.",
}


#: The loss mistakes that are the course's own cross_entropy_error (its 1e-7 inside the log, its argmax of
#: the targets): a student who uses the course's function makes them, and no later step reads the loss.
COURSE_LOSS = frozenset({"course_one_hot", "course_soft", "course_unit", "epsilon"})


class Source:
    """The arrays a step is recomputed from, by the names the steps read them by: what the iteration starts
    from (x, d, learning_rate, the parameters before the update) and every array of its steps but the
    updated parameters; the user's where given, nnstep's elsewhere."""

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.arrays = arrays

    def input(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def updated(self, kind: str, layer: int) -> np.ndarray:
        """A parameter as this iteration's update makes it from these arrays (its gradient as given)."""
        return update(self.input(names.param(kind, layer)), self.input(names.grad(kind, layer)),
                      float(self.input(LEARNING_RATE)))


@dataclass(frozen=True)
class Mistake:
    """One wrong way to compute a step: its sentence's key in :data:`TEXT`, the computation, the words."""

    key: str
    compute: Callable[[Source], np.ndarray]
    words: Mapping[str, object] = field(default_factory=dict)

    def sentence(self, name: str) -> str:
        return TEXT[self.key].format(name=name, **self.words)


def correct(step: Step) -> Callable[[Source], np.ndarray]:
    """The step computed right, from the arrays of ``source`` (the user's inputs where given)."""
    return lambda source: recompute(step, {k: source.input(k) for k in step.inputs})


def course_loss_key(y: np.ndarray, d: np.ndarray) -> str:
    """Which of the course's cross_entropy_error quirks a loss of (y, d) shows: on one output unit, on
    soft targets, or the 1e-7 alone (one-hot labels)."""
    if y.shape[-1] == 1:
        return "course_unit"
    rows = np.atleast_2d(d)
    one_hot = bool(np.all((rows == 0) | (rows == 1)) and np.all(rows.sum(axis=-1) == 1))
    return "course_one_hot" if one_hot else "course_soft"


def course_loss_words(y: np.ndarray, d: np.ndarray, exact_value: np.ndarray) -> dict[str, str]:
    """The words of the course's-loss sentences: from which significant digit the course's loss and the exact
    one differ (counted as ``nnstep trace --format seed`` counts it)."""
    return {"difference": _first_difference(float(course_loss(y, d)), float(exact_value))}


def course_loss(y: np.ndarray, d: np.ndarray) -> np.float64:
    """The course's cross_entropy_error of (y, d), nan where it is not defined (a y ≤ −1e-7 in the log)."""
    with np.errstate(all="ignore"):
        try:
            return np.float64(seed_cross_entropy(np.asarray(y, dtype=np.float64), np.asarray(d, dtype=np.float64)))
        except (ValueError, IndexError):
            return np.float64(np.nan)


class _LeftOut:
    """A backward pass that leaves the activation's derivative out."""

    def backward(self, u, z, grad_z):
        return grad_z


class _At:
    """``act``'s derivative taken at the input u, or at the output z (as if z were u)."""

    def __init__(self, act: Activation, at_output: bool) -> None:
        self.act, self.at_output = act, at_output

    def backward(self, u, z, grad_z):
        p = z if self.at_output else u
        return self.act.backward(p, self.act.forward(p), grad_z)


def mistakes(step: Step, iteration: Iteration) -> list[Mistake]:
    """Every classic mistake that applies to ``step``, in the order they are tried."""
    L = len(iteration.layers)
    kind = step.kind
    if kind == "affine":
        return _forward_mistakes(step, L, iteration)
    if kind == "activation":
        return _activation_mistakes(step, L)
    if kind == "loss":
        return _loss_mistakes(step, L)
    if kind == "delta" and step.loss is not None:
        return _output_delta_mistakes(step, L)
    if kind == "delta":
        return _hidden_delta_mistakes(step, L, iteration)
    if kind == "grad_W":
        return _grad_W_mistakes(step)
    if kind == "grad_b":
        return _grad_b_mistakes(step)
    return _update_mistakes(step)


def _forward_mistakes(step: Step, L: int, iteration: Iteration) -> list[Mistake]:
    l = step.layer
    prev, W, b = (names.z_in(l, L), names.param("W", l), names.param("b", l))
    out = []
    if step.inputs[W].ndim == 2 and step.inputs[W].shape[0] == step.inputs[W].shape[1]:
        out.append(Mistake("transposed_forward", lambda s: affine(s.input(prev), s.input(W).T, s.input(b)),
                           {"W": W, "prev": prev}))
    new = {s.param: s.value for s in iteration.steps if s.kind == "update" and s.layer == l}
    if new:  # the parameters after this iteration's update, as it should be (a run one update ahead)
        out.append(Mistake("updated_forward", lambda s: affine(s.input(prev), new["W"], new["b"]), {"W": W, "b": b}))
    return out


def _activation_mistakes(step: Step, L: int) -> list[Mistake]:
    u = names.u(step.layer)
    act = ACTIVATIONS[step.activation]
    out = [Mistake("other_activation", lambda s, other=other: other.forward(s.input(u)),
                   {"other": other.name, "act": act.name, "u": u})
           for other in ACTIVATIONS.values() if other.name != act.name]
    if act.rowwise and step.inputs[u].ndim == 2:
        out.append(Mistake("whole_batch", lambda s: act.forward(s.input(u).reshape(1, -1)).reshape(s.input(u).shape),
                           {"act": act.name}))
        out.append(Mistake("columns", lambda s: act.forward(s.input(u).T).T, {"act": act.name}))
    return out


def _factors(y: np.ndarray, divisor: int) -> list[tuple[float, str, dict]]:
    """The batch handled wrongly, as factors on the right value: (factor, sentence key, words)."""
    N, n = batch_size(y), y.size
    K = n // N
    what = TEXT["what_batch"] if divisor == N else TEXT["what_elements"]
    out = []
    if divisor > 1:
        out += [(float(divisor), "sum", {"f": divisor, "what": what}),
                (1.0 / divisor, "mean_twice", {"f": divisor})]
    if divisor == n and N > 1 and K > 1:
        out += [(float(K), "batch_only", {"K": K, "N": N, "n": n}),
                (float(N), "outputs_only", {"K": K, "N": N})]
    return out


def _scaled(right: Callable[[Source], np.ndarray], factor: float) -> Callable[[Source], np.ndarray]:
    return lambda s: right(s) * factor


def _loss_mistakes(step: Step, L: int) -> list[Mistake]:
    right = correct(step)
    y = step.inputs["y"]
    loss = LOSSES[step.loss]
    out = []
    if loss.classifier:  # the course computes a classifier's loss with its cross_entropy_error
        out += [Mistake(course_loss_key(y, step.inputs["d"]), lambda s: course_loss(s.input("y"), s.input("d")),
                        course_loss_words(y, step.inputs["d"], step.value)),
                Mistake("epsilon", lambda s: np.float64(-np.sum(s.input("d") * np.log(s.input("y") + 1e-7))
                                                        / batch_size(s.input("y"))), {"N": batch_size(y)})]
    out += [Mistake(key, _scaled(right, f), words) for f, key, words in _factors(y, loss.divisor(y))]
    return out


def _output_delta_mistakes(step: Step, L: int) -> list[Mistake]:
    right = correct(step)
    y = step.inputs["y"]
    loss, act = LOSSES[step.loss], ACTIVATIONS[step.activation]
    u, out_name = names.u(L), names.z(L, L)
    words = {"act": act.name, "u": u, "z": out_name}

    def through(wrapper) -> Callable[[Source], np.ndarray]:
        return lambda s: loss.delta(s.input(u), s.input("y"), s.input("d"), wrapper)

    out = [Mistake(key, _scaled(right, f), w) for f, key, w in _factors(y, loss.divisor(y))]
    out.append(Mistake("delta_sign", _scaled(right, -1.0)))
    K = y.shape[0] if y.ndim == 1 else 1
    if K > 1:  # a 1-D target's length taken as the batch size
        out.append(Mistake("classes_as_batch", _scaled(right, loss.divisor(y) / K), {"K": K}))
    out.append(Mistake("left_out", through(_LeftOut()), {**words, "back": "dE/dy"}))
    out.append(Mistake("at_output", through(_At(act, True)), words))
    for other in ACTIVATIONS.values():
        if other.name != act.name:
            out.append(Mistake("other", through(_At(other, False)), {**words, "other": other.name}))
            out.append(Mistake("other_at_output", through(_At(other, True)), {**words, "other": other.name}))
    return out


def _hidden_delta_mistakes(step: Step, L: int, iteration: Iteration) -> list[Mistake]:
    l = step.layer
    act = ACTIVATIONS[step.activation]
    above, W, u, z = names.delta(l + 1), names.param("W", l + 1), names.u(l), names.z(l, L)
    words = {"act": act.name, "u": u, "z": z}

    def through(wrapper, weights: Callable[[Source], np.ndarray] = lambda s: s.input(W)):
        return lambda s: hidden_delta(wrapper, s.input(u), s.input(z), s.input(above), weights(s))

    out = [Mistake("left_out", through(_LeftOut()), {**words, "back": f"{above}·{W}ᵀ"}),
           Mistake("at_output", through(_At(act, True)), words)]
    for other in ACTIVATIONS.values():
        if other.name != act.name:
            out.append(Mistake("other", through(_At(other, False)), {**words, "other": other.name}))
            out.append(Mistake("other_at_output", through(_At(other, True)), {**words, "other": other.name}))
    weights = step.inputs[W]
    if weights.shape[0] == weights.shape[1]:
        out.append(Mistake("not_transposed", through(_At(act, False), lambda s: s.input(W).T),
                           {"W": W, "above": above}))
    out.append(Mistake("updated_above", lambda s: hidden_delta(_At(act, False), s.input(u), s.input(z),
                                                               s.input(above), s.updated("W", l + 1)), {"W": W}))
    new = next((s.value for s in iteration.steps if s.kind == "update" and s.name == W), None)
    if new is not None:  # W as this iteration's right update leaves it (a cell run twice)
        out.append(Mistake("updated_above", lambda s: hidden_delta(_At(act, False), s.input(u), s.input(z),
                                                                   s.input(above), new), {"W": W}))
    return out


def _grad_W_mistakes(step: Step) -> list[Mistake]:
    right = correct(step)
    prev, delta = list(step.inputs)
    out = []
    square = step.value.ndim == 2 and step.value.shape[0] == step.value.shape[1]
    out.append(Mistake("transposed_grad", lambda s: grad_W(s.input(prev), s.input(delta)).T,
                       {"prev": prev, "delta": delta, "square": TEXT["square"] if square else ""}))
    return out + _over_batch(right, step.inputs[delta], delta)


def _over_batch(right: Callable[[Source], np.ndarray], rows: np.ndarray, delta: str) -> list[Mistake]:
    """A gradient's sum over the batch's rows taken as a mean, or multiplied by the batch size."""
    N = rows.shape[0] if rows.ndim == 2 else 1
    if N == 1:
        return []
    return [Mistake("grad_mean", _scaled(right, 1.0 / N), {"N": N, "delta": delta}),
            Mistake("grad_times", _scaled(right, float(N)), {"N": N})]


def _grad_b_mistakes(step: Step) -> list[Mistake]:
    right = correct(step)
    (delta,) = list(step.inputs)
    out = _over_batch(right, step.inputs[delta], delta)
    if out:
        out += [Mistake("not_summed", lambda s: s.input(delta), {"N": step.inputs[delta].shape[0], "delta": delta}),
                Mistake("wrong_axis", lambda s: np.sum(s.input(delta), axis=1), {"delta": delta})]
    return out


def _update_mistakes(step: Step) -> list[Mistake]:
    param, grad, rate = list(step.inputs)
    words = {"grad": grad}

    def with_rate(scale: Callable[[float], float]) -> Callable[[Source], np.ndarray]:
        return lambda s: update(s.input(param), s.input(grad), scale(float(s.input(rate))))

    return [Mistake("sign", with_rate(lambda lr: -lr), words),
            Mistake("no_rate", with_rate(lambda lr: 1.0), words),
            Mistake("rate_twice", with_rate(lambda lr: lr * lr), words),
            Mistake("applied_twice", with_rate(lambda lr: 2.0 * lr), words),
            Mistake("not_applied", lambda s: np.array(s.input(param)), words),
            Mistake("updated_again", lambda s: update(step.value, s.input(grad), float(s.input(rate))), words)]
