"""The Values pane's cell cursor as pure functions: which array and cell it is on, how the keys move it, and
where it lands when the step changes.

The pane shows a list of arrays (a step's result first, then what it read); the cursor sees each as a
:class:`Grid` of lines and columns, as drawn: a matrix has a line per row, a vector one line (or, wrapped as
numpy wraps a long one, ``per_line`` entries a line), a number one cell. Moving down from an array's last
line goes to the next array. Nothing here imports Textual: the debugger screen keeps the :class:`Cursor` in
its view and the panes draw it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal, Sequence

#: An index into an array: ``(0, 3)`` in a matrix, ``(3,)`` in a vector, ``()`` for a number.
Cell = tuple[int, ...]
Direction = Literal["left", "right", "up", "down"]
DIRECTIONS: tuple[Direction, ...] = ("left", "right", "up", "down")


@dataclass(frozen=True)
class Grid:
    """One array of the Values pane, as the cursor moves over it."""

    #: The name it is shown under (``u2``; ``W1 after``, ``change``, ``W1 before`` at an update).
    name: str
    shape: tuple[int, ...]
    #: The step's result (an update's parameter after and its change), not one of its inputs.
    produced: bool = False
    #: For a vector wrapped onto several lines, the entries on each line; 0 when it is on one line.
    per_line: int = 0

    @property
    def lines(self) -> int:
        if len(self.shape) == 0:
            return 1
        if len(self.shape) == 1:
            return -(-self.shape[0] // self.per_line) if self.per_line and self.shape[0] else 1
        return max(1, self.shape[0])

    def line_length(self, line: int) -> int:
        """How many cells line ``line`` holds."""
        if len(self.shape) == 0:
            return 1
        if len(self.shape) == 1:
            n = self.shape[0]
            if not self.per_line:
                return max(1, n)
            return max(1, min(self.per_line, n - line * self.per_line))
        return max(1, math.prod(self.shape[1:]))

    def at(self, cell: Cell) -> tuple[int, int]:
        """The (line, column) where ``cell`` is drawn."""
        if len(self.shape) == 0:
            return 0, 0
        if len(self.shape) == 1:
            return divmod(cell[0], self.per_line) if self.per_line else (0, cell[0])
        column = 0
        for i, n in zip(cell[1:], self.shape[1:]):
            column = column * n + i
        return cell[0], column

    def cell(self, line: int, column: int) -> Cell:
        """The cell drawn at (``line``, ``column``), both clamped to the array."""
        line = _clamp(line, self.lines)
        column = _clamp(column, self.line_length(line))
        if len(self.shape) == 0:
            return ()
        if len(self.shape) == 1:
            return (line * self.per_line + column,) if self.per_line else (column,)
        rest = []
        for n in reversed(self.shape[1:]):
            column, i = divmod(column, max(1, n))
            rest.append(i)
        return (line,) + tuple(reversed(rest))


@dataclass(frozen=True)
class Cursor:
    """Where the cell cursor is: the array (by its place in the pane and its name) and the cell."""

    slot: int
    name: str
    cell: Cell
    #: The cell of the result that is explained: the cursor's own on a result, else the result cell it was
    #: last on, so that the explanation and its highlights stay while the cursor visits the inputs it read.
    result: Cell = ()
    #: Whether ``slot`` is one of the step's results (it stays on the result when the step changes).
    produced: bool = False
    #: The column that up and down aim for, kept across a narrower array on the way (None: the cursor's own).
    column: int | None = None
    #: The cell the user chose, where a step with a smaller array clamped it (None: ``cell`` itself), so
    #: that a later step with the array as large again puts the cursor back: x[65,39], not x[65,9].
    chosen: Cell | None = None


def _clamp(i: int, n: int) -> int:
    return max(0, min(max(0, n - 1), i))


def fit(cell: Cell, shape: Sequence[int]) -> Cell:
    """``cell`` as an index of an array of ``shape``: the same index where it has one, else clamped; a cell of
    another rank keeps its last indices (a unit's column), ``(3,)`` in a matrix is ``(0, 3)``."""
    rank = len(shape)
    if len(cell) >= rank:
        cell = cell[len(cell) - rank:] if rank else ()
    else:
        cell = (0,) * (rank - len(cell)) + tuple(cell)
    return tuple(_clamp(i, n) for i, n in zip(cell, shape))


def start(grids: Sequence[Grid]) -> Cursor | None:
    """The cursor on the first cell of the first array (the result), or None when nothing is shown."""
    if not grids:
        return None
    first = grids[0]
    cell = fit((), first.shape)
    return Cursor(0, first.name, cell, cell if first.produced else (), first.produced)


def place(cursor: Cursor | None, grids: Sequence[Grid]) -> Cursor | None:
    """The cursor on another step's arrays: on a result it stays on the result (the same one of an update's
    after and change); on an input it goes to the input of the same name, and when the step reads no array
    of that name, back to the result at the cell it explained; the cell is the same index where that array
    has it, else clamped (:func:`fit`)."""
    if cursor is None or not grids:
        return None
    produced = [i for i, g in enumerate(grids) if g.produced]
    names = [g.name for g in grids]
    if cursor.produced and produced:
        slot = cursor.slot if cursor.slot in produced else produced[0]
    elif cursor.name in names and not grids[names.index(cursor.name)].produced:
        slot = names.index(cursor.name)
    elif produced:  # an array this step does not read: back to its result, not to whatever sits in that place
        slot = produced[0]
        cursor = replace(cursor, cell=cursor.result, chosen=None)
    else:
        slot = _clamp(cursor.slot, len(grids))
    result = fit(cursor.result, grids[produced[0]].shape) if produced else ()
    wanted = cursor.cell if cursor.chosen is None else cursor.chosen
    cell = fit(wanted, grids[slot].shape)
    placed = replace(_on(replace(cursor, result=result), grids, slot, cell),
                     chosen=None if cell == tuple(wanted) or len(cell) != len(wanted) else tuple(wanted))
    return cursor if placed == replace(cursor, column=None) else placed  # where it was: up/down keep their aim


def move(cursor: Cursor, grids: Sequence[Grid], direction: Direction) -> Cursor:
    """One key's move: left and right along a line (a wrapped vector's lines run on), up and down a line,
    and from an array's last line down to the next array's first (and back up); it stops at the ends."""
    if not grids:
        return cursor
    cursor = place(cursor, grids)
    grid = grids[cursor.slot]
    line, column = grid.at(cursor.cell)
    slot = cursor.slot
    if direction in ("left", "right"):
        step = -1 if direction == "left" else 1
        if len(grid.shape) == 1 and grid.per_line:
            return _on(cursor, grids, slot, (_clamp(cursor.cell[0] + step, grid.shape[0]),))
        return _on(cursor, grids, slot, grid.cell(line, column + step))
    step = -1 if direction == "up" else 1
    aim = column if cursor.column is None else cursor.column
    line += step
    if not 0 <= line < grid.lines:
        slot += step
        if not 0 <= slot < len(grids):
            return cursor
        grid = grids[slot]
        line = 0 if step > 0 else grid.lines - 1
    return replace(_on(cursor, grids, slot, grid.cell(line, aim)), column=aim)


def _on(cursor: Cursor, grids: Sequence[Grid], slot: int, cell: Cell) -> Cursor:
    grid = grids[slot]
    return replace(cursor, slot=slot, name=grid.name, cell=cell, result=cell if grid.produced else cursor.result,
                   produced=grid.produced, column=None, chosen=None)


def index_label(name: str, cell: Cell) -> str:
    """``u2[0,3]``, ``b2[3]``, ``learning_rate``; ``W1[1,2] after`` for a name with a qualifier."""
    head, _, qualifier = name.partition(" ")
    index = f"[{','.join(str(i) for i in cell)}]" if cell else ""
    return f"{head}{index}" + (f" {qualifier}" if qualifier else "")
