"""The Values pane's cell cursor without a terminal: its moves, where it lands on another step, and the arrays
drawn around it (nnstep.tui.cursor, the cell moves of nnstep.tui.navigation, nnstep.tui.arrays)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from rich.style import Style

from nnstep.tui import navigation
from nnstep.tui.arrays import MAX_ROWS, ArrayStyles, _cell, _keep, labelled, labelled_drawn, number_format
from nnstep.tui.cursor import Cursor, Grid, fit, index_label, move, place, start
from nnstep.tui.navigation import View

#: What an affine step of a 2-3-4 network shows: u2 (the result), then z1, W2, b2.
AFFINE = [Grid("u2", (4,), produced=True), Grid("z1", (3,)), Grid("W2", (3, 4)), Grid("b2", (4,))]
#: The activation after it: y, then u2.
ACTIVATION = [Grid("y", (4,), produced=True), Grid("u2", (4,))]
#: An update: the parameter after, the change, then what it read.
UPDATE_W1 = [Grid("W1 after", (2, 3), produced=True), Grid("change", (2, 3), produced=True),
             Grid("W1 before", (2, 3)), Grid("grad_W1", (2, 3)), Grid("learning_rate", ())]
UPDATE_B1 = [Grid("b1 after", (3,), produced=True), Grid("change", (3,), produced=True),
             Grid("b1 before", (3,)), Grid("grad_b1", (3,)), Grid("learning_rate", ())]


def walk(cursor: Cursor, grids, *directions) -> Cursor:
    for direction in directions:
        cursor = move(cursor, grids, direction)
    return cursor


def test_the_cursor_starts_on_the_first_cell_of_the_result():
    assert start(AFFINE) == Cursor(0, "u2", (0,), (0,), produced=True)
    assert start([Grid("loss", (), produced=True)]).cell == ()
    assert start([]) is None


def test_left_and_right_move_along_a_row_and_stop_at_its_ends():
    c = start(AFFINE)
    assert walk(c, AFFINE, "left").cell == (0,)
    assert walk(c, AFFINE, "right", "right", "right").cell == (3,)
    assert walk(c, AFFINE, *["right"] * 9).cell == (3,)
    w2 = Cursor(2, "W2", (1, 0))
    assert walk(w2, AFFINE, "right", "right").cell == (1, 2)
    assert walk(w2, AFFINE, *["right"] * 9).cell == (1, 3)  # not on to the next row


def test_down_goes_from_an_arrays_last_row_to_the_next_array_and_up_comes_back():
    c = start(AFFINE)
    seen = [(c.name, c.cell)]
    for _ in range(7):
        c = move(c, AFFINE, "down")
        seen.append((c.name, c.cell))
    assert seen == [("u2", (0,)), ("z1", (0,)), ("W2", (0, 0)), ("W2", (1, 0)), ("W2", (2, 0)), ("b2", (0,)),
                    ("b2", (0,)), ("b2", (0,))]
    for _ in range(7):
        c = move(c, AFFINE, "up")
    assert (c.slot, c.name, c.cell) == (0, "u2", (0,))


def test_up_and_down_keep_their_column_across_a_narrower_array():
    # From u2[3] down through z1 (3 entries: z1[2]) to W2's column 3, as an editor keeps its column.
    c = walk(start(AFFINE), AFFINE, "right", "right", "right")
    c = move(c, AFFINE, "down")
    assert (c.name, c.cell) == ("z1", (2,))
    c = move(c, AFFINE, "down")
    assert (c.name, c.cell) == ("W2", (0, 3))
    c = walk(c, AFFINE, "left", "down")  # a move along the row sets a new column
    assert (c.name, c.cell) == ("W2", (1, 2))


def test_a_wrapped_vector_moves_line_by_line():
    grids = [Grid("b1", (30,), produced=True, per_line=7), Grid("x", (2,))]
    c = start(grids)
    assert walk(c, grids, "down").cell == (7,)
    assert walk(c, grids, "down", "down", "down", "down").cell == (28,)  # the last line has 2 entries
    assert walk(c, grids, *["down"] * 5).name == "x"
    assert walk(Cursor(0, "b1", (6,), (6,), True), grids, "right").cell == (7,)  # runs on to the next line
    assert walk(Cursor(0, "b1", (29,), (29,), True), grids, "right").cell == (29,)
    assert walk(Cursor(1, "x", (1,)), grids, "up").cell == (29,)  # b1's last line, the column clamped


def test_grids_map_cells_to_lines_and_columns_and_back():
    for grid in (Grid("v", (5,)), Grid("w", (30,), per_line=7), Grid("m", (3, 4)), Grid("s", ()),
                 Grid("t", (2, 3, 2))):
        for cell in np.ndindex(grid.shape):
            assert grid.cell(*grid.at(cell)) == cell
        assert sum(grid.line_length(line) for line in range(grid.lines)) == max(1, int(np.prod(grid.shape)))


def test_fit_keeps_an_index_where_the_array_has_it_else_clamps_it():
    assert fit((2,), (3,)) == (2,)
    assert fit((3,), (3,)) == (2,)
    assert fit((0, 3), (4,)) == (3,)  # a unit's column in a vector
    assert fit((3,), (2, 4)) == (0, 3)
    assert fit((1, 5), (2, 3)) == (1, 2)
    assert fit((1, 2), ()) == ()
    assert fit((), (3, 4)) == (0, 0)


def test_on_another_step_the_cursor_stays_on_the_result_at_the_same_index():
    c = walk(start(AFFINE), AFFINE, "right", "right", "right")  # u2[3]
    there = place(c, ACTIVATION)
    assert (there.slot, there.name, there.cell, there.result) == (0, "y", (3,), (3,))
    # Onto a smaller result, the index is clamped; back again it is the clamped one.
    smaller = [Grid("z1", (3,), produced=True), Grid("u1", (3,))]
    assert place(c, smaller).cell == (2,)


def test_on_another_step_an_input_is_found_by_name_else_the_result():
    w2 = Cursor(2, "W2", (1, 2), (2,))
    delta1 = [Grid("delta1", (3,), produced=True), Grid("delta2", (4,)), Grid("W2", (3, 4)), Grid("u1", (3,))]
    there = place(w2, delta1)
    assert (there.slot, there.name, there.cell, there.result) == (2, "W2", (1, 2), (2,))
    gone = place(w2, ACTIVATION)  # no W2 read here: back to the result, at the cell it explained
    assert (there.produced, gone.slot, gone.name, gone.cell, gone.result) == (False, 0, "y", (2,), (2,))


def test_an_updates_change_stays_the_change_on_the_next_update():
    change = walk(start(UPDATE_W1), UPDATE_W1, "right", "right", "down", "down", "down")
    assert (change.name, change.cell) == ("change", (1, 2))
    there = place(change, UPDATE_B1)
    assert (there.slot, there.name, there.cell, there.result) == (1, "change", (2,), (2,))
    lr = walk(start(UPDATE_W1), UPDATE_W1, *["down"] * 8)
    assert (lr.name, lr.cell) == ("learning_rate", ())
    assert place(lr, UPDATE_B1).name == "learning_rate"


def test_placing_the_cursor_on_the_arrays_it_is_on_changes_nothing():
    c = walk(start(AFFINE), AFFINE, "right", "right", "right", "down")
    assert c.column == 3
    assert place(c, AFFINE) == c


def test_the_result_cell_explained_stays_while_the_cursor_visits_the_inputs():
    c = walk(start(AFFINE), AFFINE, "right", "right", "down", "down", "right")
    assert (c.name, c.cell, c.result) == ("W2", (0, 3), (2,))


def test_index_labels_are_the_courses_notation():
    assert index_label("u2", (0, 3)) == "u2[0,3]"
    assert index_label("b2", (3,)) == "b2[3]"
    assert index_label("learning_rate", ()) == "learning_rate"
    assert index_label("W1 after", (1, 2)) == "W1[1,2] after"


# --- the view's cell moves ---------------------------------------------------------------------------------


def test_the_view_turns_the_cursor_on_moves_it_and_escape_hides_the_chain_then_the_cursor():
    view = View()
    assert view.cell is None and not view.chain
    on = navigation.cell_on(view, AFFINE)
    assert on.cell == start(AFFINE)
    assert navigation.cell_on(navigation.move_cell(on, AFFINE, "right"), AFFINE).cell.cell == (1,)  # stays
    assert navigation.move_cell(view, AFFINE, "right").cell.cell == (1,)  # a key turns it on, then moves it
    ctx = navigation.Context(last=5)
    chained = navigation.toggle_chain(replace(view, position=4), ctx, AFFINE).view
    assert chained.chain and chained.cell == start(AFFINE)
    assert not navigation.toggle_chain(chained, ctx, AFFINE).view.chain
    # A step without a chain (a forward step, the start) says why, and the cursor comes on all the same.
    forward = navigation.toggle_chain(replace(view, position=2), ctx, AFFINE, "u2")
    assert not forward.view.chain and forward.view.cell == start(AFFINE)
    assert forward.notices[0].text.startswith("u2 is computed going forward") and "e shows it" in forward.notices[0].text
    at_start = navigation.toggle_chain(view, ctx, AFFINE, "")
    assert at_start.notices[0].text.startswith("These are the data the run starts from")
    once = navigation.cell_off(chained)
    assert not once.chain and once.cell is not None
    assert navigation.cell_off(once).cell is None
    assert navigation.place_cell(view, AFFINE) == view  # off stays off


def test_stepping_keeps_the_cell_cursor():
    ctx = navigation.Context(last=5)
    view = navigation.cell_on(View(position=2), AFFINE)
    moved = navigation.next_step(view, ctx).view
    assert moved.position == 3 and moved.cell == view.cell
    assert navigation.place_cell(moved, ACTIVATION).cell.name == "y"


# --- drawing around the cursor ---------------------------------------------------------------------------


@pytest.mark.parametrize("n,limit", [(10, 5), (40, 4), (100, 10), (784, 7), (12, 2), (9, 8), (30, 3)])
def test_every_index_can_be_brought_into_view_and_the_view_is_never_wider(n, limit):
    default = _keep(n, limit)
    for focus in range(n):
        shown = _keep(n, limit, focus)
        assert focus in shown
        numbers = [i for i in shown if i is not None]
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
        # An ellipsis takes less room than a number: at most the default's numbers, and ellipses only
        # where entries are left out.
        assert len(numbers) <= len([i for i in default if i is not None])
        # An ellipsis exactly where entries are left out: at either end, or between two entries shown.
        assert (shown[0] is None) == (numbers[0] > 0) and (shown[-1] is None) == (numbers[-1] < n - 1)
        for a, b in zip(shown, shown[1:]):
            assert a is not None or b is not None
        pairs = [(shown[k - 1], shown[k + 1]) for k in range(1, len(shown) - 1) if shown[k] is None]
        assert all(b > a + 1 for a, b in pairs)
        assert all(b == a + 1 for a, b in zip(shown, shown[1:]) if a is not None and b is not None)
        if focus in default:
            assert shown == default  # the usual picture while the cursor is on a cell it shows


def test_the_window_moves_a_few_entries_at_a_time():
    shown = [tuple(i for i in _keep(100, 10, focus) if i is not None) for focus in range(100)]
    assert len(set(shown)) < 20  # windows, not one per key


#: The cursor's style, told apart from everything else in the text.
CURSOR = Style(color="magenta", underline=True)
MARKED = Style(bgcolor="yellow")
STYLES = ArrayStyles(cursor=CURSOR, read=MARKED)


def _styled(line, style: Style) -> list[str]:
    """The pieces of ``line`` drawn with ``style`` laid over them (told by its colour, or its background)."""
    out = []
    for span in line.spans:
        s = span.style if isinstance(span.style, Style) else Style.parse(span.style)
        if (style.color is not None and s.color == style.color) or (style.color is None and s.bgcolor == style.bgcolor):
            out.append(line.plain[span.start:span.end])
    return out


@pytest.mark.parametrize("shape,width", [((4, 8), 60), ((5, 10), 74), ((30, 12), 74), ((3, 40), 46), ((784,), 74),
                                         ((30,), 74), ((30,), 30), ((12,), 46), ((), 60), ((100, 64), 74)])
def test_the_cursor_cell_is_drawn_on_the_line_said_whichever_cell_it_is(shape, width):
    rng = np.random.default_rng(len(shape) * 100 + width)
    a = rng.normal(size=shape).round(3) * 3
    fmt = number_format(a, 4)
    plain = labelled_drawn("W1", a, 10, 4, width)
    cells = list(np.ndindex(shape))
    if len(cells) > 300:  # every cell of the small ones; of the big ones, the corners and a sample
        picked = rng.choice(len(cells), 150, replace=False)
        cells = [cells[0], cells[-1]] + [cells[i] for i in picked]
    for cell in cells:
        drawn = labelled_drawn("W1", a, 10, 4, width, styles=STYLES, cursor=cell)
        assert len(drawn.lines) <= len(plain.lines)  # a window of rows has no more lines than the usual picture
        line = drawn.lines[drawn.cursor_line]
        expected = _cell(float(a[cell]), fmt) if shape else repr(float(a[cell]))
        assert [piece.strip() for piece in _styled(line, CURSOR)] == [expected], (cell, line.plain)
        assert max(l.cell_len for l in drawn.lines) <= width
    # Where the numbers go (beside the label or below it, wrapped or not) does not depend on the cursor.
    assert labelled_drawn("W1", a, 10, 4, width, cursor=None).per_line == plain.per_line


def test_without_a_cursor_the_drawing_is_the_one_labelled_gives():
    a = np.arange(40.0).reshape(4, 10) - 7
    drawn = labelled_drawn("W1", a, 8, 4, 60)
    assert "\n".join(line.plain for line in drawn.lines) == labelled("W1", a, 8, 4, 60).plain
    assert drawn.cursor_line is None


def test_the_marked_cells_are_highlighted_and_kept_in_view():
    a = np.arange(300.0).reshape(30, 10)
    marked = np.zeros(a.shape, dtype=bool)
    marked[20, :] = True  # row 20: hidden in the usual picture (rows 0-7 and the last 2)
    assert "200.0000" not in labelled("x", a, 8, 4, 80).plain
    drawn = labelled_drawn("x", a, 8, 4, 80, styles=STYLES, marked=marked, focus=(20, 0))
    text = "\n".join(line.plain for line in drawn.lines)
    assert "200.0000" in text and "rows above" in text and len(drawn.lines) <= MAX_ROWS + 1
    pieces = [p.strip() for line in drawn.lines for p in _styled(line, MARKED)]
    assert pieces and all(float(p) // 10 == 20 for p in pieces)


def test_a_cell_clamped_on_a_smaller_array_comes_back_when_the_array_is_large_again():
    x = Cursor(1, "x", (65, 39), (0, 0))
    wide = [Grid("u1", (100, 40), produced=True), Grid("x", (100, 64))]
    narrow = [Grid("delta2", (100, 10), produced=True), Grid("x", (100, 10))]
    there = place(x, narrow)
    assert (there.name, there.cell) == ("x", (65, 9))
    back = place(there, wide)
    assert (back.name, back.cell, back.chosen) == ("x", (65, 39), None)
    # A key press makes the cell on screen the chosen one.
    moved = move(there, narrow, "up")
    assert moved.cell == (64, 9) and place(moved, wide).cell == (64, 9)
