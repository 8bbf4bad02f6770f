"""A scenario that does not load: the engine's message (file, key, expected against found), in the app."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static


class ErrorScreen(ModalScreen[None]):
    """Shows why a file did not load; Escape or Enter goes back to the picker to choose another."""

    BINDINGS = [Binding("escape,enter,o", "close", "Pick another", id="error.close")]

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box"):
            # Theme variables in the styles: Textual resolves them when it draws, in the theme of the moment.
            yield Static(Content.assemble(("This scenario does not load\n\n", "bold $text-error"), self.message,
                                          ("\n\nFix the file and open it again, or press Escape to pick another.",
                                           "$foreground-muted")), id="error-text")

    def on_mount(self) -> None:
        self.query_one("#error-box").border_title = "Error"

    def action_close(self) -> None:
        self.dismiss()
