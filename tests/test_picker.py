"""The picker lists every file at once and reads them in the background; no file can take it down."""

from __future__ import annotations

import threading

from textual.widgets import DataTable

from tui_helpers import SIZE, make_app

from nnstep.tui import picker


def _rows(app) -> list[list[str]]:
    table = app.screen.query_one(DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def _all_read(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_a_file_that_fails_with_anything_is_listed_as_broken(tmp_path, monkeypatch):
    (tmp_path / "deep.toml").write_text("x = " + "[" * 500 + "]" * 500 + "\n", encoding="utf-8")
    (tmp_path / "odd.toml").write_text("x = [1.0]\n", encoding="utf-8")
    real = picker.load_scenario

    def load(path):
        if path.name == "odd.toml":
            raise RuntimeError("something nobody planned for")
        return real(path)

    monkeypatch.setattr(picker, "load_scenario", load)
    app = make_app(None, folder=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _all_read(pilot)
        rows = {row[0]: row for row in _rows(app)}
        assert rows["deep"][-1].startswith("does not load: lists or tables are nested")  # cut to the width
        assert rows["odd"][-1].startswith("does not load: cannot be read (RuntimeError")
        entry = next(e for e in app.screen.entries if e.path.stem == "odd")
        assert entry.error == "cannot be read (RuntimeError: something nobody planned for)"
        assert "classify_2_3_4" in rows and "does not load" not in rows["classify_2_3_4"][-1]


async def test_the_rows_are_there_before_the_files_are_read_and_can_be_opened(tmp_path, monkeypatch):
    # larger than what the picker reads before it is first drawn: it is read in the background
    (tmp_path / "slow.toml").write_text("x = [1.0]\n" + "# padding\n" * (picker.AT_ONCE_BYTES // 10 + 1),
                                        encoding="utf-8")
    release = threading.Event()
    real = picker.describe

    def describe(entry):
        if entry.path.name == "slow.toml":
            release.wait(timeout=30)
        return real(entry)

    monkeypatch.setattr(picker, "describe", describe)
    app = make_app(None, folder=tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            names = [row[0] for row in _rows(app)]
            assert "slow" in names and "classify_2_3_4" in names  # every row, though one file is still unread
            assert _rows(app)[names.index("slow")][2] == picker.READING
            table = app.screen.query_one(DataTable)
            table.move_cursor(row=names.index("classify_2_3_4"))
            await pilot.press("enter")
            await pilot.pause()
            assert type(app.screen).__name__ == "DebuggerScreen"
            release.set()
    finally:
        release.set()


def test_entries_describe_every_file_like_the_listing_does(tmp_path):
    (tmp_path / "mine.toml").write_text('x = [1.0, 2.0]\n[[layers]]\nW = [[1.0], [2.0]]\nb = [0.0]\n'
                                        'activation = "identity"\n', encoding="utf-8")
    described = {e.path.stem: e for e in picker.entries(tmp_path)}
    assert described["mine"].shape == "2-1" and described["mine"].loss == "forward only"
    assert [e.path for e in picker.listing(tmp_path)] == [e.path for e in picker.entries(tmp_path)]
