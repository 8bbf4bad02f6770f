"""Fixtures every test file shares: the developer's machine kept out, and the wait for a training run."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path_factory, monkeypatch):
    """XDG_CONFIG_HOME is an empty folder of its own, so the developer's keymap file never reaches a test
    (the app, or a command run in a subprocess, that looks for one)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


@pytest.fixture
def until_trained():
    """``await until_trained(pilot, keys)``: wait until the app's training run is computed, then press ``keys``.

    The straight run goes on a worker; once it is done the plot shows every iteration and any iteration
    can be reached, so what a test sees no longer depends on how fast the machine is.
    """

    async def wait(pilot, keys=()) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert pilot.app.screen.training.done
        for key in keys:
            await pilot.press(key)
        if keys:
            await pilot.pause()

    return wait
