"""The compare overlay in the app: the user's own arrays (MINE) opened with m, each step marked in the Steps
list, d to the first difference, theirs under ours in the Values pane with the differing cells highlighted,
the likely mistake in the Operation pane; a bad file said in the dialog; a training run compared again at
each iteration. Driven with Pilot at 120×36 and 80×24, as a student at the keyboard would."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nnstep.engine.bundled import find_bundled
from nnstep.engine.compare import MineError, compare, read_mine
from nnstep.engine.formats import render_json
from nnstep.engine.numbers import exact
from nnstep.engine.scenario import load_scenario
from nnstep.engine.session import Session
from nnstep.tui import navigation
from nnstep.tui.comparing import load
from nnstep.tui.launch import _app, _mine_argument
from nnstep.tui.mine_dialog import MineDialog
from nnstep.tui.operation_pane import OperationPane
from nnstep.tui.steps_pane import CURRENT, MARKS, StepsPane
from nnstep.tui.values_pane import ValuesPane
from tui_helpers import SIZE, bundled_run, make_app, shown, wait_for

SMALL = (80, 24)


def trace_arrays(runs) -> dict[str, list[dict[str, np.ndarray]]]:
    """The engine's own JSON trace, read back: per iteration, every step's array by name."""
    doc = json.loads(render_json(runs))
    out: dict[int, dict[str, np.ndarray]] = {}
    for s in doc["steps"]:
        out.setdefault(s.get("iteration", 1), {})[s["name"]] = np.array(s["value"], dtype=float)
    return [out[k] for k in sorted(out)]


def wrong_sign(path, name: str = "backprop_2_3_2"):
    """MINE with a planted mistake: W1 updated with the wrong sign (W1 + learning_rate·grad_W1); the rest
    is the engine's own trace."""
    run = bundled_run(name)
    arrays = trace_arrays(run)[0]
    update = next(s for s in run.steps if s.name == "W1" and s.kind == "update")
    arrays["W1"] = 2 * update.inputs["W1"] - arrays["W1"]
    np.savez(path, **arrays)
    return run, update


@pytest.fixture
def planted(tmp_path, monkeypatch):
    """In tmp_path, mine.npz with W1 updated with the wrong sign: (the run, W1's update step, the app)."""
    monkeypatch.chdir(tmp_path)
    run, update = wrong_sign(tmp_path / "mine.npz")
    return run, update, make_app("backprop_2_3_2", folder=tmp_path)


async def open_mine(pilot, path: str) -> None:
    """m, the path, Enter."""
    await pilot.press("m")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, MineDialog))
    await pilot.press(*path)
    await pilot.press("enter")


def debugger(app):
    return app.screen_stack[1] if len(app.screen_stack) > 1 else app.screen


async def compared(pilot, path: str):
    """Open ``path`` with m and wait until the debugger compares it; the debugger screen."""
    await open_mine(pilot, path)
    screen = debugger(pilot.app)
    await wait_for(pilot, lambda: pilot.app.screen is screen and screen.overlay is not None)
    return screen


@pytest.mark.parametrize("size", [SIZE, SMALL])
async def test_a_planted_mistake_is_marked_jumped_to_and_explained(tmp_path, monkeypatch, size):
    monkeypatch.chdir(tmp_path)
    run, update = wrong_sign(tmp_path / "mine.npz")
    expected = compare(run, read_mine(str(tmp_path / "mine.npz"), run))
    result = next(r for r in expected.arrays if r.name == "W1")
    assert result.status == "differs" and result.cause  # the engine finds it: the app must show it
    app = make_app("backprop_2_3_2", folder=tmp_path)
    async with app.run_test(size=size) as pilot:
        screen = await compared(pilot, "mine.npz")  # relative: from the current directory
        steps = screen.query_one(StepsPane)
        assert steps.marks == {s.index: "differs" if s.index == update.index else "match" for s in run.steps}
        assert "yours: mine.npz" in screen.sub_title
        for s in run.steps:
            row = steps.row_text(steps.row_of(s.index)).plain
            assert f"{s.index + 1:>3} {MARKS[steps.marks[s.index]]} {s.formula}" in row
        await pilot.press("d")
        await wait_for(pilot, lambda: screen.position == update.index)
        row = steps.row_text(steps.row_of(update.index)).plain
        assert row.startswith(CURRENT) and "✗" in row  # the compare mark beside ▶, not over it
        values = shown(screen.query_one(ValuesPane))
        assert "\n  yours " in values and "W1 after" in values
        theirs = np.asarray(result.theirs)
        assert f"{theirs[0, 0]:.4f}" in values and f"{update.value[0, 0]:.4f}" in values
        operation = " ".join(shown(screen.query_one(OperationPane)).split())
        assert f"ours {exact(result.ours_at)}, yours {exact(result.theirs_at)}" in operation
        assert " ".join(result.cause.split()) in operation
        assert "the first step that differs" in operation


async def test_the_differing_cells_are_highlighted_in_theirs(tmp_path, planted):
    run, update, app = planted
    async with app.run_test(size=SIZE) as pilot:
        screen = await compared(pilot, "mine.npz")
        await pilot.press("d")
        values = screen.query_one(ValuesPane)
        await wait_for(pilot, lambda: values.position == update.index)
        mine = next(s for s in values.shown_at(update.index) if s.name == "W1 yours")
        assert mine.theirs and mine.differs is not None and mine.differs.all()
        # Cells that match are not marked: the gradient they gave is ours.
        grad = next(s for s in values.shown_at(update.index) if s.name == "grad_W1 yours")
        assert not grad.differs.any()
        differs = values.get_component_rich_style("array--differs").bgcolor
        assert differs is not None  # from the theme ($error), not a literal
        # The cursor on their cell: its value in the border, ours beside it in the Operation pane.
        await pilot.press("tab", "tab")
        await wait_for(pilot, lambda: values.has_focus and screen.view.cell is not None)
        await pilot.press("j", "j")
        await wait_for(pilot, lambda: screen.view.cell.name == "W1 yours")
        operation = " ".join(shown(screen.query_one(OperationPane)).split())
        theirs = np.load(tmp_path / "mine.npz")["W1"]
        assert f"W1[0,0] yours = {exact(theirs[0, 0])}, ours = {exact(update.value[0, 0])}: they differ" in operation


