"""Numerical safety of the engine: |u| up to 1e3, signed zeros, the step function, the seed's losses.

``strict()`` turns every numpy floating-point problem and every Python warning into an error, except
underflow: numpy ignores underflow by default (it never warns about it), and an exp(−1000) that
rounds to 0 is the correct float64 result, not a fault. ``np.errstate(all="raise")`` alone would
raise on sigmoid(−1000) and on softmax rows spanning 2000 for exactly that reason.

Note that :func:`nnstep.engine.steps.iteration_steps` runs under ``np.errstate(all="ignore")`` (a diverging
run should show inf/nan, not warn), so a full run can never raise; the run tests therefore check
that every value is finite and right, and re-apply the ops to the run's own arrays under strict().
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np
import pytest

from nnstep.engine.bundled import find_bundled
from nnstep.engine.gradcheck import check_gradients
from nnstep.engine.ops import ACTIVATIONS, LOSSES, seed_cross_entropy
from nnstep.engine.scenario import load_scenario, parse_scenario
from nnstep.engine.session import run


@contextlib.contextmanager
def strict():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            yield


def softplus(t: float) -> float:
    """log(1 + e^t) in plain Python, stable for large |t| (an independent reference)."""
    return t + math.log1p(math.exp(-t)) if t > 0 else math.log1p(math.exp(t))


EXTREME = np.array([-1e3, -800.0, -745.0, -50.0, -1e-300, -0.0, 0.0, 1e-300, 50.0, 800.0, 1e3])
MIXED = np.array([[1e3, -1e3, 0.0], [-1e3, -1e3, -1e3], [1e3, 1e3, 999.0], [1e3, -1e3, 1e3]])


def finite(a) -> bool:
    return bool(np.all(np.isfinite(np.asarray(a))))


# ---------------------------------------------------------------------------------------------
# engine.ops directly
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("u", [EXTREME, MIXED, EXTREME * 10], ids=["vector", "batch", "1e4"])
def test_every_activation_is_finite_and_silent_at_extremes(name, u):
    act = ACTIVATIONS[name]
    grad = np.linspace(-2.0, 2.0, u.size).reshape(u.shape)
    with strict():
        z = act.forward(u)
        back = act.backward(u, z, grad)
    assert z.shape == u.shape and back.shape == u.shape
    assert finite(z) and finite(back)


def test_sigmoid_values_at_extremes():
    sig = ACTIVATIONS["sigmoid"]
    with strict():
        z = sig.forward(EXTREME)
        back = sig.backward(EXTREME, z, np.ones_like(EXTREME))
    assert np.all((z >= 0) & (z <= 1))
    assert np.all(np.diff(z) >= 0)                        # monotone
    assert z[0] == 0.0 and z[-1] == 1.0                   # e^-1000 underflows; nothing overflows
    assert z[EXTREME == 0].tolist() == [0.5, 0.5]
    assert back[0] == 0.0 and back[-1] == 0.0
    moderate = np.linspace(-30, 30, 61)
    with strict():
        np.testing.assert_allclose(sig.forward(moderate), 1 / (1 + np.exp(-moderate)), rtol=1e-15)
    # Symmetry: sigmoid(−u) = 1 − sigmoid(u).
    with strict():
        np.testing.assert_allclose(sig.forward(-moderate), 1 - sig.forward(moderate), atol=1e-16)


def test_tanh_values_at_extremes():
    t = ACTIVATIONS["tanh"]
    with strict():
        z = t.forward(EXTREME)
        back = t.backward(EXTREME, z, np.ones_like(EXTREME))
    assert z[0] == -1.0 and z[-1] == 1.0
    assert back[0] == 0.0 and back[-1] == 0.0


def test_softmax_rows_at_extremes():
    sm = ACTIVATIONS["softmax"]
    grad = np.array([[1.0, -2.0, 0.5]] * len(MIXED))
    with strict():
        z = sm.forward(MIXED)
        back = sm.backward(MIXED, z, grad)
        vec = sm.forward(np.array([1e3, 0.0, -1e3]))
    np.testing.assert_allclose(z.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(z[0], [1.0, 0.0, 0.0], atol=1e-300)
    np.testing.assert_allclose(z[1], [1 / 3] * 3, rtol=1e-15)
    np.testing.assert_allclose(z[2], np.array([1.0, 1.0, math.exp(-1)]) / (2 + math.exp(-1)), rtol=1e-15)
    np.testing.assert_allclose(z[3], [0.5, 0.0, 0.5], atol=1e-300)
    assert vec.tolist() == [1.0, 0.0, 0.0]
    assert finite(back)
    # The Jacobian product keeps each row's sum at 0 (probabilities stay normalised).
    np.testing.assert_allclose(back.sum(axis=1), 0.0, atol=1e-15)


LOSS_CASES = [
    # (loss, output activation, u, d, expected E)
    ("binary_cross_entropy", "sigmoid", [1e3], [0.0], 1e3),
    ("binary_cross_entropy", "sigmoid", [-1e3], [1.0], 1e3),
    ("binary_cross_entropy", "sigmoid", [1e3], [1.0], 0.0),
    ("binary_cross_entropy", "sigmoid", [-1e3], [0.0], 0.0),
    ("binary_cross_entropy", "sigmoid", [1e3], [0.3], 700.0),
    ("binary_cross_entropy", "sigmoid", [[1e3], [-1e3], [0.0]], [[0.0], [0.0], [1.0]], (1e3 + math.log(2)) / 3),
    ("binary_cross_entropy", "sigmoid", [1e3, -1e3], [0.0, 1.0], 1e3),
    ("cross_entropy", "softmax", [1e3, -1e3, 0.0], [0.0, 1.0, 0.0], 2e3),
    ("cross_entropy", "softmax", [1e3, -1e3], [0.5, 0.5], 1e3),
    ("cross_entropy", "softmax", [[1e3, -1e3], [-1e3, 1e3]], [[0.0, 1.0], [0.0, 1.0]], 1e3),
    ("cross_entropy", "softmax", [[1e3, -1e3, 1e3]], [[0.0, 1.0, 0.0]], 2e3 + math.log(2)),
    ("mse", "identity", [1e3, -1e3], [0.0, 0.0], 1e6 / 2),
    ("mse", "sigmoid", [1e3, -1e3], [0.0, 1.0], 1.0 / 2),
    ("mse", "tanh", [1e3, -1e3], [-1.0, 1.0], 4.0 / 2),
    ("mse", "softmax", [[1e3, -1e3]], [[0.0, 1.0]], 1.0 / 2),
    ("mse", "relu", [1e3, -1e3], [0.0, 0.0], 1e6 / 4),
    ("mse", "step", [1e3, -1e3], [0.0, 0.0], 1.0 / 4),
]


@pytest.mark.parametrize("loss, act_name, u, d, expected", LOSS_CASES)
def test_loss_value_and_delta_are_finite_at_extremes(loss, act_name, u, d, expected):
    u, d = np.array(u), np.array(d)
    act = ACTIVATIONS[act_name]
    fn = LOSSES[loss]
    with strict():
        y = act.forward(u)
        E = fn.value(u, y, d)
        delta = fn.delta(u, y, d, act)
    assert math.isfinite(E), E
    assert E == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert delta.shape == u.shape and finite(delta)
    if loss != "mse":
        # Sigmoid + BCE and softmax + CE both collapse to (y − d) / (elements or batch).
        n = y.size if loss == "binary_cross_entropy" else (1 if y.ndim == 1 else y.shape[0])
        np.testing.assert_array_equal(delta, (y - d) / n)


def test_cross_entropy_where_the_true_class_underflows_to_zero():
    u = np.array([1e3, -1e3, 0.0])
    y = ACTIVATIONS["softmax"].forward(u)
    assert y[1] == 0.0                     # log y would be −inf; the loss must not be
    with strict():
        E = LOSSES["cross_entropy"].value(u, y, np.array([0.0, 1.0, 0.0]))
    assert E == pytest.approx(2e3, rel=1e-12)


def test_binary_cross_entropy_matches_softplus_reference():
    fn = LOSSES["binary_cross_entropy"]
    for t in [-1e3, -40.0, -1.94, -1e-3, 0.0, 1e-3, 1.94, 40.0, 1e3]:
        for dv in [0.0, 0.25, 1.0]:
            u, d = np.array([t]), np.array([dv])
            with strict():
                E = fn.value(u, ACTIVATIONS["sigmoid"].forward(u), d)
            want = dv * softplus(-t) + (1 - dv) * softplus(t)
            assert E == pytest.approx(want, rel=1e-13, abs=1e-300), (t, dv)


# ---------------------------------------------------------------------------------------------
# Full runs whose weights make |u| ≈ 1e3
# ---------------------------------------------------------------------------------------------

BIG_BCE = """
loss = "binary_cross_entropy"
learning_rate = 0.1
x = [1.0]
d = [{d}]

