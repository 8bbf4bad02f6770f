"""Property tests: the engine's steps on random dense networks against an independent reference.

The reference below is a separate, plain numpy forward pass and loss written from the spec (not from
engine.ops), evaluated in extended precision (np.longdouble, 80-bit on x86) where the platform has
it, so that its central finite differences are accurate enough to judge the engine's float64
gradients: the way micrograd's tests judge micrograd against PyTorch.

Spec: u{l} = z{l-1}·W{l} + b{l} (z0 = x, row vectors), z{l} = act(u{l}), the last z is y.
mse: E = mean((y − d)²) / 2 over every element; cross_entropy (softmax output): E = −Σ d·log y / batch;
binary_cross_entropy (sigmoid output): E = −mean(d·log y + (1 − d)·log(1 − y)).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from nnstep.engine.gradcheck import check_gradients
from nnstep.engine.scenario import Layer, Scenario, parse_scenario
from nnstep.engine.session import run

ACTIVATIONS = ("identity", "relu", "sigmoid", "tanh", "step", "softmax", "leaky_relu")
LOSSES = ("mse", "cross_entropy", "binary_cross_entropy")
REQUIRED_OUTPUT = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}
#: Draws with a relu/step/leaky_relu pre-activation closer than this to 0 are skipped (the kink).
KINK = 1e-3

#: The reference's number type: extended precision where available, else float64.
R = np.longdouble
EXTENDED = np.finfo(R).eps < 1e-18
#: Finite-difference step of the reference, and the tolerances that go with its precision.
H = R(1e-8) if EXTENDED else R(1e-6)
FD_ATOL = 1e-9 if EXTENDED else 1e-6
FD_RTOL = 1e-6 if EXTENDED else 1e-4

SETTINGS = settings(max_examples=int(os.environ.get("PROP_MAX_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------
# The independent reference.
# ---------------------------------------------------------------------------------------------

def ref_act(name: str, u: np.ndarray) -> np.ndarray:
    if name == "identity":
        return u
    if name == "relu":
        return np.where(u > 0, u, R(0))
    if name == "leaky_relu":
        return np.where(u > 0, u, R("0.01") * u)
    if name == "sigmoid":
        with np.errstate(over="ignore"):  # only reachable in the float64 fallback: 1 / (1 + inf) = 0
            return R(1) / (R(1) + np.exp(-u))
    if name == "tanh":
        return np.tanh(u)
    if name == "step":
        return (u > 0).astype(R)
    if name == "softmax":
        e = np.exp(u - u.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise AssertionError(name)


def ref_loss(loss: str, u: np.ndarray, y: np.ndarray, d: np.ndarray) -> R:
    """E from the output pre-activation u, the output y and the target d."""
    if loss == "mse":
        return np.sum((y - d) ** 2) / (2 * y.size)
    if loss == "cross_entropy":
        batch = 1 if y.ndim == 1 else y.shape[0]
        m = u.max(axis=-1, keepdims=True)
        log_y = (u - m) - np.log(np.sum(np.exp(u - m), axis=-1, keepdims=True))
        return -np.sum(d * log_y) / batch
    if loss == "binary_cross_entropy":
        log_y = -np.logaddexp(R(0), -u)        # log sigmoid(u)
        log_1my = -np.logaddexp(R(0), u)       # log (1 − sigmoid(u))
        return -np.sum(d * log_y + (1 - d) * log_1my) / y.size
    raise AssertionError(loss)


class Ref:
    """A network held in the reference precision."""

    def __init__(self, net: dict):
        self.acts = net["acts"]
        self.loss = net["loss"]
        self.x = np.array(net["x"], dtype=R)
        self.d = np.array(net["d"], dtype=R)
        self.params = [[np.array(W, dtype=R), np.array(b, dtype=R)] for W, b in net["params"]]

    def forward(self, start: int = 0, u_start: np.ndarray | None = None):
        """(us, zs) of every layer, optionally replacing u of layer ``start`` (0-based) by u_start."""
        z = self.x
        us, zs = [], []
        for i, ((W, b), act) in enumerate(zip(self.params, self.acts)):
            if i < start:
                us.append(None)
                zs.append(None)
                continue
            u = u_start if (i == start and u_start is not None) else z @ W + b
            z = ref_act(act, u)
            us.append(u)
            zs.append(z)
        return us, zs

    def energy(self, start: int = 0, u_start: np.ndarray | None = None) -> R:
        us, zs = self.forward(start, u_start)
        return ref_loss(self.loss, us[-1], zs[-1], self.d)


def central_differences(f, array: np.ndarray) -> np.ndarray:
    """(f(p + h) − f(p − h)) / (2h) for every element p of ``array`` (perturbed in place)."""
    out = np.zeros(array.shape, dtype=R)
    for idx in np.ndindex(array.shape):
        keep = array[idx]
        array[idx] = keep + H
        plus = f()
        array[idx] = keep - H
        minus = f()
        array[idx] = keep
        out[idx] = (plus - minus) / ((keep + H) - (keep - H))
    return out


def magnitude_bounds(net: dict) -> list[np.ndarray]:
    """For each layer, |z_prev|·|W| + |b| with magnitudes propagated from |x|: a scale for float64
    rounding error in u (and so in z, every activation being 1-Lipschitz away from the kinks)."""
    m = np.abs(np.asarray(net["x"], dtype=np.float64))
    out = []
    for (W, b), act in zip(net["params"], net["acts"]):
        um = m @ np.abs(W) + np.abs(b)
        out.append(um)
        m = np.broadcast_to(um.max(axis=-1, keepdims=True), um.shape) if act == "softmax" else um
    return out


# ---------------------------------------------------------------------------------------------
# Random networks.
# ---------------------------------------------------------------------------------------------

def floats(lo=-2.0, hi=2.0):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def matrix(draw, shape, elements):
    flat = draw(st.lists(elements, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    return np.array(flat, dtype=np.float64).reshape(shape)


@st.composite
def networks(draw, loss=None):
    n_layers = draw(st.integers(1, 4))
    widths = [draw(st.integers(1, 6)) for _ in range(n_layers + 1)]
    loss = draw(st.sampled_from(LOSSES)) if loss is None else loss
    acts = [draw(st.sampled_from(ACTIVATIONS)) for _ in range(n_layers - 1)]
    acts.append(REQUIRED_OUTPUT.get(loss) or draw(st.sampled_from(ACTIVATIONS)))
    batch = draw(st.one_of(st.none(), st.integers(1, 4)))
    lead = () if batch is None else (batch,)
    x = matrix(draw, lead + (widths[0],), floats())
    params = [(matrix(draw, (widths[i], widths[i + 1]), floats()), matrix(draw, (widths[i + 1],), floats()))
              for i in range(n_layers)]
    out_shape = lead + (widths[-1],)
    rows = 1 if batch is None else batch
    k = widths[-1]
    if loss == "mse":
        d = matrix(draw, out_shape, floats())
    elif loss == "binary_cross_entropy":
        d = matrix(draw, out_shape, st.one_of(st.sampled_from([0.0, 1.0]), floats(0.0, 1.0)))
    else:
        dist = []
        for _ in range(rows):
            if draw(st.booleans()):                                  # one-hot label
                row = np.zeros(k)
                row[draw(st.integers(0, k - 1))] = 1.0
            else:                                                    # soft distribution
                w = np.array(draw(st.lists(floats(0.0, 1.0), min_size=k, max_size=k)))
                w[draw(st.integers(0, k - 1))] += draw(floats(0.05, 1.0))   # keeps the sum away from 0
                row = w / w.sum()
            dist.append(row)
        d = np.array(dist).reshape(out_shape)
    lr = draw(st.floats(1e-3, 1.0))
    via_toml = draw(st.booleans())
    return {"loss": loss, "acts": acts, "x": x, "params": params, "d": d, "lr": lr, "via_toml": via_toml}


def toml_array(a: np.ndarray) -> str:
    if a.ndim == 1:
        return "[" + ", ".join(repr(float(v)) for v in a) + "]"
    return "[" + ", ".join(toml_array(row) for row in a) + "]"


def to_toml(net: dict) -> str:
    lines = ['name = "random"', f'loss = "{net["loss"]}"', f"learning_rate = {net['lr']!r}",
             f"x = {toml_array(net['x'])}", f"d = {toml_array(net['d'])}"]
    for (W, b), act in zip(net["params"], net["acts"]):
        lines += ["", "[[layers]]", f"W = {toml_array(W)}", f"b = {toml_array(b)}", f'activation = "{act}"']
    return "\n".join(lines) + "\n"


def build(net: dict) -> Scenario:
    """The scenario, half of the time through the TOML loader (checked to read back exactly)."""
    if net["via_toml"]:
        text = to_toml(net)
        note(text)
        sc = parse_scenario(text)
        assert sc.loss == net["loss"] and sc.learning_rate == net["lr"]
        for got, want in [(sc.x, net["x"]), (sc.d, net["d"])] + [
                (getattr(layer, attr), p[i]) for layer, p in zip(sc.layers, net["params"])
                for i, attr in enumerate("Wb")]:
            assert got.dtype == np.float64 and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
        assert [layer.activation for layer in sc.layers] == net["acts"]
        return sc
    note(repr(net))
    return Scenario(name="random", description="", x=net["x"], d=net["d"], loss=net["loss"],
                    learning_rate=net["lr"],
                    layers=tuple(Layer(W=W, b=b, activation=a) for (W, b), a in zip(net["params"], net["acts"])))


def assume_off_kinks(net: dict, ref: Ref):
    us, _ = ref.forward()
    for u, act in zip(us, net["acts"]):
        if act in ("relu", "step", "leaky_relu"):
            assume(bool(np.all(np.abs(u) > KINK)))


def expected_names(n: int) -> list[str]:
    names = []
    for l in range(1, n + 1):
        names += [f"u{l}", "y" if l == n else f"z{l}"]
    names.append("loss")
    for l in range(n, 0, -1):
        names += [f"delta{l}", f"grad_W{l}", f"grad_b{l}"]
    for l in range(1, n + 1):
        names += [f"W{l}", f"b{l}"]
    return names


# ---------------------------------------------------------------------------------------------
# The properties.
# ---------------------------------------------------------------------------------------------


def reference_and_steps(net, scenario=None):
    """The independent reference for ``net`` (draws on a kink are skipped) and the engine's steps by name."""
    ref = Ref(net)
    assume_off_kinks(net, ref)
    result = run(scenario if scenario is not None else build(net))
    return ref, result, {s.name: s for s in result.steps}