async def test_a_file_that_cannot_be_read_says_why_in_the_dialog(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.npz").write_bytes(b"not a zip at all")
    run = bundled_run("backprop_2_3_2")
    with pytest.raises(MineError) as error:
        read_mine("bad.npz", run)
    app = make_app("backprop_2_3_2", folder=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_mine(pilot, "bad.npz")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, MineDialog)  # still open, for another try
        assert shown(dialog.query_one("#mine-error")).strip() == str(error.value)
        await pilot.press("escape")
        screen = debugger(app)
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.overlay is None and screen.query_one(StepsPane).marks is None


async def test_m_again_reads_the_file_anew_or_closes_the_comparison(tmp_path, planted):
    run, update, app = planted
    async with app.run_test(size=SIZE) as pilot:
        screen = await compared(pilot, "mine.npz")
        # The student fixes the update and saves again: Enter on the same path reads it anew.
        np.savez(tmp_path / "mine.npz", **trace_arrays(run)[0])
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MineDialog))
        assert app.screen.query_one("#mine-input").value == "mine.npz"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen and "differs" not in screen.query_one(StepsPane).marks.values())
        await pilot.press("d")
        await pilot.pause()
        assert screen.position == -1  # nothing differs: the cursor stays, a notice says so
        # An empty path closes the comparison.
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MineDialog))
        app.screen.query_one("#mine-input").value = ""
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen and screen.overlay is None)
        assert screen.query_one(StepsPane).marks is None and "yours" not in screen.sub_title
        assert "W1 yours" not in " ".join(s.name for s in screen.query_one(ValuesPane).shown_at(update.index))


async def test_a_training_run_is_compared_again_at_each_iteration(tmp_path, monkeypatch, until_trained):
    monkeypatch.chdir(tmp_path)
    session = Session(load_scenario(find_bundled("sgd_regression")))
    session.advance(1)
    runs = [session.iteration(1), session.iteration(2)]
    doc = json.loads(render_json(runs))
    flipped = next(s for s in doc["steps"] if s.get("iteration") == 2 and s["name"].startswith("delta"))
    flipped["value"] = (-np.array(flipped["value"])).tolist()  # the delta's sign flipped, in iteration 2 only
    (tmp_path / "trace.json").write_text(json.dumps(doc), encoding="utf-8")
    assert compare(runs[1], read_mine("trace.json", runs[1])).first_divergence == flipped["name"]
    app = make_app("sgd_regression", folder=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until_trained(pilot)
        screen = await compared(pilot, "trace.json")
        steps = screen.query_one(StepsPane)
        assert set(steps.marks.values()) == {"match"}
        await pilot.press("full_stop")  # the same step of iteration 2
        await wait_for(pilot, lambda: screen.iteration == 2 and screen.overlay.iteration.number == 2)
        index = next(s.index for s in runs[1].steps if s.name == flipped["name"])
        assert steps.marks[index] == "differs"
        await pilot.press("d")
        await wait_for(pilot, lambda: screen.position == index)


def test_nnstep_file_mine_opens_the_comparison_or_refuses_a_bad_mine(tmp_path, capsys):
    wrong_sign(tmp_path / "mine.npz")
    assert _mine_argument(["backprop_2_3_2", "--mine", "m.npz"]) == (["backprop_2_3_2"], "m.npz")
    assert _mine_argument(["backprop_2_3_2", "--mine=m.npz"]) == (["backprop_2_3_2"], "m.npz")
    assert "needs the path" in _mine_argument(["backprop_2_3_2", "--mine"])
    assert "needs a scenario FILE" in _mine_argument(["--mine", "m.npz"])
    app = _app(["backprop_2_3_2", "--mine", str(tmp_path / "mine.npz")])
    assert app.first_overlay is not None and app.first_overlay.first_divergence is not None
    (tmp_path / "empty.txt").write_text("")
    assert _app(["backprop_2_3_2", "--mine", str(tmp_path / "empty.txt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnstep: ") and err.count("\n") == 1 and "empty" in err


def test_the_first_difference_move():
    ctx = navigation.Context(last=14, formulas=tuple(f"f{i}" for i in range(15)))
    view = navigation.View()
    assert "opens a file" in navigation.first_difference(view, ctx, None, None).notices[0].text
    none = navigation.first_difference(view, ctx, None, "mine.npz")
    assert none.view == view and "Nothing in mine.npz differs" in none.notices[0].text
    moved = navigation.first_difference(view, ctx, 11, "mine.npz")
    assert moved.view.position == 11 and "step 12, f11" in moved.notices[-1].text


def test_a_shape_mismatch_says_both_shapes(tmp_path):
    run = bundled_run("backprop_2_3_2")
    arrays = trace_arrays(run)[0]
    arrays["grad_W2"] = arrays["grad_W2"].T.copy()  # (2×3) where ours is (3×2)
    np.savez(tmp_path / "mine.npz", **arrays)
    overlay = load(str(tmp_path / "mine.npz"), run)
    step = next(s for s in run.steps if s.name == "grad_W2")
    theirs = overlay.theirs_result(step)
    assert theirs.shapes == ((3, 2), (2, 3)) and theirs.differing is None
    assert overlay.marks()[step.index] == "differs"
