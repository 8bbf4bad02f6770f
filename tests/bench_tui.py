"""Benchmark: how long a step key takes to reach the screen, against a minimal Textual app.

Run it with ``python tests/bench_tui.py``. For every bundled scenario it walks the run forward and back
(`n` and `p`, at 120×36, headless) and times each key from the moment it is sent to the moment the
app has written the updated screen (the last ``App._display`` of the update). The same is done, in
the same process, for a minimal Textual app that redraws one Static on a key: the ratio of the two
medians is the figure to watch (goal ≤ 1.5). On the bundled training runs it times steps inside an
iteration and across iteration boundaries, the iteration keys and jumps. Then it times start-up to first paint, in fresh processes,
for ``nnstep FILE``, for the minimal app (goal ≤ 1.3×), and for the minimal app importing numpy
(which nnstep cannot paint a number without). Figures vary with the machine; the ratios
are what to compare between runs.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from textual.app import App, ComposeResult  # noqa: E402
from textual.widgets import Static  # noqa: E402


class MinimalApp(App):
    """The baseline: one Static, redrawn with a new number on every key."""

    BINDINGS = [("n", "bump", "bump"), ("p", "bump", "bump")]

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def compose(self) -> ComposeResult:
        yield Static("0", id="n")

    def action_bump(self) -> None:
        self.count += 1
        self.query_one("#n", Static).update(str(self.count))


class KeyTimer:
    """Times a key from the moment it is sent to the last screen write it caused (``App._display``)."""

    def __init__(self, app: App) -> None:
        self.stamps: list[float] = []
        display = app._display

        def spy(screen, renderable):
            display(screen, renderable)
            self.stamps.append(time.perf_counter())

        app._display = spy  # type: ignore[method-assign]

    async def press(self, pilot, key: str) -> float:
        before = len(self.stamps)
        t0 = time.perf_counter()
        await pilot.press(key)
        await pilot.pause()
        while len(self.stamps) == before:  # the refresh has not been written yet
            await asyncio.sleep(0)
        return self.stamps[-1] - t0


async def key_latencies(app: App, keys: list[str], size=(120, 36)) -> list[float]:
    """Seconds from sending each key to the last screen write it caused."""
    timer = KeyTimer(app)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        return [await timer.press(pilot, key) for key in keys]


def summary(values: list[float]) -> tuple[float, float]:
    ms = sorted(v * 1000 for v in values)
    return statistics.median(ms), ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]


def step_benchmark() -> None:
    from tui_helpers import ONE_ITERATION, make_app

    print("step latency: key sent → screen written, 120×36, headless (ms)")
    print(f"{'app':<22} {'keys':>5} {'median':>8} {'p95':>8} {'ratio':>7}")
    rows = []
    for name in ONE_ITERATION:
        app = make_app(name, keymap_file=Path("/nonexistent"))
        n = len(app.first_session.iteration(1).steps)
        keys = (["n"] * n + ["p"] * n) * 2
        baseline = asyncio.run(key_latencies(MinimalApp(), keys))
        ours = asyncio.run(key_latencies(app, keys))
        (bm, bp), (om, op) = summary(baseline), summary(ours)
        rows.append(om / bm)
        print(f"{'minimal Textual app':<22} {len(keys):>5} {bm:>8.2f} {bp:>8.2f}")
        print(f"{name:<22} {len(keys):>5} {om:>8.2f} {op:>8.2f} {om / bm:>6.2f}×")
    print(f"median ratio over scenarios: {statistics.median(rows):.2f}× (goal ≤ 1.5×)")


async def training_latencies(app, size=(120, 36)) -> dict[str, list[float]]:
    """Key latencies on a training run once it is computed: steps inside an iteration, steps across an
    iteration boundary (n on the last step, p at the start), the same step of the next and previous
    iteration (. and ,), and a jump to a far iteration through the dialog (Enter to screen)."""
    timer = KeyTimer(app)
    out: dict[str, list[float]] = {"inside": [], "boundary": [], "iteration": [], "jump": []}

    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        total, last = screen.total, screen.last

        async def timed(kind: str, key: str) -> None:
            out[kind].append(await timer.press(pilot, key))

        for _ in range(3):  # forward through three iterations, then back through them
            for _ in range(last + 1):
                await timed("inside", "n")
            await timed("boundary", "n")
        for _ in range(3):
            for _ in range(last + 1):
                await timed("inside", "p")
            await timed("boundary", "p")
        for key in ["full_stop"] * 10 + ["comma"] * 10:
            await timed("iteration", key)
        import random

        rng = random.Random(0)
        for _ in range(10):
            await pilot.press("i", *str(rng.randint(1, total)))
            await timed("jump", "enter")
    return out


def training_benchmark() -> None:
    from tui_helpers import TRAINING, make_app

    print()
    print("training runs, once computed: key sent → screen written, 120×36, headless (ms)")
    print(f"{'run':<18} {'keys':<34} {'count':>5} {'median':>8} {'p95':>8} {'max':>8}")
    labels = {"inside": "n / p inside an iteration", "boundary": "n / p across an iteration boundary",
              "iteration": ". / , (same step, next/prev iter)", "jump": "i N Enter (jump to iteration N)"}
    for name in TRAINING:
        times = asyncio.run(training_latencies(make_app(name, keymap_file=Path("/nonexistent"))))
        for kind, values in times.items():
            median, p95 = summary(values)
            print(f"{name:<18} {labels[kind]:<34} {len(values):>5} {median:>8.2f} {p95:>8.2f} "
                  f"{max(values) * 1000:>8.2f}")


CHILD = """
import sys, time
t0 = float(sys.argv[2])
which = sys.argv[1]
if which == "minimal+numpy":
    import numpy