[[layers]]
W = [[1000.0]]
b = [0.0]
activation = "sigmoid"
"""

BIG_CE = """
loss = "cross_entropy"
learning_rate = 0.01
x = {x}
d = {d}

[[layers]]
W = [[500.0, -500.0], [-500.0, 500.0]]
b = [0.0, 0.0]
activation = "tanh"

[[layers]]
W = [[1000.0, -1000.0, 0.0], [0.0, 0.0, 0.0]]
b = [0.0, 0.0, 0.0]
activation = "softmax"
"""

BIG_MSE = """
loss = "mse"
learning_rate = 0.5
x = [[1.0, -1.0], [-1.0, 1.0]]
d = [[0.0, 1.0], [1.0, 0.0]]

[[layers]]
W = [[1000.0, -1000.0, 500.0], [-1000.0, 1000.0, 500.0]]
b = [0.0, 0.0, 0.0]
activation = "sigmoid"

[[layers]]
W = [[1000.0, -1000.0], [-1000.0, 1000.0], [3.0, 3.0]]
b = [0.0, 0.0]
activation = "softmax"
"""


def reapply_ops_strictly(result):
    """Recompute every activation, the loss and the output delta from the run's arrays, under strict()."""
    sc = result.scenario
    steps = {s.name: s for s in result.steps}
    n = len(sc.layers)
    with strict():
        for l, layer in enumerate(sc.layers, start=1):
            act = ACTIVATIONS[layer.activation]
            u = steps[f"u{l}"].value
            z = act.forward(u)
            np.testing.assert_array_equal(z, steps["y" if l == n else f"z{l}"].value)
        u, y = steps[f"u{n}"].value, steps["y"].value
        fn = LOSSES[sc.loss]
        assert fn.value(u, y, sc.d) == steps["loss"].value
        np.testing.assert_array_equal(fn.delta(u, y, sc.d, ACTIVATIONS[sc.layers[-1].activation]),
                                      steps[f"delta{n}"].value)


