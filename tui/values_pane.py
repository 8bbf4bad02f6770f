"""The array the current operation produced, with the cells it wrote marked, then every array it read; and
the cell cursor, with the cells that the explained cell read highlighted."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from nnstep.engine.numbers import exact
from nnstep.engine.steps import shape_label
from nnstep.engine.views import update_parts, written_cells
from nnstep.tui.arrays import Drawn, Placement, label_width, labelled_drawn, placement
from nnstep.tui.comparing import Overlay, Theirs
from nnstep.tui.cursor import Cursor, Grid, index_label
from nnstep.tui.text_view import StepView, iteration_of
from nnstep.tui.theme import background

#: Every sentence this pane shows a user (a translation replaces the templates).
TEXT = {
    "start": "The data this run starts from:",
    "batch": "Iteration {number}'s batch:",
    "read": "read {names}:",
    "after": "{name} after",
    "before": "{name} before",
    "change": "change",
    "yours": "{name} yours",
    "yours_label": "yours",
    "shapes": "yours is {theirs}, ours {ours}: they cannot be compared cell by cell",
    "title": "Values",
    "title_cell": "Values · {cell}",
    "cell": "{cell} = {value}",
    "cell_keys": "Cell",
    "cell_left": "Values pane: move the cell cursor left",
    "cell_down": "Values pane: move the cell cursor down (from an array's last row, to the next array)",
    "cell_up": "Values pane: move the cell cursor up",
    "cell_right": "Values pane: move the cell cursor right",
    "show_chain": "The chain from the loss down to the cell under the cursor (a delta, gradient or update), with "
                  "its numbers; again or Escape hides it",
}
CHAIN_TOOLTIP = TEXT["show_chain"]

@dataclass(frozen=True)
class Shown:
    """One array of the pane: its label, its values, the cells its step wrote, and what it is."""

    name: str
    array: np.ndarray
    written: np.ndarray | None = None
    #: The step's result (drawn with →; an update's parameter after and its change).
    produced: bool = False
    arrow: bool = False
    #: The name it has in ``step.inputs`` (None for a result): what an explanation's reads call it.
    source: str | None = None
    #: The user's own array (the compare overlay), shown under ``ours``, the array of ours it is compared
    #: with; ``differs``: its cells that differ (None: none marked); ``note``: a line under it (both shapes).
    theirs: bool = False
    ours: np.ndarray | None = None
    differs: np.ndarray | None = None
    note: str = ""
    #: A cell to keep in view when the array is too big to show whole (the first that differs).
    focus: tuple[int, ...] | None = None
    #: The label drawn, when it is not ``name`` (the user's array, right under ours, is just "yours").
    label: str = ""

    @property
    def drawn_label(self) -> str:
        return self.label or self.name


class ValuesPane(StepView):
    """The result (→) on top, what it read below; scrolls when the arrays are taller than the pane. Focused,
    it has a cell cursor that the arrows or h/j/k/l move (the screen keeps where it is)."""

    COMPONENT_CLASSES = {"array--cursor", "array--read", "array--differs"}

    DEFAULT_CSS = """
    ValuesPane > .array--cursor { background: $block-cursor-background; color: $block-cursor-foreground;
                                  text-style: bold; }
    ValuesPane > .array--read { background: $warning 35%; }
    ValuesPane > .array--differs { background: $error 35%; text-style: bold; }
    """

    # The Footer lists the four as one entry, ←↓↑→ Cell (a Binding.Group loses its gap in the compact Footer).
    BINDINGS = [
        Binding(keys, f"screen.move_cell('{way}')", TEXT["cell_keys"], show=way == "left",
                key_display="←↓↑→" if way == "left" else None, tooltip=TEXT[f"cell_{way}"], id=f"values.{way}")
        for keys, way in (("left,h", "left"), ("down,j", "down"), ("up,k", "up"), ("right,l", "right"))
    ] + [Binding("e", "screen.show_chain", "Chain", tooltip=CHAIN_TOOLTIP, id="show_chain")]

    class Focused(Message):
        """The pane took the focus: the cell cursor comes on."""

    def __init__(self, run, **kwargs) -> None:
        super().__init__(run, **kwargs)
        #: The cell cursor (None: off) and the reads of the cell it explains, as the screen says.
        self.cursor: Cursor | None = None
        self.reads: dict[str, np.ndarray] = {}
        #: The user's own arrays compared with this iteration (None: no comparison); set with set_overlay.
        self.overlay: Overlay | None = None
        #: The line of the cursor in each rendering kept, to scroll it into view; each array drawn; the grids.
        self._cursor_lines: OrderedDict[tuple, int | None] = OrderedDict()
        self._drawn: OrderedDict[tuple, Drawn] = OrderedDict()
        self._grids: OrderedDict[tuple, list[Grid]] = OrderedDict()
        self._placements: OrderedDict[tuple, Placement] = OrderedDict()

    def on_focus(self) -> None:
        self.post_message(self.Focused())

    def prepare_position(self, position: int) -> None:
        if self.cursor is None:  # with the cursor on, the next step is drawn with it, when it comes
            super().prepare_position(position)

    def array_styles(self):
        """The arrays' styles, with the cursor's (a solid block) and the read cells' (a background under the
        numbers' own colours)."""
        style = self.get_component_rich_style
        return replace(super().array_styles(), cursor=style("array--cursor"), read=background(style("array--read")),
                       differs=background(style("array--differs")))

    def set_overlay(self, overlay: Overlay | None) -> None:
        """Show the user's arrays beside ours (None: no longer); what was drawn without them is dropped."""
        self.overlay = overlay
        for cache in (self._cursor_lines, self._drawn, self._grids, self._placements, self._rendered):
            cache.clear()

    # --- what is shown ------------------------------------------------------------------------------------

    def shown_at(self, position: int) -> list[Shown]:
        """The arrays at ``position``, in the order drawn: the result(s), then what the step read."""
        run = self.run
        if position < 0:
            start = [Shown("x", run.x, source="x")] + ([Shown("d", run.d, source="d")] if run.d is not None else [])
            return self._with_theirs(None, start)
        step = run.steps[position]
        written = written_cells(step)
        if step.phase == "update":
            produced = [Shown(TEXT["after"].format(name=step.name), step.value, written, True, True),
                        Shown(TEXT["change"], update_parts(step).change, written, True)]
            read = [Shown(TEXT["before"].format(name=name) if name == step.name else name, a, source=name)
                    for name, a in step.inputs.items()]
        else:
            produced = [Shown(step.name, step.value, written, True, True)]
            read = [Shown(name, a, source=name) for name, a in step.inputs.items()]
        return self._with_theirs(step, produced + read)

    def _with_theirs(self, step, shown: list[Shown]) -> list[Shown]:
        """``shown`` with the user's own arrays, when compared, each under the array of ours it stands for: the
        result (an update's parameter after it) and the inputs they gave."""
        overlay = self.overlay
        if overlay is None:
            return shown
        out: list[Shown] = []
        for s in shown:
            if s.produced and not s.arrow:
                out.append(s)  # an update's change: theirs is their parameter after it
                continue
            theirs = overlay.theirs_result(step) if s.produced else overlay.theirs_input(step, s.source, s.array)
            if theirs is None:
                out.append(s)
                continue
            name = TEXT["yours"].format(name=step.name if s.produced and step is not None else s.name)
            focus = _first(theirs.differing)
            ours_focus = focus if theirs.differing is None or theirs.differing.size != np.size(s.array) else \
                _first(theirs.differing.reshape(np.shape(s.array)))
            out.append(replace(s, focus=ours_focus))
            out.append(_their_shown(name, s, theirs, focus))
        return out

    def grids(self, position: int, width: int | None = None) -> list[Grid]:
        """The arrays at ``position`` as the cursor moves over them (a wrapped vector's lines as drawn)."""
        width = width or self.scrollable_content_region.width or 80
        key = (iteration_of(self.run), position, self.digits, width)
        if key not in self._grids:
            shown = self.shown_at(position)
            w = label_width([(s.drawn_label, s.array) for s in shown])
            self._grids[key] = [Grid(s.name, np.shape(s.array), s.produced,
                                     self._draw(position, slot, s, w, self.digits, width).per_line)
                                for slot, s in enumerate(shown)]
            _bound(self._grids, self.CACHE_SIZE)
        return self._grids[key]

    def cell_line(self, position: int) -> str:
        """``u2[3] = 4.83``: the cursor's cell and its value in full, or "" without a cursor."""
        cursor = self.cursor
        shown = self.shown_at(position)
        if cursor is None or cursor.slot >= len(shown):
            return ""
        a = np.asarray(shown[cursor.slot].array)
        value = float(a[cursor.cell]) if a.ndim == len(cursor.cell) else float("nan")
        return TEXT["cell"].format(cell=index_label(shown[cursor.slot].name, cursor.cell), value=exact(value))

    def title(self, position: int) -> str:
        """``Values``; with the cursor on, ``Values · u2[3] = 4.83`` (the cell alone in a narrow pane)."""
        cell = self.cell_line(position)
        if not cell:
            return TEXT["title"]
        full = TEXT["title_cell"].format(cell=cell)
        return full if len(full) <= self.size.width - 4 else cell

    # --- drawing --------------------------------------------------------------------------------------------

    def render_at(self, position: int, digits: int, width: int, cursor: Cursor | None = None,
                  reads: dict[str, np.ndarray] | None = None) -> Text:
        styles = self.array_styles()
        shown = self.shown_at(position)
        w = label_width([(s.drawn_label, s.array) for s in shown])
        reads = reads or {}
        lines: list[Text] = []
        cursor_line = None
        if position < 0:
            training = self.run.scenario.training is not None
            heading = TEXT["batch"].format(number=self.run.number) if training else TEXT["start"]
            lines.append(Text(heading, style=styles.shape))
        for slot, s in enumerate(shown):
            if slot and not s.produced and shown[slot - 1].produced:
                names = ", ".join(t.name for t in shown if not t.produced and not t.theirs)
                lines.append(Text(TEXT["read"].format(names=names), style=styles.shape))
            on = cursor is not None and cursor.slot == slot
            marked = reads.get(s.source) if s.source else None
            drawn = self._draw(position, slot, s, w, digits, width, cursor.cell if on else None,
                               marked, None if marked is None else cursor.result, styles)
            if on and drawn.cursor_line is not None:
                cursor_line = len(lines) + drawn.cursor_line
            lines.extend(drawn.lines)
            if s.note:
                lines.append(Text("    " + s.note, style=styles.shape))
        text = Text("\n").join(lines)
        text.rstrip()
        self._cursor_lines[(position, digits, width, cursor)] = cursor_line
        _bound(self._cursor_lines, self.CACHE_SIZE)
        return text

    def _draw(self, position: int, slot: int, s: Shown, label_w: int, digits: int, width: int, cell=None,
              marked: np.ndarray | None = None, explained=None, styles=None) -> Drawn:
        """One array drawn, kept: a cursor move redraws only the arrays whose marks changed (``explained``,
        the result cell whose reads ``marked`` shows, stands for those marks)."""
        where = (iteration_of(self.run), position, slot, label_w, digits, width)
        key = where + (cell, explained)
        drawn = self._drawn.get(key)
        if drawn is None:
            place = self._placements.get(where)
            if place is None:
                place = self._placements[where] = placement(s.drawn_label, s.array, label_w, digits, width)
                _bound(self._placements, 4 * self.CACHE_SIZE)
            # Without the cursor in it, an array keeps the first cell that the explained one read in view.
            focus = None if marked is None or cell is not None or not marked.any() else \
                tuple(int(i) for i in np.argwhere(marked)[0])
            if focus is None and cell is None:
                focus = s.focus  # the first cell that differs from the user's
            drawn = labelled_drawn(s.drawn_label, s.array, label_w, digits, width, s.written, s.arrow,
                                   styles or self.array_styles(), cell, marked, place, focus, s.differs)
            self._drawn[key] = drawn
            _bound(self._drawn, 4 * self.CACHE_SIZE)
        else:
            self._drawn.move_to_end(key)
        return drawn

    def restyle(self) -> None:
        self._drawn.clear()  # drawn in the old theme's colours
        super().restyle()

    def redraw(self) -> None:
        if not self.is_mounted:
            return
        self._drawn_width = width = self.scrollable_content_region.width
        position, digits, cursor, reads = self.position, self.digits, self.cursor, self.reads
        if cursor is None:
            self.show_cached((iteration_of(self.run), position, digits),
                             lambda width: self.render_at(position, digits, width))
            return
        # The cursor is part of the key; the explained cell (cursor.result) decides the reads.
        key = (iteration_of(self.run), position, digits, cursor)
        scrolled = self.scroll_y
        self.show_cached(key, lambda width: self.render_at(position, digits, width, cursor, reads))
        line = self._cursor_lines.get((position, digits, width, cursor))
        if line is None:
            line = self._cursor_lines.get((position, digits, self.scrollable_content_region.width, cursor))
        self.keep_in_view(line, scrolled)

    def keep_in_view(self, line: int | None, scrolled: float) -> None:
        """Scroll as little as needed from ``scrolled`` for ``line`` to be in view (with a line of what is
        around it where there is one)."""
        height = self.scrollable_content_region.height
        if line is None or height <= 0:
            return
        top = int(scrolled)
        if line < top + 1:
            top = line - 1
        elif line > top + height - 2:
            top = line - height + 2
        top = max(0, min(top, max(0, self.virtual_size.height - height)))
        if top != round(self.scroll_y):
            self.scroll_to(y=top, animate=False, immediate=True)


