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


def _keep(n: int, limit: int) -> list[int | None]:
    """Indices to show out of n, at most ``limit`` of them, with None where the ellipsis goes."""
    if n <= limit:
        return list(range(n))
    limit = max(2, limit)
    tail = max(1, limit // 4)
    return list(range(limit - tail)) + [None] + list(range(n - tail, n))


def array_lines(array: np.ndarray, digits: int = 4, width: int = 80,
                written: np.ndarray | None = None, wrap: bool = False, styles: ArrayStyles = PLAIN) -> list[Text]:
    """The array as lines of text at most ``width`` cells wide: a number, a row, or one line per row."""
    a = np.asarray(array, dtype=np.float64)
    if a.ndim == 0:
        v = float(a)
        return [Text(exact(v), style=_style(v, styles))]  # as Python prints it
    matrix = a.reshape(1, -1) if a.ndim == 1 else a.reshape(a.shape[0], -1)
    mask = None if written is None else np.asarray(written).reshape(matrix.shape)
    fmt = number_format(matrix, digits)
    # In fixed point, entries at rounding-noise size print as ±0.0000 and are coloured as zeros.
    zeros = rounding_noise(matrix) if fmt.endswith("f") else np.zeros(matrix.shape, dtype=bool)
    if a.ndim == 1 and wrap:
        # A vector too long for one line wraps, as numpy prints it, while it fits in MAX_ROWS lines.
        cell_width = max(len(_cell(v, fmt)) for v in a)
        per_line = max(1, (width - 3) // (cell_width + 2))
        if per_line < a.size <= per_line * MAX_ROWS:
            return _wrapped(a, mask, zeros[0], fmt, cell_width, per_line, styles)
    rows = _keep(matrix.shape[0], MAX_ROWS - 1)
    shown_rows = [r for r in rows if r is not None]
    cell_width = max(len(_cell(v, fmt)) for v in matrix[shown_rows].ravel()) if shown_rows else 1
    # A row is "[ " + cells of cell_width + 2 + "]"; an elided row gives one cell's room to "…  ".
    fit = (width - 3) // (cell_width + 2)
    cols = _keep(matrix.shape[1], fit if matrix.shape[1] <= fit else max(2, (width - 6) // (cell_width + 2)))
    lines = []
    for r in rows:
        line = Text("  ")
        if r is None:
            line.append(f"⋮  {matrix.shape[0] - len(shown_rows)} more rows", style=styles.shape)
            lines.append(line)
            continue
        line = Text("[ " if len(lines) == 0 or a.ndim == 1 else "  ")
        _append_cells(line, matrix[r], None if mask is None else mask[r], zeros[r], cols, fmt, cell_width, styles)
        lines.append(line)
    return _closed(lines)


def _append_cells(line: Text, row: np.ndarray, written: np.ndarray | None, zeros: np.ndarray, cols, fmt: str,
                  cell_width: int, styles: ArrayStyles) -> None:
    """The entries ``cols`` of ``row`` (None: the ellipsis), right-aligned, coloured by sign (``zeros``
    as zeros), written ones marked."""
    for c in cols:
        if c is None:
            line.append("…  ", style=styles.shape)
            continue
        v = float(row[c])
        style = styles.zero if zeros[c] else _style(v, styles)
        if written is not None and written[c]:
            style = style + styles.written
        line.append(_cell(v, fmt).rjust(cell_width), style=style)
        line.append("  ")


def _closed(lines: list[Text]) -> list[Text]:
    lines[-1].rstrip()
    lines[-1].append(" ]")
    return lines


def _wrapped(a: np.ndarray, mask: np.ndarray | None, zeros: np.ndarray, fmt: str, cell_width: int, per_line: int,
             styles: ArrayStyles) -> list[Text]:
    """A vector over several lines of ``per_line`` entries, as numpy wraps a long one."""
    lines = []
    for start in range(0, a.size, per_line):
        line = Text("[ " if start == 0 else "  ")
        _append_cells(line, a, None if mask is None else mask[0], zeros, range(start, min(a.size, start + per_line)),
                      fmt, cell_width, styles)
        lines.append(line)
    return _closed(lines)


def labelled(name: str, array: np.ndarray, label_width: int, digits: int, width: int,
             written: np.ndarray | None = None, arrow: bool = False, styles: ArrayStyles = PLAIN) -> Text:
    """``→ name (shape)  [ numbers ]``, later rows of a matrix indented under the first, then a note when
    entries at rounding-noise size are shown as 0 (:func:`noise_note`)."""
    a = np.asarray(array)
    shape = "scalar" if a.ndim == 0 else "(" + "×".join(map(str, a.shape)) + ")"
    head = Text("→ " if arrow else "  ", style="bold")
    head.append(name, style=styles.label)
    head.append(" " * max(1, label_width - len(name) - len(shape)))
    head.append(shape, style=styles.shape)
    head.append("  ")
    indent = head.cell_len
    body = array_lines(a, digits, max(24, width - indent), written, styles=styles)
    if any("…" in line.plain for line in body) and a.ndim:
        # Too wide beside its label: the numbers go on the lines below, with more room; a vector that
        # does not fit there either wraps beside its label instead, as numpy prints it.
        below = array_lines(a, digits, max(24, width - 4), written, styles=styles)
        if a.ndim == 1 and any("…" in line.plain for line in below):
            wrapped = array_lines(a, digits, max(24, width - indent), written, wrap=True, styles=styles)
            if a.size / len(wrapped) >= 3:  # three or more to a line beside the label reads as one array
                body = wrapped
            else:
                below = array_lines(a, digits, max(24, width - 4), written, wrap=True, styles=styles)
        if any("…" in line.plain for line in body) and indent > 4:
            head.rstrip()
            indent = 4
            body = [Text()] + below
    out = Text()
    for i, line in enumerate(body):
        if i:
            out.append("\n" + " " * indent)
        else:
            out.append_text(head)
        out.append_text(line)
    for line in textwrap.wrap(noise_note(a, digits), max(24, width - indent)):
        out.append("\n" + " " * indent)
        out.append(line, style=styles.shape)
    return out


def label_width(names_and_arrays) -> int:
    """The width that lines up every ``name  (shape)`` of a block."""
    widths = []
    for name, array in names_and_arrays:
        a = np.asarray(array)
        shape = "scalar" if a.ndim == 0 else "(" + "×".join(map(str, a.shape)) + ")"
        widths.append(len(name) + 1 + len(shape))
    return max(widths, default=0)