def assert_all_finite(result):
    for s in result.steps:
        assert finite(s.value), (s.name, s.value)
        for k, v in s.inputs.items():
            assert finite(v), (s.name, k, v)


@pytest.mark.parametrize("d, expected", [("0", 1e3), ("1", 0.0), ("0.5", 500.0)])
def test_run_binary_cross_entropy_with_u_1000(d, expected):
    with strict():
        result = run(parse_scenario(BIG_BCE.format(d=d)))
    steps = {s.name: s for s in result.steps}
    assert steps["u1"].value.tolist() == [1e3]
    assert float(steps["loss"].value) == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert_all_finite(result)
    reapply_ops_strictly(result)
    assert all(c.passed for c in check_gradients(result))


@pytest.mark.parametrize("x, d, expected", [
    ("[1.0, -1.0]", "[0.0, 1.0, 0.0]", 2e3),
    ("[[1.0, -1.0], [-1.0, 1.0]]", "[[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]", (2e3 + 0.0) / 2),
    ("[[1.0, -1.0]]", "[[0.25, 0.5, 0.25]]", 0.5 * 2e3 + 0.25 * 1e3),
])
def test_run_softmax_cross_entropy_with_u_1000(x, d, expected):
    with strict():
        result = run(parse_scenario(BIG_CE.format(x=x, d=d)))
    steps = {s.name: s for s in result.steps}
    assert np.max(np.abs(steps["u1"].value)) == 1e3 and np.max(np.abs(steps["u2"].value)) == 1e3
    assert np.any(steps["y"].value == 0.0)        # the true class's probability underflows
    assert float(steps["loss"].value) == pytest.approx(expected, rel=1e-12)
    assert_all_finite(result)
    reapply_ops_strictly(result)
    assert all(c.passed for c in check_gradients(result))


def test_run_mse_through_saturated_sigmoid_and_softmax():
    with strict():
        result = run(parse_scenario(BIG_MSE))
    steps = {s.name: s for s in result.steps}
    assert np.max(np.abs(steps["u1"].value)) == 2e3
    assert_all_finite(result)
    reapply_ops_strictly(result)
    assert all(c.passed for c in check_gradients(result))


# ---------------------------------------------------------------------------------------------
# Signed zeros, the step function
# ---------------------------------------------------------------------------------------------

