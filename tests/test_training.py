"""Training runs: reproducibility, time travel, gradients per batch mode, learning, bad keys, the CLI.

The central claim of :mod:`nnstep.engine.session` is that any step of any iteration, reached by a jump from
a checkpoint, is bit for bit what a plain run from the start shows there. The reference for that claim
(:func:`straight_recording`) does not use :class:`Session` for its parameters: it records every
iteration in order with :func:`nnstep.engine.steps.iteration_steps`, from the scenario's initial layers,
feeding each iteration's update-step values into the next.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from nnstep.engine.bundled import bundled_scenarios, find_bundled
from nnstep.engine.gradcheck import check_gradients
from nnstep.engine.scenario import Layer, Scenario, ScenarioError, load_scenario, parse_scenario
from nnstep.engine.steps import Step, iteration_steps
from nnstep.engine.session import Session, choose_interval

BUNDLED = {p.stem: p for p in bundled_scenarios()}
TRAINING_SCENARIOS = sorted(name for name, p in BUNDLED.items()
                            if "training" in tomllib.loads(p.read_text("utf-8")))
DIGITS_NPZ = BUNDLED["digits_minibatch"].parent / "data" / "digits.npz"


def cli_run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m nnstep.engine.cli ARGS`` with its output captured as UTF-8 text."""
    return subprocess.run([sys.executable, "-m", "nnstep.engine.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, encoding="utf-8", timeout=120, env=dict(os.environ))


def replace_once(text: str, *pairs: str) -> str:
    """Replace each ``old`` by ``new`` (old, new, old, new, …); each old must occur exactly once."""
    for old, new in zip(pairs[::2], pairs[1::2]):
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text


def toml_array(a: np.ndarray) -> str:
    """A float array as a TOML array (repr round-trips every float64 exactly)."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        return "[" + ", ".join(repr(float(v)) for v in a) + "]"
    return "[" + ", ".join(toml_array(row) for row in a) + "]"


def bundled_text(name: str, folder: Path) -> str:
    """A bundled scenario's text, to write into ``folder``: its data file (if any) is copied there too,
    since a data file must be in the scenario file's folder or below it."""
    import shutil

    text = BUNDLED[name].read_text("utf-8")
    if 'file = "data/digits.npz"' in text:
        (folder / "data").mkdir(exist_ok=True)
        shutil.copyfile(DIGITS_NPZ, folder / "data" / "digits.npz")
    return text


def trained(scenario: Scenario, **kwargs) -> Session:
    training = Session(scenario, **kwargs)
    training.run_all()
    return training


def final_arrays(training: Session) -> list[np.ndarray]:
    return [a for layer in training.final_layers() for a in (layer.W, layer.b)]


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# =====================================================================================================
# 1. Reproducibility
# =====================================================================================================


@pytest.mark.parametrize("name", TRAINING_SCENARIOS)
def test_the_same_file_twice_gives_the_same_bits(name):
    one, two = (trained(load_scenario(BUNDLED[name])) for _ in range(2))
    assert np.all(np.isfinite(one.losses))
    assert one.losses.tobytes() == two.losses.tobytes()
    if one.accuracies is not None:
        assert one.accuracies.tobytes() == two.accuracies.tobytes()
    for a, b in zip(final_arrays(one), final_arrays(two), strict=True):
        assert same_bits(a, b)


@pytest.mark.parametrize("name", ["sgd_regression", "digits_minibatch"])
def test_another_seed_gives_other_data_weights_and_losses(name, tmp_path):
    text = bundled_text(name, tmp_path)
    path0, path1 = tmp_path / "seed0.toml", tmp_path / "seed1.toml"
    path0.write_text(text, "utf-8")
    path1.write_text(replace_once(text, "seed = 0", "seed = 1"), "utf-8")
    a, b = load_scenario(path0), load_scenario(path1)
    assert a.training.seed == 0 and b.training.seed == 1
    # Generated data is drawn from the seed; a data file's held-out split is too.
    assert not np.array_equal(a.x, b.x)
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert not np.array_equal(la.W, lb.W)
    ta, tb = trained(a), trained(b)
    assert not np.array_equal(ta.losses, tb.losses)
    assert not np.array_equal(ta.sample_numbers(1), tb.sample_numbers(1))


@pytest.mark.parametrize("name, edits", [
    ("sgd_regression", ("iterations = 1000", "iterations = 37")),
    ("sgd_regression", ("batch_size = 1", "batch_size = 7")),
    ("sgd_regression", ("batch_size = 1", 'batch_size = "all"', 'sampling = "with_replacement"', "")),
    ("sgd_regression", ('sampling = "with_replacement"', 'sampling = "epoch"')),
    ("digits_minibatch", ("iterations = 600", "iterations = 5", "batch_size = 100", "batch_size = 3")),
    ("digits_minibatch", ('sampling = "with_replacement"', 'sampling = "epoch"')),
    ("batch_regression", ("iterations = 500", "iterations = 2", 'batch_size = "all"', "batch_size = 10")),
])
def test_the_run_settings_leave_data_and_initial_weights_alone(name, edits, tmp_path):
    """Data, initial parameters and batches come from independent streams of the seed."""
    text = bundled_text(name, tmp_path)
    (tmp_path / "a.toml").write_text(text, "utf-8")
    (tmp_path / "b.toml").write_text(replace_once(text, *edits), "utf-8")
    a, b = load_scenario(tmp_path / "a.toml"), load_scenario(tmp_path / "b.toml")
    assert a.training != b.training
    for key in ("x", "d", "test_x", "test_d"):
        va, vb = getattr(a, key), getattr(b, key)
        assert (va is None) == (vb is None)
        if va is not None:
            assert same_bits(va, vb), key
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert same_bits(la.W, lb.W) and same_bits(la.b, lb.b)


def test_a_changed_learning_rate_changes_the_run_but_not_its_start(tmp_path):
    text = bundled_text("sgd_regression", tmp_path)
    (tmp_path / "b.toml").write_text(replace_once(text, "learning_rate = 0.07", "learning_rate = 0.01"), "utf-8")
    a, b = load_scenario(BUNDLED["sgd_regression"]), load_scenario(tmp_path / "b.toml")
    ta, tb = Session(a), Session(b)
    ta.advance(3)
    tb.advance(3)
    assert ta.losses[0] == tb.losses[0]  # the same first batch from the same parameters
    assert ta.losses[2] != tb.losses[2]


# =====================================================================================================
# 2. Time travel: a jump shows what a straight recording shows, bit for bit
# =====================================================================================================

ITERATIONS = 40
EVERY = 7  # 40 is no multiple of 7: the last stretch after a checkpoint is shorter

REGRESSION = """\
loss = "mse"
learning_rate = 0.3

[training]
iterations = {iterations}
batch_size = {batch_size}
seed = 5
{sampling}

[data]
samples = 12
inputs = {{ distribution = "normal", mean = 0.5, std = 1.5, features = 3 }}
target = {{ linear = [[1.0, -0.5], [2.0, 0.25], [-1.0, 3.0]], bias = 0.3 }}

[[layers]]
units = 4
init = "xavier"
activation = "tanh"

[[layers]]
units = 3
init = "randn"
scale = 0.5
activation = "relu"

[[layers]]
units = 2
init = "xavier"
activation = "identity"
"""


def classifier_text(iterations: int, batch_size: str, sampling: str) -> str:
    rng = np.random.default_rng(11)
    x = rng.normal(size=(10, 3))
    d = np.eye(4)[rng.integers(0, 4, size=10)]
    return f"""\
loss = "cross_entropy"
learning_rate = 0.5
x = {toml_array(x)}
d = {toml_array(d)}

[training]
iterations = {iterations}
batch_size = {batch_size}
seed = 3
{sampling}

[[layers]]
units = 5
init = "he"
activation = "relu"

[[layers]]
units = 4
init = "xavier"
activation = "softmax"
"""


MODES = [  # (network, batch_size, sampling)
    ("regression", "1", "with_replacement"),
    ("regression", "1", "epoch"),
    ("regression", "5", "with_replacement"),
    ("regression", "5", "epoch"),
    ("regression", "12", "epoch"),
    ("regression", '"all"', None),
    ("classifier", "1", "epoch"),
    ("classifier", "4", "with_replacement"),
    ("classifier", "3", "epoch"),
    ("classifier", '"all"', None),
]


def mode_scenario(network: str, batch_size: str, sampling: str | None, iterations: int = ITERATIONS) -> Scenario:
    line = f'sampling = "{sampling}"' if sampling else ""
    if network == "regression":
        return parse_scenario(REGRESSION.format(iterations=iterations, batch_size=batch_size, sampling=line))
    return parse_scenario(classifier_text(iterations, batch_size, line))


def next_layers(layers: tuple[Layer, ...], steps: list[Step]) -> tuple[Layer, ...]:
    new = {s.name: s.value for s in steps if s.phase == "update"}
    return tuple(Layer(W=new[f"W{l}"], b=new[f"b{l}"], activation=layer.activation)
                 for l, layer in enumerate(layers, start=1))


def straight_recording(scenario: Scenario, batches: list[tuple[np.ndarray, np.ndarray]]):
    """Every iteration recorded in order from the initial layers, each starting from the update-step
    values of the one before; and the layers after the last."""
    layers = scenario.layers
    recorded = []
    for i, (x, d) in enumerate(batches, start=1):
        steps = iteration_steps(layers, x, d, scenario.loss, scenario.learning_rate, iteration=i)
        recorded.append(steps)
        layers = next_layers(layers, steps)
    return recorded, layers


def assert_same_steps(got: tuple[Step, ...] | list[Step], want: list[Step], where: str) -> None:
    assert len(got) == len(want), where
    for g, w in zip(got, want):
        at = f"{where}, step {w.index} ({w.name})"
        assert (g.index, g.iteration, g.phase, g.layer, g.name, g.formula) == \
               (w.index, w.iteration, w.phase, w.layer, w.name, w.formula), at
        assert same_bits(g.value, w.value), at
        assert list(g.inputs) == list(w.inputs), at
        for key in w.inputs:
            assert same_bits(g.inputs[key], w.inputs[key]), f"{at}, input {key}"


def batches_of(scenario: Scenario) -> list[tuple[np.ndarray, np.ndarray]]:
    """The batches, taken from a fresh Session that never runs (batch(i) is the sampling alone)."""
    fresh = Session(scenario)
    return [fresh.batch(i) for i in range(1, scenario.training.iterations + 1)]


def jump_order(seed: int) -> list[int]:
    """Every iteration, shuffled, after a few hand-picked jumps across the checkpoint boundaries; then
    backwards one iteration at a time, then forwards."""
    rng = random.Random(seed)
    picked = [ITERATIONS, 1, 8, 7, 15, 14, 36, 35, 22, 21, 2, 29, 28, ITERATIONS - 1]
    shuffled = list(range(1, ITERATIONS + 1))
    rng.shuffle(shuffled)
    return picked + shuffled + list(range(ITERATIONS, 0, -1)) + list(range(1, ITERATIONS + 1))


@pytest.mark.parametrize("mode", MODES, ids=["-".join(filter(None, m)).replace('"', "") for m in MODES])
def test_jumps_show_the_straight_recording_bit_for_bit(mode):
    scenario = mode_scenario(*mode)
    batches = batches_of(scenario)
    reference, final = straight_recording(scenario, batches)
    jumpy = trained(scenario, checkpoint_every=EVERY)
    straight = trained(scenario, checkpoint_every=ITERATIONS)
    assert jumpy.every == EVERY and jumpy.checkpoint_count == 1 + ITERATIONS // EVERY
    assert straight.checkpoint_count == 2
    for training, label in ((jumpy, "every 7"), (straight, "straight")):
        for i in jump_order(seed=len(label)):
            run = training.iteration(i)
            assert_same_steps(run.steps, reference[i - 1], f"{label}: iteration {i}")
            x, d = batches[i - 1]
            assert same_bits(run.x, x) and same_bits(run.d, d)
        W, b = training.params_before(ITERATIONS + 1)
        for l, layer in enumerate(final):
            assert same_bits(W[l], layer.W) and same_bits(b[l], layer.b)
        for got, layer in zip(training.final_layers(), final, strict=True):
            assert same_bits(got.W, layer.W) and same_bits(got.b, layer.b)
    # The straight run's per-iteration losses are the recorded loss steps.
    losses = np.array([next(s.value for s in steps if s.name == "loss") for steps in reference])
    assert losses.tobytes() == jumpy.losses.tobytes()


@pytest.mark.parametrize("mode", [MODES[0], MODES[3], MODES[5], MODES[7]],
                         ids=["online", "minibatch-epoch", "batch", "classifier-minibatch"])
def test_params_before_matches_the_reference_at_every_iteration(mode):
    scenario = mode_scenario(*mode)
    reference, _ = straight_recording(scenario, batches_of(scenario))
    training = trained(scenario, checkpoint_every=EVERY)
    for i in random.Random(1).sample(range(1, ITERATIONS + 1), ITERATIONS):
        W, b = training.params_before(i)
        # The parameters an iteration starts from are the ones its update steps read.
        for s in reference[i - 1]:
            if s.phase == "update":
                old = (W if s.name[0] == "W" else b)[s.layer - 1]
                assert same_bits(old, s.inputs[s.name]), (i, s.name)


def test_time_travel_while_the_run_is_partway_leaves_the_run_alone():
    scenario = mode_scenario("regression", "5", "with_replacement")
    reference, final = straight_recording(scenario, batches_of(scenario))
    training = Session(scenario, checkpoint_every=EVERY)
    training.advance(20)
    assert training.computed == 20
    for i in (21, 3, 15, 8, 20, 1, 14):
        assert_same_steps(training.iteration(i).steps, reference[i - 1], f"iteration {i}")
    with pytest.raises(IndexError):
        training.iteration(22)
    with pytest.raises(IndexError):
        training.params_before(0)
    training.advance(9)
    training.advance()  # the rest
    assert training.done
    for i in (40, 22, 29, 21):
        assert_same_steps(training.iteration(i).steps, reference[i - 1], f"iteration {i}")
    for got, layer in zip(training.final_layers(), final, strict=True):
        assert same_bits(got.W, layer.W) and same_bits(got.b, layer.b)


def test_jumps_while_another_thread_advances_the_run():
    """The app advances on a worker thread while the user jumps about: every jump still shows the
    straight recording, and the run ends where the straight recording ends."""
    import threading

    iterations = 300
    scenario = mode_scenario("regression", "5", "epoch", iterations=iterations)
    reference, final = straight_recording(scenario, batches_of(scenario))
    training = Session(scenario, checkpoint_every=EVERY)
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            while not training.done:
                training.advance(3)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    thread = threading.Thread(target=worker)
    rng = random.Random(5)
    checked = 0
    thread.start()
    try:
        while thread.is_alive() or checked < 20:
            computed = training.computed
            i = rng.randint(1, computed + 1) if computed < iterations else rng.randint(1, iterations)
            assert_same_steps(training.iteration(i).steps, reference[i - 1], f"iteration {i} (computed {computed})")
            checked += 1
    finally:
        thread.join()
    assert not failures, failures
    assert training.done and checked >= 20
    for got, layer in zip(training.final_layers(), final, strict=True):
        assert same_bits(got.W, layer.W) and same_bits(got.b, layer.b)
    losses = np.array([next(s.value for s in steps if s.name == "loss") for steps in reference])
    assert losses.tobytes() == training.losses.tobytes()


def test_a_small_budget_chooses_a_longer_interval_with_the_same_results():
    scenario = mode_scenario("regression", "5", "epoch")
    reference, _ = straight_recording(scenario, batches_of(scenario))
    size = sum(l.W.nbytes + l.b.nbytes for l in scenario.layers)
    assert choose_interval(scenario, budget=10 ** 9) == 1
    assert choose_interval(scenario, budget=size * 4) == 10  # 40 iterations, 4 parameter sets
    training = Session(scenario, budget=size * 4, recompute_ms=0)  # by memory alone
    training.run_all()
    assert training.every == 10 and training.checkpoint_count == 5
    for i in (33, 10, 11, 40, 1, 20, 21):
        assert_same_steps(training.iteration(i).steps, reference[i - 1], f"iteration {i}")


def test_batches_follow_the_sampling():
    n = 12
    for bs in (1, 5, 12):
        epoch = Session(mode_scenario("regression", str(bs), "epoch"))
        order = np.concatenate([epoch.sample_numbers(i) for i in range(1, ITERATIONS + 1)])
        assert order.shape == (ITERATIONS * bs,)
        # Every pass through the data takes each sample exactly once.
        for start in range(0, order.size - n + 1, n):
            assert sorted(order[start:start + n]) == list(range(n)), (bs, start)
        draws = Session(mode_scenario("regression", str(bs), "with_replacement"))
        rows = np.stack([draws.sample_numbers(i) for i in range(1, ITERATIONS + 1)])
        assert rows.shape == (ITERATIONS, bs) and rows.min() >= 0 and rows.max() < n
        if bs == 12:  # drawn with replacement: some batch of 12 from 12 repeats a sample
            assert any(len(set(r)) < n for r in rows)
        for training in (epoch, draws):
            for i in (1, 17, ITERATIONS):
                x, d = training.batch(i)
                rows_i = training.sample_numbers(i)
                sc = training.scenario
                if bs == 1:  # online SGD takes one sample as vectors, as the course does
                    assert x.shape == (3,) and d.shape == (2,)
                    assert same_bits(x, sc.x[rows_i[0]]) and same_bits(d, sc.d[rows_i[0]])
                else:
                    assert x.shape == (bs, 3) and d.shape == (bs, 2)
                    assert same_bits(x, sc.x[rows_i]) and same_bits(d, sc.d[rows_i])
    whole = Session(mode_scenario("regression", '"all"', None))
    assert whole.sample_numbers(5) is None
    x, d = whole.batch(5)
    assert same_bits(x, whole.scenario.x) and x.shape == (12, 3)


# =====================================================================================================
# 3. Gradient checks in every batch mode
# =====================================================================================================


def inline_training_text(x, d, widths, hidden, output, loss, iterations, batch_size, sampling, seed,
                         learning_rate=0.5) -> str:
    lines = [f'loss = "{loss}"', f"learning_rate = {learning_rate}", f"x = {toml_array(x)}",
             f"d = {toml_array(d)}", "", "[training]", f"iterations = {iterations}",
             f"batch_size = {batch_size}", f"seed = {seed}", f'sampling = "{sampling}"']
    for l, units in enumerate(widths):
        act = output if l == len(widths) - 1 else hidden[l]
        lines += ["", "[[layers]]", f"units = {units}", 'init = "xavier"', f'activation = "{act}"']
    return "\n".join(lines) + "\n"


def targets(loss: str, samples: int, outputs: int, rng: np.random.Generator) -> np.ndarray:
    if loss == "cross_entropy":
        return np.eye(outputs)[rng.integers(0, outputs, size=samples)]
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, size=(samples, outputs)).astype(float)
    return rng.normal(size=(samples, outputs))


def assert_gradients_pass(training: Session, i: int) -> None:
    if training.computed < i - 1:
        training.advance(i - 1 - training.computed)
    run = training.iteration(i)
    checks = check_gradients(run)
    assert len(checks) == 3 * len(run.layers)
    failed = [(c.name, c.max_abs_error, c.max_rel_error) for c in checks if not c.passed]
    assert not failed, failed


@pytest.mark.parametrize("batch_size, expect_ndim", [("1", 1), ("4", 2), ('"all"', 2)],
                         ids=["online", "minibatch", "batch"])
@pytest.mark.parametrize("loss, output", [("mse", "tanh"), ("cross_entropy", "softmax"),
                                          ("binary_cross_entropy", "sigmoid")])
def test_gradients_pass_in_every_batch_mode(batch_size, expect_ndim, loss, output):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(9, 3))
    d = targets(loss, 9, 1 if loss == "binary_cross_entropy" else 3, rng)
    text = inline_training_text(x, d, [4, 3, d.shape[1]], ["sigmoid", "tanh"], output, loss, 12,
                                batch_size, "epoch", 2)
    training = Session(parse_scenario(text), checkpoint_every=5)
    for i in (1, 6, 12):
        assert_gradients_pass(training, i)
        assert training.iteration(i).x.ndim == expect_ndim


