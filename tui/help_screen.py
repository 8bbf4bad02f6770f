"""The help screen: what each pane shows and every key, read from the live bindings (so remaps show)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

PANES = """\
## The panes
- **Network**: the layers as columns of nodes. Forward steps light up left to right, backward steps
  right to left (◀──), an update lights the weights it changes (═W═).
- **Steps**: every operation of the run, grouped by phase. ▶ is the current step, ● a breakpoint.
  j/k or ↑/↓ browse the list, Enter jumps to the highlighted step.
- **Operation**: the formula with its shapes, the numpy code that computes it, and what it means.
- **Values**: every array the step read, and (→) the array it produced; the cells it wrote are marked.
- **Parameters and loss**: the loss once computed, and every W and b as they stand now. At an update
  step: the parameter before, its gradient, after, and the change.
"""

REMAP = """\
## Remapping keys
Put a `[keys]` table in `~/.config/nnstep/keys.toml` (or `$XDG_CONFIG_HOME/nnstep/keys.toml`), one
binding id per line, for example `next_step = "l,right"`. The ids are in the table above.
"""


def key_table(bindings: list[tuple[str, Binding]]) -> str:
    """A Markdown table of (key, what it does, binding id)."""
    rows = ["| key | what it does | id |", "| --- | --- | --- |"]
    for keys, binding in bindings:
        rows.append(f"| `{keys}` | {binding.description} | `{binding.id}` |")
    return "\n".join(rows)


class HelpScreen(ModalScreen[None]):
    """Keys and panes. Escape, q, ? or F1 closes it."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close", id="help.close")]

    def __init__(self, bindings: list[tuple[str, Binding]]) -> None:
        super().__init__()
        self.bindings = bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown("# nnstep: keys and panes\n\n## Keys\n" + key_table(self.bindings) + "\n\n" + PANES
                           + "\n" + REMAP + "\nEscape closes this screen.")

    def on_mount(self) -> None:
        self.query_one("#help-body").border_title = "Help"
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss()
