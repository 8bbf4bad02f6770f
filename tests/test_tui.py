"""The debugger driven with Pilot at a fixed size, as a person at the keyboard would."""

from __future__ import annotations

import numpy as np
import pytest

from tui_helpers import BUNDLED, ONE_ITERATION, SIZE, bundled_run, make_app, open_from_picker, screen, shown, wait_for


def panes(app):
    from nnstep.tui.network_pane import NetworkPane
    from nnstep.tui.operation_pane import OperationPane
    from nnstep.tui.params_pane import ParamsPane
    from nnstep.tui.steps_pane import StepsPane
    from nnstep.tui.values_pane import ValuesPane

    s = app.screen
    return (s.query_one(NetworkPane), s.query_one(StepsPane), s.query_one(OperationPane),
            s.query_one(ValuesPane), s.query_one(ParamsPane))


async def goto(pilot, name: str):
    """Press n until the current step produces ``name``."""
    screen = pilot.app.screen
    while screen.position < 0 or screen.run.steps[screen.position].name != name:
        assert screen.position < screen.last, f"no step {name}"
        await pilot.press("n")


@pytest.mark.parametrize("name", ONE_ITERATION)
async def test_walk_every_bundled_scenario_to_the_end_and_back(name):
    app = make_app(name)
    expected = bundled_run(name)
    async with app.run_test(size=SIZE) as pilot:
        network, steps, operation, values, params = panes(app)
        assert app.screen.position == -1
        assert shown(operation).startswith("Start: nothing computed yet.")
        for step in expected.steps:
            await pilot.press("n")
            assert app.screen.position == step.index
            assert shown(operation).startswith(step.formula)
            assert step.code in shown(operation).replace("\n", "")
            assert operation.border_title.startswith(f"Operation · step {step.index + 1}/{len(expected.steps)}")
            assert f"→ {step.name} " in shown(values)
            assert steps.highlighted == steps.row_of(step.index)
        await pilot.press("n")  # past the end: stays on the last step
        assert app.screen.position == len(expected.steps) - 1
        for _ in expected.steps:
            await pilot.press("p")
        assert app.screen.position == -1


@pytest.mark.parametrize("name,size", [("three_layer", SIZE), ("three_layer", (80, 24)), ("three_layer", (60, 16)),
                                       ("classify_2_3_4", (100, 30)), ("classify_2_3_4", (60, 16))])
async def test_stepping_back_restores_every_earlier_screen_exactly(name, size):
    app = make_app(name)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        seen = {-1: screen(app)}
        for _ in range(app.screen.last + 1):
            await pilot.press("n")
            await pilot.pause()
            seen[app.screen.position] = screen(app)
        for position in range(app.screen.last - 1, -2, -1):
            await pilot.press("p")
            await pilot.pause()
            assert screen(app) == seen[position], f"step {position + 1} looks different on the way back"


async def test_softmax_step_shows_y_ending_in_0_7237():
    app = make_app("classify_2_3_4")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "y")
        _, _, operation, values, _ = panes(app)
        assert "y = softmax(u2)" in shown(operation)
        assert "row by row on (4) → (4)" in shown(operation)
        line = next(l for l in shown(values).splitlines() if l.startswith("→ y"))
        assert line.rstrip().endswith("0.7237 ]")
        assert "u2 (4)" in shown(values)


async def test_loss_step_shows_the_loss_in_values_and_parameters():
    app = make_app("classify_2_3_4")
    r = bundled_run("classify_2_3_4")
    loss = float(next(s.value for s in r.steps if s.name == "loss"))
    async with app.run_test(size=SIZE) as pilot:
        _, _, _, values, params = panes(app)
        assert "loss  not computed yet (step 5)" in shown(params)
        await goto(pilot, "loss")
        assert f"loss  {loss!r}" in shown(params)
        assert "→ loss scalar  0.32342043" in shown(values)
        await pilot.press("p")
        assert "not computed yet" in shown(params)


async def test_update_step_shows_before_gradient_after_and_change():
    app = make_app("backprop_2_3_2")
    r = bundled_run("backprop_2_3_2")
    update = next(s for s in r.steps if s.phase == "update" and s.name == "W2")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "W2")
        text = shown(panes(app)[4])
        assert "Update of W2" in text
        for label in ("before", "grad_W2", "after", "change"):
            assert f"{label} " in text
        after = update.value
        assert f"{after[0, 0]:.4f}" in text
        change = after - update.inputs["W2"]
        assert f"{change[0, 0]:.4f}" in text
        assert "updated: W1, b1, W2" in text