@st.composite
def training_cases(draw):
    loss = draw(st.sampled_from(["mse", "cross_entropy", "binary_cross_entropy"]))
    depth = draw(st.integers(1, 3))
    hidden_widths = [draw(st.integers(1, 4)) for _ in range(depth - 1)]
    hidden = [draw(st.sampled_from(["sigmoid", "tanh"])) for _ in range(depth - 1)]
    if loss == "cross_entropy":
        outputs, output = draw(st.integers(2, 4)), "softmax"
    elif loss == "binary_cross_entropy":
        outputs, output = draw(st.integers(1, 2)), "sigmoid"
    else:
        outputs, output = draw(st.integers(1, 3)), draw(st.sampled_from(["identity", "sigmoid", "tanh"]))
    features = draw(st.integers(1, 3))
    samples = draw(st.integers(1, 8))
    mode = draw(st.sampled_from(["online", "minibatch", "batch"]))
    batch_size = {"online": "1", "batch": '"all"',
                  "minibatch": str(draw(st.integers(min(2, samples), samples)))}[mode]
    seed = draw(st.integers(0, 2 ** 16))
    data_seed = draw(st.integers(0, 2 ** 16))
    iterations = draw(st.integers(1, 8))
    i = draw(st.integers(1, iterations))
    every = draw(st.integers(1, 4))
    sampling = draw(st.sampled_from(["with_replacement", "epoch"]))
    rng = np.random.default_rng(data_seed)
    x = rng.normal(size=(samples, features))
    d = targets(loss, samples, outputs, rng)
    text = inline_training_text(x, d, hidden_widths + [outputs], hidden, output, loss, iterations,
                                batch_size, sampling, seed)
    return text, i, every


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(training_cases())
def test_gradients_pass_on_random_training_runs(case):
    text, i, every = case
    note(text)
    note(f"iteration {i}, checkpoint every {every}")
    training = Session(parse_scenario(text), checkpoint_every=every)
    assert_gradients_pass(training, i)


