"""Snapshots of the explanation screens: the cell cursor with its explanation and the cells it read, the
chain from the loss, at 120×36 and 80×24; compared as SVG, as tests/test_snapshots.py does.

After a deliberate change to these screens, look at the new pictures and accept them with
``pytest tests/test_snapshots_explain.py --snapshot-update``. Full-precision numbers are drawn to 10
significant digits, the digits every CPU agrees on (see tests/test_snapshots.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nnstep.engine import numbers
from test_snapshots import DIGITS, _picture_lines
from tui_helpers import SIZE, make_app

PICTURES = Path(__file__).resolve().parent / "__snapshots__" / "test_snapshots_explain"
SMALL = (80, 24)


@pytest.fixture(autouse=True)
def _digits_every_cpu_agrees_on(monkeypatch):
    monkeypatch.setattr(numbers, "SIGNIFICANT", DIGITS)


def test_an_affine_cell_explained_with_the_cells_it_read(snap_compare):
    # u2[3] = z1[0]·W2[0,3] + z1[1]·W2[1,3] + z1[2]·W2[2,3] + b2[3]: z1, W2's column 3 and b2[3] highlighted.
    assert snap_compare(make_app("classify_2_3_4"), press=["n"] * 3 + ["tab", "tab", "l", "l", "l"],
                        terminal_size=SIZE)


def test_the_chain_from_the_loss_down_to_a_weight_gradient(snap_compare):
    assert snap_compare(make_app("classify_2_3_4"), press=["n"] * 10 + ["tab", "tab", "j", "l", "l", "e"],
                        terminal_size=SIZE)


def test_a_hidden_delta_explained_at_80x24(snap_compare):
    assert snap_compare(make_app("three_layer"), press=["n"] * 11 + ["tab", "tab", "l"], terminal_size=SMALL)


def test_an_update_cell_on_an_input_it_read_at_80x24(snap_compare):
    # W1[1,2] after = W1[1,2] before − learning_rate·grad_W1[1,2]; the cursor on grad_W1[1,2].
    keys = ["right_square_bracket"] * 4 + ["tab", "tab", "j", "l", "l", "j", "j", "j", "j", "j", "j"]
    assert snap_compare(make_app("classify_2_3_4"), press=keys, terminal_size=SMALL)


def test_a_cell_elided_today_brought_into_view_in_the_digits_run(snap_compare, until_trained):
    async def run_before(pilot):
        await until_trained(pilot, ["n", "tab", "tab"] + ["l"] * 7 + ["j"] * 9)

    assert snap_compare(make_app("digits_minibatch"), run_before=run_before, terminal_size=SIZE)


def test_no_explanation_picture_shows_a_number_to_more_digits_than_every_cpu_agrees_on(request):
    if request.config.getoption("--snapshot-update", default=False):
        pytest.skip("the new pictures are written when this run ends: the next run reads them")
    pictures = sorted(PICTURES.glob("*.svg"))
    assert pictures, f"no pictures in {PICTURES}"
    too_long = [f"{picture.name}: {number} in {line.strip()!r}"
                for picture in pictures for line in _picture_lines(picture.read_text(encoding="utf-8"))
                for number in re.findall(r"\d*\.\d+", line) if len(number.replace(".", "").lstrip("0")) > DIGITS]
    assert not too_long, "\n".join(too_long)