def _first(mask: np.ndarray | None) -> tuple[int, ...] | None:
    """The first True cell of ``mask`` (None for none)."""
    if mask is None or not mask.any():
        return None
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _their_shown(name: str, ours: Shown, theirs: Theirs, focus) -> Shown:
    """The user's array as the pane shows it, under ``ours``."""
    note = "" if theirs.shapes is None else TEXT["shapes"].format(ours=shape_label(np.empty(theirs.shapes[0])),
                                                                 theirs=shape_label(np.empty(theirs.shapes[1])))
    return Shown(name, theirs.array, produced=ours.produced, theirs=True, ours=ours.array, differs=theirs.differing,
                 note=note, focus=focus, label=TEXT["yours_label"])


def _bound(cache: OrderedDict, size: int) -> None:
    """Drop the oldest entries beyond ``size``."""
    while len(cache) > size:
        cache.popitem(last=False)


def reads_masks(shown: Sequence[Shown], reads) -> dict[str, np.ndarray]:
    """Each input's cells that ``reads`` (an explanation's) names, as a mask of the input's shape."""
    masks: dict[str, np.ndarray] = {}
    shapes = {s.source: np.shape(s.array) for s in shown if s.source}
    for r in reads:
        shape = shapes.get(r.array)
        if shape is None or len(r.cell) != len(shape):
            continue
        if r.array not in masks:
            masks[r.array] = np.zeros(shape, dtype=bool)
        masks[r.array][r.cell] = True
    return masks
