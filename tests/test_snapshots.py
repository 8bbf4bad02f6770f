"""Snapshots of the main screens at 120×36 (and the reduced layout at 80×24), compared as SVG.

After a deliberate change to the screens, look at the new pictures and accept them with
``pytest tests/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import pytest

from tui_helpers import SIZE, make_app, open_from_picker


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


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


def test_picker(snap_compare):
    assert snap_compare(make_app(None), terminal_size=SIZE)


def test_error_screen(snap_compare):
    async def open_broken(pilot):
        await open_from_picker(pilot, "broken")

    assert snap_compare(make_app(None), run_before=open_broken, terminal_size=SIZE)


async def _trained(pilot, keys=()):
    """Wait for the straight run to finish (the plot then shows every iteration), then press ``keys``."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    assert pilot.app.screen.training.done
    for key in keys:
        await pilot.press(key)
    await pilot.pause()


def test_digits_training_run_with_heatmap(snap_compare):
    async def run_before(pilot):
        await _trained(pilot, ["full_stop"] * 3 + ["n"] * 4)

    assert snap_compare(make_app("digits_minibatch"), run_before=run_before, terminal_size=SIZE)


def test_sgd_iteration_537(snap_compare):
    async def run_before(pilot):
        await _trained(pilot, ["i", "5", "3", "7", "enter", "right_square_bracket", "right_square_bracket", "n"])

    assert snap_compare(make_app("sgd_regression"), run_before=run_before, terminal_size=SIZE)