@SETTINGS
@given(networks())
def test_every_gradient_step_matches_independent_finite_differences(net):
    ref, result, steps = reference_and_steps(net)
    n = len(net["params"])

    us, zs = ref.forward()
    E = ref.energy()
    M = max(float(np.max(np.abs(u))) for u in us)
    miss = float(np.max(np.abs(zs[-1] - ref.d)))
    # Rounding in E(p ± h) is ~eps·(|E| + |y − d|·|u|); divided by h this is the scale of FD_ATOL.
    atol = FD_ATOL * (1.0 + abs(float(E)) + M * (1.0 + miss))

    for l in range(n, 0, -1):
        u = us[l - 1].copy()
        numeric = {
            f"delta{l}": central_differences(lambda: ref.energy(l - 1, u), u),
            f"grad_W{l}": central_differences(ref.energy, ref.params[l - 1][0]),
            f"grad_b{l}": central_differences(ref.energy, ref.params[l - 1][1]),
        }
        for name, num in numeric.items():
            analytic = np.asarray(steps[name].value)
            num = num.astype(np.float64)
            assert analytic.shape == num.shape, name
            size = max(float(np.max(np.abs(analytic))), float(np.max(np.abs(num))))
            err = np.abs(analytic - num)
            assert np.all(err <= atol + FD_RTOL * size), (
                f"{name}: engine {analytic!r}\nreference finite differences {num!r}\n"
                f"max error {err.max():.3e} > {atol + FD_RTOL * size:.3e}")