# =====================================================================================================
# 4. The bundled training scenarios learn
# =====================================================================================================


@pytest.mark.parametrize("name", TRAINING_SCENARIOS)
def test_the_loss_falls(name):
    training = trained(load_scenario(BUNDLED[name]))
    losses = training.losses
    assert np.all(np.isfinite(losses))
    tenth = len(losses) // 10
    first, last = np.mean(losses[:tenth]), np.mean(losses[-tenth:])
    assert last < 0.25 * first, (first, last)
    sc = training.scenario
    assert training.evaluate(sc.x, sc.d).loss < training.evaluate(sc.x, sc.d, i=1).loss


def test_the_digits_are_learnt():
    sc = load_scenario(BUNDLED["digits_minibatch"])
    assert sc.test_x.shape == (297, 64) and sc.x.shape == (1500, 64) and sc.image == (8, 8)
    training = trained(sc)
    assert training.evaluate(sc.x, sc.d).accuracy > 0.9
    assert training.evaluate(sc.test_x, sc.test_d).accuracy > 0.9
    assert training.evaluate(sc.test_x, sc.test_d, i=1).accuracy < 0.5  # it did not start out knowing
    assert np.mean(training.accuracies[-60:]) > 0.9


# =====================================================================================================
# 5. Bad training keys
# =====================================================================================================

