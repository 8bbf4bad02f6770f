"""The notebook's network as it is: ``params = "net.npz"``, a top-level ``seed``, and the loss after the update.

A params file holds W1, b1, W2, … as the course's notebook holds them (``np.savez("net.npz", **network)``);
it is data from someone else, read like a data file: inside the scenario's folder, headers checked before
anything is unpacked, no pickles, numbers only, finite, shapes that chain. Each refusal is one line.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nnstep.engine import names
from nnstep.engine.bundled import find_bundled
from nnstep.engine.numbers import exact
from nnstep.engine.ops import seed_cross_entropy
from nnstep.engine.scenario import ScenarioError, load_scenario
from nnstep.engine.session import Session, run

#: The 1_2 notebook's network, as its init_network builds it.
NETWORK_1_2 = {"W1": np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]), "W2": np.array([[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]]),
               "b1": np.array([0.1, 0.2, 0.3]), "b2": np.array([0.1, 0.2])}
#: COURSE.md: the loss after the 1_2 update (the course's cross_entropy_error of the updated y), and that y.
GOLDEN_AFTER = 0.08710960847142761
GOLDEN_Y_AFTER = [0.08342347443580668, 0.9165765255641932]

BACKPROP = '''name = "1_2 from the notebook's arrays"
loss = "cross_entropy"
learning_rate = 0.01
params = "net.npz"
x = [[1.0, 5.0]]
d = [[0, 1]]

[[layers]]
activation = "relu"

[[layers]]
activation = "softmax"
'''

#: The SGD notebook's network: W2 = randn(10) a vector, b2 = randn() a number.
SGD = '''loss = "mse"
learning_rate = 0.07
params = "sgd.npz"
x = [0.5, 0.25]
d = [2.0]

[[layers]]
activation = "relu"

[[layers]]
activation = "identity"
'''


def cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nnstep.engine.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=60)


def scenario_with(tmp_path: Path, text: str = BACKPROP, npz: str | None = "net.npz", **arrays) -> Path:
    """``text`` as s.toml in ``tmp_path``, with ``arrays`` (the 1_2 network by default) saved as ``npz``."""
    if npz is not None:
        np.savez(tmp_path / npz, **(arrays or NETWORK_1_2))
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path, *words: str) -> str:
    """The ScenarioError loading ``path`` gives: one line, about the params key, with every word in it."""
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert "\n" not in message, message
    for word in words:
        assert word in message, (word, message)
    return message


def values(r) -> dict[str, np.ndarray]:
    return {(s.phase, s.name): s.value for s in r.steps}


# --- the notebook's arrays ------------------------------------------------------------------------------


def test_the_1_2_network_from_its_npz_is_the_bundled_backprop_bit_for_bit(tmp_path):
    ours = run(load_scenario(scenario_with(tmp_path)))
    bundled = run(load_scenario(find_bundled("backprop_2_3_2")))
    assert values(ours).keys() == values(bundled).keys()
    for key, value in values(bundled).items():
        assert np.array_equal(values(ours)[key], value), key
    sc = ours.scenario
    assert sc.params_file == "net.npz" and sc.params_note == "" and sc.reshaped == frozenset()
    assert sc.seed is None  # nothing drawn


def test_a_params_file_is_named_in_the_text_and_json_traces(tmp_path):
    path = scenario_with(tmp_path)
    text = cli("trace", path).stdout
    assert "params: W1, b1, W2, b2 from net.npz" in text
    doc = json.loads(cli("trace", path, "--format", "json").stdout)
    assert doc["scenario"]["params"] == {"file": "net.npz", "note": ""}
    assert doc["scenario"]["layers"][1]["W"] == NETWORK_1_2["W2"].tolist()
    bundled = json.loads(cli("trace", "backprop_2_3_2", "--format", "json").stdout)
    assert bundled["scenario"]["params"] is None


def test_the_sgd_notebooks_vector_W2_and_number_b2_are_read_as_a_column_and_one_bias(tmp_path):
    rng = np.random.default_rng(3)
    network = {"W1": rng.standard_normal((2, 10)), "W2": rng.standard_normal(10), "b1": rng.standard_normal(10),
               "b2": np.float64(rng.standard_normal())}
    sc = load_scenario(scenario_with(tmp_path, SGD, "sgd.npz", **network))
    assert sc.layers[1].W.shape == (10, 1) and sc.layers[1].b.shape == (1,)
    assert np.array_equal(sc.layers[1].W[:, 0], network["W2"]) and sc.layers[1].b[0] == network["b2"]
    assert sc.reshaped == {"W2", "b2"}
    assert "W2: the course's vector of 10 weights" in sc.params_note and "(10, 1)" in sc.params_note
    assert "b2: a number" in sc.params_note
    # The notebook's own forward pass: u2 = z1·W2 + b2 with the vector W2 and the number b2.
    r = run(sc)
    z1 = np.maximum(np.dot(sc.x, network["W1"]) + network["b1"], 0)
    assert float(r.output.value[0]) == pytest.approx(float(np.dot(z1, network["W2"]) + network["b2"]), rel=1e-12)
    text = cli("trace", tmp_path / "s.toml").stdout
    assert "W2: the course's vector of 10 weights" in " ".join(text.split())
    seed = cli("trace", tmp_path / "s.toml", "--format", "seed").stdout
    assert "- W2 and b2: sgd.npz holds them in the course's shapes" in seed


def test_integer_arrays_in_a_params_file_print_as_integers_in_the_seed_format(tmp_path):
    network = {**NETWORK_1_2, "b2": np.array([1, 2])}
    seed = cli("trace", scenario_with(tmp_path, **network), "--format", "seed").stdout
    assert "*** バイアス2 ***\n[1 2]\n" in seed


def test_what_train_saves_loads_as_params(tmp_path):
    saved = tmp_path / "trained.npz"
    assert cli("train", "sgd_regression", "--save", saved, "--reports", "1").returncode == 0
    text = SGD.replace('params = "sgd.npz"', 'params = "trained.npz"')
    sc = load_scenario(scenario_with(tmp_path, text, None))
    final = Session(load_scenario(find_bundled("sgd_regression")))
    final.run_all()
    for got, want in zip(sc.layers, final.final_layers()):
        assert np.array_equal(got.W, want.W) and np.array_equal(got.b, want.b)


def test_a_params_file_can_start_a_training_run(tmp_path):
    text = BACKPROP.replace("\n[[layers]]", "\n[training]\niterations = 3\n\n[[layers]]", 1)
    session = Session(load_scenario(scenario_with(tmp_path, text)))
    session.run_all()
    first = session.iteration(1)
    assert np.array_equal(first.layers[0].W, NETWORK_1_2["W1"])
    assert session.iteration(2).layers[0].W[0, 0] == pytest.approx(0.10026119731732082, rel=1e-12)


# --- what is refused, in one line each ------------------------------------------------------------------


def _pickled_npz(path: Path) -> None:
    np.savez(path, **{**NETWORK_1_2, "W2": np.array([[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]], dtype=object)})


BAD_ARRAYS = [
    ("missing_W2", {k: v for k, v in NETWORK_1_2.items() if k != "W2"}, ("has no array W2", "expected W1, b1, W2, b2")),
    ("missing_two", {"W1": NETWORK_1_2["W1"], "b1": NETWORK_1_2["b1"]}, ("no arrays W2, b2",)),
    ("extra_W3", {**NETWORK_1_2, "W3": np.ones((2, 2))}, ("also holds W3", "2 [[layers]] tables")),
    ("lower_case", {**{k: v for k, v in NETWORK_1_2.items() if k != "W2"}, "w2": NETWORK_1_2["W2"]},
     ("has no array W2", "(w2: did you mean W2?)")),
    ("W2_wrong_rows", {**NETWORK_1_2, "W2": np.ones((4, 2))}, ("W2 in net.npz", "expected 3 rows", "(4, 2)")),
    ("W2_transposed", {**NETWORK_1_2, "W2": NETWORK_1_2["W2"].T}, ("W2 in net.npz", "transposed")),
    ("b1_wrong_length", {**NETWORK_1_2, "b1": np.ones(4)}, ("b1 in net.npz", "expected shape (3,)", "(4,)")),
    ("b1_a_matrix", {**NETWORK_1_2, "b1": np.ones((1, 3))}, ("b1 in net.npz", "(1, 3)", "one bias per unit")),
    ("W1_a_vector", {**NETWORK_1_2, "W1": np.ones(2)}, ("W1 in net.npz", "shape (2,)", "one-unit output layer")),
    # A vector W2 with one weight per input is the one-unit reading; b2's two biases then do not fit it.
    ("W2_a_vector_of_a_two_unit_layer", {**NETWORK_1_2, "W2": np.ones(3)}, ("b2 in net.npz", "(3, 1)", "(2,)")),
    ("W1_3d", {**NETWORK_1_2, "W1": np.ones((2, 3, 1))}, ("W1 in net.npz", "(2, 3, 1)")),
    ("b1_a_number", {**NETWORK_1_2, "b1": np.float64(0.5)}, ("b1 in net.npz", "a number is read")),
    ("b2_a_number_of_two_units", {**NETWORK_1_2, "b2": np.float64(0.5)}, ("b2 in net.npz", "shape ()")),
    ("nan", {**NETWORK_1_2, "W1": np.array([[0.1, np.nan, 0.5], [0.2, 0.4, 0.6]])}, ("W1", "not finite")),
    ("inf", {**NETWORK_1_2, "b2": np.array([np.inf, 0.2])}, ("b2", "not finite")),
    ("strings", {**NETWORK_1_2, "b1": np.array(["a", "b", "c"])}, ("b1", "dtype", "numbers")),
    ("booleans", {**NETWORK_1_2, "b1": np.array([True, False, True])}, ("b1", "dtype bool")),
    ("complex", {**NETWORK_1_2, "b1": np.ones(3) * 1j}, ("b1", "dtype complex")),
]


@pytest.mark.parametrize("case, arrays, words", BAD_ARRAYS, ids=[c for c, _, _ in BAD_ARRAYS])
def test_bad_arrays_are_refused_in_one_line(tmp_path, case, arrays, words):
    refusal(scenario_with(tmp_path, **arrays), "params:", *words)


def test_a_pickle_inside_is_refused_never_loaded(tmp_path):
    path = scenario_with(tmp_path)
    _pickled_npz(tmp_path / "net.npz")
    refusal(path, "params:", "pickle", "never loads")


def test_the_file_itself_must_be_an_npz_in_the_scenarios_folder(tmp_path):
    path = scenario_with(tmp_path)
    outside = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    outside.mkdir()
    np.savez(outside / "net.npz", **NETWORK_1_2)

    def named(value: str) -> Path:
        path.write_text(BACKPROP.replace('"net.npz"', json.dumps(value)), encoding="utf-8")
        return path

    refusal(named(f"../{outside.name}/net.npz"), "params:", "leads outside the scenario file's folder")
    refusal(named(str(outside / "net.npz")), "params:", "absolute path", "net.npz")
    (tmp_path / "link.npz").symlink_to(outside / "net.npz")
    refusal(named("link.npz"), "params:", "leads outside")
    (tmp_path / "folder.npz").mkdir()
    refusal(named("folder.npz"), "params:", "is a folder")
    refusal(named("none.npz"), "params:", "no such file", "relative to the scenario file's folder")
    refusal(named(""), "params:", "expected the name of an .npz file")
    np.save(tmp_path / "one.npy", np.ones(3))
    refusal(named("one.npy"), "params:", "single array (.npy)", "numpy.savez(path, **network)")
    (tmp_path / "net.txt").write_text("W1 = 1\n", encoding="utf-8")
    refusal(named("net.txt"), "params:", "not a numpy .npz")
    path.write_text(BACKPROP.replace('"net.npz"', "3"), encoding="utf-8")
    refusal(path, "params:", "expected the name of an .npz file", "a number (3)")


def test_an_npz_whose_header_claims_more_than_it_holds_is_refused_before_unpacking(tmp_path):
    """48 bytes of numbers under a header that asks numpy for 16 TB."""
    path = scenario_with(tmp_path)
    saved = io.BytesIO()
    np.save(saved, np.zeros((2, 3)))
    bomb = saved.getvalue().replace(b"(2, 3), }" + b" " * 12, b"(1000000, 2000000), }")
    assert b"(1000000, 2000000)" in bomb and len(bomb) == len(saved.getvalue())
    with zipfile.ZipFile(tmp_path / "net.npz", "w") as z:
        for name in names.parameters(2):
            z.writestr(f"{name}.npy", bomb)
    refusal(path, "params:", "declares shape (1000000, 2000000)")


def test_what_a_params_file_would_take_in_memory_is_worked_out_before_it_is_unpacked(tmp_path, monkeypatch):
    import nnstep.engine.scenario as scenario

    path = scenario_with(tmp_path)
    monkeypatch.setattr(scenario, "MEMORY_BYTES", 8 * 16)  # 16 numbers: the 1_2 network has 17
    refusal(path, "params:", "the arrays of net.npz would need about")
    monkeypatch.setattr(scenario, "MEMORY_BYTES", 8 * 17)
    assert load_scenario(path).params_file == "net.npz"


def test_layers_that_give_W_b_or_units_as_well_are_refused(tmp_path):
    for extra, key in (("W = [[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]", "layers[0].W"), ("b = [0.1, 0.2, 0.3]", "layers[0].b"),
                       ("units = 3", "layers[0].units"), ('init = "he"', "layers[0].init")):
        text = BACKPROP.replace('activation = "relu"', f'activation = "relu"\n{extra}', 1)
        message = refusal(scenario_with(tmp_path, text), key, "not used with params = \"net.npz\"")
        assert "give only their activation" in message


def test_the_command_line_refuses_a_bad_params_file_with_exit_2_and_one_line(tmp_path):
    path = scenario_with(tmp_path, **{k: v for k, v in NETWORK_1_2.items() if k != "b2"})
    for verb in (["trace"], ["trace", "--format", "seed"], ["check"], ["train"]):
        result = cli(*verb, path)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines() == [f"nnstep: {path}: params: net.npz has no array b2; expected W1, "
                                                      "b1, W2, b2 (a W and a b for each of the 2 [[layers]] tables), "
                                                      "found W1, W2, b1"]


# --- a top-level seed ------------------------------------------------------------------------------------

DRAWN = '''loss = "mse"
learning_rate = 0.1
{seed}x = [[0.5, -1.0], [1.5, 2.0]]
d = [[1.0], [0.0]]
{training}
[[layers]]
units = 4
init = "he"
activation = "tanh"

[[layers]]
units = 1
activation = "identity"
'''


def drawn(tmp_path: Path, seed: str = "", training: str = "", name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(DRAWN.format(seed=seed, training=training), encoding="utf-8")
    return path


def test_a_top_level_seed_draws_what_a_one_iteration_training_run_with_that_seed_draws(tmp_path):
    plain = load_scenario(drawn(tmp_path, "seed = 7\n"))
    trained = load_scenario(drawn(tmp_path, training="[training]\niterations = 1\nseed = 7\n", name="t.toml"))
    assert plain.training is None and plain.seed == 7 and trained.seed == 7
    for a, b in zip(plain.layers, trained.layers):
        assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
    ours, theirs = run(plain), Session(trained).iteration(1)
    assert [s.name for s in ours.steps] == [s.name for s in theirs.steps]
    for a, b in zip(ours.steps, theirs.steps):
        assert np.array_equal(a.value, b.value), a.name
    other = load_scenario(drawn(tmp_path, "seed = 8\n", name="o.toml"))
    assert not np.array_equal(other.layers[0].W, plain.layers[0].W)
    # No seed: seed 0, as [training] defaults to.
    assert np.array_equal(load_scenario(drawn(tmp_path, name="z.toml")).layers[0].W,
                          load_scenario(drawn(tmp_path, "seed = 0\n", name="z0.toml")).layers[0].W)
    assert "seed: 7 (the random initial parameters are drawn from it)" in cli("trace", tmp_path / "s.toml").stdout


def test_a_top_level_seed_is_the_training_runs_seed_and_must_agree_with_its_own(tmp_path):
    top = load_scenario(drawn(tmp_path, "seed = 5\n", "[training]\niterations = 2\n"))
    assert top.training.seed == 5 and top.seed == 5
    same = load_scenario(drawn(tmp_path, "seed = 5\n", "[training]\niterations = 2\nseed = 5\n"))
    assert np.array_equal(same.layers[0].W, top.layers[0].W)
    message = refusal(drawn(tmp_path, "seed = 5\n", "[training]\niterations = 2\nseed = 6\n"), "seed:",
                      "seed = 5 and training.seed = 6 disagree")
    assert "give the seed once" in message


@pytest.mark.parametrize("seed, words", [("-1", ("seed:", "≥ 0", "-1")), ("1.5", ("seed:", "whole number")),
                                         ('"7"', ("seed:", "whole number", 'a string ("7")'))])
def test_a_seed_that_is_not_a_whole_number_is_refused(tmp_path, seed, words):
    refusal(drawn(tmp_path, f"seed = {seed}\n"), *words)


def test_a_seed_with_nothing_to_draw_is_refused(tmp_path):
    text = Path(find_bundled("classify_2_3_4")).read_text(encoding="utf-8")
    path = tmp_path / "s.toml"
    path.write_text(text.replace("learning_rate = 0.01", "learning_rate = 0.01\nseed = 3"), encoding="utf-8")
    refusal(path, "seed:", "nothing here is drawn at random", "every layer gives its W and b")
    refusal(scenario_with(tmp_path, BACKPROP.replace('params = "net.npz"', 'params = "net.npz"\nseed = 3')),
            "seed:", "in the params file")


# --- the loss after the update ---------------------------------------------------------------------------


def test_the_loss_after_the_1_2_update_is_the_courses_golden_value():
    r = run(load_scenario(find_bundled("backprop_2_3_2")))
    after = r.loss_after_update
    # The updated parameters' forward pass on the same batch, from the update steps' values.
    new = {s.name: s.value for s in r.steps if s.phase == "update"}
    y = np.exp(np.maximum(np.dot(r.x, new["W1"]) + new["b1"], 0) @ new["W2"] + new["b2"])
    y /= y.sum()
    np.testing.assert_allclose(y[0], GOLDEN_Y_AFTER, rtol=1e-12)
    # COURSE.md's value is the course's cross_entropy_error (1e-7 inside the log) of that y; ours is exact.
    assert float(seed_cross_entropy(y, r.d)) == pytest.approx(GOLDEN_AFTER, rel=1e-12)
    assert after == pytest.approx(-np.log(GOLDEN_Y_AFTER[1]), rel=1e-12)
    assert after == pytest.approx(GOLDEN_AFTER, rel=2e-6)
    assert after < r.loss  # the update lowered it
    assert r.loss_after_update is after  # computed once


def test_a_batch_runs_loss_after_the_update_is_the_next_iterations_loss():
    """Batch gradient descent: iteration i+1 starts from i's updated parameters on the same (whole) batch."""
    session = Session(load_scenario(find_bundled("batch_regression")))
    session.advance(4)
    for i in (1, 2, 3):
        assert session.iteration(i).loss_after_update == session.losses[i]


