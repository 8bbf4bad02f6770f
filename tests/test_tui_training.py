"""The debugger on training runs: iterations, time travel across their boundaries, the plot, the heatmap,
and the straight run computed on a worker while the screen answers keys."""

from __future__ import annotations

import math
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from nnstep.engine.bundled import find_bundled
from nnstep.engine.scenario import load_scenario, parse_scenario
from nnstep.engine.session import Session
from nnstep.tui.image_pane import ImagePane
from nnstep.tui.loss_pane import LOSS_ROWS, LossPane
from nnstep.tui.operation_pane import OperationPane
from nnstep.tui.values_pane import ValuesPane
from tui_helpers import SIZE, make_app, screen, shown


def reference(name: str) -> Session:
    training = Session(load_scenario(find_bundled(name)), checkpoint_every=10**9)  # one checkpoint: all recomputed
    training.run_all()
    return training


def at(app):
    s = app.screen
    return s.iteration, s.position


async def test_stepping_crosses_iteration_boundaries_both_ways(until_trained):
    app = make_app("sgd_regression")
    ref = reference("sgd_regression")
    async with app.run_test(size=SIZE) as pilot:
        await until_trained(pilot)
        last = app.screen.last
        for _ in range(last + 1):
            await pilot.press("n")
        assert at(app) == (1, last)
        await pilot.press("n")
        assert at(app) == (2, -1)
        assert shown(app.screen.query_one(OperationPane)).startswith("Start of iteration 2 of 1000. Stochastic gradient descent")
        await pilot.press("n")
        step = app.screen.run.steps[0]
        assert step.iteration == 2 and step.value.tobytes() == ref.iteration(2).steps[0].value.tobytes()
        await pilot.press("p", "p")
        assert at(app) == (1, last)
        assert app.screen.run.steps[last].value.tobytes() == ref.iteration(1).steps[last].value.tobytes()
        assert "→ b2 after" in shown(app.screen.query_one(ValuesPane))


async def test_next_and_previous_iteration_keep_the_step(until_trained):
    app = make_app("digits_minibatch")
    ref = reference("digits_minibatch")
    async with app.run_test(size=SIZE) as pilot:
        await until_trained(pilot)
        await pilot.press(*["n"] * 9)
        assert at(app) == (1, 8)
        await pilot.press("full_stop", "full_stop", "full_stop")
        assert at(app) == (4, 8)
        assert app.screen.query_one(OperationPane).border_title.startswith("Operation · iteration 4/600 · step 9/15")
        assert app.screen.run.steps[8].value.tobytes() == ref.iteration(4).steps[8].value.tobytes()
        await pilot.press("comma")
        assert at(app) == (3, 8)
        assert app.screen.query_one(LossPane).border_title.startswith("Loss · iteration 3/600 · batch loss")
        for _ in range(3):
            await pilot.press("comma")
        assert at(app) == (1, 8)  # no iteration 0: it stays, and says so


async def test_go_to_iteration_dialog(until_trained):
    app = make_app("sgd_regression")
    ref = reference("sgd_regression")
    async with app.run_test(size=SIZE) as pilot:
        await until_trained(pilot)
        await pilot.press("i", "0", "enter")
        assert "not one of them" in str(app.screen.query_one("#iteration-error").render())
        await pilot.press("escape")
        assert at(app) == (1, -1)
        await pilot.press("i", "5", "3", "7", "enter")
        assert at(app) == (537, -1)
        await pilot.press("n")
        assert app.screen.run.steps[0].value.tobytes() == ref.iteration(537).steps[0].value.tobytes()
        loss = app.screen.query_one(LossPane)
        assert loss.border_title == f"Loss · iteration 537/1000 · batch loss {ref.losses[536]:.4g}"