async def test_phase_and_end_keys():
    app = make_app("backprop_2_3_2")
    r = bundled_run("backprop_2_3_2")
    phases = [s.phase for s in r.steps]
    async with app.run_test(size=SIZE) as pilot:
        for phase in ("forward", "loss", "backward", "update"):
            await pilot.press("right_square_bracket")
            assert app.screen.position == phases.index(phase)
        await pilot.press("left_square_bracket")
        assert app.screen.position == phases.index("backward")
        await pilot.press("G")
        assert app.screen.position == len(r.steps) - 1
        await pilot.press("g")
        assert app.screen.position == -1
        await pilot.press("end")
        assert app.screen.position == len(r.steps) - 1
        await pilot.press("home")
        assert app.screen.position == -1
        await pilot.press("right", "right", "left")
        assert app.screen.position == 0


async def test_breakpoints_and_continue():
    app = make_app("classify_2_3_4")
    async with app.run_test(size=SIZE) as pilot:
        _, steps, operation, _, _ = panes(app)
        await pilot.press("b")  # at the start: nothing to break on
        assert app.screen.breakpoints == frozenset()
        await pilot.press("n", "n", "n", "n", "n", "n", "b")  # delta2 (index 5)
        assert app.screen.breakpoints == {5}
        assert steps.row_text(steps.row_of(5)).plain.startswith("▶●")
        await pilot.press("g", "c")
        assert app.screen.position == 5
        assert "breakpoint" in operation.border_subtitle
        await pilot.press("c")
        assert app.screen.position == app.screen.last
        await pilot.press("g", "n", "n", "n", "n", "n", "n", "b")  # toggles it off again
        assert app.screen.breakpoints == frozenset()
        assert steps.row_text(steps.row_of(5)).plain.startswith("▶ ")


async def test_replay_plays_to_the_end_and_says_so():
    app = make_app("backprop_2_3_2")
    async with app.run_test(size=SIZE) as pilot:
        operation = panes(app)[2]
        await pilot.press("plus", "plus", "plus")  # 8 steps/s
        await pilot.press("space")
        assert app.screen.playing
        assert operation.border_subtitle.startswith("▶ playing 8 steps/s")
        await wait_for(pilot, lambda: not app.screen.playing)
        assert app.screen.position == app.screen.last
        # The notice is a message to the app: it may arrive a moment after the replay stops.
        await wait_for(pilot, lambda: any("Replay finished" in n.message for n in app._notifications))
        assert operation.border_subtitle.startswith("■ finished · replay 8 steps/s")
        await pilot.press("minus", "minus", "minus", "minus")  # 0.5 steps/s: no tick during the checks
        await pilot.press("space")  # from the end, replay starts over
        assert app.screen.playing and app.screen.position == -1
        await pilot.press("p")  # moving the cursor pauses
        assert not app.screen.playing


async def test_replay_stops_at_a_breakpoint():
    app = make_app("backprop_2_3_2")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "n", "b", "g")
        await pilot.press("plus", "plus", "plus", "space")
        await wait_for(pilot, lambda: not app.screen.playing)
        assert app.screen.position == 2
        assert panes(app)[2].border_subtitle.startswith("■ stopped at breakpoint 3 · replay 8 steps/s")
        await pilot.press("minus", "minus", "minus", "minus", "minus")
        assert "replay 0.5 steps/s" in panes(app)[2].border_subtitle


async def test_enter_on_a_step_jumps_there_and_j_k_browse():
    app = make_app("backprop_2_3_2")
    async with app.run_test(size=SIZE) as pilot:
        steps = panes(app)[1]
        assert steps.has_focus
        await pilot.press("j", "j", "j")  # start, a phase heading (skipped), steps 1 and 2
        assert app.screen.position == -1
        await pilot.press("k", "enter")
        assert app.screen.position == 1
        assert steps.highlighted == steps.row_of(1)