GENERATED = """\
loss = "mse"
learning_rate = 0.1

[training]
iterations = 10
batch_size = 4
seed = 0
sampling = "epoch"

[data]
samples = 20
inputs = { distribution = "uniform", features = 2 }
target = { linear = [1.0, 2.0], bias = 0.5 }

[[layers]]
units = 3
init = "xavier"
activation = "tanh"

[[layers]]
units = 1
init = "xavier"
activation = "identity"
"""

INLINE = """\
loss = "mse"
learning_rate = 0.1
x = [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
d = [[1.0], [2.0], [3.0]]

[training]
iterations = 5
batch_size = 2

[[layers]]
W = [[0.1, 0.2], [0.3, 0.4]]
b = [0.0, 0.0]
activation = "relu"

[[layers]]
units = 1
activation = "identity"
"""

FILE = """\
loss = "cross_entropy"
learning_rate = 0.1

[training]
iterations = 10
batch_size = 4

[data]
file = "data.npz"
test_samples = 5
image = [2, 2]

[[layers]]
units = 3
init = "he"
activation = "relu"

[[layers]]
units = 2
init = "he"
activation = "softmax"
"""


def good_arrays(rows: int = 20) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"x": rng.uniform(size=(rows, 4)), "d": np.eye(2, dtype=np.uint8)[rng.integers(0, 2, size=rows)]}


