"""Every number explained, in the app: the Values pane's cell cursor over every cell (elided ones too), the
explanation of a result cell in the Operation pane, the cells it read highlighted, the chain from the loss;
driven with Pilot at 120×36 and 80×24, as a student at the keyboard would."""

from __future__ import annotations

import time

import numpy as np
import pytest

from nnstep.engine.explain import chain, explain
from nnstep.engine.numbers import exact
from nnstep.engine.scenario import parse_scenario
from nnstep.engine.session import Session
from nnstep.tui.arrays import _cell, number_format
from nnstep.tui.cursor import index_label
from nnstep.tui.operation_pane import OperationPane
from nnstep.tui.params_pane import ParamsPane
from nnstep.tui.values_pane import ValuesPane
from tui_helpers import ONE_ITERATION, SIZE, make_app, shown, wait_for

SMALL = (80, 24)


def app_on(text: str, tmp_path):
    """The app on a scenario given as TOML text."""
    from nnstep.tui.app import NNStepApp

    return NNStepApp(session=Session(parse_scenario(text, "explain.toml")), folder=tmp_path,
                     keymap_file=tmp_path / "none")


def wide_scenario(rows: int = 4, inputs: int = 8, units: int = 10) -> str:
    """A network whose arrays are wider (and taller) than the Values pane: x (rows×inputs), W1 (inputs×units)."""
    rng = np.random.default_rng(rows * 1000 + inputs * 10 + units)
    x = rng.normal(size=(rows, inputs)).round(2)
    w1 = rng.normal(size=(inputs, units)).round(2)
    w2 = rng.normal(size=(units, 2)).round(2)
    d = rng.normal(size=(rows, 2)).round(2)
    return (f'loss = "mse"\nlearning_rate = 0.1\nx = {x.tolist()}\nd = {d.tolist()}\n'
            f'[[layers]]\nW = {w1.tolist()}\nb = {rng.normal(size=units).round(2).tolist()}\nactivation = "relu"\n'
            f'[[layers]]\nW = {w2.tolist()}\nb = [0.1, -0.1]\nactivation = "identity"\n')


def norm(text: str) -> str:
    return " ".join(text.split())


def parts(app):
    s = app.screen
    return s.query_one(OperationPane), s.query_one(ValuesPane), s.query_one(ParamsPane)


async def focus_values(pilot) -> None:
    values = pilot.app.screen.query_one(ValuesPane)
    for _ in range(6):
        if values.has_focus:
            break
        await pilot.press("tab")
    assert values.has_focus and pilot.app.screen.view.cell is not None


def on_screen(values, style_name: str) -> list[tuple[int, str]]:
    """The pieces of the Values pane in view drawn in ``style_name``'s background: (line on screen, text)."""
    bg = values.get_component_rich_style(style_name).bgcolor
    top, height = round(values.scroll_y), values.scrollable_content_region.height
    out = []
    for y, line in enumerate(values._lines[top:top + height]):
        for segment in line:
            if segment.style is not None and segment.style.bgcolor == bg and segment.text.strip():
                out.append((y, segment.text.strip()))
    return out


def the_cell(app):
    """The array and index under the cursor, as the pane shows them."""
    screen = app.screen
    values = screen.query_one(ValuesPane)
    cursor = screen.view.cell
    here = values.shown_at(screen.position)[cursor.slot]
    return here, cursor.cell


def assert_cursor_shown(app) -> None:
    """The cell under the cursor is in view, drawn as its array draws it, and the border gives it in full."""
    values = app.screen.query_one(ValuesPane)
    here, cell = the_cell(app)
    a = np.asarray(here.array, dtype=float)
    drawn = on_screen(values, "array--cursor")
    text = exact(float(a[cell])) if a.ndim == 0 else _cell(float(a[cell]), number_format(a, values.digits))
    assert [t for _, t in drawn] == [text], (index_label(here.name, cell), drawn)
    assert values.border_title.endswith(f"{index_label(here.name, cell)} = {exact(float(a[cell]))}")