async def test_stepping_back_across_iterations_restores_every_screen(until_trained):
    app = make_app("digits_minibatch")
    async with app.run_test(size=(100, 30)) as pilot:
        await until_trained(pilot)
        await pilot.press(*["n"] * 12)
        seen = {}
        for _ in range(12):
            await pilot.press("n")
            await pilot.pause()
            seen[at(app)] = screen(app)
        assert app.screen.iteration == 2
        keys = list(seen)
        for where in reversed(keys[:-1]):
            await pilot.press("p")
            await pilot.pause()
            assert at(app) == where
            assert screen(app) == seen[where], f"{where} looks different on the way back"


async def test_phase_keys_and_continue_cross_into_the_next_iteration(until_trained):
    app = make_app("batch_regression")
    async with app.run_test(size=SIZE) as pilot:
        await until_trained(pilot)
        for _ in range(4):
            await pilot.press("right_square_bracket")
        assert at(app) == (1, 11)  # the update phase
        await pilot.press("right_square_bracket")
        assert at(app) == (2, -1)
        await pilot.press("left_square_bracket")
        assert at(app) == (1, 11)
        await pilot.press("g", *["n"] * 6, "b")  # a breakpoint on step 6 (delta2), in every iteration
        await pilot.press("c")
        assert at(app) == (2, 5)
        await pilot.press("c")
        assert at(app) == (3, 5)


async def test_replay_runs_on_into_the_next_iteration(until_trained):
    app = make_app("sgd_regression")
    async with app.run_test(size=SIZE) as pilot:
        await until_trained(pilot)
        await pilot.press("G")
        screen_ = app.screen
        screen_.action_play()
        screen_._replay_tick()
        assert at(app) == (2, -1) and screen_.playing
        screen_._replay_tick()
        assert at(app) == (2, 0)
        await pilot.press("space")
        assert not screen_.playing


async def test_heatmap_shows_the_batch_with_labels_then_guesses(until_trained):
    app = make_app("digits_minibatch")
    async with app.run_test(size=SIZE) as pilot:
        await until_trained(pilot)
        pane = app.screen.query_one(ImagePane)
        d = app.screen.run.d
        labels = [f"d={k}" for k in np.argmax(d, axis=1)[:4]]
        assert pane.border_title == "Input x · first 4 of 100 images"
        assert shown(pane).split("\n")[-1].split() == labels
        await pilot.press(*["n"] * 4)  # y = softmax(u2)
        guesses = np.argmax(app.screen.run.steps[3].value, axis=1)[:4]
        assert shown(pane).split("\n")[-1].split() == [w for pair in zip(labels, (f"y={g}" for g in guesses))
                                                       for w in pair]
        assert shown(pane).count("▀") == 4 * 8 * 4


LONG = """
loss = "mse"
learning_rate = 0.01
[training]
iterations = 60000
batch_size = 16
[data]
samples = 2000
inputs = { distribution = "uniform", features = 30 }
target = { linear = [%s], bias = 1.0 }
[[layers]]
units = 64
init = "he"
activation = "tanh"
[[layers]]
units = 1
init = "xavier"
activation = "identity"
""" % ", ".join(["0.1"] * 30)


async def test_a_long_first_run_shows_progress_and_answers_keys_meanwhile(until_trained):
    from nnstep.tui.app import NNStepApp

    training = Session(parse_scenario(LONG, "long.toml"))
    app = NNStepApp(session=training)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not training.done  # still computing on the worker thread
        await pilot.press("n", "n")
        assert at(app) == (1, 1)  # the keys were answered meanwhile
        await pilot.press("i", *"59999", "enter")
        loss = app.screen.query_one(LossPane)
        if not training.done:
            assert "computing" in shown(loss)
            assert app.screen.view.pending == (59999, 1)
        await until_trained(pilot)
        await pilot.pause()
        assert at(app) == (59999, 1)  # it went there once the run got there
        assert "computing" not in shown(loss)


async def test_the_palette_offers_the_iteration_commands_on_a_training_run(until_trained):
    app = make_app("sgd_regression")
    async with app.run_test(size=SIZE) as pilot:
        await until_trained(pilot)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert {"Training: the same step of the next iteration", "Training: go to iteration N"} <= set(commands)
        await commands["Training: the same step of the next iteration"].callback()
        assert at(app) == (2, -1)


