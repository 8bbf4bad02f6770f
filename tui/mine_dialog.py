"""Open the user's own arrays to compare with nnstep's: a small dialog with one path field.

The file is read and compared here, on Enter, so that one that cannot be read says why in the dialog, which
stays open for another try.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from nnstep.engine.limits import visible
from nnstep.engine.steps import Iteration
from nnstep.tui.comparing import MineError, Overlay, load, mine_path
from nnstep.tui.keymap import display_path

#: Every sentence the dialog shows (a translation replaces the templates).
TEXT = {
    "title": "Compare your arrays",
    "help": "Your own arrays for this network: an .npz (np.savez), a .json of arrays by name, or the text your "
            "notebook printed with print_vec. A relative path starts from {cwd}. Enter opens it, Escape cancels.",
    "help_open": "Now comparing {file}. Enter reads it again (after you saved it anew) or opens another file; "
                 "an empty path closes the comparison; Escape keeps it.",
    "placeholder": "mine.npz, notebook.txt, ~/course/arrays.json",
    "empty": "Type the path of a file, or Escape to cancel.",
}


@dataclass(frozen=True)
class MineChosen:
    """What the dialog decided: the arrays opened and compared, or (None) no comparison any more."""

    overlay: Overlay | None


class MineDialog(ModalScreen[MineChosen | None]):
    """Type a path and Enter; Escape leaves things as they were (dismissed with None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="mine.cancel")]

    def __init__(self, iteration: Iteration, current: str | None = None) -> None:
        super().__init__()
        #: The iteration on screen (a JSON trace of a training run gives its arrays for each iteration).
        self.iteration = iteration
        #: The file compared now, if any (the field starts with it).
        self.current = current
        #: Where a relative path starts (the current directory, ~ for the home folder).
        self.cwd = display_path(Path.cwd())

    def compose(self) -> ComposeResult:
        with Vertical(id="mine-box"):
            help_text = TEXT["help"].format(cwd=self.cwd)
            if self.current is not None:
                help_text = TEXT["help_open"].format(file=visible(self.current))
            yield Static(help_text, id="mine-help", markup=False)
            yield Input(value=self.current or "", placeholder=TEXT["placeholder"], id="mine-input")
            yield Static("", id="mine-error", markup=False)

    def on_mount(self) -> None:
        self.query_one("#mine-box").border_title = TEXT["title"]
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = mine_path(event.value)
        error = self.query_one("#mine-error", Static)
        if not path:
            if self.current is not None:
                self.dismiss(MineChosen(None))
            else:
                error.update(TEXT["empty"])
            return
        try:
            overlay = load(path, self.iteration)
        except MineError as exc:
            error.update(str(exc))
            return
        self.dismiss(MineChosen(overlay))

    def action_cancel(self) -> None:
        self.dismiss(None)