def npz(**arrays) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        np.savez(path, **arrays)  # np.savez pickles object arrays (allow_pickle=True by default)
    return write


def raw(content: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(content)


def good_npz(path: Path) -> None:
    np.savez(path, **good_arrays())


def zip_of_text(path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")


def npy(path: Path) -> None:
    with open(path, "wb") as f:  # np.save would add .npy to the name
        np.save(f, np.zeros((20, 4)))


@dataclass(frozen=True)
class Bad:
    id: str
    base: str
    edits: tuple[str, ...]
    key: str
    words: tuple[str, ...]
    #: What data.npz (next to the scenario) holds; None for no file at all.
    data: Callable[[Path], None] | None = good_npz
    marks: tuple = field(default_factory=tuple)


def bad_iterations(value: str, word: str) -> Bad:
    return Bad(f"iterations_{value}", GENERATED, ("iterations = 10", f"iterations = {value}"),
               "training.iterations", ("whole number", word))


def with_x(x: np.ndarray | None = None, d: np.ndarray | None = None) -> Callable[[Path], None]:
    arrays = good_arrays()
    return npz(x=arrays["x"] if x is None else x, d=arrays["d"] if d is None else d)


BAD = [
    bad_iterations("0", "found 0"),
    bad_iterations("-1", "found -1"),
    bad_iterations("1.5", "1.5"),
    bad_iterations('"ten"', "ten"),
    bad_iterations("true", "boolean"),
    Bad("iterations_missing", GENERATED, ("iterations = 10\n", ""), "training.iterations", ("missing",)),
    Bad("batch_size_0", GENERATED, ("batch_size = 4", "batch_size = 0"), "training.batch_size",
        ("whole number", '"all"')),
    Bad("batch_size_over_inline_x", INLINE, ("batch_size = 2", "batch_size = 4"), "training.batch_size",
        ("at most 3", "found 4")),
    Bad("batch_size_over_data", GENERATED, ("batch_size = 4", "batch_size = 21"), "training.batch_size",
        ("at most 20", "found 21")),
    Bad("batch_size_over_what_test_samples_leave", FILE, ("batch_size = 4", "batch_size = 16"),
        "training.batch_size", ("at most 15",)),
    Bad("batch_size_some", GENERATED, ("batch_size = 4", 'batch_size = "some"'), "training.batch_size",
        ("whole number", "some")),
    Bad("batch_size_float", GENERATED, ("batch_size = 4", "batch_size = 2.0"), "training.batch_size",
        ("whole number",)),
    Bad("seed_-1", GENERATED, ("seed = 0", "seed = -1"), "training.seed", ("≥ 0", "-1")),
    Bad("sampling_shuffle", GENERATED, ('sampling = "epoch"', 'sampling = "shuffle"'), "training.sampling",
        ("unknown sampling", "with_replacement")),
    Bad("unknown_training_key", GENERATED, ("seed = 0", "seed = 0\nepochs = 3"), "training.epochs",
        ("unknown key",)),
    Bad("unknown_data_key", GENERATED, ("samples = 20", "samples = 20\nshuffle = true"), "data.shuffle",
        ("unknown key",)),
    Bad("data_without_training", GENERATED,
        ('[training]\niterations = 10\nbatch_size = 4\nseed = 0\nsampling = "epoch"\n', ""),
        "training", ("missing", "[data]")),
    Bad("data_with_inline_x", GENERATED, ('learning_rate = 0.1', 'learning_rate = 0.1\nx = [[1.0, 2.0]]'),
        "x", ("not both",)),
    Bad("data_with_inline_d", GENERATED, ('learning_rate = 0.1', 'learning_rate = 0.1\nd = [[1.0]]'),
        "d", ("not both",)),
    Bad("missing_data_file", FILE, (), "data.file", ("no such file", "data.npz"), data=None),
    Bad("data_file_is_empty", FILE, (), "data.file", ("not a numpy",), data=raw(b"")),
    Bad("data_file_is_a_zip_of_text", FILE, (), "data.file", ("no array 'x'",),
        data=zip_of_text),
    # A text file is no pickle: the message should say it is not an .npz, not that it holds objects.
    Bad("data_file_is_text", FILE, (), "data.file", ("not a numpy .npz",), data=raw(b"x,d\n1,2\n")),
    # An .npy (one array) under the data.file name.
    Bad("data_file_is_npy", FILE, (), "data.file", ("single array",), data=npy),
    Bad("npz_without_x", FILE, (), "data.file", ("no array 'x'", "d"), data=npz(d=good_arrays()["d"])),
    Bad("npz_without_d", FILE, (), "data.file", ("no array 'd'",), data=npz(x=good_arrays()["x"])),
    Bad("npz_with_object_arrays", FILE, (), "data.file", ("pickle",),
        data=with_x(x=good_arrays()["x"].astype(object))),
    Bad("x_is_1d", FILE, (), "data.file", ("array x", "shape (20,)"), data=with_x(x=np.arange(20.0))),
    Bad("x_is_3d", FILE, (), "data.file", ("array x", "shape (20, 2, 2)"),
        data=with_x(x=np.zeros((20, 2, 2)))),
    Bad("x_and_d_rows_differ", FILE, (), "data.file", ("20 rows", "19"),
        data=with_x(d=good_arrays()["d"][:19])),
    Bad("d_columns_not_the_output_units", FILE, (), "data", ("3 columns", "2 units"),
        data=with_x(d=np.eye(3)[np.arange(20) % 3])),
    Bad("x_not_finite", FILE, (), "data.file", ("not finite",),
        data=with_x(x=np.where(np.eye(20, 4) > 0, np.nan, 0.5))),
    Bad("d_infinite", FILE, (), "data.file", ("array d", "not finite"),
        data=with_x(d=np.full((20, 2), np.inf))),
    Bad("x_strings", FILE, (), "data.file", ("dtype", "numbers"), data=with_x(x=np.full((20, 4), "a"))),
    Bad("x_booleans", FILE, (), "data.file", ("dtype",), data=with_x(x=np.ones((20, 4), dtype=bool))),
    Bad("test_samples_all", FILE, ("test_samples = 5", "test_samples = 20"), "data.test_samples",
        ("fewer", "20")),
    Bad("test_samples_more", FILE, ("test_samples = 5", "test_samples = 25"), "data.test_samples",
        ("fewer",)),
    Bad("test_samples_0", FILE, ("test_samples = 5", "test_samples = 0"), "data.test_samples", ("≥ 1",)),
    Bad("image_shape_wrong", FILE, ("image = [2, 2]", "image = [3, 2]"), "data.image", ("height", "4")),
    Bad("image_not_a_pair", FILE, ("image = [2, 2]", "image = [4]"), "data.image", ("[height, width]",)),
    Bad("units_0", GENERATED, ("units = 3", "units = 0"), "layers[0].units", ("whole number", "found 0")),
    Bad("init_glorot", GENERATED, ('init = "xavier"\nactivation = "tanh"', 'init = "glorot"\nactivation = "tanh"'),
        "layers[0].init", ("unknown init", "glorot")),
    Bad("W_and_units", INLINE, ('units = 1', 'units = 1\nW = [[1.0], [1.0]]'), "layers[1].W", ("not both",)),
    Bad("init_without_units", INLINE, ('activation = "relu"', 'activation = "relu"\ninit = "he"'),
        "layers[0].init", ("only with units",)),
    Bad("scale_0", GENERATED, ("units = 3", "units = 3\nscale = 0"), "layers[0].scale", ("> 0",)),
    Bad("training_without_loss", INLINE, ('loss = "mse"\n', ""), "loss", ("missing", "[training]")),
    Bad("generated_data_without_target", GENERATED, ("target = { linear = [1.0, 2.0], bias = 0.5 }\n", ""),
        "data.target", ("missing",)),
    Bad("target_linear_wrong_length", GENERATED, ("linear = [1.0, 2.0]", "linear = [1.0, 2.0, 3.0]"),
        "data.target.linear", ("2 rows",)),
    Bad("file_and_samples", FILE, ('file = "data.npz"', 'file = "data.npz"\nsamples = 20'), "data.samples",
        ("not used with data.file",)),
]


def write_bad(case: Bad, folder: Path) -> Path:
    text = replace_once(case.base, *case.edits) if case.edits else case.base
    path = folder / "bad.toml"
    path.write_text(text, "utf-8")
    if case.data is not None:
        case.data(folder / "data.npz")
    return path


def test_the_bad_cases_are_distinct():
    assert len({c.id for c in BAD}) == len(BAD)


@pytest.mark.parametrize("base", [GENERATED, INLINE, FILE], ids=["generated", "inline", "file"])
def test_the_bases_of_the_bad_cases_are_valid(base, tmp_path):
    good_npz(tmp_path / "data.npz")
    (tmp_path / "good.toml").write_text(base, "utf-8")
    sc = load_scenario(tmp_path / "good.toml")
    assert sc.training is not None
    trained(sc)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in BAD])
