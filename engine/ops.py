"""The operations of a dense network, each written with its local derivative beside it, and everything
nnstep says about it.

An activation maps the total input ``u`` to an output ``z`` and passes a gradient back from ``z``
to ``u`` (a vector-Jacobian product). A loss turns the output ``y`` and the target ``d`` into one
number ``E`` and gives ``delta = dE/du`` of the output layer. Everything works row-wise, so a
vector ``x`` (one sample) and a matrix ``x`` (a batch, one row per sample) share the same code.
Every function is safe for |u| up to 1e3 and beyond: no overflow, no warnings.

Beside its maths each op keeps its words: ``TEXT`` holds every sentence shown to a user about it, as
templates (``{u}``, ``{out}``, ``{l}`` … filled in by the op's methods), so that another language can
replace them without touching the maths. Adding an activation is one class here (and its tests).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from nnstep.engine import names
from nnstep.engine.numbers import exact


def _sigmoid(u: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-u)), written so that exp never overflows."""
    e = np.exp(-np.abs(u))
    return np.where(u >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _log_softmax(u: np.ndarray) -> np.ndarray:
    shifted = u - np.max(u, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _softplus(t: np.ndarray) -> np.ndarray:
    """log(1 + exp(t)) without overflow."""
    return np.logaddexp(0.0, t)


def entries(n: int, total: int) -> str:
    """``1 of 3 entries is`` / ``2 of 3 entries are``."""
    return f"{n} of {total} entr{'y' if total == 1 else 'ies'} {'is' if n == 1 else 'are'}"


class Activation:
    """z = f(u), the way a gradient passes back through it, and what nnstep says about both."""

    name: str = ""
    #: The name where a narrow column has no room for the whole one.
    short: str = ""
    #: f'(u) in words, for the backward step that uses it.
    derivative: str = ""
    #: The forward pass as numpy code, with ``{u}`` and ``{z}`` for the arrays' names.
    code: str = ""
    #: The backward pass as numpy code, with ``{g}`` for dE/dz as well (or a bare ``g`` where the
    #: expression for dE/dz is used twice: the caller then computes ``g`` first).
    backward_code: str = ""
    #: What the backward pass reads besides dE/dz: u, the output z, or nothing.
    backward_reads: Literal["u", "z"] | None = "z"
    #: Softmax works on whole rows; the others entry by entry.
    rowwise: bool = False
    #: The derivative jumps at u = 0 (ReLU, step), where finite differences straddle it.
    kink: bool = False

    TEXT: dict[str, str] = {
        "shapes": "entry by entry on {u_shape} → {out_shape}",
        "hidden_formula": "delta{l} = ({back}) ⊙ {name}'(u{l})",
        "hidden_note": "The gradient flows back through W{above}ᵀ, then through {derivative}.",
        "hidden_shapes": " ⊙ {name}'(u{l})",
        "output_formula": "delta{l} = (y − d) / n ⊙ {name}'(u{l})",
        "output_note": ", then through {derivative}.",
    }

    def forward(self, u: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, u: np.ndarray, z: np.ndarray, grad_z: np.ndarray) -> np.ndarray:
        """dE/du from dE/dz."""
        raise NotImplementedError

    # --- words ---------------------------------------------------------------------------------------

    def text(self, key: str, **values) -> str:
        return self.TEXT[key].format(name=self.name, derivative=self.derivative, **values)

    def forward_note(self, l: int, u: np.ndarray, out: str) -> str:
        """The note on ``out = f(u{l})`` for these numbers."""
        return self.text("forward_note", l=l, out=out)

    def forward_shapes(self, u: str, out: str) -> str:
        """``entry by entry on {u1} → {out}``: the shapes line, with placeholders for the recorder."""
        return self.text("shapes", u_shape="{" + u + "}", out_shape="{out}")

    def hidden_formula(self, l: int, out: str, back: str) -> str:
        """``delta1 = (delta2·W2ᵀ) ⊙ relu'(u1)``."""
        return self.text("hidden_formula", l=l, out=out, back=back)

    def hidden_note(self, l: int, u: np.ndarray) -> str:
        return self.text("hidden_note", l=l, above=l + 1)

    def hidden_shapes(self, l: int) -> str:
        """What the shapes line adds after ``delta2·W2ᵀ``."""
        return self.text("hidden_shapes", l=l)

    def output_formula(self, l: int) -> str:
        """The output delta of a mean squared error through this activation."""
        return self.text("output_formula", l=l)

    def output_note(self) -> str:
        """How the mean squared error's dE/dy passes through this activation, to end its note."""
        return self.text("output_note")

    def slopes(self, u: np.ndarray | None, z: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
        """f'(u) entry by entry (entry-wise activations): the backward pass of a gradient of ones; only the
        array the backward pass reads (u or z) need be given."""
        return self.backward(u, z, np.ones(shape))

    def reads(self, l: int, u: np.ndarray, z: np.ndarray, out: str) -> dict[str, np.ndarray]:
        """The arrays its backward pass reads, by name (for a hidden delta's inputs)."""
        if self.backward_reads == "u":
            return {names.u(l): u}
        if self.backward_reads == "z":
            return {out: z}
        return {}


class Identity(Activation):
    name = "identity"
    short = "id"
    derivative = "identity'(u) = 1: the gradient passes through unchanged"
    code = "{z} = {u}"
    backward_code = "{g}"
    backward_reads = None
    TEXT = {**Activation.TEXT,
            "forward_note": "The identity activation: {out} = u{l} unchanged (as the seed writes y = u{l}).",
            "entry": "{u}", "slope": "1",
            "hidden_formula": "delta{l} = {back}",
            "hidden_note": "The identity activation passes the gradient unchanged.",
            "hidden_shapes": "",
            "output_formula": "delta{l} = (y − d) / n",
            "output_note": "; the identity output passes it unchanged."}

    # No copies: nothing ever writes into u or a gradient (the recorded steps keep copies of their own).
    def forward(self, u):
        return u

    def backward(self, u, z, grad_z):
        return grad_z


class ReLU(Activation):
    name = "relu"
    derivative = "relu'(u) = 1 where u > 0, else 0"
    code = "{z} = np.maximum({u}, 0.0)"
    backward_code = "{g} * ({u} > 0)"
    backward_reads = "u"
    kink = True
    TEXT = {**Activation.TEXT,
            "entry": "max({u}, 0)", "slope": "(1 if {u} > 0 else 0)",
            "forward_dead": "ReLU keeps u{l} where it is positive and writes 0 elsewhere; {dead} ≤ 0, and those "
                            "entries pass no gradient back.",
            "forward_alive": "ReLU keeps positive entries and writes 0 for the rest; all of u{l} is positive here.",
            "hidden_dead": "ReLU passes the gradient only where u{l} > 0; where u{l} ≤ 0 ({dead}) delta{l} is 0",
            "hidden_dead_one": " and those units' weights get no gradient.",
            "hidden_dead_always": ". Unit{s} {units} of layer {l} (counting from 1) {are} ≤ 0 for every sample, "
                                  "so {their} weights get no gradient from this batch.",
            "hidden_dead_some": ". Every unit is positive for some sample, so every unit's weights still get a "
                                "gradient from the other samples.",
            "hidden_alive": "ReLU passes the gradient only where u{l} > 0; here every entry of u{l} is positive."}

    def forward(self, u):
        return np.maximum(u, 0.0)

    def backward(self, u, z, grad_z):
        return np.where(u > 0, grad_z, 0.0)

    def forward_note(self, l, u, out):
        dead = u <= 0
        if np.any(dead):
            return self.text("forward_dead", l=l, dead=entries(int(dead.sum()), u.size))
        return self.text("forward_alive", l=l)

    def hidden_note(self, l, u):
        dead = u <= 0
        if not np.any(dead):
            return self.text("hidden_alive", l=l)
        note = self.text("hidden_dead", l=l, dead=entries(int(dead.sum()), u.size))
        if u.ndim == 1:
            return note + self.text("hidden_dead_one")
        always = [str(j + 1) for j in np.flatnonzero(dead.all(axis=0))]
        if always:
            many = len(always) > 1
            return note + self.text("hidden_dead_always", l=l, units=", ".join(always), s="s" if many else "",
                                    are="are" if many else "is", their="their" if many else "its")
        return note + self.text("hidden_dead_some")


class LeakyReLU(Activation):
    name = "leaky_relu"
    short = "leaky"
    #: The slope for u ≤ 0.
    slope = 0.01
    derivative = "leaky_relu'(u) = 1 where u > 0, else 0.01"
    code = "{z} = np.where({u} > 0, {u}, 0.01 * {u})"
    backward_code = "{g} * np.where({u} > 0, 1.0, 0.01)"
    backward_reads = "u"
    kink = True
    TEXT = {**Activation.TEXT,
            "entry": "({u} if {u} > 0 else 0.01·{u})", "slope": "(1 if {u} > 0 else 0.01)",
            "forward_note": "Leaky ReLU keeps u{l} where it is positive and multiplies the rest by 0.01, so "
                            "every entry still passes some gradient back ({negative} ≤ 0 here)."}

    def forward(self, u):
        return np.where(u > 0, u, self.slope * u)

    def backward(self, u, z, grad_z):
        return np.where(u > 0, grad_z, self.slope * grad_z)

    def forward_note(self, l, u, out):
        return self.text("forward_note", l=l, negative=entries(int(np.sum(u <= 0)), u.size))


class Sigmoid(Activation):
    name = "sigmoid"
    short = "sigmd"
    derivative = "sigmoid'(u) = z·(1 − z)"
    code = "{z} = 1 / (1 + np.exp(-{u}))"
    backward_code = "{g} * {z} * (1 - {z})"
    TEXT = {**Activation.TEXT,
            "entry": "1 / (1 + exp(−{u}))", "slope": "{z}·(1 − {z})",
            "forward_note": "Sigmoid squashes each entry into (0, 1): {out} = 1 / (1 + exp(−u{l}))."}

    def forward(self, u):
        return _sigmoid(u)

    def backward(self, u, z, grad_z):
        return grad_z * z * (1.0 - z)


class Tanh(Activation):
    name = "tanh"
    derivative = "tanh'(u) = 1 − z²"
    code = "{z} = np.tanh({u})"
    backward_code = "{g} * (1 - {z}**2)"
    TEXT = {**Activation.TEXT, "forward_note": "tanh squashes each entry into (−1, 1).",
            "entry": "tanh({u})", "slope": "(1 − {z}²)"}

    def forward(self, u):
        return np.tanh(u)

    def backward(self, u, z, grad_z):
        return grad_z * (1.0 - z * z)


class Step(Activation):
    name = "step"
    derivative = "step'(u) = 0 everywhere (undefined at u = 0)"
    code = "{z} = np.where({u} > 0, 1.0, 0.0)"
    backward_code = "np.zeros_like({u})"
    backward_reads = "u"
    kink = True
    TEXT = {**Activation.TEXT,
            "entry": "(1 if {u} > 0 else 0)", "slope": "0",
            "forward_note": "The step function writes 1 where u{l} > 0, else 0. Its derivative is 0, so no "
                            "gradient will flow back through this layer.",
            "hidden_note": "step'(u) = 0 everywhere, so the step function blocks the gradient: delta{l} is all "
                           "zeros, and W{l}, b{l} and every layer below get zero gradients from this example.",
            "output_note": "; step'(u) = 0, so the step output blocks it: delta is all zeros and nothing below "
                           "learns."}

    def forward(self, u):
        return np.where(u > 0, 1.0, 0.0)

    def backward(self, u, z, grad_z):
        return np.zeros_like(grad_z)


class Softmax(Activation):
    name = "softmax"
    short = "softmx"
    derivative = "softmax's Jacobian, dE/du = z ⊙ (g − Σ g⊙z) per row with g = dE/dz"
    code = "e = np.exp({u} - {u}.max(axis=-1, keepdims=True)); {z} = e / e.sum(axis=-1, keepdims=True)"
    backward_code = "{z} * (g - np.sum(g * {z}, axis=-1, keepdims=True))"
    rowwise = True
    TEXT = {**Activation.TEXT,
            "shapes": "row by row on {u_shape} → {out_shape}",
            # One entry j of a row: exp(u_j − m) / Σₖ exp(u_k − m), with m the row's maximum.
            "entry": "exp({u} − m) / Σₖ exp({row} − m)",
            "entry_max": "m = max {row} = {m}",
            "entry_exp": "exp({u} − m)",
            "entry_sum": "1 / Σₖ exp({row} − m)",
            # The backward pass of one entry j, as its code computes it: z_j·(g_j − s), s = Σₘ g_m·z_m.
            "back_entry": "{zj}·({gj} − s)",
            "back_s": "s = Σₘ {g}·{zm}",
            "back_factor": "{gj} − s",
            "forward_note": "Softmax turns each row into probabilities that sum to 1: exp(u{l}) / Σ exp(u{l}), "
                            "computed after subtracting the row's maximum so that exp cannot overflow.",
            "hidden_formula": "delta{l} = softmax_backward({out}, {back})",
            "output_formula": "delta{l} = softmax_backward(u{l}, (y − d) / n)"}

    def forward(self, u):
        e = np.exp(u - np.max(u, axis=-1, keepdims=True))
        return e / np.sum(e, axis=-1, keepdims=True)

    def backward(self, u, z, grad_z):
        return z * (grad_z - np.sum(grad_z * z, axis=-1, keepdims=True))


ACTIVATIONS: dict[str, Activation] = {
    a.name: a for a in (Identity(), ReLU(), Sigmoid(), Tanh(), Step(), Softmax(), LeakyReLU())
}


def batch_size(y: np.ndarray) -> int:
    """Samples in y: one for a vector, its rows for a matrix."""
    return 1 if y.ndim == 1 else y.shape[0]


def backward_code(act: Activation, name: str, g: str, u: str, z: str) -> str:
    """``name = `` the activation's backward code, with g computed first where the code reads it twice."""
    if "{g}" in act.backward_code:
        return f"{name} = " + act.backward_code.format(g=g, u=u, z=z)
    return f"g = {g}; {name} = " + act.backward_code.format(u=u, z=z)


def _first_difference(course: float, exact_value: float) -> str:
    """``, different from the 7th significant digit`` (counted on both numbers written to 16 places)."""
    if not (math.isfinite(course) and math.isfinite(exact_value)):
        return ""
    a, b = f"{course:.15e}", f"{exact_value:.15e}"
    if a == b:
        return ", the same to all 16 significant digits"
    if a.split("e")[1] != b.split("e")[1]:
        return ", different in magnitude"
    digits_a, digits_b = a.split("e")[0].replace(".", ""), b.split("e")[0].replace(".", "")
    n = next(i for i, (p, q) in enumerate(zip(digits_a, digits_b)) if p != q) + 1
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f", different from the {n}{suffix} significant digit"


class Loss:
    """E(y, d), delta = dE/du of the output layer, and what nnstep says about both."""

    name: str = ""
    #: The loss in the seed's notation.
    formula: str = ""
    #: The loss as numpy code, with ``{u}`` for the output layer's u and ``{N}`` for the batch size.
    code: str = ""
    #: The output activation this loss requires, or None for any.
    requires: str | None = None
    #: A classifier's loss: its outputs have classes and an accuracy.
    classifier: bool = False
    #: The loss step reads the output layer's u as well as y and d.
    reads_u: bool = True
    TEXT: dict[str, str] = {}

    #: What one element's term of the loss reads: y and d, or d and the output layer's u (log y from u).
    term_reads: tuple[str, ...] = ("y", "d")

    def value(self, u: np.ndarray, y: np.ndarray, d: np.ndarray) -> np.float64:
        raise NotImplementedError

    def contributions(self, u: np.ndarray, y: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Each element's term of the loss (y's shape); they add up to :meth:`value`."""
        raise NotImplementedError

    def divisor(self, y: np.ndarray) -> int:
        """What the loss divides by: y's elements (a mean over all of them) or the batch size."""
        return y.size

    def delta(self, u: np.ndarray, y: np.ndarray, d: np.ndarray, act: Activation) -> np.ndarray:
        raise NotImplementedError

    # --- classes ---------------------------------------------------------------------------------------

    def classes(self, array: np.ndarray) -> np.ndarray | None:
        """The class each row of y (or d) stands for; None for a regression."""
        return None

    def correct(self, y: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Per sample, whether the prediction is right (classifiers only)."""
        raise TypeError(f"{self.name} is not a classifier's loss")

    def accuracy(self, y: np.ndarray, d: np.ndarray) -> float:
        """The share of samples a classifier gets right; nan when its outputs are not numbers (a diverged
        run has no prediction to be right or wrong)."""
        if not np.all(np.isfinite(y)):
            return float("nan")
        return float(np.mean(self.correct(y, d)))

    def check_targets(self, d: np.ndarray, key: str) -> str | None:
        """Why ``d`` cannot be this loss's target (``key`` names where d came from), or None."""
        return None

    def course_value(self, u: np.ndarray, y: np.ndarray, d: np.ndarray) -> np.float64:
        """The loss as the course's own function computes it, which its notebooks print (the course's
        mean_squared_error is this one)."""
        return self.value(u, y, d)

    def course_difference(self, y: np.ndarray, d: np.ndarray, course: float, value: float) -> str | None:
        """Why the course's printed loss ``course`` is not nnstep's ``value``, in words; None when it is."""
        return None

    # --- words -----------------------------------------------------------------------------------------

    def text(self, key: str, **values) -> str:
        return self.TEXT[key].format(**values)

    def inputs(self, y: np.ndarray, d: np.ndarray, u: np.ndarray, last: int) -> dict[str, np.ndarray]:
        """The arrays the loss step reads, by name."""
        return {"y": y, "d": d, names.u(last): u} if self.reads_u else {"y": y, "d": d}

    def note(self, u: np.ndarray, y: np.ndarray, d: np.ndarray, value: float) -> str:
        raise NotImplementedError

    def delta_formula(self, act: Activation, l: int) -> str:
        raise NotImplementedError

    def delta_inputs(self, act: Activation, y, d, u, l: int) -> dict[str, np.ndarray]:
        return {"y": y, "d": d}

    def delta_note(self, act: Activation, y: np.ndarray, l: int) -> str:
        raise NotImplementedError

    def delta_code(self, act: Activation, y: np.ndarray, l: int) -> str:
        raise NotImplementedError


class MeanSquaredError(Loss):
    name = "mse"
    formula = "loss = mean((y − d)²) / 2"
    code = "loss = np.mean(np.square(d - y)) / 2"
    reads_u = False
    TEXT = {"note": "Half the mean of the squared errors over every element of y.",
            "entry": "loss = Σ (y − d)² / (2·{n})",
            "entry_def": "n = {n}: the loss is half the mean over the {n} elements of y",
            "term": "({y} − {d})² / {m}",
            "delta_entry": "({y} − {d}) / {n}",
            "delta_note": "delta{l} = dE/du{l}. The loss averages over n = {n} elements, so dE/dy = (y − d) / {n}"}

    def value(self, u, y, d):
        # The seed's own expression, so its printed losses come out to the last digit.
        return np.float64(np.mean(np.square(d - y)) / 2)

    def delta(self, u, y, d, act):
        return act.backward(u, y, (y - d) / y.size)

    def contributions(self, u, y, d):
        return np.square(d - y) / (2 * y.size)

    def note(self, u, y, d, value):
        return self.text("note")

    def delta_formula(self, act, l):
        return act.output_formula(l)

    def delta_inputs(self, act, y, d, u, l):
        if act.backward_reads is None:
            return {"y": y, "d": d}
        return {"y": y, "d": d, names.u(l): u}

    def delta_note(self, act, y, l):
        return self.text("delta_note", l=l, n=y.size) + act.output_note()

    def delta_code(self, act, y, l):
        if act.backward_reads is None:
            return f"{names.delta(l)} = (y - d) / {y.size}"
        return backward_code(act, names.delta(l), f"(y - d) / {y.size}", names.u(l), "y")


def seed_cross_entropy(y: np.ndarray, d: np.ndarray) -> np.float64:
    """The course's ``cross_entropy_error`` exactly as it is written, for comparing with its printouts.

    It adds 1e-7 inside the log and reads the label as ``argmax(d)``, so on one sigmoid unit it
    returns −log(y + 1e-7) whatever the label is.
    """
    if y.ndim == 1:
        d = d.reshape(1, d.size)
        y = y.reshape(1, y.size)
    if d.size == y.size:
        d = d.argmax(axis=1)
    n = y.shape[0]
    return np.float64(-np.sum(np.log(y[np.arange(n), d] + 1e-7)) / n)


def _one_hot(d: np.ndarray) -> bool:
    """Every row of d is one 1 and zeros."""
    rows = np.atleast_2d(d)
    return bool(np.all((rows == 0) | (rows == 1)) and np.all(rows.sum(axis=-1) == 1))


class CrossEntropy(Loss):
    name = "cross_entropy"
    formula = "loss = −Σ d·log y / N"
    code = ("m = {u}.max(axis=-1, keepdims=True); "
            "log_y = {u} - m - np.log(np.sum(np.exp({u} - m), axis=-1, keepdims=True)); "
            "loss = -np.sum(d * log_y) / {N}")
    requires = "softmax"
    classifier = True
    term_reads = ("d", "u")
    TEXT = {"note": "log y is taken as log_softmax(u), exactly and with no epsilon.",
            "entry": "loss = −Σ d·log y / {N}",
            "entry_def": "log y is taken as log_softmax({u}) (exact, no 1e-7); N = {N}, the batch size",
            "term": "−{d}·log {y} / {N}",
            "delta_entry": "({y} − {d}) / {N}",
            "course": " The course's cross_entropy_error adds 1e-7 inside the log and would print {value} here"
                      "{difference}.",
            "printout": "the course's cross_entropy_error(d, y), as the notebook prints it, adds 1e-7 inside the "
                        "log: {course}; nnstep's exact loss is {value}{difference}",
            "printout_soft": "the course's cross_entropy_error(d, y), as the notebook prints it, reads only argmax(d) "
                             "of each row (the loss of those one-hot labels, not of these soft targets) and adds 1e-7 "
                             "inside the log: {course}; nnstep's loss of the soft targets is {value}",
            "course_soft": " The course's cross_entropy_error reads only argmax(d) of each row, as if d were the "
                           "one-hot label of its largest entry (and adds 1e-7 inside the log): it would print "
                           "{value} here, the loss of those one-hot labels, not of these soft targets.",
            "delta_formula": "delta{l} = (y − d) / N",
            "delta_note": "delta{l} = dE/du{l}. With softmax and cross entropy together, the derivative collapses "
                          "to y − d (each row of d sums to 1), divided by the batch size N = {N}.",
            "negative": "expected probabilities ≥ 0 for cross_entropy (one-hot labels such as [0, 0, 1]), "
                        "found {found}",
            "sums": "expected each row to sum to 1 for cross_entropy (a one-hot label or a probability "
                    "distribution), found {where} summing to {found}"}

    def value(self, u, y, d):
        # log y taken as log_softmax(u): exact, and finite even where y underflows to 0; a class with
        # d = 0 adds nothing, even where its log y is −inf (0·log 0 = 0, not nan).
        return np.float64(-np.sum(np.where(d == 0, 0.0, d * _log_softmax(u))) / batch_size(y))

    def delta(self, u, y, d, act):
        # Softmax and cross entropy together: every row of d sums to 1, so dE/du = (y − d) / N.
        return (y - d) / batch_size(y)

    def contributions(self, u, y, d):
        return -np.where(d == 0, 0.0, d * _log_softmax(u)) / batch_size(y)

    def divisor(self, y):
        return batch_size(y)

    def classes(self, array):
        return np.argmax(array, axis=-1)

    def correct(self, y, d):
        return np.argmax(y, axis=-1) == np.argmax(d, axis=-1)

    def check_targets(self, d, key):
        if np.any(d < 0):
            return self.text("negative", found=f"{d.min():g}")
        sums = np.atleast_1d(d.sum(axis=-1))
        bad = np.flatnonzero(np.abs(sums - 1.0) > 1e-9)
        if bad.size:
            row = int(bad[0])
            where = "d" if d.ndim == 1 else f"row {row} of d" if key == "d" else "a row of d"
            return self.text("sums", where=where, found=f"{float(sums[row]):g}")
        return None

    def course_value(self, u, y, d):
        return seed_cross_entropy(y, d)

    def course_difference(self, y, d, course, value):
        if not (math.isfinite(course) and math.isfinite(value)):
            return None
        return self.text("printout" if _one_hot(d) else "printout_soft", course=exact(course), value=exact(value),
                         difference=_first_difference(course, value))

    def note(self, u, y, d, value):
        seed = float(seed_cross_entropy(y, d))
        if not math.isfinite(seed):
            return self.text("note")
        if _one_hot(d):
            course = self.text("course", value=exact(seed), difference=_first_difference(seed, value))
        else:
            course = self.text("course_soft", value=exact(seed))
        return self.text("note") + course

    def delta_formula(self, act, l):
        return self.text("delta_formula", l=l)

    def delta_note(self, act, y, l):
        return self.text("delta_note", l=l, N=batch_size(y))

    def delta_code(self, act, y, l):
        return f"{names.delta(l)} = (y - d) / {batch_size(y)}"


class BinaryCrossEntropy(Loss):
    name = "binary_cross_entropy"
    formula = "loss = −mean(d·log y + (1 − d)·log(1 − y))"
    code = "loss = np.mean(d * np.logaddexp(0, -{u}) + (1 - d) * np.logaddexp(0, {u}))"
    requires = "sigmoid"
    classifier = True
    term_reads = ("d", "u")
    TEXT = {"note": "log y and log(1 − y) are taken from u (softplus), so they stay finite.",
            "entry": "loss = −Σ (d·log y + (1 − d)·log(1 − y)) / {n}",
            "entry_def": "log y = −log(1 + exp(−{u})) and log(1 − y) = −log(1 + exp({u})), from {u} so that they stay "
                         "finite; n = {n}, the elements of y",
            "term": "−({d}·log {y} + (1 − {d})·log(1 − {y})) / {n}",
            "delta_entry": "({y} − {d}) / {n}",
            "printout": "the course computes this loss with its multi-class cross_entropy_error(d, y), as the "
                        "notebook prints it: on one sigmoid unit it reads only y, so the label makes no difference, "
                        "and it adds 1e-7 inside the log: {course}; nnstep's binary cross entropy, which depends on "
                        "d, is {value}",
            "printout_units": "the course computes this loss with its multi-class cross_entropy_error(d, y), as the "
                              "notebook prints it: it reads only the unit argmax(d) of each row, as if d were a one-hot "
                              "label, and adds 1e-7 inside the log: {course}; nnstep's binary cross entropy is {value}",
            "course": " The course applies its multi-class cross_entropy_error to one sigmoid unit: it would "
                      "print {value} here whatever the label, since it reads only y; this loss depends on d.",
            "delta_formula": "delta{l} = (y − d) / n",
            "delta_note": "delta{l} = dE/du{l}. With a sigmoid output and binary cross entropy, the sigmoid's "
                          "slope cancels: y − d, divided by the n = {n} elements averaged in the loss.",
            "range": "expected labels between 0 and 1 for binary_cross_entropy, found {found}"}

    def value(self, u, y, d):
        # −log y = softplus(−u) and −log(1 − y) = softplus(u) for y = sigmoid(u).
        return np.float64(np.mean(d * _softplus(-u) + (1.0 - d) * _softplus(u)))

    def delta(self, u, y, d, act):
        # Sigmoid and binary cross entropy together: dE/du = (y − d) / n.
        return (y - d) / y.size

    def contributions(self, u, y, d):
        return (d * _softplus(-u) + (1.0 - d) * _softplus(u)) / y.size

    def classes(self, array):
        if np.shape(array)[-1] != 1:
            return None
        return (np.asarray(array)[..., 0] > 0.5).astype(int)

    def correct(self, y, d):
        return np.all((y > 0.5) == (d > 0.5), axis=-1)

    def check_targets(self, d, key):
        if np.any(d < 0) or np.any(d > 1):
            return self.text("range", found=f"{d.min() if np.any(d < 0) else d.max():g}")
        return None

    def course_value(self, u, y, d):
        return seed_cross_entropy(y, d)

    def course_difference(self, y, d, course, value):
        if not (math.isfinite(course) and math.isfinite(value)):
            return None
        return self.text("printout" if np.shape(y)[-1] == 1 else "printout_units", course=exact(course),
                         value=exact(value))

    def note(self, u, y, d, value):
        seed = float(seed_cross_entropy(y, d))
        return self.text("note") + (self.text("course", value=exact(seed)) if math.isfinite(seed) else "")

    def delta_formula(self, act, l):
        return self.text("delta_formula", l=l)

    def delta_note(self, act, y, l):
        return self.text("delta_note", l=l, n=y.size)

    def delta_code(self, act, y, l):
        return f"{names.delta(l)} = (y - d) / {y.size}"


LOSSES: dict[str, Loss] = {l.name: l for l in (MeanSquaredError(), CrossEntropy(), BinaryCrossEntropy())}
