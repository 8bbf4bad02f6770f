"""Snapshots of the compare overlay: the user's own arrays with a planted mistake (W1 updated with the wrong
sign), at the first difference, at 120×36 and 80×24; compared as SVG, as tests/test_snapshots.py does.

After a deliberate change to these screens, look at the new pictures and accept them with
``pytest tests/test_snapshots_compare.py --snapshot-update``. Full-precision numbers are drawn to 10
significant digits, the digits every CPU agrees on (see tests/test_snapshots.py).
"""

from __future__ import annotations

import pytest

from nnstep.engine import numbers
from nnstep.tui.comparing import load
from test_snapshots import DIGITS
from test_tui_compare import wrong_sign
from tui_helpers import SIZE, make_app

SMALL = (80, 24)


@pytest.fixture(autouse=True)
def _digits_every_cpu_agrees_on(monkeypatch):
    monkeypatch.setattr(numbers, "SIGNIFICANT", DIGITS)


def app_with_mine(tmp_path, monkeypatch):
    """The app on backprop_2_3_2 with mine.npz compared (as ``nnstep backprop_2_3_2 --mine mine.npz`` opens
    it), the file named as the student typed it, relative to the current directory."""
    monkeypatch.chdir(tmp_path)
    run, _ = wrong_sign(tmp_path / "mine.npz")
    app = make_app("backprop_2_3_2", folder=tmp_path)
    app.first_overlay = load("mine.npz", run)
    return app


def test_the_first_difference_with_theirs_under_ours(snap_compare, tmp_path, monkeypatch):
    assert snap_compare(app_with_mine(tmp_path, monkeypatch), press=["d"], terminal_size=SIZE)


def test_the_first_difference_at_80x24(snap_compare, tmp_path, monkeypatch):
    assert snap_compare(app_with_mine(tmp_path, monkeypatch), press=["d"], terminal_size=SMALL)
