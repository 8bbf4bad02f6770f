"""Shared helpers for the app's tests: build the app on a bundled scenario, read what a pane shows."""

from __future__ import annotations

from pathlib import Path

from nnstep.engine.bundled import bundled_scenarios, find_bundled
from nnstep.engine.scenario import load_scenario
from nnstep.engine.session import run

BUNDLED = [p.stem for p in bundled_scenarios()]
#: The bundled training runs (a [training] table) and the one-iteration scenarios.
TRAINING = [name for name in BUNDLED if load_scenario(find_bundled(name)).training is not None]
ONE_ITERATION = [name for name in BUNDLED if name not in TRAINING]
PICKER_DIR = Path(__file__).resolve().parent / "data" / "picker"
SIZE = (120, 36)


def bundled_run(name: str):
    return run(load_scenario(find_bundled(name)))


def make_app(name: str | None = None, folder: Path = PICKER_DIR, keymap_file: Path | None = None):
    """The app on a bundled scenario (a training run for those with [training]), or on the picker."""
    from nnstep.engine.session import Session
    from nnstep.tui.app import NNStepApp

    return NNStepApp(session=Session(load_scenario(find_bundled(name))) if name else None, folder=folder,
                     keymap_file=keymap_file or folder / "no-such-keymap.toml")


async def open_from_picker(pilot, name: str) -> None:
    """In the picker on screen, highlight the row called ``name`` and press Enter."""
    from textual.widgets import DataTable

    table = pilot.app.screen.query_one(DataTable)
    names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
    table.move_cursor(row=names.index(name))
    await pilot.press("enter")


def screen(app) -> str:
    """The whole screen as an SVG, every colour and character, without the export's run-specific id."""
    import re

    return re.sub(r"terminal-\d+", "terminal", app.export_screenshot())


def shown(widget) -> str:
    """The plain text a pane shows."""
    from textual.widgets import Static

    if hasattr(widget, "plain"):
        return widget.plain
    static = widget if isinstance(widget, Static) else widget.query_one(Static)
    content = static.content
    if hasattr(content, "plain"):
        return content.plain
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None)
    console.print(content)
    return console.export_text()


async def wait_for(pilot, condition, timeout: float = 20.0) -> None:
    """Let the app run until ``condition()`` holds (no fixed sleeps)."""
    import time

    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not reached"
        await pilot.pause(0.02)