async def test_help_screen_lists_every_key_and_closes():
    from nnstep.tui.help_screen import HelpScreen

    app = make_app("backprop_2_3_2")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = dict((b.id, k) for k, b in app.key_bindings())
        assert keys["next_step"] == "n / →" and keys["toggle_breakpoint"] == "b" and keys["help"] == "? / F1"
        source = shown(app.screen.query_one("#help-text"))
        for binding_id in ("next_step", "previous_step", "next_phase", "previous_phase", "first_step", "last_step",
                           "toggle_breakpoint", "continue_run", "toggle_replay", "faster", "slower", "open",
                           "help", "quit", "steps.down"):
            assert binding_id in source
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_offers_every_debugger_action():
    app = make_app("backprop_2_3_2")
    async with app.run_test(size=SIZE):
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Run the next operation", "Go to the last step (of this iteration)", "Set or clear a breakpoint on the current step",
                "Run on to the next breakpoint (or the last step)", "Help", "Open scenario"} <= titles
        assert not titles & {"Keys", "Maximize", "Screenshot"}  # Textual's own: a second help, a broken layout
        assert not titles & {"Training: go to iteration N"}  # one iteration: nothing to travel
        assert next(c for c in app.get_system_commands(app.screen) if c.title == "Quit").help == "leave nnstep (key: q)"
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Run the next operation")
        await command.callback()
        assert app.screen.position == 0


async def test_keymap_file_remaps_a_binding(tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text('[keys]\nnext_step = "l"\n')
    app = make_app("backprop_2_3_2", keymap_file=keys)
    async with app.run_test(size=SIZE) as pilot:
        assert "Press l to run the first operation" in shown(panes(app)[2])  # the hint names the new key
        await pilot.press("l", "l")
        assert app.screen.position == 1
        await pilot.press("n")
        assert app.screen.position == 1  # n is no longer bound
        assert dict((b.id, k) for k, b in app.key_bindings())["next_step"] == "l"


async def test_a_broken_keymap_file_is_reported_and_ignored(tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text("[keys\n")
    app = make_app("backprop_2_3_2", keymap_file=keys)
    async with app.run_test(size=SIZE) as pilot:
        assert any("default keys apply" in n.message for n in app._notifications)
        await pilot.press("n")
        assert app.screen.position == 0


async def test_digits_toggle_shows_eight_decimals():
    app = make_app("classify_2_3_4")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "y")
        assert "0.7237 ]" in shown(panes(app)[3])
        await pilot.press("f")
        r = bundled_run("classify_2_3_4")
        y = next(s.value for s in r.steps if s.name == "y")
        assert f"{y[-1]:.8f} ]" in shown(panes(app)[3])


async def test_picker_lists_bundled_and_folder_files_and_opens_one():
    from textual.widgets import DataTable

    from nnstep.tui.debugger import DebuggerScreen
    from nnstep.tui.picker import PickerScreen

    app = make_app(None)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, PickerScreen)
        table = app.screen.query_one(DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        names = [r[0] for r in rows]
        assert names[: len(BUNDLED)] == BUNDLED
        assert "broken" in names and "my_unit" in names
        classify = rows[BUNDLED.index("classify_2_3_4")]
        assert classify[1:4] == ["2-3-4", "cross_entropy", "bundled"]
        assert "expected 2 rows" in rows[names.index("broken")][4]
        await pilot.press("escape")  # nothing to go back to: the picker stays
        assert isinstance(app.screen, PickerScreen)
        table.move_cursor(row=BUNDLED.index("classify_2_3_4"))
        await pilot.press("enter")
        assert isinstance(app.screen, DebuggerScreen)
        assert app.screen.run.scenario.shape == "2-3-4"
        assert app.screen.sub_title == "bundled scenario classify_2_3_4"


async def test_a_file_that_fails_to_load_shows_the_engines_message_and_the_user_picks_another():

    from nnstep.tui.debugger import DebuggerScreen
    from nnstep.tui.error_screen import ErrorScreen
    from nnstep.tui.picker import PickerScreen

    app = make_app(None)
    async with app.run_test(size=SIZE) as pilot:
        await open_from_picker(pilot, "broken")
        assert isinstance(app.screen, ErrorScreen)
        message = shown(app.screen.query_one("#error-text"))
        assert "broken.toml: layers[0].W: expected 2 rows" in message
        assert "Traceback" not in message
        await pilot.press("escape")
        assert isinstance(app.screen, PickerScreen)
        await open_from_picker(pilot, "my_unit")
        assert isinstance(app.screen, DebuggerScreen)


async def test_open_another_scenario_from_the_debugger():
    from textual.widgets import DataTable

    from nnstep.tui.debugger import DebuggerScreen
    from nnstep.tui.picker import PickerScreen

    app = make_app("backprop_2_3_2")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "o")
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("escape")  # back to the same debugger, same step
        assert isinstance(app.screen, DebuggerScreen) and app.screen.position == 1
        await pilot.press("o")
        app.screen.query_one(DataTable).move_cursor(row=BUNDLED.index("three_layer"))
        await pilot.press("enter")
        assert isinstance(app.screen, DebuggerScreen)
        assert app.screen.run.scenario.shape == "2-3-2-2" and app.screen.position == -1
        assert len(app.screen_stack) == 2  # the old debugger is gone, not buried