@pytest.mark.parametrize("size", [SIZE, SMALL])
async def test_tab_to_the_values_pane_turns_the_cursor_on_and_escape_turns_it_off(size):
    app = make_app("classify_2_3_4")
    async with app.run_test(size=size) as pilot:
        await pilot.press("n")
        operation, values, _ = parts(app)
        assert values.border_title == "Values" and app.screen.view.cell is None
        await focus_values(pilot)
        u1 = app.screen.run.steps[0].value
        assert values.border_title.endswith(f"u1[0] = {exact(u1[0])}")
        assert_cursor_shown(app)
        active = {b.binding.id for b in app.screen.active_bindings.values() if b.enabled}
        assert {"values.left", "values.down", "values.up", "values.right", "show_chain", "hide_cell"} <= active
        assert norm(shown(operation)).startswith(norm(explain(app.screen.run, app.screen.run.steps[0], (0,), 4).lines[0]))
        await pilot.press("escape")
        assert app.screen.view.cell is None and values.border_title == "Values"
        assert shown(operation).startswith("u1 = x·W1 + b1")
        assert "hide_cell" not in {b.binding.id for b in app.screen.active_bindings.values()}
        await pilot.press("l")  # a move turns it on again, and moves it
        assert app.screen.view.cell.cell == (1,)


