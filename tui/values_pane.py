"""Every array the current operation read, and the array it produced with the cells it wrote marked."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from engine.steps import Run
from engine.views import update_parts, written_cells
from tui.text_view import ScrollingTextView
from tui.arrays import label_width, labelled


class ValuesPane(ScrollingTextView):
    """Inputs above, the result (→) below; scrolls when the arrays are taller than the pane."""

    position: reactive[int] = reactive(-1, repaint=False)  # the view repaints the lines that changed
    #: Decimals shown (4 or 8).
    digits: reactive[int] = reactive(4, repaint=False)

    def __init__(self, run: Run, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run = run
        self._drawn_width = 0

    def on_resize(self) -> None:
        # Resize also arrives when only the scrolled content's size changed: redraw on a new width only.
        if self.scrollable_content_region.width != self._drawn_width:
            self.redraw()

    def prepare_position(self, position: int) -> None:
        """Render ``position`` ahead of time, so that stepping there only repaints."""
        digits = self.digits
        self.prepare((position, digits), lambda width: self._render_values(position, digits, width))

    def watch_position(self) -> None:
        self.redraw()

    def watch_digits(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        if not self.is_mounted:
            return
        self._drawn_width = self.scrollable_content_region.width
        position, digits = self.position, self.digits
        self.show_cached((position, digits), lambda width: self._render_values(position, digits, width))

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
        change = update_parts(step).change if step.phase == "update" else None
        w = label_width(arrays + ([("change", change)] if change is not None else []))
        text = Text()
        for name, a in step.inputs.items():
            text.append_text(labelled(name, a, w, digits, width))
            text.append("\n")
        text.append_text(labelled(step.name, step.value, w, digits, width, written_cells(step), arrow=True))
        if change is not None:
            text.append("\n")
            text.append_text(labelled("change", change, w, digits, width, written_cells(step)))
        return text