def test_relu_backward_writes_positive_zero():
    relu = ACTIVATIONS["relu"]
    u = np.array([-1.0, -0.0, 0.0, -1e-300, 2.0])
    grad = np.array([-3.0, -3.0, -3.0, 5.0, -3.0])
    out = relu.backward(u, relu.forward(u), grad)
    assert out.tolist() == [0.0, 0.0, 0.0, 0.0, -3.0]
    assert not np.any(np.signbit(out[:4]))
    ub = np.array([[-1.0, 1.0], [0.0, -2.0]])
    outb = relu.backward(ub, relu.forward(ub), -np.ones_like(ub))
    assert outb.tolist() == [[0.0, -1.0], [0.0, 0.0]] and not np.any(np.signbit(outb[ub <= 0]))
    # relu's forward writes +0.0 too (np.maximum(−0.0, 0.0) could keep the sign).
    assert not np.any(np.signbit(relu.forward(u)[:4]))


def test_relu_hidden_delta_has_positive_zeros_in_a_run():
    sc = parse_scenario("""
loss = "mse"
learning_rate = 0.1
x = [1.0, 2.0]
d = [5.0]
[[layers]]
W = [[1.0, -1.0, -2.0], [1.0, -1.0, 0.0]]
b = [0.0, 0.0, 0.0]
activation = "relu"
[[layers]]
W = [[1.0], [1.0], [1.0]]
b = [0.0]
activation = "identity"
""")
    steps = {s.name: s for s in run(sc).steps}
    assert steps["delta2"].value[0] < 0
    delta1 = steps["delta1"].value
    assert delta1[0] < 0 and delta1[1] == 0.0 and delta1[2] == 0.0
    assert not np.any(np.signbit(delta1[1:]))
    assert "2 of 3 entries" in steps["delta1"].note


STEP_NET = """
loss = "mse"
learning_rate = 0.1
x = {x}
d = {d}
[[layers]]
W = [[1.0, -1.0], [0.5, 0.5]]
b = [0.2, 0.1]
activation = "tanh"
[[layers]]
W = [[1.0, -1.0, 2.0], [0.5, 1.5, -1.0]]
b = [0.1, -0.3, 0.2]
activation = "step"
[[layers]]
W = [[1.0], [-2.0], [0.5]]
b = [0.1]
activation = "sigmoid"
"""


@pytest.mark.parametrize("x, d", [("[-1.0, 2.0]", "[0.9]"), ("[[-1.0, 2.0], [1.0, 0.5]]", "[[0.9], [0.0]]")])
def test_step_blocks_the_gradient(x, d):
    sc = parse_scenario(STEP_NET.format(x=x, d=d))
    result = run(sc)
    steps = {s.name: s for s in result.steps}
    assert np.all(np.abs(steps["u2"].value) > 0.05)
    # Above the step layer gradients flow …
    assert np.any(steps["delta3"].value != 0) and np.any(steps["grad_W3"].value != 0)
    # … at and below it they are exactly zero.
    for name in ("delta2", "grad_W2", "grad_b2", "delta1", "grad_W1", "grad_b1"):
        assert np.all(steps[name].value == 0), name
    assert not np.any(np.signbit(steps["delta2"].value))
    for name, layer in (("W1", 0), ("b1", 0), ("W2", 1), ("b2", 1)):
        np.testing.assert_array_equal(steps[name].value, getattr(sc.layers[layer], name[0]))
    # The notes say so.
    delta_note = steps["delta2"].note
    assert "step'(u) = 0" in delta_note and "blocks the gradient" in delta_note
    assert "delta2 is all zeros" in delta_note and "W2, b2 and every layer below get zero gradients" in delta_note
    assert "derivative is 0" in steps["z2"].note and "no gradient" in steps["z2"].note
    assert "step'" in steps["delta2"].formula
    assert all(c.passed for c in check_gradients(result))


def test_step_output_blocks_everything_and_says_so():
    sc = parse_scenario("""
loss = "mse"
learning_rate = 0.1
x = [1.0, -2.0]
d = [0.0, 3.0]
[[layers]]
W = [[1.0, 2.0], [-1.0, 0.5]]
b = [0.5, -0.5]
activation = "step"
""")
    steps = {s.name: s for s in run(sc).steps}
    for name in ("delta1", "grad_W1", "grad_b1"):
        assert np.all(steps[name].value == 0), name
    assert not np.any(np.signbit(steps["delta1"].value))
    assert "blocks" in steps["delta1"].note and "all zeros" in steps["delta1"].note
    np.testing.assert_array_equal(steps["W1"].value, sc.layers[0].W)
    np.testing.assert_array_equal(steps["b1"].value, sc.layers[0].b)


# ---------------------------------------------------------------------------------------------
# Binary cross entropy depends on the label; the course's losses to the last digit
# ---------------------------------------------------------------------------------------------

