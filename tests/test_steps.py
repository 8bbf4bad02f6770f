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


def _course_loss(steps) -> float:
    """What the course's cross_entropy_error gives on this run's y: every digit, as this machine computes it
    (the last ones depend on the CPU's log kernel)."""
    from nnstep.engine.ops import seed_cross_entropy

    by_name = {s.name: s for s in steps}
    return float(seed_cross_entropy(by_name["y"].value, by_name["loss"].inputs["d"]))


def test_cross_entropy_note_gives_the_course_value():
    steps = _run("classify_2_3_4").steps
    loss = next(s for s in steps if s.name == "loss")
    assert isinstance(loss.value, np.ndarray) and loss.value.ndim == 0
    course = _course_loss(steps)
    assert course == pytest.approx(0.3234202933601941, rel=1e-12)  # as the course printed it
    assert repr(course) in loss.note
    assert "1e-7" in loss.note


def test_the_loss_note_names_the_digit_where_the_course_differs():
    from nnstep.engine.ops import _first_difference

    assert _first_difference(0.3234202933601941, 0.3234204315448046) == ", different from the 7th significant digit"
    assert _first_difference(3.563179327475656, 3.5631839237588974) == ", different from the 6th significant digit"
    assert _first_difference(1.5, 1.5) == ", the same to all 16 significant digits"
    assert _first_difference(0.5, 5.0) == ", different in magnitude"
    steps = _run("classify_2_3_4").steps
    note = next(s.note for s in steps if s.name == "loss")
    assert f"{_course_loss(steps)!r} here, different from the 7th significant digit" in note


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


# --- the typed contract: what a step is, what an iteration is ------------------------------------------

#: The phase each kind of step belongs to.
PHASE_OF = {"affine": "forward", "activation": "forward", "loss": "loss", "delta": "backward",
            "grad_W": "backward", "grad_b": "backward", "update": "update"}


def _every_bundled_iteration():
    from nnstep.engine.bundled import bundled_scenarios

    for path in bundled_scenarios():
        yield path.stem, run(load_scenario(path))


def test_every_step_says_its_kind_phase_and_parameter():
    from typing import get_args

    from nnstep.engine.steps import KINDS, Kind, Phase

    assert set(KINDS) == set(PHASE_OF) == set(get_args(Kind)) and set(PHASES) == set(get_args(Phase))
    for name, it in _every_bundled_iteration():
        layers = len(it.layers)
        for step in it.steps:
            assert PHASE_OF[step.kind] == step.phase, (name, step.name)
            assert (step.layer is None) == (step.kind == "loss"), (name, step.name)
            assert step.param == {"grad_W": "W", "grad_b": "b"}.get(step.kind, step.param), (name, step.name)
            assert (step.param is not None) == (step.kind in ("grad_W", "grad_b", "update")), (name, step.name)
        kinds = [s.kind for s in it.steps]
        assert kinds[: 2 * layers] == ["affine", "activation"] * layers
        if it.scenario.loss is not None:
            assert kinds.count("delta") == kinds.count("grad_W") == kinds.count("grad_b") == layers
            assert [(s.layer, s.param) for s in it.steps if s.kind == "update"] == \
                [(l, p) for l in range(1, layers + 1) for p in ("W", "b")]
        assert it.output.kind == "activation" and it.output.layer == layers and it.output.name == "y"


def test_an_iteration_keeps_the_files_scenario_and_its_own_batch_and_parameters():
    from nnstep.engine.bundled import find_bundled
    from nnstep.engine.session import Session

    scenario = load_scenario(find_bundled("digits_minibatch"))
    session = Session(scenario)
    session.advance(3)
    third = session.iteration(3)
    assert third.scenario is scenario and third.number == 3
    rows = list(third.rows)
    assert np.array_equal(third.x, scenario.x[rows]) and np.array_equal(third.d, scenario.d[rows])
    before = session.params_before(3)
    assert all(np.array_equal(layer.W, W) and np.array_equal(layer.b, b)
               for layer, W, b in zip(third.layers, *before))
    assert not np.array_equal(third.layers[0].W, scenario.layers[0].W)  # not the initial parameters
    assert scenario.x.shape[0] == 1500  # the whole training set stays the scenario's


def test_a_plain_scenario_is_a_session_of_one_iteration():
    from nnstep.engine.bundled import find_bundled
    from nnstep.engine.session import Session

    scenario = load_scenario(find_bundled("classify_2_3_4"))
    session = Session(scenario)
    assert session.iterations == 1 and not session.is_training
    it = session.iteration(1)
    assert it.scenario is scenario and it.x is scenario.x and it.rows is None and it.note == ""
    assert [s.formula for s in it.steps] == [s.formula for s in run(scenario).steps]


SOFT = """
loss = "cross_entropy"
learning_rate = 0.1
x = [1.0, 2.0]
d = {d}
[[layers]]
W = [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]
b = [0.0, 0.0, 0.0]
activation = "softmax"
"""


def test_the_loss_note_on_soft_targets_says_the_course_reads_argmax_of_d():
    from nnstep.engine.numbers import exact
    from nnstep.engine.ops import seed_cross_entropy

    soft = run(parse_scenario(SOFT.format(d="[0.2, 0.3, 0.5]"), "soft.toml"))
    loss = next(s for s in soft.steps if s.kind == "loss")
    course = float(seed_cross_entropy(soft.output.value, soft.d))
    assert "reads only argmax(d)" in loss.note and "1e-7 inside the log" in loss.note
    assert f"would print {exact(course)} here, the loss of those one-hot labels" in loss.note
    assert "different from the" not in loss.note  # the digits are not the point: the target is another
    one_hot = run(parse_scenario(SOFT.format(d="[0, 0, 1]"), "hot.toml"))
    note = next(s for s in one_hot.steps if s.kind == "loss").note
    assert "argmax" not in note and "adds 1e-7 inside the log and would print" in note