def test_a_bad_training_scenario_names_the_key(case, tmp_path):
    path = write_bad(case, tmp_path)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    error = caught.value
    assert error.key == case.key, str(error)
    for word in case.words:
        assert word in error.message, str(error)
    assert error.path == str(path)
    assert "\n" not in str(error)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in BAD])
def test_nnstep_train_refuses_a_bad_training_scenario_in_one_line(case, tmp_path):
    path = write_bad(case, tmp_path)
    result = cli_run("train", path)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnstep:"), result.stderr
    assert case.key in lines[0] and all(word in lines[0] for word in case.words), lines[0]


# =====================================================================================================
# 6. The command line on training runs
# =====================================================================================================


def test_train_saves_the_final_parameters(tmp_path):
    saved = tmp_path / "params.npz"
    result = cli_run("train", "sgd_regression", "--save", saved)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "iteration 1000/1000" in result.stdout
    assert f"saved W1, b1, W2, b2 to {saved}" in result.stdout
    ours = trained(load_scenario(BUNDLED["sgd_regression"])).final_layers()
    with np.load(saved, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["W1", "W2", "b1", "b2"]
        shapes = {"W1": (2, 10), "b1": (10,), "W2": (10, 1), "b2": (1,)}
        for name, shape in shapes.items():
            assert archive[name].shape == shape
            layer = ours[int(name[1]) - 1]
            assert same_bits(archive[name], layer.W if name[0] == "W" else layer.b), name


def test_train_prints_train_and_test_accuracy():
    result = cli_run("train", "digits_minibatch")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "iteration 600/600" in out
    train_line = next(l for l in out.splitlines() if l.startswith("final parameters on the 1500 training"))
    test_line = next(l for l in out.splitlines() if l.startswith("on the 297 held-out test samples"))
    for line in (train_line, test_line):
        accuracy = float(line.rsplit("accuracy ", 1)[1].rstrip("%"))
        assert accuracy > 90, line


def test_trace_json_shows_the_iterations_asked_for():
    result = cli_run("trace", "sgd_regression", "--iterations", "3:4", "--format", "json")
    assert result.returncode == 0, result.stderr
    steps = json.loads(result.stdout)["steps"]
    assert {s["iteration"] for s in steps} == {3, 4}
    training = Session(load_scenario(BUNDLED["sgd_regression"]))
    training.advance(3)
    want = list(training.iteration(3).steps) + list(training.iteration(4).steps)
    assert len(steps) == len(want)
    assert [s["iteration"] for s in steps] == [s.iteration for s in want]
    for got, step in zip(steps, want):
        assert got["name"] == step.name and got["phase"] == step.phase
        assert same_bits(np.asarray(got["value"], dtype=np.float64), step.value), step.name
        for key, value in step.inputs.items():
            assert same_bits(np.asarray(got["inputs"][key], dtype=np.float64), value), (step.name, key)


@pytest.mark.parametrize("arg", ["0:2", "5:3", "x", "1001", "999:1001", "1000:1001", "1001:"])
def test_trace_refuses_iterations_outside_the_run(arg):
    result = cli_run("trace", "sgd_regression", "--iterations", arg, "--format", "json")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2
    assert result.stdout == ""


def test_trace_of_the_last_iteration_works():
    result = cli_run("trace", "batch_regression", "--iterations", "500:", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert {s["iteration"] for s in json.loads(result.stdout)["steps"]} == {500}


@pytest.mark.parametrize("name, iteration", [("sgd_regression", 1), ("sgd_regression", 1000),
                                             ("batch_regression", 250), ("digits_minibatch", 600)])
def test_check_an_iteration_of_a_training_run(name, iteration):
    result = cli_run("check", name, "--iteration", iteration)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"iteration {iteration} of " in result.stdout
    assert "all 6 gradients agree" in result.stdout


def test_check_refuses_an_iteration_past_the_end():
    result = cli_run("check", "sgd_regression", "--iteration", "1001")
    assert result.returncode == 2
    assert result.stderr.startswith("nnstep:") and "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["sgd_regression", "batch_regression", "digits_minibatch"])
def test_there_is_no_iteration_beyond_the_run(name):
    training = Session(load_scenario(find_bundled(name)))
    training.run_all()
    for i in (0, training.iterations + 1):
        with pytest.raises(IndexError, match=f"iterations 1 to {training.iterations}"):
            training.iteration(i)


def test_json_trace_names_each_iterations_batch_rows():
    result = cli_run("trace", "digits_minibatch", "--iterations", "2:3", "--format", "json")
    doc = json.loads(result.stdout)
    training = Session(load_scenario(find_bundled("digits_minibatch")))
    training.advance(3)
    assert [it["iteration"] for it in doc["iterations"]] == [2, 3]
    for it in doc["iterations"]:
        rows = training.sample_numbers(it["iteration"])
        assert it["batch_rows"] == [int(r) for r in rows]
        # The batch in the trace is those rows of the training set.
        x = next(s for s in doc["steps"] if s["iteration"] == it["iteration"] and s["name"] == "u1")["inputs"]["x"]
        assert np.array_equal(np.array(x), training.scenario.x[rows])
        assert f"rows {rows[0] + 1}, " in it["note"]


def test_epoch_batches_that_span_two_passes_say_so():
    text = EPOCH_SPAN
    training = Session(parse_scenario(text, "span.toml"))
    training.advance(6)
    # 40 samples in batches of 7: iteration 6 takes rows 36-40 of pass 1 and two of pass 2.
    assert "the last rows of shuffled pass 1 and the first of pass 2" in training.iteration(6).note
    assert "the next rows of shuffled pass 1" in training.iteration(5).note


EPOCH_SPAN = """
loss = "mse"
learning_rate = 0.1
[training]
iterations = 10
batch_size = 7
sampling = "epoch"
[data]
samples = 40
inputs = { features = 2 }
target = { linear = [1.0, 2.0] }
[[layers]]
units = 3
activation = "tanh"
[[layers]]
units = 1
activation = "identity"
"""


def test_prefetch_on_another_thread_keeps_the_stretch_below_and_changes_nothing():
    import threading

    from nnstep.engine.session import RECENT_STRETCH

    scenario = mode_scenario("regression", "5", "epoch", iterations=120)
    reference, _ = straight_recording(scenario, batches_of(scenario))
    training = Session(scenario, checkpoint_every=50)
    training.run_all()
    training.iteration(101)  # a checkpoint starts iteration 101: the stretch below is in the one before
    assert 100 not in training._recent
    worker = threading.Thread(target=training.prefetch, args=(101,))
    worker.start()
    got = {i: training.iteration(i) for i in (60, 101, 30)}  # while the prefetch runs
    worker.join()
    assert {100, 101 - RECENT_STRETCH} <= set(training._recent)
    for i in (100, 99, 85, 60, 101, 30):
        assert_same_steps((got.get(i) or training.iteration(i)).steps, reference[i - 1], f"iteration {i}")


def test_check_does_not_pass_gradients_too_small_for_the_loss_to_resolve(tmp_path):
    """A diverged run's loss of about 1e73 swamps central differences: the check must not say pass."""
    text = (Path(find_bundled("sgd_regression")).read_text(encoding="utf-8")
            .replace("learning_rate = 0.07", "learning_rate = 3"))
    path = tmp_path / "diverge.toml"
    path.write_text(text, encoding="utf-8")
    result = cli_run("check", path, "--iteration", "100")
    assert result.returncode == 1, result.stdout
    assert "NOT CHECKED: delta2, grad_b2: the loss is 2.22e+73" in result.stdout
    assert "n/a" in result.stdout and "all 6 gradients agree" not in result.stdout
    early = cli_run("check", path, "--iteration", "5")  # before it blows up: a normal pass
    assert early.returncode == 0 and "all 6 gradients agree" in early.stdout


def _diverging_try_it(tmp_path) -> Path:
    """The course's try-it on sgd_regression: inputs from −5 to 5, which diverges within ten iterations."""
    text = Path(find_bundled("sgd_regression")).read_text(encoding="utf-8")
    text = re.sub(r"low = [-0-9.]+", "low = -5.0", text)
    text = re.sub(r"high = [-0-9.]+", "high = 5.0", text)
    path = tmp_path / "try_it.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_check_says_not_checked_where_the_numbers_overflowed(tmp_path):
    """An iteration whose loss and gradients are inf or nan has nothing to check: NOT CHECKED, not FAILED."""
    path = _diverging_try_it(tmp_path)
    training = Session(load_scenario(path))
    training.run_all()
    bad = int(np.flatnonzero(~np.isfinite(training.losses))[0]) + 1
    result = cli_run("check", path, "--iteration", str(bad))
    assert result.returncode == 1, result.stdout
    assert "FAILED" not in result.stdout and "FAIL\n" not in result.stdout
    assert "NOT CHECKED: delta2, grad_W2, grad_b2, delta1, grad_W1, grad_b1: these gradients or their finite " \
           "differences are not finite (inf or nan)" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith(("delta", "grad_"))]
    assert rows and all(row[-1] == "n/a" for row in rows)


def test_json_tells_inf_from_nan(tmp_path):

    path = _diverging_try_it(tmp_path)
    doc = json.loads(cli_run("trace", path, "--iterations", "8:12", "--format", "json").stdout)
    written = {v for step in doc["steps"] for v in np.ravel(np.array(step["value"], dtype=object)).tolist()
               if isinstance(v, str)}
    assert written <= {"inf", "-inf", "nan"} and {"nan"} <= written
    assert not any(v is None for step in doc["steps"] for v in np.ravel(np.array(step["value"], dtype=object)))
    # an overflow that went to +inf on the way is written "inf", a later undefined result "nan"
    assert "inf" in written or "-inf" in written


def test_one_iteration_is_said_in_the_singular(tmp_path):
    text = Path(find_bundled("batch_regression")).read_text(encoding="utf-8")
    path = tmp_path / "once.toml"
    path.write_text(re.sub(r"iterations = \d+", "iterations = 1", text), encoding="utf-8")
    out = cli_run("trace", path).stdout
    assert "training: 1 iteration of batch gradient descent" in out and "1 iterations" not in out
    from nnstep.tui.picker import entries

    (entry,) = [e for e in entries(tmp_path) if e.path.name == "once.toml"]
    assert entry.loss == "mse, 1 iteration"


def test_the_readme_quotes_nnstep_train_as_it_prints():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    quoted = next(line.strip() for line in readme.splitlines() if line.strip().startswith("iteration 600/600"))
    out = cli_run("train", "digits_minibatch").stdout
    assert quoted in out.splitlines()
    assert "accuracy 96.7%" in out and "accuracy 98.0%" in out  # the README's train and test figures
    assert "96.7 %" in readme and "98.0 %" in readme
