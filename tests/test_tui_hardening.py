"""The app, given files from someone else: their text is shown, never obeyed (no escapes reach the
terminal, no markup is interpreted), and a keymap cannot take it down."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import Header

from tui_helpers import SIZE, make_app, shown

from nnstep.engine.scenario import load_scenario
from nnstep.engine.session import Session
from nnstep.tui.app import NNStepApp
from nnstep.tui.operation_pane import OperationPane

EVIL = "evil\u001b]0;TITLE\u0007\u001b[2J [b]bold[/b] [/] [@click=app.quit]q[/]"


def _evil_scenario(tmp_path: Path) -> Path:
    text = (f"name = {json.dumps(EVIL)}\ndescription = {json.dumps('about ' + EVIL)}\n"
            'x = [1.0, 2.0]\n[[layers]]\nW = [[1.0], [2.0]]\nb = [0.0]\nactivation = "identity"\n')
    path = tmp_path / "odd[name]\u001b[1A.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_a_scenarios_text_is_shown_with_its_controls_visible_and_no_markup(tmp_path):
    path = _evil_scenario(tmp_path)
    app = NNStepApp(session=Session(load_scenario(path)), folder=tmp_path, keymap_file=tmp_path / "none.toml")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.screen.title.startswith("nnstep · evil\\x1b]0;TITLE\\x07\\x1b[2J [b]bold[/b]")
        assert "\u001b" not in app.screen.sub_title and "odd[name]\\x1b[1A.toml" in app.screen.sub_title
        start = shown(app.screen.query_one(OperationPane))
        assert "about evil\\x1b]0;TITLE\\x07" in start and "[b]bold[/b]" in start  # as written, not bold
        picture = app.export_screenshot()
        assert "\u001b" not in picture and "\u0007" not in picture
        for key in ("question_mark", "escape", "ctrl+p", "escape", "n", "p"):
            await pilot.press(key)
            await pilot.pause()
        assert app.is_running  # [@click=app.quit] did nothing: it is text
        assert app.screen.query(Header)


async def test_a_keymap_with_keys_that_cannot_be_pressed_leaves_the_app_working(tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text('[keys]\ntoggle_digits = "f,[/]"\nnext_step = "l,right"\nhelp = "ctrl+"\n', encoding="utf-8")
    app = make_app("backprop_2_3_2", keymap_file=keys)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        notices = " ".join(str(n.message) for n in app._notifications)
        assert 'toggle_digits = "f,[/]" not applied' in notices and 'help = "ctrl+" not applied' in notices
        for key in ("question_mark", "escape", "ctrl+p", "escape", "l"):
            await pilot.press(key)
            await pilot.pause()
        assert app.is_running and app.screen.position == 0  # l (remapped) stepped