def test_binary_cross_entropy_differs_for_the_two_labels():
    u = np.array([1.94])
    y = ACTIVATIONS["sigmoid"].forward(u)
    fn = LOSSES["binary_cross_entropy"]
    e1, e0 = fn.value(u, y, np.array([1.0])), fn.value(u, y, np.array([0.0]))
    assert e1 == pytest.approx(softplus(-1.94), rel=1e-14)
    assert e0 == pytest.approx(softplus(1.94), rel=1e-14)
    assert e0 - e1 == pytest.approx(1.94, rel=1e-12)       # log(y / (1 − y)) = u
    # The course's function gives the same number for both labels.
    assert seed_cross_entropy(y, np.array([1.0])) == seed_cross_entropy(y, np.array([0.0]))


def test_binary_scenario_loss_and_delta_depend_on_the_label():
    path = find_bundled("binary_2_3_1")
    text = path.read_text(encoding="utf-8")
    assert "\nd = [1]\n" in text
    r1 = {s.name: s for s in run(parse_scenario(text)).steps}
    r0 = {s.name: s for s in run(parse_scenario(text.replace("\nd = [1]\n", "\nd = [0]\n"))).steps}
    assert float(r1["u2"].value[0]) == pytest.approx(1.94, rel=1e-15)
    np.testing.assert_array_equal(r1["y"].value, r0["y"].value)
    assert float(r1["loss"].value) == pytest.approx(softplus(-1.94), rel=1e-12)
    assert float(r0["loss"].value) == pytest.approx(softplus(1.94), rel=1e-12)
    assert float(r1["delta2"].value[0]) == pytest.approx(float(r1["y"].value[0]) - 1.0, rel=1e-15)
    assert float(r0["delta2"].value[0]) == pytest.approx(float(r0["y"].value[0]), rel=1e-15)
    # Both notes quote what the course would print: the same number, whatever the label, with every digit
    # as this machine computes it (the last ones depend on the CPU's exp and log kernels).
    course = float(seed_cross_entropy(r1["y"].value, np.array([1.0])))
    assert course == pytest.approx(0.13427195993720972, rel=1e-12)  # as the course printed it
    assert repr(course) in r1["loss"].note and repr(course) in r0["loss"].note


def test_seed_cross_entropy_reproduces_the_course_2_3_4():
    y = ACTIVATIONS["softmax"].forward(np.array([1.02, 2.29, 3.56, 4.83]))
    got = seed_cross_entropy(y, np.array([0.0, 0.0, 0.0, 1.0]))
    assert got == pytest.approx(0.3234202933601941, rel=1e-12)
    # From the bundled scenario's own forward pass as well.
    steps = {s.name: s for s in run(load_scenario(find_bundled("classify_2_3_4"))).steps}
    np.testing.assert_allclose(steps["u2"].value, [1.02, 2.29, 3.56, 4.83], rtol=1e-14)
    assert float(seed_cross_entropy(steps["y"].value, steps["loss"].inputs["d"])) == pytest.approx(
        0.3234202933601941, rel=1e-12)
    # The engine's exact loss, −log y₄, differs from the course's from about the 7th digit.
    exact = float(steps["loss"].value)
    assert exact == pytest.approx(-math.log(float(steps["y"].value[3])), rel=1e-14)
    assert exact != pytest.approx(0.3234202933601941, rel=1e-8)
    assert exact == pytest.approx(0.3234202933601941, rel=1e-5)


def test_seed_cross_entropy_reproduces_the_course_2_3_1():
    y = ACTIVATIONS["sigmoid"].forward(np.array([1.94]))
    assert float(y[0]) == pytest.approx(0.87435214, rel=1e-8)
    assert seed_cross_entropy(y, np.array([1.0])) == pytest.approx(0.13427195993720972, rel=1e-12)
    # The course's batch form (a 1×1 matrix) gives the same.
    assert seed_cross_entropy(y.reshape(1, 1), np.array([[1.0]])) == pytest.approx(0.13427195993720972, rel=1e-12)


def test_exact_writes_every_digit_unless_asked_for_fewer(monkeypatch):
    from nnstep.engine import numbers

    assert numbers.exact(np.float64(0.1) + 0.2) == "0.30000000000000004"  # reads back as the same float
    assert [numbers.exact(v) for v in (np.nan, np.inf, -np.inf)] == ["nan", "inf", "-inf"]
    monkeypatch.setattr(numbers, "SIGNIFICANT", 10)  # as the snapshot tests ask
    assert numbers.exact(np.float64(0.1) + 0.2) == "0.3"