@SETTINGS
@given(networks())
def test_forward_values_and_loss_match_independent_reference(net):
    ref, result, steps = reference_and_steps(net)
    n = len(net["params"])
    us, zs = ref.forward()
    bounds = magnitude_bounds(net)
    for l in range(1, n + 1):
        out = "y" if l == n else f"z{l}"
        tol = 1e-12 * (1.0 + bounds[l - 1])
        for name, want in ((f"u{l}", us[l - 1]), (out, zs[l - 1])):
            got = np.asarray(steps[name].value)
            assert got.shape == want.shape and got.dtype == np.float64
            assert np.all(np.abs(got - want.astype(np.float64)) <= tol), (name, got, want)
        # The step records what it read.
        prev = "x" if l == 1 else ("y" if l - 1 == n else f"z{l - 1}")
        np.testing.assert_array_equal(steps[f"u{l}"].inputs[f"W{l}"], net["params"][l - 1][0])
        np.testing.assert_array_equal(steps[f"u{l}"].inputs[f"b{l}"], net["params"][l - 1][1])
        assert prev in steps[f"u{l}"].inputs

    E = float(ref.energy())
    got = float(steps["loss"].value)
    assert steps["loss"].value.shape == ()
    miss = float(np.max(np.abs(zs[-1] - ref.d)))
    tol = 1e-12 * abs(E) + 1e-13 * float(np.max(bounds[-1])) * (1.0 + miss)
    assert abs(got - E) <= tol, (got, E, tol)


