"""The operations of a dense network, each written with its local derivative beside it.

An activation maps the total input ``u`` to an output ``z`` and passes a gradient back from ``z``
to ``u`` (a vector-Jacobian product). A loss turns the output ``y`` and the target ``d`` into one
number ``E`` and gives ``delta = dE/du`` of the output layer. Everything works row-wise, so a
vector ``x`` (one sample) and a matrix ``x`` (a batch, one row per sample) share the same code.
Every function is safe for |u| up to 1e3 and beyond: no overflow, no warnings.
"""

from __future__ import annotations

import numpy as np


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


class Activation:
    """z = f(u) and the way a gradient passes back through it."""

    name: str = ""
    #: f'(u) in words, for the backward step that uses it.
    derivative: str = ""
    #: The forward pass as numpy code, with ``{u}`` and ``{z}`` for the arrays' names.
    code: str = ""
    #: The backward pass as numpy code, with ``{g}`` for dE/dz as well (or a bare ``g`` where the
    #: expression for dE/dz is used twice: the caller then computes ``g`` first).
    backward_code: str = ""

    def forward(self, u: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, u: np.ndarray, z: np.ndarray, grad_z: np.ndarray) -> np.ndarray:
        """dE/du from dE/dz."""
        raise NotImplementedError


class Identity(Activation):
    name = "identity"
    derivative = "identity'(u) = 1: the gradient passes through unchanged"
    code = "{z} = {u}"
    backward_code = "{g}"

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

    def forward(self, u):
        return np.maximum(u, 0.0)

    def backward(self, u, z, grad_z):
        return np.where(u > 0, grad_z, 0.0)


class Sigmoid(Activation):
    name = "sigmoid"
    derivative = "sigmoid'(u) = z·(1 − z)"
    code = "{z} = 1 / (1 + np.exp(-{u}))"
    backward_code = "{g} * {z} * (1 - {z})"

    def forward(self, u):
        return _sigmoid(u)

    def backward(self, u, z, grad_z):
        return grad_z * z * (1.0 - z)


class Tanh(Activation):
    name = "tanh"
    derivative = "tanh'(u) = 1 − z²"
    code = "{z} = np.tanh({u})"
    backward_code = "{g} * (1 - {z}**2)"

    def forward(self, u):
        return np.tanh(u)

    def backward(self, u, z, grad_z):
        return grad_z * (1.0 - z * z)


class Step(Activation):
    name = "step"
    derivative = "step'(u) = 0 everywhere (undefined at u = 0)"
    code = "{z} = np.where({u} > 0, 1.0, 0.0)"
    backward_code = "np.zeros_like({u})"

    def forward(self, u):
        return np.where(u > 0, 1.0, 0.0)

    def backward(self, u, z, grad_z):
        return np.zeros_like(grad_z)


class Softmax(Activation):
    name = "softmax"
    derivative = "softmax's Jacobian, dE/du = z ⊙ (g − Σ g⊙z) per row with g = dE/dz"
    code = "e = np.exp({u} - {u}.max(axis=-1, keepdims=True)); {z} = e / e.sum(axis=-1, keepdims=True)"
    backward_code = "{z} * (g - np.sum(g * {z}, axis=-1, keepdims=True))"

    def forward(self, u):
        e = np.exp(u - np.max(u, axis=-1, keepdims=True))
        return e / np.sum(e, axis=-1, keepdims=True)

    def backward(self, u, z, grad_z):
        return z * (grad_z - np.sum(grad_z * z, axis=-1, keepdims=True))


ACTIVATIONS: dict[str, Activation] = {
    a.name: a for a in (Identity(), ReLU(), Sigmoid(), Tanh(), Step(), Softmax())
}


def batch_size(y: np.ndarray) -> int:
    """Samples in y: one for a vector, its rows for a matrix."""
    return 1 if y.ndim == 1 else y.shape[0]


class Loss:
    """E(y, d) and delta = dE/du of the output layer."""

    name: str = ""
    #: The loss in the seed's notation.
    formula: str = ""
    #: The loss as numpy code, with ``{u}`` for the output layer's u and ``{N}`` for the batch size.
    code: str = ""
    #: The output activation this loss requires, or None for any.
    requires: str | None = None

    def value(self, u: np.ndarray, y: np.ndarray, d: np.ndarray) -> np.float64:
        raise NotImplementedError

    def delta(self, u: np.ndarray, y: np.ndarray, d: np.ndarray, act: Activation) -> np.ndarray:
        raise NotImplementedError


class MeanSquaredError(Loss):
    name = "mse"
    formula = "loss = mean((y − d)²) / 2"
    code = "loss = np.mean(np.square(d - y)) / 2"

    def value(self, u, y, d):
        # The seed's own expression, so its printed losses come out to the last digit.
        return np.float64(np.mean(np.square(d - y)) / 2)

    def delta(self, u, y, d, act):
        return act.backward(u, y, (y - d) / y.size)


class CrossEntropy(Loss):
    name = "cross_entropy"
    formula = "loss = −Σ d·log y / N"
    code = ("m = {u}.max(axis=-1, keepdims=True); "
            "log_y = {u} - m - np.log(np.sum(np.exp({u} - m), axis=-1, keepdims=True)); "
            "loss = -np.sum(d * log_y) / {N}")
    requires = "softmax"

    def value(self, u, y, d):
        # log y taken as log_softmax(u): exact, and finite even where y underflows to 0.
        return np.float64(-np.sum(d * _log_softmax(u)) / batch_size(y))

    def delta(self, u, y, d, act):
        # Softmax and cross entropy together: every row of d sums to 1, so dE/du = (y − d) / N.
        return (y - d) / batch_size(y)


class BinaryCrossEntropy(Loss):
    name = "binary_cross_entropy"
    formula = "loss = −mean(d·log y + (1 − d)·log(1 − y))"
    code = "loss = np.mean(d * np.logaddexp(0, -{u}) + (1 - d) * np.logaddexp(0, {u}))"
    requires = "sigmoid"

    def value(self, u, y, d):
        # −log y = softplus(−u) and −log(1 − y) = softplus(u) for y = sigmoid(u).
        return np.float64(np.mean(d * _softplus(-u) + (1.0 - d) * _softplus(u)))

    def delta(self, u, y, d, act):
        # Sigmoid and binary cross entropy together: dE/du = (y − d) / n.
        return (y - d) / y.size


LOSSES: dict[str, Loss] = {l.name: l for l in (MeanSquaredError(), CrossEntropy(), BinaryCrossEntropy())}


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
