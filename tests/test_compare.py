"""``nnstep compare FILE MINE`` (engine/compare.py, engine/mistakes.py): nnstep's own arrays and printouts
match, every classic mistake planted in a student's run is found at its step with its sentence, a random
perturbation is found with no mistake named, and malformed files exit 2 with one line."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnstep.engine import compare as C
from nnstep.engine import mistakes as M
from nnstep.engine import names, printout
from nnstep.engine.bundled import bundled_scenarios, find_bundled
from nnstep.engine.cli import main
from nnstep.engine.scenario import load_scenario, parse_scenario
from nnstep.engine.session import Session
from nnstep.engine.steps import recompute
from test_golden import SEED_PRINTOUTS

BUNDLED = sorted(p.stem for p in bundled_scenarios())
SETTINGS = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=list(HealthCheck), derandomize=True)


def run(*args) -> tuple[int, str, str]:
    """The command line in this process: (exit code, standard output, standard error)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def first_iteration(name_or_text: str):
    if name_or_text in BUNDLED:
        return Session(load_scenario(find_bundled(name_or_text))).iteration(1)
    return Session(parse_scenario(name_or_text)).iteration(1)


# --- networks for planting mistakes: vector and batch; relu, sigmoid, tanh, softmax; mse and cross entropy -

NETWORKS = {
    # one sample; relu, tanh (a square W2), identity; mse
    "vector_relu_tanh_mse": """
loss = "mse"
learning_rate = 0.1
x = [0.5, -1.0, 2.0]
d = [0.1, 0.9]
[[layers]]
W = [[0.1, -0.3, 0.5, 0.2], [0.2, 0.4, -0.6, 0.1], [-0.3, 0.2, 0.1, 0.7]]
b = [0.1, -0.2, 0.3, 0.05]
activation = "relu"
[[layers]]
W = [[0.3, -0.1, 0.2, 0.1], [0.2, 0.5, -0.3, 0.4], [-0.4, 0.6, 0.1, 0.2], [0.1, 0.2, 0.3, -0.2]]
b = [0.05, -0.1, 0.2, 0.1]
activation = "tanh"
[[layers]]
W = [[0.3, -0.1], [0.2, 0.5], [-0.4, 0.6], [0.1, 0.2]]
b = [0.05, -0.1]
activation = "identity"
""",
    # a batch of 4; sigmoid, sigmoid; mse over 2 outputs
    "batch_sigmoid_mse": """
loss = "mse"
learning_rate = 0.1
x = [[0.5, -1.0, 2.0], [1.5, 0.3, -0.7], [0.2, 0.1, 0.4], [-1.0, 2.0, 0.5]]
d = [[0.1, 0.9], [0.8, 0.3], [0.5, 0.5], [0.0, 1.0]]
[[layers]]
W = [[0.1, -0.3, 0.5, 0.2], [0.2, 0.4, -0.6, 0.1], [-0.3, 0.2, 0.1, 0.7]]
b = [0.1, -0.2, 0.3, 0.05]
activation = "sigmoid"
[[layers]]
W = [[0.3, -0.1], [0.2, 0.5], [-0.4, 0.6], [0.1, 0.2]]
b = [0.05, -0.1]
activation = "sigmoid"
""",
    # a batch of 3; tanh, softmax (square W); cross entropy with one-hot labels
    "batch_tanh_softmax_ce": """
loss = "cross_entropy"
learning_rate = 0.5
x = [[0.5, -1.0, 2.0], [1.5, 0.3, -0.7], [0.2, 0.1, 0.4]]
d = [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
[[layers]]
W = [[0.1, -0.3, 0.5], [0.2, 0.4, -0.6], [-0.3, 0.2, 0.1]]
b = [0.1, -0.2, 0.3]
activation = "tanh"
[[layers]]
W = [[0.3, -0.1, 0.2], [0.2, 0.5, -0.3], [-0.4, 0.6, 0.1]]
b = [0.05, -0.1, 0.2]
activation = "softmax"
""",
    # a batch of 2 with soft targets; relu, softmax; cross entropy
    "batch_relu_softmax_soft_targets": """
loss = "cross_entropy"
learning_rate = 0.1
x = [[1.0, 2.0], [-0.5, 1.5]]
d = [[0.2, 0.7, 0.1], [0.6, 0.1, 0.3]]
[[layers]]
W = [[0.1, 0.3, -0.5, 0.2], [0.2, -0.4, 0.6, 0.3]]
b = [0.1, 0.2, 0.3, -0.1]
activation = "relu"
[[layers]]
W = [[0.1, 0.4, 0.7], [0.2, 0.5, 0.8], [0.3, 0.6, 0.9], [0.4, -0.2, 0.1]]
b = [0.1, 0.2, 0.3]
activation = "softmax"
""",
    "classify_2_3_4": "classify_2_3_4",
    "binary_2_3_1": "binary_2_3_1",
}


def student_run(it, step, wrong) -> dict[str, np.ndarray]:
    """A student's arrays when ``step`` computed ``wrong``: the steps before it right, the steps after it
    right from the student's own arrays (those that cannot be computed from them are not given)."""
    produced = {s.name for s in it.steps if s.kind != "update"}
    theirs: dict[str, np.ndarray] = {}
    for s in it.steps:
        if s.index < step.index:
            theirs[s.name] = s.value
        elif s is step:
            theirs[s.name] = wrong
        else:
            try:
                theirs[s.name] = recompute(s, {k: theirs[k] for k in s.inputs if k in produced and k in theirs})
            except ValueError:  # a transposed gradient that its update cannot subtract
                pass
    return theirs


