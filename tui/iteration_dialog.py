"""Go to iteration N of a training run: a small dialog with one number field."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class IterationDialog(ModalScreen[int | None]):
    """Type an iteration (1 … total) and Enter; Escape leaves the cursor where it was."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="iteration.cancel")]

    def __init__(self, current: int, total: int, computed: int) -> None:
        super().__init__()
        self.current, self.total, self.computed = current, total, computed

    def compose(self) -> ComposeResult:
        with Vertical(id="iteration-box"):
            yield Static(f"Go to iteration (1 to {self.total}; now at {self.current}). Enter goes, Escape cancels.",
                         id="iteration-help")
            yield Input(placeholder=f"1 … {self.total}", type="integer", id="iteration-input")
            yield Static("", id="iteration-error")

    def on_mount(self) -> None:
        self.query_one("#iteration-box").border_title = "Go to iteration"
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        error = self.query_one("#iteration-error", Static)
        if not text:
            self.dismiss(None)
            return
        try:
            value = int(text)
        except ValueError:
            error.update(f"'{text}' is not a whole number")
            return
        if not 1 <= value <= self.total:
            error.update(f"There are iterations 1 to {self.total}; {value} is not one of them.")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)
