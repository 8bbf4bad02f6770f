"""The seed's names for the arrays of a dense network, made in one place: ``u1``, ``z1``, ``y``, ``delta2``,
``grad_W1``. Code that needs a name builds it here from a layer and a kind; nobody parses names."""

from __future__ import annotations

from typing import Literal

#: Which parameter of a layer: its weights W or its biases b.
Param = Literal["W", "b"]
PARAMS: tuple[Param, Param] = ("W", "b")


def u(layer: int) -> str:
    """The total input of a layer: ``u2``."""
    return f"u{layer}"


def z(layer: int, last: int) -> str:
    """A layer's output: ``z1``, and ``y`` for the output layer."""
    return "y" if layer == last else f"z{layer}"


def z_in(layer: int, last: int) -> str:
    """What a layer reads: ``x`` for the first, else the output of the layer below."""
    return "x" if layer == 1 else z(layer - 1, last)


def delta(layer: int) -> str:
    """dE/du of a layer: ``delta2``."""
    return f"delta{layer}"


def param(kind: Param, layer: int) -> str:
    """``W1``, ``b2``."""
    return f"{kind}{layer}"


def grad(kind: Param, layer: int) -> str:
    """The gradient of a parameter: ``grad_W1``."""
    return f"grad_{kind}{layer}"


def parameters(layers: int) -> list[str]:
    """``W1, b1, W2, b2, …`` in layer order."""
    return [param(kind, l) for l in range(1, layers + 1) for kind in PARAMS]
