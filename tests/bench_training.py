"""Benchmark of training runs: the engine's straight run against a plain numpy loop, memory, jumps.

Run it with ``python tests/bench_training.py [repeats]``. It prints figures and asserts nothing.

1. sgd_regression (2-10-1, online SGD, 1000 iterations): ``Session(...).run_all()`` (every step of
   every iteration reachable afterwards) against a plain numpy loop of the same maths written in the
   course's style, on the same data, batches and initial parameters (taken from the Session object),
   timed interleaved in the same process; medians and their ratio (goal ≤ 1.5).
2. 784-256-10, ReLU, softmax + cross entropy, batches of 64, 1000 iterations, on random data written
   to an ``.npz`` in a temporary folder (``init = "he"``): the same comparison (goal ≤ 1.1).
3. In a fresh process (so that its peak RSS is its own): 10,000 iterations of that run with the
   default checkpoint interval; the interval, the checkpoints, the peak RSS (goal < 400 MB), the time
   of 30+ jumps to a random step of a random iteration (goal: median < 150 ms) and of ~200 single steps
   back through iteration boundaries (goal < 50 ms each).

The machines are shared; ratios taken side by side mean more than absolute times.
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import threading
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nnstep.engine.bundled import find_bundled  # noqa: E402
from nnstep.engine.scenario import Scenario, load_scenario  # noqa: E402
from nnstep.engine.session import Session  # noqa: E402

BIG = """\
name = "benchmark: 784-256-10, mini-batches of 64"
loss = "cross_entropy"
learning_rate = 0.1

[training]
iterations = {iterations}
batch_size = 64
seed = 0
sampling = "with_replacement"

[data]
file = "bench.npz"

[[layers]]
units = 256
init = "he"
activation = "relu"