@pytest.mark.parametrize("size", [SIZE, SMALL])
async def test_the_cursor_reaches_every_cell_of_arrays_wider_and_taller_than_the_pane(size, tmp_path):
    """u1 (12×9) and W1 (2×9) hide columns behind … at both sizes, and u1 and x (12×2) rows behind ⋮: the
    cursor visits every cell, each comes into view, and the border gives its value in full."""
    app = app_on(wide_scenario(rows=12, inputs=2, units=9), tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.press("n")
        _, values, _ = parts(app)
        assert "…" in shown(values) and "more rows" in shown(values)
        await focus_values(pilot)
        grids = values.grids(0)
        visited = set()
        for slot, grid in enumerate(grids):
            for row in range(grid.lines):
                width = grid.line_length(row)
                for column in range(width):
                    here, cell = the_cell(app)
                    assert app.screen.view.cell.slot == slot
                    visited.add((slot, cell))
                    assert_cursor_shown(app)
                    if column < width - 1:
                        await pilot.press("l")
                for _ in range(width - 1):
                    await pilot.press("h")
                await pilot.press("j")
        assert visited == {(slot, cell) for slot, g in enumerate(grids) for cell in np.ndindex(g.shape)}


async def test_the_pane_scrolls_to_keep_the_cursor_in_view_and_stays_still_while_it_is(tmp_path):
    app = app_on(wide_scenario(rows=30, inputs=3, units=4), tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("n")
        await focus_values(pilot)
        _, values, _ = parts(app)
        height = values.scrollable_content_region.height
        scrolls = []
        for _ in range(30 + 3 + 3):  # down through u1, x, W1
            await pilot.press("j")
            assert_cursor_shown(app)
            scrolls.append(round(values.scroll_y))
        assert scrolls[-1] > 0
        assert sum(a == b for a, b in zip(scrolls, scrolls[1:])) > 5  # it scrolls only when it has to
        for _ in range(40):
            await pilot.press("k")
            assert_cursor_shown(app)
        assert round(values.scroll_y) == 0 and height > 0


@pytest.mark.parametrize("name,size", [(name, SIZE) for name in ONE_ITERATION] + [("classify_2_3_4", SMALL),
                                                                                  ("three_layer", SMALL)])
async def test_every_step_explains_the_cell_under_the_cursor(name, size):
    """At every step of every bundled scenario: the Operation pane gives the explanation of the result cell
    under the cursor (its formula, its numbers, its value), and the border the cell's value in full."""
    app = make_app(name)
    async with app.run_test(size=size) as pilot:
        await pilot.press("n")
        await focus_values(pilot)
        operation, values, _ = parts(app)
        run = app.screen.run
        kinds = set()
        for step in run.steps:
            if step.index:
                await pilot.press("n")
            await pilot.press("l", "j", "l")  # somewhere other than the first cell, when there is room
            while not app.screen.view.cell.produced:
                await pilot.press("k")
            cursor = app.screen.view.cell
            e = explain(run, step, cursor.result, digits=4)
            text = norm(shown(operation))
            for line in e.lines:
                assert norm(line) in text, (step.name, line)
            assert_cursor_shown(app)
            kinds.add(step.kind)
        assert kinds == {s.kind for s in run.steps}


async def test_the_cells_an_entry_read_are_highlighted_and_the_rest_are_not():
    app = make_app("classify_2_3_4")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "n")  # u2 = z1·W2 + b2
        await focus_values(pilot)
        await pilot.press("l", "l", "l")  # u2[3]
        _, values, _ = parts(app)
        step = app.screen.run.steps[2]
        z1, W2, b2 = (step.inputs[n] for n in ("z1", "W2", "b2"))
        highlighted = sorted(t for _, t in on_screen(values, "array--read"))
        expected = sorted(f"{v:.4f}" for v in [*z1, *W2[:, 3], b2[3]])
        assert highlighted == expected
        masks = values.reads
        assert masks["z1"].all() and masks["W2"][:, 3].all() and not masks["W2"][:, :3].any()
        assert masks["b2"].tolist() == [False, False, False, True]
        # The explanation stays on u2[3] while the cursor visits W2, and says whether a cell was read.
        await pilot.press("j", "j")
        assert app.screen.view.cell.name == "W2" and app.screen.view.cell.result == (3,)
        assert "W2[0,3] is one of the cells that u2[3] read" in norm(shown(parts(app)[0]))
        await pilot.press("h")
        assert "W2[0,2] is not one of the cells that u2[3] read" in norm(shown(parts(app)[0]))
        # At the hidden delta: delta2's row, W2's row for this unit and u1 at it.
        for _ in range(6):
            await pilot.press("n")
        step = app.screen.run.steps[app.screen.position]
        assert step.name == "delta1"
        cursor = app.screen.view.cell
        reads = {(r.array, r.cell) for r in explain(app.screen.run, step, cursor.result, 4).reads}
        marked = {(name, tuple(int(i) for i in c)) for name, m in values.reads.items() for c in np.argwhere(m)}
        assert marked == reads and ("u1", cursor.result) in reads


@pytest.mark.parametrize("size", [SIZE, SMALL])
async def test_the_chain_from_the_loss_down_to_a_gradient_cell(size):
    app = make_app("classify_2_3_4")
    async with app.run_test(size=size) as pilot:
        for _ in range(10):
            await pilot.press("n")  # grad_W1 = xᵀ·delta1
        run, step = app.screen.run, app.screen.run.steps[9]
        assert step.name == "grad_W1"
        await focus_values(pilot)
        await pilot.press("j", "l", "l")  # grad_W1[1,2]
        assert app.screen.view.cell.result == (1, 2)
        operation, values, params = parts(app)
        assert "e: the chain from the loss down to grad_W1[1,2]" in norm(shown(operation))
        await pilot.press("e")
        links = chain(run, step, (1, 2), digits=4)
        text = norm(shown(operation))
        assert text.startswith("The chain from the loss down to grad_W1[1,2]:")
        for link in links:
            for line in link.lines:
                assert norm(line) in text
        assert [link.step.name for link in links][0] == "loss" and links[-1].step.name == "grad_W1"
        await wait_for(pilot, lambda: not params.display or params.region.height == 0)
        assert operation.has_focus and operation.outer_size.height > (10 if size == SIZE else 9)  # it took the rows
        hidden = operation.hidden_lines
        await pilot.press("j")
        assert round(operation.scroll_y) == (1 if hidden else 0)
        await pilot.press("escape")
        assert values.has_focus and app.screen.view.cell is not None and not app.screen.view.chain
        assert norm(shown(operation)).startswith(norm(explain(run, step, (1, 2), 4).lines[0]))
        await pilot.press("e")
        assert app.screen.view.chain
        await pilot.press("e")
        assert not app.screen.view.chain and values.has_focus
        # Shown, the chain follows the cursor from step to step; a forward step has none, and shows the
        # cell's explanation meanwhile; e there says why.
        await pilot.press("e", "p")
        assert app.screen.view.chain and norm(shown(operation)).startswith("The chain from the loss down to delta1[")
        for _ in range(7):
            await pilot.press("p")
        assert app.screen.run.steps[app.screen.position].name == "z1"
        assert norm(shown(operation)).startswith("z1[") and params.display
        await pilot.press("escape", "e")
        assert not app.screen.view.chain
        assert any("z1 is computed going forward" in n.message for n in app._notifications)
        await pilot.press("escape")
        assert app.screen.view.cell is None and not app.screen.view.chain


async def test_stepping_keeps_the_cursor_on_the_same_index():
    app = make_app("classify_2_3_4")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await focus_values(pilot)
        await pilot.press("l", "l")  # u1[2]
        names = []
        for _ in range(3):
            await pilot.press("n")
            cursor = app.screen.view.cell
            names.append(index_label(cursor.name, cursor.cell))
        assert names == ["z1[2]", "u2[2]", "y[2]"]
        await pilot.press("n")
        assert app.screen.view.cell.cell == ()  # the loss
        for _ in range(4):
            await pilot.press("p")
        assert index_label(app.screen.view.cell.name, app.screen.view.cell.cell) == "u1[0]"  # clamped at the loss
        # On an input, the cursor follows the input's name: delta2[3] from grad_W2 to grad_b2 and delta1.
        for _ in range(6):
            await pilot.press("n")
        assert app.screen.run.steps[app.screen.position].name == "grad_W2"
        await pilot.press("j", "j", "j", "j", "l", "l", "l")  # past grad_W2 (3×4) and z1 (3) to delta2
        cursor = app.screen.view.cell
        assert index_label(cursor.name, cursor.cell) == "delta2[3]"
        for name in ("grad_b2", "delta1"):
            await pilot.press("n")
            cursor = app.screen.view.cell
            assert app.screen.run.steps[app.screen.position].name == name
            assert (cursor.name, cursor.cell, cursor.produced) == ("delta2", (3,), False)
        assert_cursor_shown(app)


async def test_the_cursor_and_its_highlights_take_the_themes_colours():
    app = make_app("classify_2_3_4")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "n")
        await focus_values(pilot)
        _, values, _ = parts(app)
        dark = values.get_component_rich_style("array--cursor").bgcolor
        assert len(on_screen(values, "array--cursor")) == 1 and on_screen(values, "array--read")
        app.theme = "textual-light"
        await pilot.pause()
        await wait_for(pilot, lambda: values.get_component_rich_style("array--cursor").bgcolor != dark)
        await wait_for(pilot, lambda: len(on_screen(values, "array--cursor")) == 1)
        assert on_screen(values, "array--read")