@pytest.mark.parametrize("size,visible,hidden", [
    ((120, 36), {"network", "steps", "operation", "values", "params"}, set()),
    ((80, 24), {"steps", "operation", "values", "params"}, {"network"}),
    ((40, 12), {"operation", "values"}, {"network", "steps", "params"}),
])
async def test_layouts_by_terminal_size(size, visible, hidden):
    app = make_app("classify_2_3_4")
    async with app.run_test(size=size) as pilot:
        for _ in range(16):
            await pilot.press("n")
        await pilot.press("p")
        await pilot.pause()
        shown_ids = {w.id for w in app.screen.query("#network, #steps, #operation, #values, #params")
                     if w.display and w.region.area > 0 and w.parent.display}
        assert visible <= shown_ids
        assert not (hidden & shown_ids)
        assert app.screen.position == 13


async def test_resizing_switches_layouts_without_losing_the_position():
    app = make_app("three_layer")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "n")
        network, left = app.screen.query_one("#network"), app.screen.query_one("#left")
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert app.screen.has_class("-width-narrow", "-height-short") and not network.display and left.display
        await pilot.resize_terminal(40, 12)
        await pilot.pause()
        assert app.screen.has_class("-width-tiny", "-height-tiny") and not left.display
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        assert app.screen.has_class("-width-wide", "-height-tall") and network.display and left.display
        assert app.screen.position == 2


def _luminance(colour) -> float:
    """WCAG relative luminance of a Rich colour."""
    from textual.color import Color

    def linear(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(v / 255) for v in Color.from_rich_color(colour).rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _drawn_cells(widget):
    """(text, style) of every non-blank segment the widget draws, but its border lines."""
    from textual.geometry import Region

    for line in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)):
        for segment in line:
            if segment.text.strip(" ╭╮╰╯│─") and segment.style is not None:
                yield segment.text, segment.style


async def test_in_the_light_theme_every_pane_is_light_and_its_text_reads():
    """Colours come from the theme: after ctrl+p → Theme → textual-light, no pane keeps a dark background
    (the Steps list's rows and the panes' prepared renderings are drawn again), and every text keeps a
    contrast of at least 3 to what is under it, the cursor row's marks included."""
    app = make_app("classify_2_3_4")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "n", "n", "b")
        app.theme = "textual-light"
        await pilot.pause()
        await pilot.press("n")  # a step rendered ahead of time in the dark theme
        await pilot.pause()
        cursor = app.screen.query_one("StepsPane").get_component_rich_style("steps--cursor").bgcolor
        for pane in panes(app):
            assert pane.display and pane.region.area
            for text, style in _drawn_cells(pane):
                under, over = _luminance(style.bgcolor), _luminance(style.color)
                assert under > 0.3 or style.bgcolor == cursor, (type(pane).__name__, text, style)
                contrast = (max(under, over) + 0.05) / (min(under, over) + 0.05)
                assert contrast >= 3, (type(pane).__name__, text, style)


def _u1_with_rounding_noise() -> np.ndarray:
    """A 5×8 u1 whose entry [1, 6] is −0.1 − 0.2 + 0.3 in float64: −5.55e-17, not 0."""
    u1 = np.random.default_rng(0).normal(size=(5, 8)).round(4)
    u1[1, 6] = -0.1 - 0.2 + 0.3
    assert u1[1, 6] == -5.551115123125783e-17
    return u1


