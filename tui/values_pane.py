"""Every array the current operation read, and the array it produced with the cells it wrote marked."""

from __future__ import annotations

from functools import lru_cache

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from engine.steps import Run
from engine.views import written_cells
from tui.arrays import label_width, labelled


class ValuesPane(VerticalScroll):
    """Inputs above, the result (→) below; scrolls when the arrays are taller than the pane."""

    position: reactive[int] = reactive(-1)
    #: Decimals shown (4 or 8).
    digits: reactive[int] = reactive(4)

    def __init__(self, run: Run, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run = run
        self._render_cached = lru_cache(maxsize=256)(self._render_values)

    def compose(self) -> ComposeResult:
        yield Static(id="values-text")

    def on_resize(self) -> None:
        self.redraw()

    def watch_position(self) -> None:
        self.redraw()

    def watch_digits(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        if not self.is_mounted:
            return
        width = self.scrollable_content_region.width or 80
        self.query_one("#values-text", Static).update(self._render_cached(self.position, self.digits, width))

    def _render_values(self, position: int, digits: int, width: int) -> Text:
        if position < 0:
            sc = self.run.scenario
            arrays = [("x", sc.x)] + ([("d", sc.d)] if sc.d is not None else [])
            text = Text("The data this run starts from:\n", style="#9a9a9a")
            w = label_width(arrays)
            for name, a in arrays:
                text.append_text(labelled(name, a, w, digits, width))
                text.append("\n")
            text.rstrip()
            return text
        step = self.run.steps[position]
        arrays = list(step.inputs.items()) + [(step.name, step.value)]
        w = label_width(arrays)
        text = Text()
        for name, a in step.inputs.items():
            text.append_text(labelled(name, a, w, digits, width))
            text.append("\n")
        text.append_text(labelled(step.name, step.value, w, digits, width, written_cells(step), arrow=True))
        return text