def test_a_forward_only_run_has_no_loss_after_the_update():
    r = run(load_scenario(find_bundled("single_layer")))
    assert r.loss is None and r.loss_after_update is None


def test_the_text_trace_ends_each_iteration_with_the_loss_after_its_update():
    r = run(load_scenario(find_bundled("backprop_2_3_2")))
    out = cli("trace", "backprop_2_3_2").stdout
    tail = " ".join(out.split("b2 against its gradient")[-1].split())
    change = r.loss - r.loss_after_update
    assert tail.endswith(f"After the update: loss {exact(r.loss_after_update)} on the same batch, down "
                         f"{exact(change)} ({change / r.loss:.2%}) from {exact(r.loss)}.")
    several = cli("trace", "sgd_regression", "--iterations", "1:3").stdout
    assert several.count("After the update: loss") == 3
    assert "After the update" not in cli("trace", "single_unit").stdout


def test_the_json_trace_has_the_loss_after_the_update():
    r = run(load_scenario(find_bundled("classify_2_3_4")))
    assert json.loads(cli("trace", "classify_2_3_4", "--format", "json").stdout)["loss_after_update"] == \
        r.loss_after_update
    doc = json.loads(cli("trace", "sgd_regression", "--format", "json", "--iterations", "2:3").stdout)
    session = Session(load_scenario(find_bundled("sgd_regression")))
    session.advance(3)
    assert [one["loss_after_update"] for one in doc["iterations"]] == \
        [session.iteration(i).loss_after_update for i in (2, 3)]
    assert "loss_after_update" not in doc