def test_an_entry_at_rounding_noise_size_does_not_switch_the_array_to_scientific_notation():
    from nnstep.tui.arrays import array_lines, labelled, number_format

    u1 = _u1_with_rounding_noise()
    assert number_format(u1, 4) == ".4f" and number_format(u1, 8) == ".8f"
    text = labelled("u1", u1, 8, 4, 60, arrow=True).plain
    assert "…" in text  # the noisy column is among those the ellipsis hides
    assert f"{u1[0, 0]:.4f}" in text and "e-" not in text.split("≈0")[0]
    # Where the user sees the array, a line says what is shown as 0 and gives the exact value.
    assert "≈0: [1, 6] is -5.551115123125783e-17, float rounding noise" in " ".join(text.split())
    wide = "\n".join(line.plain for line in array_lines(u1, 4, 200))
    assert "-0.0000" in wide and "e-" not in wide


def test_a_small_entry_that_is_not_noise_still_switches_to_scientific_notation():
    from nnstep.tui.arrays import NOISE, labelled, number_format

    assert NOISE == 64 * np.finfo(np.float64).eps
    assert number_format(np.array([1.0, 1e-6]), 4) == ".3e"  # below the decimals shown, far above noise
    assert number_format(np.array([1.0, 1e-13]), 4) == ".3e"  # 10× the noise bound: not noise
    assert number_format(np.array([1.0, 1e-15]), 4) == ".4f"
    assert number_format(np.array([1e-17, -2e-17]), 4) == ".3e"  # tiny, but the array's own scale
    assert "≈0" not in labelled("v", np.array([1.0, 0.0, -2.5]), 4, 4, 60).plain


async def test_the_values_pane_shows_rounding_noise_as_zero_and_says_so(tmp_path):
    from nnstep.engine.scenario import parse_scenario
    from nnstep.engine.session import Session
    from nnstep.tui.app import NNStepApp

    # u1 = x·W1 + b1 with row 1 of x = [−0.1, −0.2], column 6 of W1 = [1, 1] and b1[6] = 0.3.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 2)).round(2)
    x[1] = [-0.1, -0.2]
    w1 = rng.normal(size=(2, 8)).round(2)
    w1[:, 6] = 1.0
    b1 = [0.0] * 8
    b1[6] = 0.3
    text = (f'loss = "mse"\nlearning_rate = 0.1\nx = {x.tolist()}\nd = {[[0.5]] * 5}\n'
            f'[[layers]]\nW = {w1.tolist()}\nb = {b1}\nactivation = "relu"\n'
            f'[[layers]]\nW = {[[0.1]] * 8}\nb = [0.0]\nactivation = "identity"\n')
    app = NNStepApp(session=Session(parse_scenario(text, "noise.toml")), folder=tmp_path, keymap_file=tmp_path / "none")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        u1 = app.screen.run.steps[0].value
        assert u1[1, 6] == -5.551115123125783e-17
        values = shown(panes(app)[3])
        assert f"{u1[0, 0]:.4f}" in values and "e-0" not in values.split("≈0")[0]
        assert "-5.551115123125783e-17" in values and "float rounding noise" in values


async def test_a_big_network_renders_summarised_without_hanging(tmp_path):
    import time

    from nnstep.engine.scenario import parse_scenario
    from nnstep.engine.session import Session
    from nnstep.tui.app import NNStepApp

    rng = np.random.default_rng(0)
    text = (f'loss = "mse"\nlearning_rate = 0.1\nx = {rng.normal(size=(8, 200)).round(3).tolist()}\n'
            f'd = {rng.normal(size=(8, 10)).round(3).tolist()}\n'
            f'[[layers]]\nW = {(rng.normal(size=(200, 300)) * 0.05).round(4).tolist()}\nb = {[0.0] * 300}\n'
            f'activation = "relu"\n'
            f'[[layers]]\nW = {(rng.normal(size=(300, 10)) * 0.05).round(4).tolist()}\nb = {[0.0] * 10}\n'
            f'activation = "identity"\n')
    app = NNStepApp(session=Session(parse_scenario(text, "big.toml")), folder=tmp_path, keymap_file=tmp_path / "none")
    async with app.run_test(size=SIZE) as pilot:
        t0 = time.perf_counter()
        await pilot.press("n")
        await pilot.pause()
        values = shown(panes(app)[3])
        assert "more rows" in values and "…" in values
        assert "⋮ of 300" in shown(panes(app)[0])
        for _ in range(10):
            await pilot.press("n")
        assert app.screen.position == 10
        assert time.perf_counter() - t0 < 60  # a hang guard, not a benchmark


