"""Each step's numpy code really computes its value, and its shapes line names the real shapes."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nnstep.engine.bundled import bundled_scenarios
from nnstep.engine.ops import ACTIVATIONS
from nnstep.engine.scenario import load_scenario, parse_scenario
from nnstep.engine.session import run
from nnstep.engine.views import START, arrays_at, loss_at, parameter_names, phase_starts, update_parts, written_cells


def _execute(step):
    """Run the step's code on its inputs, as a student would paste it into the notebook."""
    space = {"np": np, "d": None}  # plain numpy: nothing of ours is in scope
    space.update({k: np.array(v) for k, v in step.inputs.items()})
    with np.errstate(all="ignore"):
        exec(step.code, space)  # our own code strings, never a scenario's text
    return space[step.name]


BATCH = """
loss = "{loss}"
learning_rate = 0.1
x = [[0.5, -1.0], [2.0, 0.25], [-0.3, 0.7]]
d = {d}
[[layers]]
W = [[0.3, -0.2, 0.1], [0.4, 0.5, -0.6]]
b = [0.1, -0.1, 0.05]
activation = "{hidden}"
[[layers]]
W = [[0.2, -0.3], [0.5, 0.1], [-0.4, 0.6]]
b = [0.0, 0.1]
activation = "{out}"
"""
ONE_HOT = "[[1, 0], [0, 1], [1, 0]]"
CASES = [(h, o, l, ONE_HOT if l == "cross_entropy" else "[[0.2, 0.9], [1.0, 0.0], [0.5, 0.5]]")
         for h in ACTIVATIONS  # every activation there is, so that a new one is covered
         for o, l in (("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy"), ("identity", "mse"),
                      ("tanh", "mse"), ("softmax", "mse"), ("relu", "mse"), ("leaky_relu", "mse"))]


def _runs():
    for path in bundled_scenarios():
        yield path.stem, run(load_scenario(path))
    for h, o, l, d in CASES:
        yield f"batch-{h}-{o}-{l}", run(parse_scenario(BATCH.format(loss=l, d=d, hidden=h, out=o), "batch.toml"))


@pytest.mark.parametrize("name,result", list(_runs()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_steps_code_computes_its_value(name, result):
    for step in result.steps:
        assert step.code.split(" = ")[0] in (step.name, "g", "e", "m"), step.code
        np.testing.assert_allclose(_execute(step), step.value, rtol=1e-12, atol=1e-15, err_msg=step.code)


def _label(a):
    return "scalar" if np.ndim(a) == 0 else "(" + "×".join(map(str, np.shape(a))) + ")"


@pytest.mark.parametrize("name,result", list(_runs()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_steps_shapes_end_with_the_value_shape_and_name_its_inputs(name, result):
    for step in result.steps:
        assert step.shapes.endswith(f"→ {_label(step.value)}"), step.shapes
        assert "{" not in step.shapes
        labels = re.findall(r"\((?:\d+×)*\d+\)|scalar", step.shapes)
        for array in step.inputs.values():
            if np.ndim(array):
                assert _label(array) in labels, (step.name, step.shapes)


def test_affine_shapes_read_as_the_issue_writes_them():
    r = run(parse_scenario(BATCH.format(loss="mse", d="[[0, 1], [1, 0], [0, 0]]", hidden="relu", out="identity"),
                           "b.toml"))
    u2 = next(s for s in r.steps if s.name == "u2")
    assert u2.shapes == "(3×3)·(3×2) + (2) → (3×2)"
    assert u2.code == "u2 = np.dot(z1, W2) + b2"
    grad = next(s for s in r.steps if s.name == "grad_W1")
    assert grad.shapes == "(3×2)ᵀ·(3×3) → (2×3)"
    assert grad.code == "grad_W1 = np.dot(x.T, delta1)"


def test_arrays_at_follow_the_run():
    r = run(load_scenario(next(p for p in bundled_scenarios() if p.stem == "backprop_2_3_2")))
    start = arrays_at(r, START)
    assert set(start) == {"x", "d", "W1", "b1", "W2", "b2"}
    assert loss_at(r, START) is None
    names = [s.name for s in r.steps]
    at_loss = names.index("loss")
    assert loss_at(r, at_loss - 1) is None
    assert loss_at(r, at_loss) == float(r.steps[at_loss].value)
    end = arrays_at(r, len(r.steps) - 1)
    for l, layer in zip(r.final_layers(), (1, 2)):
        np.testing.assert_array_equal(end[f"W{layer}"], l.W)
    assert parameter_names(r) == ["W1", "b1", "W2", "b2"]
    assert [r.steps[i].phase for i in phase_starts(r)] == ["forward", "loss", "backward", "update"]


def test_update_parts_and_written_cells():
    r = run(load_scenario(next(p for p in bundled_scenarios() if p.stem == "classify_2_3_4")))
    for step in r.steps:
        if step.phase != "update":
            assert written_cells(step).all()
            continue
        parts = update_parts(step)
        np.testing.assert_array_equal(parts.after - parts.before, parts.change)
        np.testing.assert_array_equal(written_cells(step), parts.gradient != 0)