@SETTINGS
@given(networks())
def test_step_order_names_indices_and_exact_updates(net):
    sc = build(net)
    result = run(sc)
    n = len(net["params"])
    assert [s.name for s in result.steps] == expected_names(n)
    assert [s.index for s in result.steps] == list(range(len(result.steps)))
    assert all(s.iteration == 1 for s in result.steps)
    phases = [s.phase for s in result.steps]
    assert phases == ["forward"] * (2 * n) + ["loss"] + ["backward"] * (3 * n) + ["update"] * (2 * n)
    for s in result.steps:
        assert s.layer == (None if s.name == "loss" else int(s.name.lstrip("uzydeltagrad_Wb") or n))
        assert not s.value.flags.writeable

    steps = {s.name: s for s in result.steps}
    lr = net["lr"]
    for l, (W, b) in enumerate(net["params"], start=1):
        for name, old in ((f"W{l}", W), (f"b{l}", b)):
            grad = np.asarray(steps[f"grad_{name}"].value)
            new = np.asarray(steps[name].value)
            assert new.shape == old.shape == grad.shape
            np.testing.assert_array_equal(new, old - lr * grad)   # bit for bit, pre-update gradients
            np.testing.assert_array_equal(steps[name].inputs[name], old)
            np.testing.assert_array_equal(steps[name].inputs[f"grad_{name}"], grad)
    final = result.final_layers()
    for l, layer in enumerate(final, start=1):
        np.testing.assert_array_equal(layer.W, steps[f"W{l}"].value)
        np.testing.assert_array_equal(layer.b, steps[f"b{l}"].value)
    # The scenario's own arrays are untouched by the run.
    for layer, (W, b) in zip(sc.layers, net["params"]):
        np.testing.assert_array_equal(layer.W, W)
        np.testing.assert_array_equal(layer.b, b)


@SETTINGS
@given(networks())
def test_engine_gradcheck_passes_on_random_networks(net):
    ref, result, _ = reference_and_steps(net)
    checks = check_gradients(result)
    n = len(net["params"])
    assert [c.name for c in checks] == [f"{k}{l}" for l in range(n, 0, -1) for k in ("delta", "grad_W", "grad_b")]
    failed = [c for c in checks if not c.passed]
    assert not failed, "\n".join(
        f"{c.name}: analytic {c.analytic!r}\nnumeric {c.numeric!r}\nmax abs {c.max_abs_error:.3e} "
        f"max rel {c.max_rel_error:.3e}" for c in failed)


@pytest.mark.parametrize("loss", LOSSES)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_each_loss_is_drawn_and_checked(loss, data):
    """Every loss gets its own examples (with its required output activation), via the loader."""
    net = data.draw(networks(loss=loss))
    net["via_toml"] = True
    sc = build(net)
    if loss in REQUIRED_OUTPUT:
        assert sc.layers[-1].activation == REQUIRED_OUTPUT[loss]
    ref, _, steps = reference_and_steps(net, sc)
    n = len(net["params"])
    u = ref.forward()[0][-1].copy()
    num = central_differences(lambda: ref.energy(n - 1, u), u).astype(np.float64)
    analytic = np.asarray(steps[f"delta{n}"].value)
    np.testing.assert_allclose(analytic, num, rtol=FD_RTOL, atol=FD_ATOL * (1 + float(np.max(np.abs(u)))))