def _line(text: str, head: str) -> str:
    return " ".join(next(l for l in text.splitlines() if l.lstrip().startswith(head)).split())


async def test_the_readme_walkthrough_is_what_the_app_shows():
    """The README's walkthrough of the 2-3-4 network, key by key."""
    from nnstep.engine.ops import seed_cross_entropy

    # The two losses shown with every digit: their last digits depend on the CPU's exp and log kernels,
    # so the text to look for is this machine's; the README's figures are the values to 12 digits.
    by_name = {s.name: s for s in bundled_run("classify_2_3_4").steps}
    loss = float(by_name["loss"].value)
    course = float(seed_cross_entropy(by_name["y"].value, by_name["loss"].inputs["d"]))
    assert (loss, course) == pytest.approx((0.3234204315448046, 0.3234202933601941), rel=1e-12)
    app = make_app("classify_2_3_4")
    async with app.run_test(size=SIZE) as pilot:
        network, steps, operation, values, params = panes(app)
        await pilot.press("n")
        assert _line(shown(values), "→ u1") == "→ u1 (3) [ 0.6000 1.3000 2.0000 ]"
        assert "──▶" in shown(network)
        await pilot.press("n")
        assert "all of u1 is positive" in shown(operation)
        await pilot.press("n")
        assert _line(shown(values), "→ u2") == "→ u2 (4) [ 1.0200 2.2900 3.5600 4.8300 ]"
        await pilot.press("n")
        assert _line(shown(values), "→ y") == "→ y (4) [ 0.0160 0.0571 0.2032 0.7237 ]"
        await pilot.press("right_square_bracket")
        assert f"loss  {loss!r}" in shown(params)
        assert repr(course) in shown(operation)
        await pilot.press("right_square_bracket")
        assert _line(shown(values), "→ delta2") == "→ delta2 (4) [ 0.0160 0.0571 0.2032 -0.2763 ]"
        assert "collapses to y − d" in shown(operation).replace("\n", " ")
        await pilot.press("n")
        assert "grad_W2 = z1ᵀ·delta2" in shown(operation) and "→ grad_W2 (3×4)" in shown(values)
        await pilot.press("n", "n")
        assert _line(shown(values), "→ delta1") == "→ delta1 (3) [ -0.1096 -0.1096 -0.1096 ]"
        assert "◀──" in shown(network)
        await pilot.press("f")
        assert _line(shown(values), "→ delta1") == "→ delta1 (3) [ -0.10963788 -0.10963788 -0.10963788 ]"
        await pilot.press("f", "b")
        delta1 = app.screen.position
        await pilot.press("n")
        rows = shown(values).split("→ grad_W1")[1].split("\n")[:2]
        assert [" ".join(r.split()).strip("[] ") for r in rows] == [
            "(2×3) [ -0.1096 -0.1096 -0.1096", "-0.2193 -0.2193 -0.2193"]
        await pilot.press("n", "right_square_bracket")
        text = shown(params)
        assert "Update of W1" in text
        assert "0.1011  0.3011  0.5011" in text and "0.2022  0.4022  0.6022" in text
        change = text.split("change")[-1]
        assert "0.0011  0.0011  0.0011" in change and "0.0022  0.0022  0.0022" in change
        await pilot.press("g", "c")
        assert app.screen.position == delta1


@pytest.mark.parametrize("size", [(40, 12), (20, 8)])
async def test_every_screen_survives_a_tiny_terminal(size):
    """No crash: the debugger, help, picker and error screens at sizes far below the design."""

    from nnstep.tui.error_screen import ErrorScreen
    from nnstep.tui.help_screen import HelpScreen
    from nnstep.tui.picker import PickerScreen

    app = make_app("three_layer")
    async with app.run_test(size=size) as pilot:
        await pilot.press("n", "n", "right_square_bracket", "b", "c", "f", "G", "p", "tab", "j", "k")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "o")
        assert isinstance(app.screen, PickerScreen)
        await open_from_picker(pilot, "broken")
        assert isinstance(app.screen, ErrorScreen)
        await pilot.press("escape", "escape")
        await pilot.resize_terminal(120, 36)
        await pilot.pause()
        assert app.screen.position == app.screen.last - 1