HEAVY = LONG.replace("features = 30", "features = 200").replace(", ".join(["0.1"] * 30), ", ".join(["0.01"] * 200)) \
    .replace("units = 64", "units = 256").replace("batch_size = 16", "batch_size = 64") \
    .replace("iterations = 60000", "iterations = 4000")


async def test_a_waiting_jump_shows_and_any_move_cancels_it(until_trained):
    from nnstep.tui.app import NNStepApp

    training = Session(parse_scenario(HEAVY, "heavy.toml"))
    # The straight run waits at a gate until the test opens it: a long run, on any machine.
    gate, advance = threading.Event(), training.advance
    training.advance = lambda n=None: gate.wait(10) and advance(n)
    app = NNStepApp(session=training)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("i", *"3999", "enter")
        operation = app.screen.query_one(OperationPane)
        assert not training.done and app.screen.view.pending == (3999, -1)
        assert operation.border_subtitle.startswith("⧗ going to iteration 3999 when computed")
        await pilot.press("n")
        assert app.screen.view.pending is None and at(app) == (1, 0)
        assert "going to iteration" not in operation.border_subtitle
        gate.set()
        await until_trained(pilot)
        assert at(app) == (1, 0)  # the cancelled jump never happens


@pytest.mark.parametrize("size", [(100, 30), (109, 36), (80, 24)])
async def test_the_heatmap_stays_when_the_network_pane_goes(size, until_trained):
    app = make_app("digits_minibatch")
    async with app.run_test(size=size) as pilot:
        await until_trained(pilot)
        assert not app.screen.query_one("#network").display
        pane = app.screen.query_one(ImagePane)
        assert pane.display and pane.size.height > 0
        assert "d=" in shown(pane)


async def test_under_30_rows_the_plot_is_compact_and_the_parameters_pane_goes(until_trained):
    app = make_app("sgd_regression")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_trained(pilot)
        loss = app.screen.query_one(LossPane)
        assert loss.compact and loss.outer_size.height == 2 + 2
        assert loss.border_title == f"Loss · 1/1000 · {app.screen.training.losses[0]:.4g}"
        assert not app.screen.query_one("#params").display
        await pilot.press(*["right_square_bracket"] * 4)  # the first update step: Values shows before and after
        values = shown(app.screen.query_one(ValuesPane))
        assert "→ W1 after" in values and "change" in values and "W1 before" in values


DIVERGING = LONG.replace("iterations = 60000", "iterations = 200").replace("learning_rate = 0.01",
                                                                          "learning_rate = 40.0")


async def test_a_diverging_run_is_marked_in_the_plot(until_trained):
    from nnstep.tui.app import NNStepApp

    training = Session(parse_scenario(DIVERGING, "diverging.toml"))
    app = NNStepApp(session=training)
    async with app.run_test(size=SIZE) as pilot:
        await until_trained(pilot)
        first = int(np.flatnonzero(~np.isfinite(training.losses))[0]) + 1
        loss = app.screen.query_one(LossPane)
        assert loss.border_subtitle.startswith(f"✕ not finite from iteration {first}")
        assert "✕" in shown(loss)


def test_with_no_finite_column_to_scale_a_not_finite_one_is_still_drawn():
    from nnstep.tui.loss_pane import _scale

    height, legend = _scale(np.array([]))
    assert height(math.inf) == math.inf  # a ✕ at full height
    assert height(math.nan) is None  # not computed yet: nothing
    assert legend == ""


