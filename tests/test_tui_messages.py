"""What the screens tell each other: the straight run's worker posts progress (a burst coalesces) and its
end, nothing polls it; the picker announces the file chosen and the app opens it."""

from __future__ import annotations

import threading

from nnstep.engine.scenario import parse_scenario
from nnstep.engine.session import Session
from nnstep.tui import debugger
from nnstep.tui.debugger import DebuggerScreen, TrainingFinished, TrainingProgressed
from nnstep.tui.loss_pane import LossPane
from tui_helpers import SIZE, make_app, open_from_picker, shown, wait_for

SMALL = """
loss = "mse"
learning_rate = 0.01
[training]
iterations = 400
batch_size = 16
[data]
samples = 200
inputs = { distribution = "uniform", features = 3 }
target = { linear = [0.1, 0.2, 0.3], bias = 1.0 }
[[layers]]
units = 8
init = "he"
activation = "tanh"
[[layers]]
units = 1
init = "xavier"
activation = "identity"
"""


def our_timers(screen) -> list:
    """The screen's running timers that call nnstep's code (Textual keeps its own, e.g. screen_update)."""
    return [t for t in screen._timers
            if t._task is not None and getattr(t._callback, "__module__", "").startswith("nnstep")]


def test_a_burst_of_progress_coalesces_into_the_latest():
    assert TrainingProgressed(10, 400).can_replace(TrainingProgressed(20, 400))
    assert not TrainingProgressed(10, 400).can_replace(TrainingFinished(400))
    assert not TrainingFinished(400).can_replace(TrainingProgressed(400, 400))


async def test_the_worker_posts_its_progress_to_the_plot_and_nothing_polls(monkeypatch, until_trained):
    from nnstep.tui.app import NNStepApp

    monkeypatch.setattr(debugger, "PROGRESS_EVERY", 0.0)  # a message after every chunk
    training = Session(parse_scenario(SMALL, "small.toml"))
    # The straight run computes one chunk (here one iteration) per permit the test gives it.
    permits, advance = threading.Semaphore(0), training.advance
    training.advance = lambda n=None: permits.acquire(timeout=10) and advance(n)
    seen = []
    app = NNStepApp(session=training)
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        screen = app.screen
        assert isinstance(screen, DebuggerScreen)
        loss = screen.query_one(LossPane)
        assert not hasattr(screen, "_progress_timer")
        assert our_timers(screen) == []  # no timer polls the run
        permits.release()
        await wait_for(pilot, lambda: "computing 1/400" in shown(loss))
        assert [(m.computed, m.total) for m in seen if isinstance(m, TrainingProgressed)] == [(1, 400)]
        assert not training.done
        permits.release(10**6)
        await until_trained(pilot)
        progress = [m.computed for m in seen if isinstance(m, TrainingProgressed)]
        assert progress == sorted(progress) and progress[-1] <= 400
        assert [m.total for m in seen if isinstance(m, TrainingFinished)] == [400]
        assert "computing" not in shown(loss)
        assert "computing" not in loss.border_subtitle
        assert our_timers(screen) == []

        # A burst waiting in the screen's queue is handled once, as its latest message.
        before = sum(isinstance(m, TrainingProgressed) for m in seen)
        for _ in range(50):
            screen.post_message(TrainingProgressed(400, 400))
        await pilot.pause()
        assert sum(isinstance(m, TrainingProgressed) for m in seen) - before == 1

        # The replay's timer is one of ours, so the check above would see a polling one.
        await pilot.press("space")
        assert screen.playing and len(our_timers(screen)) == 1
        await pilot.press("space")
        assert our_timers(screen) == []


async def test_a_waiting_jump_goes_when_the_progress_message_says_it_is_computed(until_trained):
    from nnstep.tui.app import NNStepApp

    training = Session(parse_scenario(SMALL, "small.toml"))
    permits, advance = threading.Semaphore(0), training.advance
    training.advance = lambda n=None: permits.acquire(timeout=10) and advance(n)
    app = NNStepApp(session=training)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "i", *"300", "enter")
        assert app.screen.view.pending == (300, 0) and app.screen.iteration == 1
        permits.release(10**6)
        await until_trained(pilot)
        assert (app.screen.iteration, app.screen.position, app.screen.view.pending) == (300, 0, None)
        assert any("At iteration 300: it has been computed." in n.message for n in app._notifications)


async def test_the_picker_announces_the_file_and_the_app_opens_it():
    from nnstep.tui.picker import PickerScreen

    seen = []
    app = make_app(None)
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await open_from_picker(pilot, "my_unit")
        chosen = [m for m in seen if isinstance(m, PickerScreen.ScenarioChosen)]
        assert {m.path.stem for m in chosen} == {"my_unit"}  # on the picker, then bubbled up to the app
        assert isinstance(app.screen, DebuggerScreen) and app.screen.run.scenario.path.stem == "my_unit"