if which.startswith("minimal"):
    sys.path.insert(0, {tests!r})
    from bench_tui import MinimalApp
    app = MinimalApp()
else:
    from nnstep.engine.cli import load_or_report
    from nnstep.engine.session import Session
    from nnstep.tui.app import NNStepApp
    app = NNStepApp(session=Session(load_or_report("classify_2_3_4", None)))
display = app._display
def spy(screen, renderable):
    display(screen, renderable)
    if renderable is not None and not getattr(app, "_painted", False):
        app._painted = True
        print(time.time() - t0, flush=True)
        app.exit()
app._display = spy
app.run(headless=True, size=(120, 36))
"""


def startup_benchmark(repeats: int = 15) -> None:
    print()
    print(f"start-up to first paint, fresh process, headless, {repeats} runs each, interleaved (ms)")
    code = CHILD.format(tests=str(ROOT / "tests"))
    times: dict[str, list[float]] = {"minimal": [], "minimal+numpy": [], "nnstep": []}
    env = dict(os.environ, XDG_CONFIG_HOME="/nonexistent")
    for _ in range(repeats):
        for which in times:
            out = subprocess.run([sys.executable, "-c", code, which, repr(time.time())], capture_output=True,
                                 text=True, cwd=ROOT, env=env, check=True).stdout
            times[which].append(float(out.strip().splitlines()[-1]))
    base = statistics.median(times["minimal"]) * 1000
    with_numpy = statistics.median(times["minimal+numpy"]) * 1000
    ours = statistics.median(times["nnstep"]) * 1000
    print(f"{'minimal Textual app':<30} {base:>8.1f}")
    print(f"{'minimal app, importing numpy':<30} {with_numpy:>8.1f} {with_numpy / base:>6.2f}×")
    print(f"{'nnstep classify_2_3_4':<30} {ours:>8.1f} {ours / base:>6.2f}× (goal ≤ 1.3×); "
          f"{ours / with_numpy:.2f}× the minimal app importing numpy")


if __name__ == "__main__":
    step_benchmark()
    training_benchmark()
    startup_benchmark()
