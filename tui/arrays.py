"""Arrays as Rich text for the panes: decimals aligned, signs coloured, written cells marked.

Big arrays are summarised (first rows and columns, an ellipsis, the last ones) so that a 300-unit
layer renders as fast as a 3-unit one. Pure functions: the panes pass the styles their theme gives.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np
from rich.style import Style
from rich.text import Text

from nnstep.engine.numbers import exact


@dataclass(frozen=True)
class ArrayStyles:
    """How the parts of an array are drawn; the panes pass their theme's (their component classes)."""

    positive: Style = Style()
    negative: Style = Style()
    zero: Style = Style(dim=True)
    #: Laid over a written cell's sign style: a background and bold, no colour of its own.
    written: Style = Style(reverse=True)
    #: Shapes, ellipses and notes.
    shape: Style = Style(dim=True)
    label: Style = Style(bold=True)
    #: Laid over the cell under the cell cursor, and over the cells that the explained cell read.
    cursor: Style = Style(reverse=True, bold=True)
    read: Style = Style(underline=True)
    #: Laid over the cells of the user's own array that differ from ours (the compare overlay).
    differs: Style = Style(reverse=True)


#: Without a theme (tests, a plain console): signs uncoloured.
PLAIN = ArrayStyles()

#: Rows shown in full before an array is summarised as head, ⋮, tail.
MAX_ROWS = 11

#: An entry no bigger than NOISE × its array's largest is float rounding noise: 64 float64 roundings
#: (ε = 2.2e-16 each) of the array's own scale, ≈ 1.4e-14 of it. A sum of products that cancels to zero
#: in exact arithmetic leaves a few ε of its terms' size (−5.55e-17 beside entries near 1); such a value
#: carries no digit of the computation, so it must not decide how the rest of the array is printed.
NOISE = 64 * float(np.finfo(np.float64).eps)


def rounding_noise(array: np.ndarray) -> np.ndarray:
    """Where ``array`` holds a non-zero entry at rounding-noise size: |v| ≤ NOISE · max |array|."""
    a = np.asarray(array, dtype=np.float64)
    finite = np.isfinite(a)
    if not finite.any():
        return np.zeros(a.shape, dtype=bool)
    scale = float(np.abs(a[finite]).max())
    return finite & (a != 0) & (np.abs(np.where(finite, a, 0.0)) <= NOISE * scale)


def number_format(array: np.ndarray, digits: int) -> str:
    """One format for a whole array, so decimals line up: fixed point unless some entry would need an
    exponent to be seen (≥ 1e5, or non-zero yet below the last decimal shown), as numpy decides. Entries
    at rounding-noise size (:func:`rounding_noise`) do not count: they print as 0.0000 or −0.0000."""
    array = np.asarray(array, dtype=np.float64)
    finite = np.abs(array[np.isfinite(array) & ~rounding_noise(array)])
    nonzero = finite[finite > 0]
    if nonzero.size == 0:
        return f".{digits}f"
    big, small = float(nonzero.max()), float(nonzero.min())
    if big >= 1e5 or small < 10.0 ** -digits:
        return f".{digits - 1}e"
    return f".{digits}f"


def _cell(v: float, fmt: str) -> str:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return format(v, fmt)


def noise_note(array: np.ndarray, digits: int) -> str:
    """A line for an array printed in fixed point that has entries at rounding-noise size: they show as
    0, and the note gives how many and the biggest one's exact value ("" when there are none)."""
    a = np.asarray(array, dtype=np.float64)
    if a.ndim == 0 or not number_format(a, digits).endswith("f"):
        return ""
    noise = rounding_noise(a)
    count = int(noise.sum())
    if not count:
        return ""
    where = np.unravel_index(int(np.argmax(np.where(noise, np.abs(np.nan_to_num(a)), -1.0))), a.shape)
    index, value = f"[{', '.join(str(int(i)) for i in where)}]", exact(float(a[where]))
    size = f"at most {NOISE:.1e} × the largest entry"
    if count == 1:
        return f"≈0: {index} is {value}, float rounding noise ({size}), shown as 0"
    return f"≈0: {count} entries are float rounding noise ({size}), shown as 0; the biggest, {index}, is {value}"


def _style(v: float, styles: ArrayStyles) -> Style:
    if v > 0:
        return styles.positive
    if v < 0 or np.isnan(v):
        return styles.negative
    return styles.zero