async def test_the_keys_are_remappable_and_listed(tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text('[keys]\n"values.right" = "a,right"\nshow_chain = "x"\n"values.up" = "j"\n')
    app = make_app("classify_2_3_4", keymap_file=keys)
    async with app.run_test(size=SIZE) as pilot:
        message = "\n".join(n.message for n in app._notifications)
        assert 'values.up = "j" not applied: j already does values.down' in message
        listed = dict((b.id, k) for k, b in app.key_bindings())
        assert listed["values.right"] == "a / →" and listed["show_chain"] == "x" and listed["values.left"] == "← / h"
        await pilot.press("n")
        await focus_values(pilot)
        await pilot.press("a")
        assert app.screen.view.cell.cell == (1,)
        await pilot.press("right_square_bracket", "right_square_bracket", "x")  # delta2: a chain to show
        assert app.screen.view.chain
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert any(t.startswith("The chain from the loss down to the cell under the cursor") for t in titles)
        assert "Hide the chain, or else the cell cursor" in titles


async def test_a_training_run_and_a_784_input_network_explain_without_hanging(until_trained, tmp_path):
    app = make_app("digits_minibatch")
    async with app.run_test(size=SIZE) as pilot:
        await until_trained(pilot, ["n"])
        t0 = time.perf_counter()
        await focus_values(pilot)
        for key in ["l"] * 12 + ["j"] * 12:
            await pilot.press(key)
        assert_cursor_shown(app)
        text = norm(shown(parts(app)[0]))
        assert "more terms:" in text  # a 64-term sum shows its largest terms
        while app.screen.run.steps[app.screen.position].name != "grad_W1":
            await pilot.press("n")
        await pilot.press("e")
        assert "The chain from the loss down to grad_W1" in norm(shown(parts(app)[0]))
        await pilot.press("escape", "full_stop")  # the same step of the next iteration keeps the cursor
        assert app.screen.iteration == 2 and app.screen.view.cell is not None
        assert_cursor_shown(app)
        assert time.perf_counter() - t0 < 60  # a hang guard, not a benchmark
    rng = np.random.default_rng(0)
    x = rng.random((2, 784)).round(2).tolist()
    w1 = (rng.normal(size=(784, 256)) * 0.05).round(3).tolist()
    w2 = (rng.normal(size=(256, 10)) * 0.1).round(3).tolist()
    text = (f'loss = "cross_entropy"\nlearning_rate = 0.1\nx = {x}\nd = {[[0] * 9 + [1]] * 2}\n'
            f'[[layers]]\nW = {w1}\nb = {[0.0] * 256}\nactivation = "relu"\n'
            f'[[layers]]\nW = {w2}\nb = {[0.0] * 10}\nactivation = "softmax"\n')
    app = app_on(text, tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("n")
        t0 = time.perf_counter()
        await focus_values(pilot)
        for key in ["l"] * 20 + ["j"] * 3 + ["h"] * 3:
            await pilot.press(key)
        assert_cursor_shown(app)
        assert "(776 more terms:" in norm(shown(parts(app)[0]))
        for _ in range(9):
            await pilot.press("n")  # to grad_W1 (784×256), through the loss and the deltas
        assert app.screen.run.steps[app.screen.position].name == "grad_W1"
        await pilot.press("j", "e")
        assert "The chain from the loss down to grad_W1" in norm(shown(parts(app)[0]))
        assert time.perf_counter() - t0 < 60


async def test_the_readme_walkthrough_of_explaining_a_number_is_what_the_app_shows():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Explaining a number", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1)
    app = make_app("classify_2_3_4")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "n", "tab", "tab")
        operation, values, _ = parts(app)
        assert values.border_title == "Values · u2[0] = 1.02"
        await pilot.press("l", "l", "l")
        text = shown(operation)
        for line in block.strip("\n").splitlines():
            assert line.strip() in text, line
        await pilot.press("n")
        assert "m = max u2" in shown(operation) and norm(shown(operation).splitlines()[-1]) != ""
        assert "= 0.7237" in shown(operation)
        for _ in range(6):
            await pilot.press("n")
        assert app.screen.run.steps[app.screen.position].name == "grad_W1"
        await pilot.press("j", "l", "l")
        assert "= x[1]·delta1[2]" in shown(operation) and "= 2·(-0.1096)" in shown(operation)
        await pilot.press("e")
        text = norm(shown(operation))
        assert text.startswith("The chain from the loss down to grad_W1[1,2]:")
        assert "delta1[2] = ∂E/∂u1[2]" in text and "relu'(u1[2])" in text and "delta2[3] =" in text
