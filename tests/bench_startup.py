"""Start-up benchmark of the headless command line; prints figures, asserts nothing.

Run: ``.venv/bin/python tests/bench_startup.py [repeats]``. Each command is timed as a whole process,
interleaved with a bare ``python -c pass`` baseline in the same run, and reported as median and
ratio to that baseline (the machines are shared, so only ratios taken side by side mean much).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "python -c 'import numpy'": [sys.executable, "-c", "import numpy"],
    "nnstep --help": [sys.executable, "-m", "nnstep", "--help"],
    "nnstep trace backprop_2_3_2 --format json": [sys.executable, "-m", "nnstep", "trace",
                                                  "backprop_2_3_2", "--format", "json"],
    "nnstep check backprop_2_3_2": [sys.executable, "-m", "nnstep", "check", "backprop_2_3_2"],
}


def main(repeats: int = 15) -> None:
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(repeats):
        for name, argv in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["python -c pass (baseline)"])
    print(f"{'command':<45} {'median ms':>10} {'p90 ms':>8} {'× baseline':>11}")
    for name, samples in times.items():
        med = statistics.median(samples)
        p90 = sorted(samples)[int(0.9 * (len(samples) - 1))]
        print(f"{name:<45} {med * 1e3:>10.1f} {p90 * 1e3:>8.1f} {med / base:>11.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