async def test_a_run_that_diverges_inside_the_first_column_draws_its_crosses(tmp_path, until_trained):
    """The course's try-it: inputs from −5 to 5 make sgd_regression diverge at iteration 9, inside the
    plot's first column, so that no column has a finite mean; every column is a ✕ all the same."""
    from nnstep.tui.app import NNStepApp

    text = find_bundled("sgd_regression").read_text(encoding="utf-8")
    wide = text.replace("low = 0.0, high = 1.0", "low = -5.0, high = 5.0")
    assert wide != text
    path = tmp_path / "sgd_wide_inputs.toml"
    path.write_text(wide, encoding="utf-8")
    session = Session(load_scenario(path))
    app = NNStepApp(session=session, folder=tmp_path, keymap_file=tmp_path / "no-keymap.toml")
    async with app.run_test(size=SIZE) as pilot:
        await until_trained(pilot)
        assert int(np.flatnonzero(~np.isfinite(session.losses))[0]) + 1 == 9
        loss = app.screen.query_one(LossPane)
        assert loss.border_subtitle.startswith("✕ not finite from iteration 9")
        bars = shown(loss).splitlines()[:LOSS_ROWS]
        assert all(row and set(row) == {"✕"} for row in bars), bars


def _rows_without_parameters_pane() -> tuple[int, int]:
    """What the README says: below how many rows the Parameters pane goes, and below how many in a
    training run (whose loss plot takes the rows)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    said = re.search(r"below (\d+) rows \((\d+) in a training run[^)]*\) the Parameters pane goes", readme)
    assert said, "the README says below how many rows the Parameters pane goes"
    return int(said[1]), int(said[2])


@pytest.mark.parametrize("name", ["classify_2_3_4", "sgd_regression", "digits_minibatch"])
async def test_the_parameters_pane_goes_below_the_rows_the_readme_says(name):
    plain, training = _rows_without_parameters_pane()
    rows = training if load_scenario(find_bundled(name)).training is not None else plain
    app = make_app(name)
    async with app.run_test(size=(120, rows)) as pilot:
        await pilot.pause()
        params = app.screen.query_one("#params")
        assert params.display and params.size.height > 0
        await pilot.resize_terminal(120, rows - 1)
        await pilot.pause()
        assert not params.display


async def test_a_ten_unit_vector_shows_every_entry(until_trained):
    app = make_app("sgd_regression")
    async with app.run_test(size=SIZE) as pilot:
        await until_trained(pilot)
        await pilot.press("n")
        u1 = app.screen.run.steps[0].value
        values = shown(app.screen.query_one(ValuesPane))
        for v in u1:
            assert f"{v:.4f}" in values
        assert "…" not in values.split("read")[0]


def test_the_heatmaps_grey_range_is_the_whole_data_sets(tmp_path):
    """The grey levels span the data set, not the first batch, so that images compare across batches."""
    x = np.array([[0.0, 1.0, 2.0, 3.0], [0.0, 0.5, 0.5, 0.0], [4.0, 8.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    d = np.eye(2)[[0, 1, 0, 1]]
    np.savez(tmp_path / "tiny.npz", x=x, d=d)
    (tmp_path / "tiny.toml").write_text(
        'loss = "cross_entropy"\nlearning_rate = 0.1\n[training]\niterations = 8\nbatch_size = 1\n'
        '[data]\nfile = "tiny.npz"\nimage = [2, 2]\n[[layers]]\nunits = 2\nactivation = "softmax"\n',
        encoding="utf-8")
    session = Session(load_scenario(tmp_path / "tiny.toml"))
    session.run_all()
    # an iteration whose batch alone would give another range
    other = next(it for it in map(session.iteration, range(1, 9)) if float(it.x.max()) < 8.0)
    pane = ImagePane(other)
    assert (pane.low, pane.high) == (0.0, 8.0)


async def test_the_plot_marker_never_lands_on_its_caption():
    app = make_app("digits_minibatch")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        loss = app.screen.query_one(LossPane)
        for width in (40, 60, 76, 100):
            for current in range(width):
                line = loss._caption(width, 600, 600, current).plain
                assert line[current] == "▲" and line.count("▲") == 1
                # Nothing of the caption touches the marker: a space (or the edge) on each side.
                assert all(line[i] == " " for i in (current - 1, current + 1) if 0 <= i < width), (width, current, line)