def planted(it):
    """(step, mistake, the student's arrays) for every mistake that changes a step of ``it``, skipping
    those that give the same numbers as the right step or an earlier mistake (the engine names the first)."""
    _, start = C._names(it)
    source = M.Source({**start, **{s.name: s.value for s in it.steps if s.kind != "update"}})
    for step in it.steps:
        seen = [step.value]
        for mistake in M.mistakes(step, it):
            with np.errstate(all="ignore"):
                try:
                    wrong = np.asarray(mistake.compute(source), dtype=np.float64)
                except ValueError:
                    continue
            if any(wrong.shape == v.shape and np.allclose(wrong, v, rtol=1e-12, atol=0) for v in seen):
                continue
            seen.append(wrong)
            if np.all(np.isfinite(wrong)):
                yield step, mistake, student_run(it, step, wrong)


def binary_mine(arrays: dict[str, np.ndarray]) -> C.Mine:
    return C.Mine(path="mine.npz", arrays=arrays, precision={k: 0.0 for k in arrays}, unknown={}, notes=(),
                  source="npz")


def course_printout(it, arrays: dict[str, np.ndarray]) -> str:
    """``arrays`` printed as the course's notebook prints them (print_vec, numpy's default print)."""
    L = len(it.layers)
    out = []
    for s in it.steps:
        if s.name not in arrays:
            continue
        n = "" if L == 1 else str(s.layer)
        label = {"affine": printout.WORDS["u"] + n,
                 "activation": printout.WORDS["z"] + n if s.layer != L else printout.OUTPUT_1, "loss": printout.LOSS,
                 "delta": printout.WORDS["delta"] + n, "grad_W": printout.WORDS["grad_W"] + n,
                 "grad_b": printout.WORDS["grad_b"] + n,
                 "update": printout.WORDS[s.param or "W"] + n}[s.kind]
        if s.kind == "update" and "##### 更新後パラメータ #####" not in out:
            out.append("##### 更新後パラメータ #####")
        out += [f"*** {label} ***", str(arrays[s.name]), ""]
    return "\n".join(out)