def test_a_diverged_loss_after_the_update_is_said_so(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('loss = "mse"\nlearning_rate = 1e300\nx = [1e3, 1e3]\nd = [1.0]\n[[layers]]\n'
                    'W = [[1e300], [1e300]]\nb = [0]\nactivation = "identity"\n', encoding="utf-8")
    result = cli("trace", path)
    assert result.returncode == 0, result.stderr
    assert "After the update: the loss on the same batch is inf (before it: inf); the numbers have overflowed." \
        in " ".join(result.stdout.split())
    doc = json.loads(cli("trace", path, "--format", "json").stdout)
    assert doc["loss_after_update"] in ("inf", "nan")


async def test_the_parameters_pane_shows_the_loss_after_the_update_at_the_last_step():
    from tui_helpers import SIZE, make_app, shown
    from nnstep.tui.params_pane import ParamsPane

    r = run(load_scenario(find_bundled("backprop_2_3_2")))
    app = make_app("backprop_2_3_2")
    async with app.run_test(size=SIZE) as pilot:
        params = app.screen.query_one(ParamsPane)
        await pilot.press("G")
        await pilot.pause()
        change = r.loss - r.loss_after_update
        assert f"after update  {exact(r.loss_after_update)}  down {change:.4g} ({change / r.loss:.2%})" in shown(params)
        await pilot.press("p")
        await pilot.pause()
        assert "after update" not in shown(params)


async def test_the_parameters_pane_says_where_the_parameters_came_from(tmp_path):
    from nnstep.tui.app import NNStepApp
    from nnstep.tui.params_pane import ParamsPane
    from tui_helpers import SIZE, shown

    rng = np.random.default_rng(1)
    network = {"W1": rng.standard_normal((2, 10)), "W2": rng.standard_normal(10), "b1": rng.standard_normal(10),
               "b2": np.float64(0.5)}
    sc = load_scenario(scenario_with(tmp_path, SGD, "sgd.npz", **network))
    app = NNStepApp(session=Session(sc), folder=tmp_path, keymap_file=tmp_path / "none.toml")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = " ".join(shown(app.screen.query_one(ParamsPane)).split())
        assert "Parameters now as sgd.npz gives them" in text
        assert "W2: the course's vector of 10 weights" in text
