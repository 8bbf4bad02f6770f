"""The shape of a run: which steps, in which order, with which formulas, inputs and notes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnstep.engine.scenario import load_scenario, parse_scenario
from nnstep.engine.session import run
from nnstep.engine.steps import PHASES

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def _run(name):
    return run(load_scenario(SCENARIOS / f"{name}.toml"))


def test_backprop_2_3_2_steps_in_order_with_seed_formulas():
    steps = _run("backprop_2_3_2").steps
    assert [(s.phase, s.layer, s.name, s.formula) for s in steps] == [
        ("forward", 1, "u1", "u1 = x·W1 + b1"),
        ("forward", 1, "z1", "z1 = relu(u1)"),
        ("forward", 2, "u2", "u2 = z1·W2 + b2"),
        ("forward", 2, "y", "y = softmax(u2)"),
        ("loss", None, "loss", "loss = −Σ d·log y / N"),
        ("backward", 2, "delta2", "delta2 = (y − d) / N"),
        ("backward", 2, "grad_W2", "grad_W2 = z1ᵀ·delta2"),
        ("backward", 2, "grad_b2", "grad_b2 = Σ delta2"),
        ("backward", 1, "delta1", "delta1 = (delta2·W2ᵀ) ⊙ relu'(u1)"),
        ("backward", 1, "grad_W1", "grad_W1 = xᵀ·delta1"),
        ("backward", 1, "grad_b1", "grad_b1 = Σ delta1"),
        ("update", 1, "W1", "W1 = W1 − learning_rate·grad_W1"),
        ("update", 1, "b1", "b1 = b1 − learning_rate·grad_b1"),
        ("update", 2, "W2", "W2 = W2 − learning_rate·grad_W2"),
        ("update", 2, "b2", "b2 = b2 − learning_rate·grad_b2"),
    ]
    assert [s.index for s in steps] == list(range(len(steps)))
    assert {s.iteration for s in steps} == {1}


def test_each_step_records_what_it_read():
    steps = {s.name: s for s in _run("backprop_2_3_2").steps if s.phase != "update"}
    assert list(steps["u2"].inputs) == ["z1", "W2", "b2"]
    assert list(steps["grad_W1"].inputs) == ["x", "delta1"]
    assert list(steps["delta1"].inputs) == ["delta2", "W2", "u1"]
    np.testing.assert_array_equal(steps["u2"].inputs["z1"], steps["z1"].value)
    np.testing.assert_array_equal(steps["delta1"].inputs["delta2"], steps["delta2"].value)


def test_update_reads_pre_update_parameters_and_gradient():
    r = _run("regress_2_3_2")
    sc = r.scenario
    updates = [s for s in r.steps if s.phase == "update"]
    grads = {s.name: s.value for s in r.steps if s.name.startswith("grad_")}
    for s in updates:
        l = s.layer
        old = getattr(sc.layers[l - 1], s.name[0])
        np.testing.assert_array_equal(s.inputs[s.name], old)
        np.testing.assert_array_equal(s.inputs[f"grad_{s.name}"], grads[f"grad_{s.name}"])
        np.testing.assert_array_equal(s.value, old - sc.learning_rate * grads[f"grad_{s.name}"])
    final = r.final_layers()
    np.testing.assert_array_equal(final[1].b, updates[-1].value)


def test_step_arrays_are_read_only():
    step = _run("classify_2_3_4").steps[0]
    with pytest.raises(ValueError):
        step.value[0] = 1.0
    with pytest.raises(ValueError):
        step.inputs["W1"][0, 0] = 1.0
    with pytest.raises(TypeError):
        step.inputs["W1"] = np.zeros((2, 3))


@pytest.mark.parametrize("name", ["single_unit", "single_layer"])
def test_forward_only_scenarios_have_only_forward_steps(name):
    steps = _run(name).steps
    assert [s.phase for s in steps] == ["forward", "forward"]
    assert [s.name for s in steps] == ["u1", "y"]


def test_every_bundled_scenario_runs_phases_in_order():
    for path in sorted(SCENARIOS.glob("*.toml")):
        phases = [s.phase for s in run(load_scenario(path)).steps]
        order = [PHASES.index(p) for p in phases]
        assert order == sorted(order), path.name


TEMPLATE = """
loss = "mse"
learning_rate = 0.1
x = [0.5, -1.0]
d = [1.0]
[[layers]]
W = [[1.0, -1.0], [0.5, 0.25]]
b = [0.1, 0.2]
activation = "{hidden}"
[[layers]]
W = [[1.0], [-2.0]]
b = [0.0]
activation = "identity"
"""


def test_step_activation_blocks_the_gradient_and_says_so():
    r = run(parse_scenario(TEMPLATE.format(hidden="step")))
    steps = {s.name: s for s in r.steps if s.phase == "backward"}
    assert not np.any(steps["delta1"].value)
    assert not np.any(steps["grad_W1"].value)
    # x has a negative entry, so x·0 would be −0.0: a student sees 0., never -0.
    assert not np.any(np.signbit(steps["grad_W1"].value))
    assert "blocks the gradient" in steps["delta1"].note
    assert "step'(u) = 0" in steps["delta1"].note


def test_relu_note_counts_units_that_pass_no_gradient():
    r = run(parse_scenario(TEMPLATE.format(hidden="relu")))
    delta1 = next(s for s in r.steps if s.name == "delta1")
    # u1 = [0.5·1 − 1·0.5 + 0.1, −0.5 − 0.25 + 0.2] = [0.1, −0.55]: the second unit is shut.
    assert delta1.value[1] == 0.0 and not np.signbit(delta1.value[1])
    assert "1 of 2 entries is" in delta1.note


def test_cross_entropy_note_gives_the_course_value():
    loss = next(s for s in _run("classify_2_3_4").steps if s.name == "loss")
    assert isinstance(loss.value, np.ndarray) and loss.value.ndim == 0
    assert "0.3234202933601941" in loss.note
    assert "1e-7" in loss.note


def test_the_loss_note_names_the_digit_where_the_course_differs():
    from nnstep.engine.ops import _first_difference

    assert _first_difference(0.3234202933601941, 0.3234204315448046) == ", different from the 7th significant digit"
    assert _first_difference(3.563179327475656, 3.5631839237588974) == ", different from the 6th significant digit"
    assert _first_difference(1.5, 1.5) == ", the same to all 16 significant digits"
    assert _first_difference(0.5, 5.0) == ", different in magnitude"
    note = next(s.note for s in _run("classify_2_3_4").steps if s.name == "loss")
    assert "0.3234202933601941 here, different from the 7th significant digit" in note


BATCH_RELU = """
loss = "mse"
learning_rate = 0.1
x = [[1.0, 2.0], [-1.0, -2.0]]
d = [[1.0], [0.0]]
[[layers]]
W = [[0.5, -0.5, 0.2], [0.5, -0.5, -0.1]]
b = [0.0, 0.0, -5.0]
activation = "relu"
[[layers]]
W = [[0.3], [0.4], [0.5]]
b = [0.0]
activation = "identity"
"""


def test_hidden_relu_note_on_a_batch_says_which_units_learn_nothing():
    steps = {s.name: s for s in run(parse_scenario(BATCH_RELU, "b.toml")).steps}
    note = steps["delta1"].note
    # u1 rows: [1.5, -1.5, -5.0] and [-1.5, 1.5, -5.0]: units 1 and 2 live for one sample each, unit 3 never.
    assert "(4 of 6 entries are) delta1 is 0" in note
    assert "Unit 3 of layer 1 (counting from 1) is ≤ 0 for every sample, so its weights get no gradient from this batch." in note
    grad = steps["grad_W1"].value
    assert np.all(grad[:, 2] == 0) and np.all(grad[:, :2] != 0)
