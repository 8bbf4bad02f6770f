"""The help screen: every key (read from the live bindings, so remapped keys show) and what each pane shows."""

from __future__ import annotations

from rich.style import StyleType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from nnstep.tui.theme import ThemeStyled, foreground

PANES = [
    ("Network", "the layers as columns of nodes. Forward steps light up left to right (──▶), backward "
                "steps right to left (◀──), an update lights the weights it changes (═W═)."),
    ("Steps", "every operation of the run, grouped by phase. ▶ is the current step, ● a breakpoint. "
              "↑/↓ or j/k browse the list, Enter (or a click) jumps to the highlighted step. While your own "
              "arrays are compared (m), each step says whether yours matches (✓), differs (✗), differs only as "
              "the course's loss function makes it (≈) or was not given (·)."),
    ("Operation", "the formula with its shapes, the numpy code that computes it, and what it means. While your "
                  "arrays are compared: whether yours matches, and where it differs, the first cell that does, "
                  "ours and yours there, and the likely mistake."),
    ("Values", "the array the step produced (→), with the cells it wrote highlighted, then every array it "
               "read. Blue is positive, red negative, grey zero. An entry at float rounding noise size (at most "
               "1.4e-14 × its array's largest) is shown as 0, and a ≈0 line under the array gives its exact value. "
               "Tab to it for the cell cursor: the arrows or h/j/k/l move it over every cell (hidden rows and "
               "columns come into view), its border gives the cell's value in full, the Operation pane how a "
               "cell of the result was computed, with its numbers, and the cells it read are highlighted; e shows "
               "the chain from the loss down to a delta, gradient or update cell; Escape hides the cursor. While "
               "your arrays are compared, yours is under each array of ours you gave (\"u1 yours\"), the cells "
               "that differ highlighted."),
    ("Parameters and loss", "the loss once computed, and every W and b as they stand now. At an update "
                            "step: the parameter before, its gradient, after, and the change."),
    ("Loss (training runs)", "every iteration's batch loss, the current iteration in yellow (log scale when "
                             "the losses span decades); a classifier's batch accuracy below, in green. "
                             "While the run is still being computed it shows the progress."),
    ("Input x (image data)", "the batch's first images as heatmaps, with each label d= and, once y is "
                             "computed, the network's guess y= (green right, red wrong)."),
]

REMAP = ("Keys can be remapped: put a [keys] table in ~/.config/nnstep/keys.toml (or "
         "$XDG_CONFIG_HOME/nnstep/keys.toml), one binding id per line, e.g.  next_step = \"l,right\"")


#: Textual's own keys (no binding ids of ours).
OTHER_KEYS = [
    ("Tab / shift+Tab", "Move between the Steps, Operation, Values and Parameters panes (j/k then scroll; in "
                        "the Values pane they move the cell cursor)"),
    ("ctrl+p", "The command palette: every action by name"),
    ("Escape", "Close this help or an error; leave a picker opened with o"),
]


def help_text(bindings: list[tuple[str, Binding]], with_ids: bool = True, key: StyleType = "bold",
              muted: StyleType = "dim") -> Table:
    """Keys, what they do and (on a wide screen) their binding ids, then the panes; keys drawn in ``key``,
    ids and notes in ``muted``."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style=key, no_wrap=True)
    table.add_column(ratio=1)
    if with_ids:
        table.add_column(style=muted, no_wrap=True)

    def row(*cells) -> None:
        table.add_row(*(cells if with_ids else cells[:2]))

    row(Text("Keys", style="bold underline"), "", "")
    for keys, binding in bindings:
        what = Text(binding.tooltip or binding.description)
        if not with_ids and binding.id:
            what.append(f"  ({binding.id})", style=muted)  # no room for a column: the id goes inline
        row(keys, what, binding.id or "")
    for keys, what in OTHER_KEYS:
        row(keys, what, "")
    row("", "", "")
    row(Text("Panes", style="bold underline"), "", "")
    for name, what in PANES:
        row(name, what, "")
    row("", "", "")
    row("", Text(REMAP, style=muted), "")
    row("", Text("j/k or the arrows scroll; Escape, q, ? or F1 closes this screen.", style=muted), "")
    return table


class HelpText(ThemeStyled, Static):
    """The help's table, drawn in the theme's colours (and again in a new theme's)."""

    COMPONENT_CLASSES = {"help--key", "help--muted"}

    DEFAULT_CSS = """
    HelpText > .help--key { color: $text-warning; text-style: bold; }
    HelpText > .help--muted { color: $text-muted; }
    """

    def __init__(self, bindings: list[tuple[str, Binding]], with_ids: bool, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bindings, self.with_ids = bindings, with_ids

    def on_mount(self) -> None:
        self.restyle()

    def restyle(self) -> None:
        self.drawing()
        style = self.get_component_rich_style
        self.update(help_text(self.bindings, self.with_ids, foreground(style("help--key")),
                              foreground(style("help--muted"))))


class HelpScreen(ModalScreen[None]):
    """Keys and panes. Escape, q, ? or F1 closes it."""

    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "Close", id="help.close"),
        Binding("j", "scroll('down')", "Down", show=False, id="help.down"),
        Binding("k", "scroll('up')", "Up", show=False, id="help.up"),
    ]

    def __init__(self, bindings: list[tuple[str, Binding]]) -> None:
        super().__init__()
        self.bindings = bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield HelpText(self.bindings, with_ids=self.app.size.width >= 100, id="help-text")

    def on_mount(self) -> None:
        body = self.query_one("#help-body")
        body.border_title = "nnstep · help"
        body.focus()

    def action_close(self) -> None:
        self.dismiss()

    def action_scroll(self, direction: str) -> None:
        body = self.query_one("#help-body")
        body.scroll_relative(y=1 if direction == "down" else -1, animate=False)