def _keep(n: int, limit: int, focus: int | None = None, window: int | None = None) -> list[int | None]:
    """Indices to show out of n, at most ``limit`` of them, with None where an ellipsis goes: the first ones
    and the last ones; or, when ``focus`` (the cell cursor's) is not among those, a window of them around it,
    with an ellipsis on each side that is left out. The windows step by a few entries at a time, one entry
    of the window before kept in view, so the numbers do not slide on each key. ``window``: how many entries
    a window has room for beside its two ellipses (by default ``limit`` − 1)."""
    if n <= limit:
        return list(range(n))
    limit = max(2, limit)
    tail = max(1, limit // 4)
    default = list(range(limit - tail)) + [None] + list(range(n - tail, n))
    if focus is None or focus in default:
        return default
    size = max(1, min(n - 1, limit - 1 if window is None else window))  # the second ellipsis takes some room
    stride = size - 2
    start = ((focus - 1) // stride) * stride if stride > 0 else focus - (size - 1) // 2
    start = max(0, min(n - size, start))
    return ([None] if start else []) + list(range(start, start + size)) + ([None] if start + size < n else [])


@dataclass
class Drawn:
    """An array drawn as lines, with the line that holds the cell cursor (None: no cursor in this array)
    and, for a vector wrapped onto several lines, how many entries each line holds (else 0)."""

    lines: list[Text]
    cursor_line: int | None = None
    per_line: int = 0


def _matrix_cell(shape: tuple[int, ...], cell) -> tuple[int, int] | None:
    """Where ``cell`` of an array of ``shape`` is in the array as a matrix (rows × the rest flattened)."""
    if cell is None or len(cell) != len(shape):
        return None
    if len(shape) == 1:
        return 0, int(cell[0])
    column = 0
    for i, n in zip(cell[1:], shape[1:]):
        column = column * n + int(i)
    return int(cell[0]), column


def array_lines(array: np.ndarray, digits: int = 4, width: int = 80,
                written: np.ndarray | None = None, wrap: bool = False, styles: ArrayStyles = PLAIN,
                cursor=None, marked: np.ndarray | None = None) -> list[Text]:
    """The array as lines of text at most ``width`` cells wide: a number, a row, or one line per row; the cell
    ``cursor`` (an index, None for none) kept in view and marked, and the ``marked`` cells (a mask)."""
    return array_drawn(array, digits, width, written, wrap, styles, cursor, marked).lines


def array_drawn(array: np.ndarray, digits: int = 4, width: int = 80, written: np.ndarray | None = None,
                wrap: bool = False, styles: ArrayStyles = PLAIN, cursor=None,
                marked: np.ndarray | None = None, focus=None, differs: np.ndarray | None = None) -> Drawn:
    """:func:`array_lines`, with the line the cursor is on and a wrapped vector's entries per line; without
    a cursor, the cell ``focus`` (an index) is kept in view; ``differs``: the cells (a mask) of the user's
    own array that differ from ours."""
    a = np.asarray(array, dtype=np.float64)
    if a.ndim == 0:
        v = float(a)
        style = _style(v, styles)
        on = cursor is not None and len(cursor) == 0
        if marked is not None and bool(np.asarray(marked)):
            style = style + styles.read
        if differs is not None and bool(np.asarray(differs)):
            style = style + styles.differs
        if on:
            style = style + styles.cursor
        return Drawn([Text(exact(v), style=style)], 0 if on else None)  # as Python prints it
    matrix = a.reshape(1, -1) if a.ndim == 1 else a.reshape(a.shape[0], -1)
    marks = Marks(None if written is None else np.asarray(written).reshape(matrix.shape),
                  None if marked is None else np.asarray(marked).reshape(matrix.shape),
                  _matrix_cell(a.shape, cursor),
                  None if differs is None else np.asarray(differs).reshape(matrix.shape))
    fmt = number_format(matrix, digits)
    # In fixed point, entries at rounding-noise size print as ±0.0000 and are coloured as zeros.
    zeros = rounding_noise(matrix) if fmt.endswith("f") else np.zeros(matrix.shape, dtype=bool)
    if a.ndim == 1 and wrap:
        # A vector too long for one line wraps, as numpy prints it, while it fits in MAX_ROWS lines.
        cell_width = max(len(_cell(v, fmt)) for v in a)
        per_line = max(1, (width - 3) // (cell_width + 2))
        if per_line < a.size <= per_line * MAX_ROWS:
            return _wrapped(a, marks, zeros[0], fmt, cell_width, per_line, styles)
    focus = marks.cursor or _matrix_cell(a.shape, focus)
    rows = _keep(matrix.shape[0], MAX_ROWS - 1, None if focus is None else focus[0])
    shown_rows = [r for r in rows if r is not None]
    cell_width = max(len(_cell(v, fmt)) for v in matrix[shown_rows].ravel()) if shown_rows else 1
    # A row is "[ " + cells of cell_width + 2 + "]"; an elided row gives one cell's room to "…  ".
    fit = (width - 3) // (cell_width + 2)
    # Beside the first and last columns one "…  " (3 cells); around the cursor's, two.
    cols = _keep(matrix.shape[1], fit if matrix.shape[1] <= fit else max(2, (width - 6) // (cell_width + 2)),
                 None if focus is None else focus[1], max(1, (width - 9) // (cell_width + 2)))
    lines: list[Text] = []
    cursor_line = None
    for k, r in enumerate(rows):
        if r is None:
            before = rows[k - 1] if k else -1
            after = rows[k + 1] if k + 1 < len(rows) else matrix.shape[0]
            hidden = after - before - 1
            words = f"{hidden} rows above" if k == 0 else f"{hidden} more rows"
            lines.append(Text("  ").append(f"⋮  {words}", style=styles.shape))
            continue
        if focus is not None and focus[0] == r:
            cursor_line = len(lines)
        line = Text("[ " if r == 0 or a.ndim == 1 else "  ")
        _append_cells(line, matrix[r], marks.row(r), zeros[r], cols, fmt, cell_width, styles)
        lines.append(line)
    if rows[-1] is not None:
        _closed(lines)
    return Drawn(lines, cursor_line)


@dataclass(frozen=True)
class Marks:
    """What is marked in an array drawn as a matrix: the cells written, the cells read, the cursor's cell, and
    (in the user's own array) the cells that differ from ours."""

    written: np.ndarray | None = None
    read: np.ndarray | None = None
    cursor: tuple[int, int] | None = None
    differs: np.ndarray | None = None

    def row(self, r: int) -> "RowMarks":
        return RowMarks(None if self.written is None else self.written[r], None if self.read is None else self.read[r],
                        self.cursor[1] if self.cursor is not None and self.cursor[0] == r else None,
                        None if self.differs is None else self.differs[r])


@dataclass(frozen=True)
class RowMarks:
    written: np.ndarray | None = None
    read: np.ndarray | None = None
    cursor: int | None = None
    differs: np.ndarray | None = None


def _append_cells(line: Text, row: np.ndarray, marks: RowMarks, zeros: np.ndarray, cols, fmt: str,
                  cell_width: int, styles: ArrayStyles) -> None:
    """The entries ``cols`` of ``row`` (None: the ellipsis), right-aligned, coloured by sign (``zeros``
    as zeros), written, read and cursor cells marked."""
    for c in cols:
        if c is None:
            line.append("…  ", style=styles.shape)
            continue
        v = float(row[c])
        style = styles.zero if zeros[c] else _style(v, styles)
        if marks.written is not None and marks.written[c]:
            style = style + styles.written
        if marks.read is not None and marks.read[c]:
            style = style + styles.read
        if marks.differs is not None and marks.differs[c]:
            style = style + styles.differs
        if marks.cursor == c:
            style = style + styles.cursor
        line.append(_cell(v, fmt).rjust(cell_width), style=style)
        line.append("  ")


def _closed(lines: list[Text]) -> list[Text]:
    lines[-1].rstrip()
    lines[-1].append(" ]")
    return lines


def _wrapped(a: np.ndarray, marks: Marks, zeros: np.ndarray, fmt: str, cell_width: int, per_line: int,
             styles: ArrayStyles) -> Drawn:
    """A vector over several lines of ``per_line`` entries, as numpy wraps a long one."""
    lines = []
    row = marks.row(0)
    cursor_line = None if row.cursor is None else row.cursor // per_line
    for start in range(0, a.size, per_line):
        line = Text("[ " if start == 0 else "  ")
        _append_cells(line, a, row, zeros, range(start, min(a.size, start + per_line)), fmt, cell_width, styles)
        lines.append(line)
    return Drawn(_closed(lines), cursor_line, per_line)


def labelled(name: str, array: np.ndarray, label_width: int, digits: int, width: int,
             written: np.ndarray | None = None, arrow: bool = False, styles: ArrayStyles = PLAIN,
             cursor=None, marked: np.ndarray | None = None) -> Text:
    """``→ name (shape)  [ numbers ]``, later rows of a matrix indented under the first, then a note when
    entries at rounding-noise size are shown as 0 (:func:`noise_note`); the cell ``cursor`` (an index) kept
    in view and marked, and the ``marked`` cells (a mask of the array's shape)."""
    return joined(labelled_drawn(name, array, label_width, digits, width, written, arrow, styles, cursor, marked).lines)


def joined(lines: list[Text]) -> Text:
    """Lines as one text."""
    return Text("\n").join(lines)


@dataclass(frozen=True)
class Placement:
    """Where an array's numbers go beside its label: the room they have, whether a vector wraps, and
    whether they start on the line below the label."""

    room: int
    wrap: bool = False
    below: bool = False


def head_of(name: str, array: np.ndarray, label_width: int, arrow: bool, styles: ArrayStyles) -> Text:
    """``→ name  (shape)  ``, padded so that the shapes of a block line up."""
    a = np.asarray(array)
    shape = "scalar" if a.ndim == 0 else "(" + "×".join(map(str, a.shape)) + ")"
    head = Text("→ " if arrow else "  ", style="bold")
    head.append(name, style=styles.label)
    head.append(" " * max(1, label_width - len(name) - len(shape)))
    head.append(shape, style=styles.shape)
    head.append("  ")
    return head


def placement(name: str, array: np.ndarray, label_width: int, digits: int, width: int) -> Placement:
    """Beside the label if the numbers fit there; else on the lines below, with more room; a vector that does
    not fit there either wraps beside its label instead, as numpy prints it. (The cursor and the marks do not
    change it: the same array is always laid out the same way.)"""
    a = np.asarray(array)
    indent = head_of(name, a, label_width, False, PLAIN).cell_len

    def elided(room: int, wrap: bool = False) -> tuple[bool, int]:
        lines = array_lines(a, digits, max(24, room), wrap=wrap)
        return any("…" in line.plain for line in lines), len(lines)

    beside = Placement(width - indent)
    if not a.ndim or not elided(width - indent)[0]:
        return beside
    below = Placement(width - 4, below=True)
    if a.ndim == 1 and elided(width - 4)[0]:
        cut, count = elided(width - indent, wrap=True)
        if a.size / count >= 3:  # three or more to a line beside the label reads as one array
            beside = Placement(width - indent, wrap=True)
        else:
            below = Placement(width - 4, wrap=True, below=True)
    if elided(beside.room, beside.wrap)[0] and indent > 4:
        return below
    return beside


def labelled_drawn(name: str, array: np.ndarray, label_width: int, digits: int, width: int,
                   written: np.ndarray | None = None, arrow: bool = False, styles: ArrayStyles = PLAIN,
                   cursor=None, marked: np.ndarray | None = None, place: Placement | None = None,
                   focus=None, differs: np.ndarray | None = None) -> Drawn:
    """:func:`labelled` as lines, with the line the cursor is on and a wrapped vector's entries per line;
    ``place``: its :func:`placement`, when known; ``focus``: a cell to keep in view when there is no cursor;
    ``differs``: the user's cells that differ from ours (:func:`array_drawn`)."""
    a = np.asarray(array)
    place = place or placement(name, a, label_width, digits, width)
    head = head_of(name, a, label_width, arrow, styles)
    body = array_drawn(a, digits, max(24, place.room), written, place.wrap, styles, cursor, marked, focus, differs)
    first = Text()
    first.append_text(head)  # the head's bold is its own, not the numbers'
    if place.below:
        first.rstrip()
    indent = 4 if place.below else head.cell_len
    lines = [first] if place.below else []
    for i, line in enumerate(body.lines):
        lines.append((first if i == 0 and not place.below else Text(" " * indent)).append_text(line))
    for line in textwrap.wrap(noise_note(a, digits), max(24, width - indent)):
        lines.append(Text(" " * indent).append(line, style=styles.shape))
    cursor_line = None if body.cursor_line is None else body.cursor_line + int(place.below)
    return Drawn(lines, cursor_line, body.per_line)


def label_width(names_and_arrays) -> int:
    """The width that lines up every ``name  (shape)`` of a block."""
    widths = []
    for name, array in names_and_arrays:
        a = np.asarray(array)
        shape = "scalar" if a.ndim == 0 else "(" + "×".join(map(str, a.shape)) + ")"
        widths.append(len(name) + 1 + len(shape))
    return max(widths, default=0)
