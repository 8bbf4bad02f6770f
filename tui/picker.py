"""The scenario picker: the bundled scenarios and the ``.toml`` files of the current folder."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import get_current_worker

from nnstep.engine.bundled import bundled_scenarios
from nnstep.engine.limits import visible
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


#: What a row shows while its file is still being read.
READING = "…"


def describe(entry: Entry) -> Entry:
    """The entry with what the picker shows about its file, or why it does not load: whatever the file
    holds (the loader's own error, or anything else that stops it), the picker lists it."""
    path, where = entry.path, entry.where
    try:
        sc = load_scenario(path)
    except ScenarioError as exc:
        return Entry(path, where, error=f"{exc.key}: {exc.message}" if exc.key else exc.message)
    except MemoryError:
        return Entry(path, where, error="not enough memory to read it")
    except Exception as exc:  # noqa: BLE001 — a file from someone else must never take the picker down
        return Entry(path, where, error=visible(f"cannot be read ({type(exc).__name__}: {exc})"))
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


#: Files up to this size are read before the picker is first drawn, for as long as AT_ONCE_SECONDS.
AT_ONCE_BYTES = 64_000
AT_ONCE_SECONDS = 0.5


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def listing(folder: Path) -> list[Entry]:
    """The bundled scenarios, then the folder's ``.toml`` files: their names only, read nothing yet."""
    bundled = [Entry(p, "bundled", loss=READING) for p in bundled_scenarios()]
    here = sorted(_as_given(p) for p in folder.glob("*.toml") if _is_file(p))
    return bundled + [Entry(p, "this folder", loss=READING) for p in here]


def entries(folder: Path) -> list[Entry]:
    """The bundled scenarios, then the folder's ``.toml`` files (which may fail to load), each described."""
    return [describe(e) for e in listing(folder)]


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
    class EntryRead(Message):
        """The worker has read row ``index``'s file: what to show about it."""

        index: int
        entry: Entry

    @dataclass
    class AllRead(Message):
        """Every file of the listing has been read."""

    @dataclass
    class ScenarioChosen(Message):
        """The user chose the file at ``path`` (the app opens it, or shows why it does not load)."""

        path: Path

    def __init__(self, folder: Path, cancellable: bool) -> None:
        super().__init__()
        self.folder = folder
        self.cancellable = cancellable
        #: The rows. Small files are read at once, within a time budget; the rest (a large file, or a
        #: folder of many) are read by a worker after the picker is shown, so that no file can hold it up.
        self.entries = listing(folder)
        started = time.perf_counter()
        for i, entry in enumerate(self.entries):
            if time.perf_counter() - started > AT_ONCE_SECONDS:
                break
            if _size(entry.path) <= AT_ONCE_BYTES:
                self.entries[i] = describe(entry)
        #: Every file has been read (the rows say what each holds).
        self.read_all = False

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
        self._read_files()

    def _read_files(self) -> None:
        if any(entry.loss == READING for entry in self.entries):
            self._read_in_background()
        else:
            self.read_all = True

    @work(thread=True, exclusive=True, group="picker")
    def _read_in_background(self) -> None:
        worker = get_current_worker()
        for i, entry in enumerate(list(self.entries)):
            if worker.is_cancelled:
                return
            if entry.loss == READING:
                self.post_message(self.EntryRead(i, describe(entry)))
        self.post_message(self.AllRead())

    @on(EntryRead)
    def _entry_read(self, event: EntryRead) -> None:
        self.entries[event.index] = entry = event.entry
        table, key = self.query_one(DataTable), str(event.index)
        for column, value in ((self._name_column, self._name_text(entry)), (self._shape_column, entry.shape),
                              (self._loss_column, entry.loss), (self._description_column, self._description(entry))):
            table.update_cell(key, column, value, update_width=True)

    @on(AllRead)
    def _all_read(self) -> None:
        # Every row is known: lay the table out once more from scratch, so that its columns fit the
        # final rows exactly as if they had been known from the start (the cursor stays on its row).
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        self.fill_table()
        table.move_cursor(row=row)
        self.read_all = True

    def fill_table(self) -> None:
        """One row per file; descriptions cut (with …) to the screen's width, so nothing scrolls sideways."""
        table = self.query_one(DataTable)
        self._name_column, self._shape_column, self._loss_column, _, self._description_column = table.add_columns(
            "name", "shape", "loss", "where", "description")
        self.drawing()
        for i, e in enumerate(self.entries):
            table.add_row(self._name_text(e), e.shape, e.loss, e.where, self._description(e), key=str(i))

    def restyle(self) -> None:
        """A new theme: the files that do not load are drawn in its error colour."""
        table = self.query_one(DataTable)
        for i, entry in enumerate(self.entries):
            if entry.error:
                table.update_cell(str(i), self._name_column, self._name_text(entry))
                table.update_cell(str(i), self._description_column, self._description(entry))

    def _error_style(self) -> Style:
        # Its colour only: the table draws its own background (stripes, the cursor) under the cell.
        return foreground(self.get_component_rich_style("picker--error"))

    def _name_text(self, entry: Entry) -> Text:
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