[[layers]]
units = 10
init = "he"
activation = "softmax"
"""


def peak_rss_mb() -> float:
    """getrusage's ru_maxrss, in MB (it is in kB on Linux). A process started by another keeps the
    starter's peak at the moment it started (Linux carries it across fork and exec), so part 3 is
    started while this process is still small, and VmHWM (this process's own peak) is shown beside it."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vm_hwm_mb() -> float | None:
    """The peak RSS of this process's own address space (VmHWM in /proc/self/status), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_text() -> str:
    hwm = vm_hwm_mb()
    return f"{peak_rss_mb():.0f} MB" + ("" if hwm is None else f" (VmHWM {hwm:.0f} MB)")


def load_text() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg()) + f" on {os.cpu_count()} cores"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- the engine and the plain loops ---------------------------------------------------------------------


def engine_run(scenario: Scenario) -> Session:
    training = Session(scenario)
    training.run_all()
    return training


def plain_inputs(scenario: Scenario):
    """The data, each iteration's sample rows and the initial parameters, as the engine has them."""
    fresh = Session(scenario)
    rows = np.stack([fresh.sample_numbers(i) for i in range(1, fresh.iterations + 1)])
    return scenario.x, scenario.d, rows, [(l.W.copy(), l.b.copy()) for l in scenario.layers]


def plain_online_regression(X, D, rows, params, lr):
    """The course's online SGD loop, 2-10-1, ReLU, identity output, mean squared error."""
    (W1, b1), (W2, b2) = [(W.copy(), b.copy()) for W, b in params]
    losses = np.empty(len(rows))
    for i in range(len(rows)):
        n = rows[i, 0]
        x = X[n]
        d = D[n]
        u1 = np.dot(x, W1) + b1
        z1 = np.maximum(u1, 0)
        y = np.dot(z1, W2) + b2
        loss = np.mean(np.square(d - y)) / 2
        losses[i] = loss
        delta2 = (y - d) / y.size
        grad_W2 = np.outer(z1, delta2)
        grad_b2 = delta2
        delta1 = np.dot(delta2, W2.T) * (u1 > 0)
        grad_W1 = np.outer(x, delta1)
        grad_b1 = delta1
        W1 -= lr * grad_W1
        b1 -= lr * grad_b1
        W2 -= lr * grad_W2
        b2 -= lr * grad_b2
    return [W1, b1, W2, b2], losses


def plain_minibatch_softmax(X, D, rows, params, lr):
    """A mini-batch loop, ReLU hidden layer, softmax output, cross entropy."""
    (W1, b1), (W2, b2) = [(W.copy(), b.copy()) for W, b in params]
    losses = np.empty(len(rows))
    for i in range(len(rows)):
        x = X[rows[i]]
        d = D[rows[i]]
        N = x.shape[0]
        u1 = np.dot(x, W1) + b1
        z1 = np.maximum(u1, 0)
        u2 = np.dot(z1, W2) + b2
        e = np.exp(u2 - np.max(u2, axis=1, keepdims=True))
        y = e / np.sum(e, axis=1, keepdims=True)
        losses[i] = -np.sum(d * np.log(y + 1e-7)) / N
        delta2 = (y - d) / N
        grad_W2 = np.dot(z1.T, delta2)
        grad_b2 = np.sum(delta2, axis=0)
        delta1 = np.dot(delta2, W2.T) * (u1 > 0)
        grad_W1 = np.dot(x.T, delta1)
        grad_b1 = np.sum(delta1, axis=0)
        W1 -= lr * grad_W1
        b1 -= lr * grad_b1
        W2 -= lr * grad_W2
        b2 -= lr * grad_b2
    return [W1, b1, W2, b2], losses


def compare(title: str, scenario: Scenario, plain, repeats: int) -> dict:
    """Time the engine's straight run and the plain loop, interleaved (alternating which goes first)."""
    X, D, rows, params = plain_inputs(scenario)
    lr = scenario.learning_rate
    times = {"engine": [], "plain": []}
    training = plain_params = None
    for r in range(repeats):
        order = ("engine", "plain") if r % 2 == 0 else ("plain", "engine")
        for which in order:
            start = time.perf_counter()
            if which == "engine":
                training = engine_run(scenario)
            else:
                plain_params, _ = plain(X, D, rows, params, lr)
            times[which].append(time.perf_counter() - start)
    ours = [a for layer in training.final_layers() for a in (layer.W, layer.b)]
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(ours, plain_params))
    identical = all(a.tobytes() == b.tobytes() for a, b in zip(ours, plain_params))
    engine_med, plain_med = statistics.median(times["engine"]), statistics.median(times["plain"])
    iterations = training.iterations
    print(title)
    print(f"  {scenario.shape}, {iterations} iterations, batch {training.batch_size or 'all'}, "
          f"checkpoint every {training.every} ({training.checkpoint_count} checkpoints), {repeats} repeats")
    print(f"  {'':<34} {'median':>10} {'min':>10} {'max':>10} {'per iteration':>14}")
    for name, label in (("engine", "engine Session.run_all()"), ("plain", "plain numpy loop")):
        t = times[name]
        print(f"  {label:<34} {statistics.median(t) * 1e3:>8.1f}ms {min(t) * 1e3:>8.1f}ms "
              f"{max(t) * 1e3:>8.1f}ms {statistics.median(t) / iterations * 1e6:>12.1f}µs")
    print(f"  ratio engine / plain: {engine_med / plain_med:.2f} (medians), "
          f"{min(times['engine']) / min(times['plain']):.2f} (fastest of each)")
    print(f"  final parameters, max |engine − plain|: {diff:.3g}"
          f"{' (bit-identical)' if identical else ''}")
    print()
    return {"ratio": engine_med / plain_med, "plain_per_iteration": plain_med / iterations,
            "engine_per_iteration": engine_med / iterations, "diff": diff}


def write_big_data(folder: Path, samples: int = 4096) -> None:
    rng = np.random.default_rng(1234)
    x = rng.uniform(0.0, 1.0, size=(samples, 784))
    d = np.eye(10)[rng.integers(0, 10, size=samples)]
    np.savez(folder / "bench.npz", x=x, d=d)


def big_scenario(folder: Path, iterations: int) -> Scenario:
    path = folder / f"bench_{iterations}.toml"
    path.write_text(BIG.format(iterations=iterations), "utf-8")
    return load_scenario(path)


# --- part 3, in its own process -----------------------------------------------------------------------


#: The pace of the second walk back: faster than anyone reads a step.
KEY_INTERVAL = 0.03