# --- nnstep's own numbers match ----------------------------------------------------------------------


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_scenarios_own_json_trace_matches(name, tmp_path):
    code, out, err = run("trace", name, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    arrays = {s["name"]: s["value"] for s in doc["steps"]}
    (tmp_path / "arrays.json").write_text(json.dumps(arrays), encoding="utf-8")
    (tmp_path / "trace.json").write_text(out, encoding="utf-8")
    np.savez(tmp_path / "arrays.npz", **{k: np.asarray(v) for k, v in arrays.items()})
    for mine in ("arrays.json", "trace.json", "arrays.npz"):
        code, report, err = run("compare", name, tmp_path / mine, "--format", "json")
        assert (code, err) == (0, ""), report
        result = json.loads(report)
        assert {a["status"] for a in result["arrays"]} == {"match"}
        assert result["first_divergence"] is None
        assert len(result["arrays"]) == len(doc["steps"])


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_scenarios_own_seed_printout_matches_with_or_without_its_leading_spaces(name, tmp_path):
    code, out, err = run("trace", name, "--format", "seed")
    assert code == 0, err
    (tmp_path / "seed.txt").write_text(out, encoding="utf-8")
    (tmp_path / "pasted.txt").write_text("\n".join(line.strip() for line in out.splitlines()), encoding="utf-8")
    for mine in ("seed.txt", "pasted.txt"):
        code, report, err = run("compare", name, tmp_path / mine, "--format", "json")
        assert (code, err) == (0, ""), report
        statuses = {a["name"]: a["status"] for a in json.loads(report)["arrays"]}
        assert "differs" not in statuses.values() and "unknown" not in statuses.values()
        assert statuses["u1"] == "match"


#: Notebook 1_2's printout as COURSE.md gives it (8-digit numbers), its leading spaces lost as the seed shows it.
COURSE_1_2 = """\
##### ネットワークの初期化 #####
*** 重み1 ***
[[0.1 0.3 0.5]
[0.2 0.4 0.6]]
*** 重み2 ***
[[0.1 0.4]
[0.2 0.5]
[0.3 0.6]]
*** バイアス1 ***
[0.1 0.2 0.3]
*** バイアス2 ***
[0.1 0.2]
##### 順伝播開始 #####
*** 総入力1 ***
[[1.2 2.5 3.8]]
*** 中間層出力1 ***
[[1.2 2.5 3.8]]
*** 総入力2 ***
[[1.86 4.21]]
*** 出力1 ***
[[0.08706577 0.91293423]]
出力合計: 0.9999999999999999

##### 誤差逆伝播開始 #####
*** 偏微分_dE/du2 ***
[[ 0.08706577 -0.08706577]]
*** 偏微分_dE/du2 ***
[[-0.02611973 -0.02611973 -0.02611973]]
*** 偏微分_重み1 ***
[[-0.02611973 -0.02611973 -0.02611973]
[-0.13059866 -0.13059866 -0.13059866]]
*** 偏微分_重み2 ***
[[ 0.10447893 -0.10447893]
[ 0.21766443 -0.21766443]
[ 0.33084994 -0.33084994]]
*** 偏微分_バイアス1 ***
[-0.02611973 -0.02611973 -0.02611973]
*** 偏微分_バイアス2 ***
[ 0.08706577 -0.08706577]
##### 結果表示 #####
##### 更新後パラメータ #####
*** 重み1 ***
[[0.1002612 0.3002612 0.5002612]
[0.20130599 0.40130599 0.60130599]]
*** 重み2 ***
[[0.09895521 0.40104479]
[0.19782336 0.50217664]
[0.2966915 0.6033085]]
*** バイアス1 ***
[0.1002612 0.2002612 0.3002612]
*** バイアス2 ***
[0.09912934 0.20087066]
"""


def test_the_courses_1_2_printout_matches_and_says_how_its_deltas_were_read(tmp_path):
    (tmp_path / "1_2.txt").write_text(COURSE_1_2, encoding="utf-8")
    code, report, err = run("compare", "backprop_2_3_2", tmp_path / "1_2.txt", "--format", "json")
    assert code == 0, err
    result = json.loads(report)
    statuses = {a["name"]: a["status"] for a in result["arrays"]}
    assert statuses.pop("loss") == "missing"  # notebook 1_2 computes its loss but never prints it
    assert set(statuses.values()) == {"match"}
    assert any("taken by their order" in note for note in result["notes"])
    code, text, _ = run("compare", "backprop_2_3_2", tmp_path / "1_2.txt")
    assert code == 0 and "everything you gave matches (14 arrays)" in text


@pytest.mark.parametrize("name", sorted(SEED_PRINTOUTS))
def test_the_seeds_printouts_match(name, tmp_path):
    """The seed document's printouts (tests/test_golden.py), as pasted there: no leading spaces."""
    (tmp_path / "seed.txt").write_text(SEED_PRINTOUTS[name], encoding="utf-8")
    code, report, err = run("compare", name, tmp_path / "seed.txt", "--format", "json")
    assert (code, err) == (0, ""), report
    assert "match" in {a["status"] for a in json.loads(report)["arrays"]}


def test_the_courses_1_1_printouts_match_with_their_quirks_named(tmp_path):
    three = ("*** 入力 ***\n[1. 2.]\n##### ネットワークの初期化 #####\n*** 重み1 ***\n[[0.1 0.3 0.5]\n[0.2 0.4 0.6]]\n"
             "##### 順伝播開始 #####\n*** 総入力1 ***\n[0.6 1.3 2. ]\n*** 中間層出力1 ***\n[0.6 1.3 2. ]\n"
             "*** 総入力2 ***\n[1.02 2.29]\n*** 出力1 ***\n[0.6 1.3 2. ]\n出力合計: 3.9\n")
    classify = ("*** 出力1 ***\n[0.01602796 0.05707321 0.20322929 0.72366954]\n出力合計: 1.0\n##### 結果表示 #####\n"
                "*** 出力 ***\n[0.01602796 0.05707321 0.20322929 0.72366954]\n*** 訓練データ ***\n[0 0 0 1]\n"
                "*** 誤差 ***\n0.3234202933601941\n")
    binary = ("*** 総入力2 ***\n[1.94]\n*** 出力1 ***\n[0.87435214]\n出力合計: 3.9\n*** 中間層出力 ***\n[0.6 1.3 2. ]\n"
              "*** 誤差 ***\n0.13427195993720972\n")
    for name, text, quirks in (("three_layer", three, ["holds z1, not y", "is sum(z1), not sum(y) = 4.782"]),
                               ("classify_2_3_4", classify, ["matches the course's value 0.3234202933601941",
                                                             "adds 1e-7 inside the log"]),
                               ("binary_2_3_1", binary, ["is sum(z1)", "whatever the label"])):
        (tmp_path / "mine.txt").write_text(text, encoding="utf-8")
        code, report, err = run("compare", name, tmp_path / "mine.txt", "--format", "json")
        assert code == 0, report + err
        notes = " ".join(json.loads(report)["notes"])
        for quirk in quirks:
            assert quirk in notes


def test_a_printed_exact_loss_matches_and_says_it_is_not_the_courses(tmp_path):
    (tmp_path / "mine.txt").write_text("*** 誤差 ***\n0.3234204315448046\n", encoding="utf-8")
    code, report, _ = run("compare", "classify_2_3_4", tmp_path / "mine.txt", "--format", "json")
    assert code == 0
    assert any("matches ours, 0.3234204315448046, the exact loss" in n for n in json.loads(report)["notes"])


def test_read_mine_gives_a_printouts_arrays_inputs_and_resolutions(tmp_path):
    (tmp_path / "1_2.txt").write_text(COURSE_1_2, encoding="utf-8")
    it = first_iteration("backprop_2_3_2")
    mine = C.read_mine(str(tmp_path / "1_2.txt"), it)
    assert mine.source == "printout" and mine.path == str(tmp_path / "1_2.txt")
    assert set(mine.arrays) == {s.name for s in it.steps} - {"loss"}
    assert set(mine.inputs) == {"W1", "W2", "b1", "b2"}
    assert mine.inputs["W1"][0, 1] == 0.3 and mine.arrays["W1"][0, 1] == 0.3002612  # before and after the update
    assert mine.precision["u1"] == 0.5e-8 and mine.cells["u1"].resolution.shape == (1, 3)
    assert mine.unknown == {} and any("taken by their order" in n for n in mine.notes)


def test_the_courses_loss_in_a_binary_file_differs_with_the_1e_7_cause_but_is_not_where_the_runs_part(tmp_path):
    it = first_iteration("classify_2_3_4")
    arrays = {s.name: s.value for s in it.steps}
    arrays["loss"] = M.course_loss(arrays["y"], it.d)
    result = C.compare(it, binary_mine(arrays))
    loss = result.for_step(next(s for s in it.steps if s.kind == "loss"))
    assert loss.status == "differs" and loss.course_quirk and loss.cause_key == "course_one_hot"
    seed = run("trace", "classify_2_3_4", "--format", "seed")[1]  # the digit it differs from, as seed says it
    digit = seed.split("different from the ")[1].split(" significant digit")[0]
    assert loss.cause == M.TEXT["course_one_hot"].format(difference=f", different from the {digit} significant digit")
    assert result.first_divergence is None and result.differs  # exit code 1: the loss does differ
    np.savez(tmp_path / "mine.npz", **{k: np.asarray(v) for k, v in arrays.items()})
    code, text, _ = run("compare", "classify_2_3_4", tmp_path / "mine.npz")
    assert code == 1 and "first difference" not in text
    assert "your loss is the course's cross_entropy_error (1e-7 inside the log); everything else matches" in text
    code, report, _ = run("compare", "classify_2_3_4", tmp_path / "mine.npz", "--format", "json")
    assert json.loads(report)["first_divergence"] is None
    # A real mistake after it is the first difference: an update not applied.
    step = next(s for s in it.steps if s.kind == "update")
    arrays[step.name] = np.asarray(next(iter(step.inputs.values())))
    result = C.compare(it, binary_mine(arrays))
    assert result.first_divergence == step.name
    text = C.render_text(result, binary_mine(arrays), width=300)
    assert "no later step reads the loss, so the runs part later" in text
    assert f"first difference: {step.name}" in text


def test_the_courses_loss_from_a_wrong_y_is_blamed_on_the_y_not_on_the_1e_7():
    it = first_iteration("classify_2_3_4")
    step = next(s for s in it.steps if s.name == "u2")
    arrays = student_run(it, step, step.value * 1.3)
    arrays["loss"] = M.course_loss(arrays["y"], it.d)
    result = C.compare(it, binary_mine(arrays))
    loss = result.for_step(next(s for s in it.steps if s.kind == "loss"))
    assert loss.status == "differs" and not loss.course_quirk and loss.cause_key == "earlier"
    assert "from earlier, from your y" in loss.cause and "cross_entropy_error" in loss.cause
    assert result.first_divergence == "u2"


# --- the mistakes ------------------------------------------------------------------------------------


#: Sentences of mistakes.TEXT that are parts of others or not mistakes.
NOT_MISTAKES = {"earlier", "earlier_course", "updated_again", "none", "what_batch", "what_elements", "square"}


def test_every_planted_mistake_is_found_at_its_step_with_its_cause():
    found: set[str] = set()
    for network, text in NETWORKS.items():
        it = first_iteration(text)
        for step, mistake, arrays in planted(it):
            result = C.compare(it, binary_mine(arrays))
            r = result.for_step(step)
            where = f"{network}: {mistake.key} planted in {step.name}"
            # The course's own loss differs but no later step reads it: the runs do not part there.
            quirk = mistake.key in M.COURSE_LOSS
            assert result.first_divergence == (None if quirk else step.name), where
            assert r.course_quirk == quirk, where
            assert r.status == "differs" and r.cause == mistake.sentence(step.name), f"{where}: {r.cause}"
            later = [x for x in result.arrays if x.status == "differs" and x.name != step.name]
            for x in later:  # every array after it is right from the student's own inputs
                assert x.cause.startswith(f"{x.name} is what this step gives from your own"), f"{where}: {x.name}"
            found.add(mistake.key)
    assert found == set(M.TEXT) - NOT_MISTAKES


@pytest.mark.parametrize("network", ["vector_relu_tanh_mse", "batch_sigmoid_mse", "batch_tanh_softmax_ce"])
def test_every_planted_mistake_is_found_in_a_printout_at_8_digits(network, tmp_path):
    it = first_iteration(NETWORKS[network])
    path = tmp_path / "mine.txt"
    for step, mistake, arrays in planted(it):
        if step.kind == "loss" and mistake.key.startswith("course"):
            continue  # a printout's loss may be the course's: a match (tested above)
        path.write_text(course_printout(it, arrays), encoding="utf-8")
        result = C.compare(it, C.read_mine(str(path), it))
        r = result.for_step(step)
        assert result.first_divergence == step.name, f"{mistake.key} in {step.name}"
        assert r.cause == mistake.sentence(step.name), f"{mistake.key} in {step.name}: {r.cause}"


def test_the_sgd_notebooks_try_it_is_named():
    """ReLU forward, d_sigmoid(z1) backward (COURSE.md 1_3): sigmoid's derivative taken at the output."""
    it = first_iteration(NETWORKS["vector_relu_tanh_mse"])
    delta1 = next(s for s in it.steps if s.name == "delta1")
    g = np.dot(delta1.inputs["delta2"], delta1.inputs["W2"].T)
    z1 = next(s.value for s in it.steps if s.name == "z1")
    s = 1 / (1 + np.exp(-z1))
    result = C.compare(it, binary_mine(student_run(it, delta1, g * s * (1 - s))))
    assert result.first_divergence == "delta1"
    assert result.for_step(delta1).cause.startswith("sigmoid's derivative taken at the output z1, where the "
                                                    "layer's activation is relu")


def test_a_cell_run_twice_is_named_at_the_forward_pass_the_hidden_delta_and_the_updates():
    """The whole cell run once more: its forward pass, its deltas and its updates start from the updated
    parameters (updated_again is planted here: with nnstep's own gradients it is applied_twice)."""
    it = first_iteration("backprop_2_3_2")
    after = {s.name: s.value for s in it.steps if s.kind == "update"}
    layers = tuple(dataclasses.replace(layer, W=after[names.param("W", l)], b=after[names.param("b", l)])
                   for l, layer in enumerate(it.scenario.layers, start=1))
    rerun = Session(dataclasses.replace(it.scenario, layers=layers)).iteration(1)
    arrays = {s.name: s.value for s in rerun.steps}  # the second run's arrays, updated from the first's
    result = C.compare(it, binary_mine(arrays))
    keys = {r.name: r.cause_key for r in result.arrays}
    assert keys["u1"] == "updated_forward" and keys["delta1"] == "updated_above"
    assert all(keys[name] == "updated_again" for name in after)


def test_a_transposed_gradient_of_another_shape_differs_in_shape_and_is_named():
    it = first_iteration(NETWORKS["batch_sigmoid_mse"])
    step = next(s for s in it.steps if s.name == "grad_W1")
    result = C.compare(it, binary_mine(student_run(it, step, step.value.T)))
    r = result.for_step(step)
    assert r.shapes == ((3, 4), (4, 3)) and r.differing is None and r.first_index is None
    assert r.cause.startswith("grad_W1 transposed")


@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_a_random_perturbation_is_found_with_no_mistake_named(network, tmp_path):
    it = first_iteration(NETWORKS[network])
    rng = np.random.default_rng(sum(network.encode()))
    for step in it.steps[:: 3]:
        arrays = {s.name: s.value for s in it.steps}
        noise = rng.normal(size=step.value.shape) * (0.01 + 0.1 * np.abs(step.value))
        arrays[step.name] = step.value + noise
        for mine in (binary_mine(arrays), None):
            if mine is None:
                (tmp_path / "mine.txt").write_text(course_printout(it, arrays), encoding="utf-8")
                mine = C.read_mine(str(tmp_path / "mine.txt"), it)
            result = C.compare(it, mine)
            assert result.first_divergence == step.name
            # Every other array is ours: where a later step reads it, only a typo explains that.
            readers = [s.name for s in it.steps[step.index + 1:] if step.name in s.inputs and s.name in mine.arrays]
            expected = "typo" if readers else "none"
            assert result.for_step(step).cause_key == expected, step.name
            if not readers:
                assert result.for_step(step).cause == M.TEXT["none"], step.name


# --- the API and the command -------------------------------------------------------------------------


def test_the_json_report_is_the_contract(tmp_path):
    it = first_iteration("backprop_2_3_2")
    arrays = {s.name: s.value.tolist() for s in it.steps if s.kind != "update"}
    arrays["grad_b1"] = [v * 2 for v in arrays["grad_b1"]]
    arrays["delat1"] = [0]
    del arrays["loss"]
    (tmp_path / "mine.json").write_text(json.dumps(arrays), encoding="utf-8")
    code, report, err = run("compare", "backprop_2_3_2", tmp_path / "mine.json", "--format", "json")
    assert (code, err) == (1, "")
    result = json.loads(report)
    assert result["first_divergence"] == "grad_b1"
    rows = {a["name"]: a for a in result["arrays"]}
    for row in rows.values():
        assert {"name", "step", "status", "first_index", "ours", "theirs", "max_abs", "max_rel", "cause"} <= set(row)
    assert [a["name"] for a in result["arrays"]][:len(it.steps)] == [s.name for s in it.steps]
    assert rows["loss"]["status"] == "missing" and rows["W1"]["status"] == "missing"
    assert rows["delat1"]["status"] == "unknown" and rows["delat1"]["suggestion"] == "delta1"
    bad = rows["grad_b1"]
    assert bad["status"] == "differs" and bad["first_index"] == [0] and bad["step"] == 10
    assert bad["theirs"] == pytest.approx(2 * bad["ours"]) and bad["max_rel"] == pytest.approx(0.5)
    assert bad["cause"] == M.TEXT["none"]
    code, text, _ = run("compare", "backprop_2_3_2", tmp_path / "mine.json")
    assert code == 1 and "first difference: grad_b1, step 11/15" in text and "did you mean delta1?" in text


def test_other_names_get_a_did_you_mean_and_what_was_not_compared_is_counted(tmp_path):
    it = first_iteration("backprop_2_3_2")
    u1 = next(s.value for s in it.steps if s.name == "u1")
    arrays = {"u1": u1.tolist(), "dW1": [0], "db2": [0], "dE_du2": [0], "W1_new": [0], "grad[\"W1\"]": [0]}
    (tmp_path / "mine.json").write_text(json.dumps(arrays), encoding="utf-8")
    code, report, _ = run("compare", "backprop_2_3_2", tmp_path / "mine.json", "--format", "json")
    assert code == 0
    rows = {a["name"]: a for a in json.loads(report)["arrays"]}
    assert {k: rows[k]["suggestion"] for k in arrays if k != "u1"} == {
        "dW1": "grad_W1", "db2": "grad_b2", "dE_du2": "delta2", "W1_new": "W1", "grad[\"W1\"]": "grad_W1"}
    code, text, _ = run("compare", "backprop_2_3_2", tmp_path / "mine.json")
    assert code == 0 and "everything you gave matches" not in text
    assert "everything compared matches (1 array), but 5 of what you gave were not compared" in text
    (tmp_path / "mine.txt").write_text("*** 総入力1 ***\n[[1.2 2.5 3.8]]\n*** 重さ1 ***\n[1.]\n", encoding="utf-8")
    code, text, _ = run("compare", "backprop_2_3_2", tmp_path / "mine.txt")
    assert "*** 重さ1 *** is not a label nnstep reads (did you mean 重み1?)" in text and "has no array" not in text


def test_for_step_and_the_differing_mask():
    it = first_iteration("classify_2_3_4")
    arrays = {s.name: s.value for s in it.steps}
    arrays["u2"] = arrays["u2"].copy()
    arrays["u2"][2] += 1.0
    result = C.compare(it, binary_mine(arrays))
    r = result.for_step(it.steps[2])
    assert r.name == "u2" and r.differing.tolist() == [False, False, True, False] and r.first_index == (2,)
    assert r.ours_at == it.steps[2].value[2] and r.theirs_at == it.steps[2].value[2] + 1.0
    assert result.for_step(it.steps[0]).status == "match"


def test_shapes_that_differ_only_by_axes_of_one_are_compared_entry_by_entry():
    it = first_iteration("classify_2_3_4")
    arrays = {s.name: np.asarray(s.value).reshape(1, -1) if s.value.ndim == 1 else s.value for s in it.steps}
    result = C.compare(it, binary_mine(arrays))
    assert not result.differs
    shape_notes = [note for note in result.notes if "compared entry by entry" in note]
    assert len(shape_notes) == 1 and "your u1 (1×3) (ours (3))" in shape_notes[0]
    assert "your u2 (1×4) (ours (4))" in shape_notes[0]  # one note for every array reshaped


def test_rtol_and_exit_codes(tmp_path):
    it = first_iteration("backprop_2_3_2")
    arrays = {s.name: s.value * (1 + 1e-6) for s in it.steps}
    np.savez(tmp_path / "mine.npz", **arrays)
    assert run("compare", "backprop_2_3_2", tmp_path / "mine.npz")[0] == 1
    assert run("compare", "backprop_2_3_2", tmp_path / "mine.npz", "--rtol", "1e-5")[0] == 0
    assert run("compare", "no_such_scenario", tmp_path / "mine.npz")[0] == 2
    code, _, err = run("compare", "backprop_2_3_2", tmp_path / "mine.npz", "--iteration", "2")
    assert code == 2 and "has one iteration" in err


def test_a_large_rtol_never_lets_an_update_of_the_wrong_sign_match(tmp_path):
    it = first_iteration("backprop_2_3_2")
    updates = [s for s in it.steps if s.kind == "update"]
    wrong = {s.name: 2 * s.inputs[s.name] - s.value for s in updates}  # before + learning_rate·grad
    arrays = {**{s.name: s.value for s in it.steps}, **wrong}
    for rtol in (1e-2, 0.5):
        result = C.compare(it, binary_mine(arrays), rtol=rtol)
        assert [r.name for r in result.arrays if r.status == "differs"] == [s.name for s in updates]
        assert result.for_step(updates[0]).cause_key == "sign"
    right = C.compare(it, binary_mine({s.name: s.value * (1 + 1e-4) for s in it.steps}), rtol=1e-3)
    assert not right.differs  # a tolerance well inside the update still lets near numbers match


def test_an_update_smaller_than_its_tolerance_is_said_in_a_note(tmp_path):
    it = first_iteration("backprop_2_3_2")
    update = next(s for s in it.steps if s.kind == "update")
    step_of = {s.name: s for s in it.steps}
    arrays = {update.name: update.value}
    # Printed at 3 decimals, W1's update (about 2.6e-4 and 1.3e-3) is within half a unit of the last digit.
    text = "##### 更新後パラメータ #####\n*** 重み1 ***\n" + np.array2string(update.value, precision=3) + "\n"
    (tmp_path / "mine.txt").write_text(text, encoding="utf-8")
    result = C.compare(it, C.read_mine(str(tmp_path / "mine.txt"), it))
    assert result.for_step(step_of[update.name]).status == "match"
    notes = [n for n in result.notes if "as large as the update itself" in n]
    assert len(notes) == 1 and f"{update.name} (" in notes[0]
    assert not [n for n in C.compare(it, binary_mine(arrays)).notes if "as large as the update" in n]


def test_numbers_rounded_to_a_printouts_digits_are_said_to_look_rounded():
    it = first_iteration("backprop_2_3_2")
    step = next(s for s in it.steps if s.name == "grad_b1")
    arrays = {step.name: np.array([float(f"{v:.8f}") for v in step.value])}
    result = C.compare(it, binary_mine(arrays))
    r = result.for_step(step)
    assert r.status == "differs" and r.cause_key == "rounded"
    assert r.cause.startswith("Your numbers agree with ours to the digits they carry (8 decimals)")
    assert "--rtol 1e-7" in r.cause
    assert not C.compare(it, binary_mine(arrays), rtol=1e-7).differs
    noisy = {step.name: arrays[step.name] + 1.234567e-9}  # more digits than the rounding: no known mistake
    assert C.compare(it, binary_mine(noisy)).for_step(step).cause == M.TEXT["none"]


def test_a_training_runs_printout_and_trace_of_several_iterations(tmp_path):
    code, out, _ = run("trace", "sgd_regression", "--format", "seed", "--iterations", "2:3")
    (tmp_path / "seed.txt").write_text(out, encoding="utf-8")
    code, out, _ = run("trace", "sgd_regression", "--format", "json", "--iterations", "2:3")
    (tmp_path / "trace.json").write_text(out, encoding="utf-8")
    for mine in ("seed.txt", "trace.json"):
        assert run("compare", "sgd_regression", tmp_path / mine, "--iteration", "3")[0] == 0
        code, report, err = run("compare", "sgd_regression", tmp_path / mine, "--iteration", "3", "--format", "json")
        assert code == 0 and json.loads(report)["iteration"] == 3
        code, _, err = run("compare", "sgd_regression", tmp_path / mine)  # iteration 1 is not in them
        assert code == 2 and "iteration" in err
    # iteration 3's printout compared with iteration 2 would not even hold iteration 2's steps
    code, _, err = run("compare", "sgd_regression", tmp_path / "seed.txt", "--iteration", "4")
    assert code == 2 and "--iteration 2" in err


# --- malformed MINE files ----------------------------------------------------------------------------


def _object_npz(path):
    np.savez(path, u1=np.array([{"a": 1}], dtype=object))


def _write(tmp_path, name, content):
    path = tmp_path / name
    if callable(content):
        content(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize("name, content, message", [
    ("mine.txt", b"\xff\xfe\x00bad", "not UTF-8 text"),
    ("mine.txt", b"", "is empty"),
    ("mine.json", b"  \n ", "is empty"),
    ("mine.npz", lambda p: np.savez(p, u1=np.zeros((2, 2, 2))), "nnstep's arrays are numbers, vectors and matrices"),
    ("mine.json", '{"u1": [[1, 2], [3]]}', "rows of different lengths"),
    ("mine.json", '{"u1": [[[1]]]}', "has shape (1, 1, 1); nnstep's arrays are numbers"),
    ("mine.json", '{"u1": [[[[1]]]]}', "of 3 or more dimensions"),
    ("mine.npz", lambda p: np.savez(p, u1=np.array([[1.0, np.nan, 3.0]])), "holds NaN at [0, 1]"),
    ("mine.json", '{"u1": [[1, NaN, 3]]}', "NaN is not a JSON number"),
    ("mine.json", '{"u1": [[1, "nan", 3]]}', 'u1 holds "nan"; nnstep compares finite numbers'),
    ("mine.json", '{"u1": [[1, "one", 3]]}', "expected a number or nested lists of numbers"),
    ("mine.json", '{"steps": [{"name": "u1", "value": [["-inf", 1, 2]]}]}', 'u1 holds "-inf"'),
    ("mine.txt", "*** 総入力1 ***\n[[1.2 nan 3.8]]\n", "holds nan"),
    ("mine.txt", "*** 総入力2 ***\n[[1.86 4.21]]\n\n*** 総入力1 ***\n[[1.2 2.5 3.8]]\n", "comes after"),
    ("mine.npz", _object_npz, "holds Python objects (a pickle)"),
    ("mine.npz", lambda p: np.save(p.with_suffix(".npy"), np.ones(2)) or os.rename(p.with_suffix(".npy"), p),
     "is a single array (.npy)"),
    ("mine.npz", b"not a zip file at all", "is not a numpy .npz file"),
    ("mine.npz", lambda p: (np.savez(p, u1=np.ones(1000)), p.write_bytes(p.read_bytes()[:200])), "not a numpy .npz"),
    ("mine.npz", lambda p: np.savez(p, u1=np.array(["a", "b"])), "expected numbers"),
    ("mine.json", "[1, 2]", "expected a JSON object of arrays by name"),
    ("mine.json", '{"u1": [1, 2', "is not valid JSON"),
    ("mine.json", '{"weights": [1, 2]}', "holds no array that nnstep knows (weights)"),
    ("mine.json", '{"u1": ' + "[" * 100000 + "]" * 100000 + "}", "mine.json"),
    ("mine.txt", "hello\nworld\n", "found no *** label *** blocks"),
    ("mine.txt", "*** shape ***\n[1]\n", "holds no array that nnstep knows (*** shape ***)"),
    ("mine.json", '{"steps": [{"name": "u1", "value": [1], "iteration": 7}]}', "no step of iteration 1"),
])
def test_a_malformed_mine_exits_2_with_one_line(tmp_path, name, content, message):
    path = _write(tmp_path, name, content)
    code, out, err = run("compare", "backprop_2_3_2", path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("nnstep: ") and "Traceback" not in err
    assert message in err, err


def test_a_folder_a_fifo_a_missing_file_and_a_huge_file_exit_2(tmp_path):
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as f:
        f.truncate(2 * 10**9)  # sparse: no disk used
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, message in ((tmp_path, "is a folder"), (fifo, "not a regular file"), (tmp_path / "nope", "no such file"),
                          (huge, "is 2 GB")):
        code, _, err = run("compare", "backprop_2_3_2", path)
        assert code == 2 and message in err and err.count("\n") == 1, err


def test_a_control_character_in_a_name_is_shown_not_obeyed(tmp_path):
    (tmp_path / "mine.json").write_text(json.dumps({"u1": [[1.2, 2.5, 3.8]], "\x1b[2J": 1}), encoding="utf-8")
    code, out, _ = run("compare", "backprop_2_3_2", tmp_path / "mine.json")
    assert code == 0 and "\x1b" not in out and "\\x1b[2J" in out


@SETTINGS
@given(data=st.data())
def test_fuzz_any_mine_is_read_or_refused_in_one_line(tmp_path_factory, data):
    """Mutated printouts and JSON, and random bytes: read_mine gives a Mine or a MineError, and compare
    then runs to the end."""
    it = first_iteration("backprop_2_3_2")
    base = data.draw(st.sampled_from([COURSE_1_2, json.dumps({s.name: s.value.tolist() for s in it.steps})]))
    kind = data.draw(st.sampled_from(["mutate", "bytes", "truncate"]))
    if kind == "bytes":
        content = data.draw(st.binary(max_size=200))
    else:
        text = base[: data.draw(st.integers(0, len(base)))] if kind == "truncate" else base
        for _ in range(data.draw(st.integers(0, 4)) if kind == "mutate" else 0):
            at = data.draw(st.integers(0, len(text)))
            text = text[:at] + data.draw(st.sampled_from(["[", "]", "***", " ", "\n", "nan", "...", "e99", "-", "0",
                                                          "\x00", "##### 更新後パラメータ #####\n", ","])) + text[at:]
        content = text.encode("utf-8")
    path = tmp_path_factory.mktemp("fuzz") / data.draw(st.sampled_from(["mine.txt", "mine.json", "mine.npz"]))
    path.write_bytes(content)
    try:
        mine = C.read_mine(str(path), it)
    except C.MineError as exc:
        assert "\n" not in str(exc)
        return
    C.compare(it, mine)


def test_the_readme_example_is_what_nnstep_prints(tmp_path, monkeypatch):
    """The README's notebook: notebook 1_2's printout with the update's sign turned (``+=``)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```\n\$ nnstep compare backprop_2_3_2 notebook.txt\n(.*?)```", readme, re.S)
    assert block, "README has no example of nnstep compare"
    it = first_iteration("backprop_2_3_2")
    arrays = {s.name: s.value for s in it.steps if s.kind != "update"}
    arrays.pop("loss")
    for s in it.steps:
        if s.kind == "update":
            arrays[s.name] = s.inputs[s.name] + 0.01 * s.inputs[f"grad_{s.name}"]
    (tmp_path / "notebook.txt").write_text(course_printout(it, arrays), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "100")
    code, out, _ = run("compare", "backprop_2_3_2", "notebook.txt")
    assert code == 1
    def digits(line: str) -> str:  # full-precision numbers to 10 digits: their last ones vary with the CPU
        return re.sub(r"-?\d+\.\d{10,}", lambda m: f"{float(m.group()):.10g}", line)

    lines = [digits(line) for line in out.splitlines()]
    at = 0
    for line in map(digits, block.group(1).splitlines()):
        if line.strip() == "…":
            continue
        assert line in lines[at:], line
        at = lines.index(line, at)


@pytest.mark.parametrize("output", ["closed", "full"])
def test_an_output_that_cannot_be_written_is_one_line_and_exit_2(output, tmp_path):
    import subprocess
    import sys

    (tmp_path / "1_2.txt").write_text(COURSE_1_2, encoding="utf-8")
    command = [sys.executable, "-m", "nnstep.engine.cli", "compare", "backprop_2_3_2", str(tmp_path / "1_2.txt")]
    if output == "closed":
        result = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", *command], capture_output=True, timeout=120)
        wanted = b"nnstep: cannot write to standard output: it is closed\n"
    else:
        if not os.path.exists("/dev/full"):
            pytest.skip("needs /dev/full")
        with open("/dev/full", "w") as full:
            result = subprocess.run(command, stdout=full, stderr=subprocess.PIPE, timeout=120)
        wanted = b"nnstep: cannot write to standard output: No space left on device\n"
    assert (result.returncode, result.stderr) == (2, wanted)


def test_two_gradients_holding_each_others_numbers_are_said_to_be_swapped():
    it = first_iteration("backprop_2_3_2")
    arrays = {s.name: s.value for s in it.steps}
    arrays["grad_W1"], arrays["grad_W2"] = arrays["grad_W2"], arrays["grad_W1"]
    result = C.compare(it, binary_mine(arrays))
    step = {s.name: s for s in it.steps}
    for name, other in (("grad_W1", "grad_W2"), ("grad_W2", "grad_W1")):
        r = result.for_step(step[name])
        assert r.cause_key == "swapped" and r.cause.startswith(f"Your {name} holds our {other}, and your {other}")


def test_a_weight_label_among_the_gradients_asks_about_the_missing_prefix(tmp_path):
    text = ("*** 偏微分_dE/du2 ***\n[[ 0.08706577 -0.08706577]]\n*** 重み1 ***\n[[1. 1. 1.]\n [1. 1. 1.]]\n"
            "*** 偏微分_重み2 ***\n[[1. 1.]\n [1. 1.]\n [1. 1.]]\n")
    (tmp_path / "mine.txt").write_text(text, encoding="utf-8")
    code, _, err = run("compare", "backprop_2_3_2", tmp_path / "mine.txt")
    assert code == 2 and "or is *** 重み1 *** a gradient printed without its 偏微分_ prefix (*** 偏微分_重み1 ***)?" in err


def test_a_trace_without_the_first_iteration_says_which_iteration_to_ask_for(tmp_path):
    it = first_iteration("backprop_2_3_2")
    steps = [{"name": s.name, "value": np.asarray(s.value).tolist(), "iteration": n} for n in (3, 4) for s in it.steps]
    (tmp_path / "trace.json").write_text(json.dumps({"steps": steps}), encoding="utf-8")
    code, _, err = run("compare", "backprop_2_3_2", tmp_path / "trace.json")
    assert code == 2 and "it holds iterations 3, 4: compare it with --iteration 3" in err
