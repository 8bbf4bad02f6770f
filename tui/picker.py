"""The scenario picker: the bundled scenarios and the ``.toml`` files of the current folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from nnstep.engine.bundled import bundled_scenarios
from nnstep.engine.numbers import count
from nnstep.engine.scenario import ScenarioError, load_scenario
from nnstep.tui.theme import ThemeStyled, foreground


@dataclass(frozen=True)
class Entry:
    """One scenario file, with what the picker shows about it or why it does not load."""

    path: Path
    where: str
    shape: str = ""
    loss: str = ""
    description: str = ""
    error: str = ""


def _entry(path: Path, where: str) -> Entry:
    try:
        sc = load_scenario(path)
    except ScenarioError as exc:
        return Entry(path, where, error=f"{exc.key}: {exc.message}" if exc.key else exc.message)
    first = (sc.description or sc.name).split(". ")[0].rstrip(".")
    loss = sc.loss or "forward only"
    if sc.training is not None:
        loss += f", {count(sc.training.iterations, 'iteration')}"
    return Entry(path, where, sc.shape, loss, f"{sc.name}: {first}" if sc.description else sc.name)


def _as_given(path: Path) -> Path:
    """The path relative to the current folder when it is inside it, as a user would type it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def entries(folder: Path) -> list[Entry]:
    """The bundled scenarios, then the folder's ``.toml`` files (which may fail to load)."""
    bundled = [_entry(p, "bundled") for p in bundled_scenarios()]
    here = sorted(_as_given(p) for p in folder.glob("*.toml") if p.is_file())
    return bundled + [_entry(p, "this folder") for p in here]


class PickerScreen(ThemeStyled, Screen):
    """Choose a scenario; Enter opens it. Files that do not load say why, and open to their error."""

    COMPONENT_CLASSES = {"picker--error"}

    DEFAULT_CSS = """
    PickerScreen > .picker--error { color: $text-error; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Back", id="picker.cancel"),
        Binding("j", "cursor_down", "Down", show=False, id="picker.down"),
        Binding("k", "cursor_up", "Up", show=False, id="picker.up"),
        Binding("g,home", "first", "First", show=False, priority=True, id="picker.first"),
        Binding("G,end", "last", "Last", show=False, priority=True, id="picker.last"),
    ]

    @dataclass
    class ScenarioChosen(Message):
        """The user chose the file at ``path`` (the app opens it, or shows why it does not load)."""

        path: Path

    def __init__(self, folder: Path, cancellable: bool) -> None:
        super().__init__()
        self.folder = folder
        self.cancellable = cancellable
        self.entries = entries(folder)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text.assemble(("Open a scenario", "bold"), "  ↑/↓ j/k choose · Enter opens · bundled "
                                   "scenarios, then the .toml files of this folder"), id="picker-help")
        yield DataTable(id="picker-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "nnstep · open a scenario"
        self.fill_table()
        self.query_one(DataTable).focus()

    def fill_table(self) -> None:
        """One row per file; descriptions cut (with …) to the screen's width, so nothing scrolls sideways."""
        table = self.query_one(DataTable)
        self._name_column, *_, self._description_column = table.add_columns("name", "shape", "loss", "where",
                                                                             "description")
        self.drawing()
        for i, e in enumerate(self.entries):
            table.add_row(self._name(e), e.shape, e.loss, e.where, self._description(e), key=str(i))

    def restyle(self) -> None:
        """A new theme: the files that do not load are drawn in its error colour."""
        table = self.query_one(DataTable)
        for i, entry in enumerate(self.entries):
            if entry.error:
                table.update_cell(str(i), self._name_column, self._name(entry))
                table.update_cell(str(i), self._description_column, self._description(entry))

    def _error_style(self) -> Style:
        # Its colour only: the table draws its own background (stripes, the cursor) under the cell.
        return foreground(self.get_component_rich_style("picker--error"))

    def _name(self, entry: Entry) -> Text:
        return Text(entry.path.stem, style=self._error_style() if entry.error else "bold")

    def _description(self, entry: Entry) -> Text:
        widths = [max(len(e.path.stem) for e in self.entries), max(len(e.shape) for e in self.entries) or 5,
                  max(len(e.loss) for e in self.entries) or 4, len("this folder")]
        room = max(10, self.app.size.width - sum(widths) - 2 * 5 - 2)
        if entry.error:
            text = Text(f"does not load: {entry.error}", style=self._error_style())
        else:
            text = Text(entry.description)
        text.truncate(room, overflow="ellipsis")
        return text

    def on_resize(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            for i, entry in enumerate(self.entries):
                table.update_cell(str(i), self._description_column, self._description(entry))

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "cancel":
            return self.cancellable
        return True

    def action_cancel(self) -> None:
        self.app.pop_screen()

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def action_first(self) -> None:
        self.query_one(DataTable).move_cursor(row=0)

    def action_last(self) -> None:
        self.query_one(DataTable).move_cursor(row=len(self.entries) - 1)

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        self.post_message(self.ScenarioChosen(self.entries[int(event.row_key.value)].path))
