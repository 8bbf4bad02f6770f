"""Snapshots of the main screens at 120×36 (and the reduced layout at 80×24), compared as SVG.

After a deliberate change to the screens, look at the new pictures and accept them with
``pytest tests/test_snapshots.py --snapshot-update``.

The pictures show full-precision numbers (the loss, the course's loss in a note) to 10 significant
digits: numpy's exp, log and BLAS kernels are chosen by CPU (AVX2, AVX-512, NEON), and the last one
or two digits of their results differ between machines, so a picture with every digit would pass
only on the kind of CPU that took it.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from nnstep.engine import numbers
from tui_helpers import SIZE, make_app, open_from_picker

PICTURES = Path(__file__).resolve().parent / "__snapshots__" / "test_snapshots"
#: Digits of a full-precision number in a picture: as many as every CPU agrees on.
DIGITS = 10


@pytest.fixture(autouse=True)
def _digits_every_cpu_agrees_on(monkeypatch):
    """Every number that nnstep.engine.numbers.exact writes, to DIGITS significant digits (the app is drawn
    in this process, so it reads the same module)."""
    monkeypatch.setattr(numbers, "SIGNIFICANT", DIGITS)


def test_start(snap_compare):
    assert snap_compare(make_app("classify_2_3_4"), terminal_size=SIZE)


def test_softmax_forward_step(snap_compare):
    assert snap_compare(make_app("classify_2_3_4"), press=["n"] * 4, terminal_size=SIZE)


def test_loss_step(snap_compare):
    assert snap_compare(make_app("classify_2_3_4"), press=["n"] * 5, terminal_size=SIZE)


def test_hidden_delta_with_a_breakpoint(snap_compare):
    assert snap_compare(make_app("backprop_2_3_2"), press=["n"] * 9 + ["b"], terminal_size=SIZE)


def test_update_step(snap_compare):
    assert snap_compare(make_app("three_layer"), press=["right_square_bracket"] * 4 + ["n"] * 2,
                        terminal_size=SIZE)


def test_reduced_layout_80x24(snap_compare):
    assert snap_compare(make_app("classify_2_3_4"), press=["n"] * 9, terminal_size=(80, 24))


def test_help_screen(snap_compare):
    assert snap_compare(make_app("classify_2_3_4"), press=["question_mark"], terminal_size=SIZE)


async def _files_read(pilot) -> None:
    """The picker reads its files in the background: wait until every row says what its file holds."""
    await pilot.app.workers.wait_for_complete()
    while not pilot.app.screen.read_all:  # the rows' messages, then the table laid out from them
        await pilot.pause()
    await pilot.pause()


def test_picker(snap_compare):
    assert snap_compare(make_app(None), run_before=_files_read, terminal_size=SIZE)


def test_error_screen(snap_compare):
    async def open_broken(pilot):
        await _files_read(pilot)
        await open_from_picker(pilot, "broken")

    assert snap_compare(make_app(None), run_before=open_broken, terminal_size=SIZE)


def test_digits_training_run_with_heatmap(snap_compare, until_trained):
    async def run_before(pilot):
        await until_trained(pilot, ["full_stop"] * 3 + ["n"] * 4)

    assert snap_compare(make_app("digits_minibatch"), run_before=run_before, terminal_size=SIZE)


def test_sgd_iteration_537(snap_compare, until_trained):
    async def run_before(pilot):
        await until_trained(pilot, ["i", "5", "3", "7", "enter", "right_square_bracket", "right_square_bracket", "n"])

    assert snap_compare(make_app("sgd_regression"), run_before=run_before, terminal_size=SIZE)


def test_a_full_precision_number_is_written_to_the_digits_every_cpu_agrees_on():
    # backprop_2_3_2's loss on AVX-512 and on AVX2: one picture for both.
    assert numbers.exact(0.09109144089484147) == numbers.exact(0.09109144089484168) == "0.09109144089"


def _picture_lines(svg: str) -> list[str]:
    """The text of an exported screen, one string per terminal line (a space where the export leaves a gap)."""
    pieces: dict[float, list[tuple[float, float, str]]] = {}
    for x, y, length, text in re.findall(
            r'<text [^>]*?x="([\d.]+)" y="([\d.]+)" textLength="([\d.]+)"[^>]*>([^<]*)</text>', svg):
        pieces.setdefault(float(y), []).append((float(x), float(length), html.unescape(text).replace("\xa0", " ")))
    lines = []
    for _, row in sorted(pieces.items()):
        line, end = "", 0.0
        for x, length, text in sorted(row):
            line += (" " if x > end + 0.5 else "") + text
            end = x + length
        lines.append(line)
    return lines


def test_no_picture_shows_a_number_to_more_digits_than_every_cpu_agrees_on(request):
    """A number written in full (``repr``) in a picture makes the snapshot pass on one kind of CPU only:
    every full-precision number on screen must go through nnstep.engine.numbers.exact."""
    if request.config.getoption("--snapshot-update", default=False):
        pytest.skip("the new pictures are written when this run ends: the next run reads them")
    pictures = sorted(PICTURES.parent.rglob("*.svg"))  # every snapshot file's pictures, not only this one's
    assert pictures, f"no pictures in {PICTURES}"
    too_long = []
    for picture in pictures:
        for line in _picture_lines(picture.read_text(encoding="utf-8")):
            for number in re.findall(r"\d*\.\d+", line):
                if len(number.replace(".", "").lstrip("0")) > DIGITS:
                    too_long.append(f"{picture.name}: {number} in {line.strip()!r}")
    assert not too_long, "\n".join(too_long)