def memory_and_jumps(folder: Path, iterations: int = 10_000, jumps: int = 40, back_steps: int = 3000,
                     paced_steps: int = 1800) -> None:
    """Run in a fresh process: prints its figures, then one line ``RESULT {json}`` for the parent."""
    rss_start = rss_text()
    scenario = big_scenario(folder, iterations)
    rss_loaded = rss_text()
    training = Session(scenario)
    start = time.perf_counter()
    training.run_all()
    run_time = time.perf_counter() - start
    rss_run = rss_text()
    params_mb = sum(l.W.nbytes + l.b.nbytes for l in scenario.layers) / 2**20
    print(f"  {scenario.shape}, {iterations} iterations, batch 64: straight run {run_time:.1f} s "
          f"({run_time / iterations * 1e3:.2f} ms per iteration)")
    print(f"  checkpoint interval chosen: {training.every}; checkpoints kept: {training.checkpoint_count} "
          f"(× {params_mb:.2f} MB of parameters = {training.checkpoint_count * params_mb:.0f} MB)")
    print(f"  peak RSS (ru_maxrss): {rss_start} at start (numpy imported), {rss_loaded} with the data loaded, "
          f"{rss_run} after the run")

    rng = random.Random(7)
    jump_times = []
    for _ in range(jumps):
        i = rng.randint(1, iterations)
        start = time.perf_counter()
        run = training.iteration(i)
        step = run.steps[rng.randrange(len(run.steps))]
        _ = step.value
        jump_times.append(time.perf_counter() - start)
    print(f"  {jumps} jumps to a random step of a random iteration: median {statistics.median(jump_times) * 1e3:.1f} ms, "
          f"p95 {percentile(jump_times, 0.95) * 1e3:.1f} ms, max {max(jump_times) * 1e3:.1f} ms")

    # Step back one step at a time from the last step of an iteration in the middle of a checkpoint stretch.
    i = rng.randint(iterations // 2, iterations - 1)
    run = training.iteration(i)
    j = len(run.steps) - 1
    back_times = []
    crossings = 0
    crossing_times = []
    for _ in range(back_steps):
        start = time.perf_counter()
        if j == 0:
            i, crossed = i - 1, True
            j = len(training.iteration(i).steps) - 1
            crossings += 1
        else:
            j, crossed = j - 1, False
        _ = training.iteration(i).steps[j].value
        elapsed = time.perf_counter() - start
        back_times.append(elapsed)
        if crossed:
            crossing_times.append(elapsed)
    print(f"  {back_steps} steps back, one at a time, through {crossings} iteration boundaries "
          f"(down to iteration {i}): median {statistics.median(back_times) * 1e3:.2f} ms, "
          f"p95 {percentile(back_times, 0.95) * 1e3:.2f} ms, max {max(back_times) * 1e3:.2f} ms; "
          f"boundary steps alone: median {statistics.median(crossing_times) * 1e3:.1f} ms, "
          f"max {max(crossing_times) * 1e3:.1f} ms; "
          f"{sum(t > 0.05 for t in back_times)} of the {back_steps} steps over 50 ms "
          f"(checkpoints passed: {sum(1 for s, _ in training._checkpoints if i <= s <= i + crossings)})")
    # The same as a viewer does it: a key every KEY_INTERVAL, and after each step into an earlier iteration
    # the stretch below is prefetched on a background thread (Session.prefetch), as the app does.
    starts = [s for s, _ in training._checkpoints if s > iterations // 4]
    i = starts[len(starts) // 2] + 30  # 30 iterations above a checkpoint: the walk crosses two of them
    run = training.iteration(i)
    j = len(run.steps) - 1
    paced, worker, low = [], None, i
    for _ in range(paced_steps):
        start = time.perf_counter()
        crossed = j == 0
        if crossed:
            i -= 1
            j = len(training.iteration(i).steps) - 1
        else:
            j -= 1
        _ = training.iteration(i).steps[j].value
        paced.append(time.perf_counter() - start)
        if crossed:
            worker = threading.Thread(target=training.prefetch, args=(i,))
            worker.start()
        time.sleep(KEY_INTERVAL)
    if worker is not None:
        worker.join()
    passed = sum(1 for s, _ in training._checkpoints if i <= s <= low)
    print(f"  {paced_steps} steps back at a key every {KEY_INTERVAL * 1e3:.0f} ms, prefetching the stretch below "
          f"in the background (as the app does), through {low - i} iteration boundaries and {passed} checkpoints: "
          f"median {statistics.median(paced) * 1e3:.2f} ms, p95 {percentile(paced, 0.95) * 1e3:.2f} ms, "
          f"max {max(paced) * 1e3:.2f} ms; {sum(t > 0.05 for t in paced)} steps over 50 ms")
    rss_end = peak_rss_mb()
    print(f"  peak RSS (ru_maxrss) after the jumps and steps: {rss_text()}")
    print("RESULT " + json.dumps({
        "every": training.every, "checkpoints": training.checkpoint_count, "rss_end": rss_end,
        "hwm_end": vm_hwm_mb(),
        "jump_median": statistics.median(jump_times), "jump_p95": percentile(jump_times, 0.95),
        "jump_max": max(jump_times), "back_median": statistics.median(back_times),
        "back_p95": percentile(back_times, 0.95), "back_max": max(back_times),
        "paced_median": statistics.median(paced), "paced_max": max(paced),
        "engine_per_iteration": run_time / iterations}))


# --- the whole benchmark ---------------------------------------------------------------------------------


def main(repeats: int = 7) -> None:
    begin = time.perf_counter()
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}; at start: {load_text()}")
    print()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # The data is written, and part 3 run, by processes of their own before this one grows, so
        # that part 3's ru_maxrss is its own (see peak_rss_mb).
        subprocess.run([sys.executable, __file__, "--write-data", str(folder)], check=True)
        child = subprocess.run([sys.executable, __file__, "--memory-and-jumps", str(folder)],
                               capture_output=True, text=True, encoding="utf-8")
        if child.returncode != 0:
            print(child.stdout + child.stderr)
            raise SystemExit("part 3 failed")
        sgd = compare("1. sgd_regression: online SGD", load_scenario(find_bundled("sgd_regression")),
                      plain_online_regression, repeats)
        big = compare("2. 784-256-10, softmax + cross entropy, mini-batches of 64",
                      big_scenario(folder, 1000), plain_minibatch_softmax, max(3, repeats - 2))
    print("3. memory and jumps: 10,000 iterations of part 2's run, in a fresh process (run before parts 1 and 2)")
    result = None
    for line in child.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
        else:
            print(line)
    print(f"  for reference, per iteration: plain numpy loop {big['plain_per_iteration'] * 1e3:.2f} ms "
          f"(part 2), engine straight run {result['engine_per_iteration'] * 1e3:.2f} ms (here)")
    print()

    rows = [
        ("sgd_regression engine/plain ratio", "≤ 1.5", f"{sgd['ratio']:.2f}", sgd["ratio"] <= 1.5),
        ("784-256-10 engine/plain ratio", "≤ 1.1", f"{big['ratio']:.2f}", big["ratio"] <= 1.1),
        ("peak RSS, 10,000 iterations (after jumps)", "< 400 MB", f"{result['rss_end']:.0f} MB",
         result["rss_end"] < 400),
        ("jump to a random step, median", "< 150 ms", f"{result['jump_median'] * 1e3:.1f} ms",
         result["jump_median"] < 0.150),
        ("step back, keys back to back: max per step", "< 50 ms", f"{result['back_max'] * 1e3:.1f} ms",
         result["back_max"] < 0.050),
        ("step back, keys back to back: median", "< 50 ms", f"{result['back_median'] * 1e3:.2f} ms",
         result["back_median"] < 0.050),
        ("step back, a key every 30 ms: max per step", "< 50 ms", f"{result['paced_max'] * 1e3:.1f} ms",
         result["paced_max"] < 0.050),
    ]
    print("summary")
    print(f"  {'figure':<46} {'goal':>10} {'measured':>10}  result")
    for name, goal, measured, met in rows:
        print(f"  {name:<46} {goal:>10} {measured:>10}  {'met' if met else 'not met'}")
    if result.get("hwm_end") is not None:
        print(f"  (part 3's own peak by VmHWM: {result['hwm_end']:.0f} MB)")
    print(f"  (final parameters, engine vs plain: max abs difference {sgd['diff']:.3g} for sgd_regression, "
          f"{big['diff']:.3g} for 784-256-10)")
    print(f"\ntotal benchmark time {time.perf_counter() - begin:.0f} s; at the end: {load_text()}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--memory-and-jumps":
        memory_and_jumps(Path(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "--write-data":
        write_big_data(Path(sys.argv[2]))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