async def test_a_pane_says_when_there_is_more_below_and_tab_j_scrolls_it():
    app = make_app("classify_2_3_4")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("G")
        await pilot.pause()
        values = panes(app)[3]
        hidden = values.hidden_lines
        assert hidden > 0 and values.border_subtitle == f"↓ {hidden} more lines: Tab, j/k"
        # In the Values pane j/k move the cell cursor (the pane scrolls with it); the Parameters pane scrolls.
        params = panes(app)[4]
        hidden = params.hidden_lines
        assert hidden > 2
        while not params.has_focus:
            await pilot.press("tab")
        await pilot.press("j", "j")
        assert params.scroll_offset.y == 2
        below = (f" · ↓ {hidden - 2} more lines: Tab, j/k" if hidden > 3 else
                 f" · ↓ {hidden - 2} more line: Tab, j/k" if hidden == 3 else "")
        assert params.border_subtitle == "↑ 2 above" + below
        await pilot.press("p")  # a new step starts at the top
        assert params.scroll_offset.y == 0


async def test_keymap_problems_are_named_with_a_suggestion_and_the_rest_applies(tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text('[keys]\nnext_stepp = "x"\nprevious_step = "n"\nlast_step = 5\nfirst_step = "0"\n')
    app = make_app("backprop_2_3_2", keymap_file=keys)
    async with app.run_test(size=SIZE) as pilot:
        message = "\n".join(n.message for n in app._notifications)
        assert "next_stepp: no such binding (did you mean next_step?)" in message
        assert "last_step: expected keys as a string" in message
        assert 'previous_step = "n" not applied: n already does next_step' in message
        await pilot.press("n", "n", "p", "0")  # next_step and previous_step keep their keys; first_step's applies
        assert app.screen.position == -1


async def test_a_keymap_file_without_a_keys_table_says_so(tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text('next_step = "l"\n')
    app = make_app("backprop_2_3_2", keymap_file=keys)
    async with app.run_test(size=SIZE):
        assert any("no [keys] table" in n.message for n in app._notifications)


async def test_replay_waits_while_help_is_open_and_goes_on_after():
    app = make_app("backprop_2_3_2")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("plus", "plus", "plus", "space")
        await pilot.press("question_mark")
        debugger = app.screen_stack[-2]
        assert not debugger.playing
        position = debugger.position
        await pilot.pause(0.5)
        assert debugger.position == position
        await pilot.press("escape")
        assert debugger.playing


async def test_a_tiny_terminal_takes_the_focus_off_the_hidden_steps_list():
    app = make_app("backprop_2_3_2")
    async with app.run_test(size=SIZE) as pilot:
        assert panes(app)[1].has_focus
        await pilot.resize_terminal(40, 12)
        await pilot.pause()
        assert panes(app)[3].has_focus
        await pilot.press("k", "k", "enter")  # no longer browse a list nobody can see
        assert app.screen.position == -1


@pytest.mark.parametrize("name", ["classify_2_3_4", "three_layer"])
async def test_a_step_repaints_once_and_never_asks_for_a_layout(name):
    """What keeps stepping fast (tests/bench_tui.py has the figures): one screen write per key, no layout."""
    app = make_app(name)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("n")  # the first step may settle scrollbars
        await pilot.pause(0.1)
        layouts, writes = [], []
        refresh_layout, display = screen._refresh_layout, app._display
        screen._refresh_layout = lambda *a, **k: (layouts.append(1), refresh_layout(*a, **k))[1]
        app._display = lambda s, r: (writes.append(r is not None), display(s, r))[1]
        for key in ["n"] * (screen.last - 1) + ["p"] * (screen.last - 1):
            writes.clear()
            await pilot.press(key)
            await pilot.pause(0.05)
            assert sum(writes) == 1, (key, screen.position, writes)
        assert layouts == []
