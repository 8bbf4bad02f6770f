"""Sessions: what the debugger, the trace and the checks step through, for every scenario.

A plain scenario is a session of one iteration; a ``[training]`` scenario is a training run: many
iterations of gradient descent, any step of any of them reachable, bit for bit.

A straight run keeps, per iteration, only the loss (and the batch accuracy of a classifier); every K
iterations it keeps a copy of the parameters (a checkpoint). To show iteration i, the parameters before
it are recomputed from the nearest checkpoint with the same :func:`nnstep.engine.steps.compute_pass` the straight
run used, and then iteration i is recorded step by step. The same operations on the same numbers give
the same bits, so a jump shows exactly what a run from the start shows there.

K is at least what keeps the checkpoints within a memory budget, and larger when recomputing K
iterations is quick anyway (timed on the first iterations). Recent parameter sets and recorded
iterations are kept too, so stepping back through an iteration boundary does not go back to a
checkpoint each time.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import numpy as np

from nnstep.engine.ops import ACTIVATIONS, LOSSES
from nnstep.engine.scenario import Layer, Scenario, random_streams
from nnstep.engine.steps import Iteration, compute_pass, iteration_steps

#: Memory for parameter checkpoints; K is at least the smallest interval that keeps them within it.
CHECKPOINT_BUDGET = 160 * 2**20
#: ... and at least as many iterations as take this long to recompute (timed on the first ones):
#: a small network is cheap to recompute, so it need not pay for a copy of its parameters every iteration.
RECOMPUTE_MS = 60.0
#: K is chosen by time once these iterations are done, from the time the last half of them took (the
#: first ones warm up, and in the app they share the machine with the screen starting).
TIMED_ITERATIONS = 48
#: Parameter sets kept from the last recomputation (the recent past): the last RECENT_STRETCH, and one
#: every RECENT_STRETCH iterations before that back to the checkpoint, so that stepping back through
#: the iterations recomputes at most RECENT_STRETCH of them at a time within a checkpoint's stretch.
RECENT_STRETCH = 16
#: Memory for those recent parameter sets (at least RECENT_STRETCH + 8 of them are kept).
RECENT_BUDGET = 40 * 2**20
#: Recorded iterations kept.
RECORDED_ITERATIONS = 4

Params = tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]


def _copy(params) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Working copies of a parameter set, to be updated in place."""
    W, b = params
    return [w.copy() for w in W], [v.copy() for v in b]


def is_classifier(scenario: Scenario) -> bool:
    """A network whose loss is a classifier's (softmax/cross entropy, sigmoid/binary cross entropy)."""
    return scenario.loss is not None and LOSSES[scenario.loss].classifier


def parameter_bytes(scenario: Scenario) -> int:
    return sum(layer.W.nbytes + layer.b.nbytes for layer in scenario.layers)


def choose_interval(scenario: Scenario, budget: int = CHECKPOINT_BUDGET) -> int:
    """The checkpoint interval K: every iteration if the budget allows, else as few as fit."""
    iterations = scenario.training.iterations if scenario.training else 1
    return max(1, math.ceil(iterations * parameter_bytes(scenario) / budget))


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float | None
    samples: int


class Session:
    """A scenario's iterations: a training run's ``[training]`` iterations, or a plain scenario's one.

    Iterations are numbered from 1. Nothing is computed until asked: :meth:`advance` runs the next
    iterations (in chunks, so a progress bar or a worker thread can follow), :meth:`iteration` records
    any computed iteration's steps.
    """

    def __init__(self, scenario: Scenario, checkpoint_every: int | None = None,
                 budget: int = CHECKPOINT_BUDGET, recompute_ms: float = RECOMPUTE_MS) -> None:
        self.scenario = scenario
        config = scenario.training
        self.iterations = config.iterations if config else 1
        self.batch_size = config.batch_size if config else None
        #: The checkpoint interval K. Given, it is fixed; else it starts at what the memory budget allows
        #: and, once the first iterations are timed, grows to what recomputes in ``recompute_ms``.
        self._by_memory = choose_interval(scenario, budget)
        self._tune_ms = None if checkpoint_every else recompute_ms
        self._clock = 0.0
        # Until the first iterations are timed, no checkpoint more often than after them.
        self.every = checkpoint_every or max(self._by_memory, TIMED_ITERATIONS if recompute_ms else 1)
        self.acts = [ACTIVATIONS[layer.activation] for layer in scenario.layers]
        self.loss_fn = LOSSES[scenario.loss] if scenario.loss else None
        self.lr = scenario.learning_rate
        self.classifier = is_classifier(scenario)
        #: A ``[training]`` run (many iterations, a loss history), not a one-iteration scenario.
        self.is_training = config is not None
        #: Per iteration (index i − 1): the loss on its batch before its update, and the batch accuracy.
        self.losses = np.full(self.iterations, np.nan)
        self.accuracies = np.full(self.iterations, np.nan) if self.classifier else None
        self._indices = self._draw_indices()
        first = (tuple(np.array(l.W) for l in scenario.layers), tuple(np.array(l.b) for l in scenario.layers))
        #: (i, the parameters before iteration i), in order of i; the first is (1, initial parameters).
        self._checkpoints: list[tuple[int, Params]] = [(1, first)]
        #: (iterations computed by the straight run, the parameters after them): one value, replaced
        #: whole, so that a reader on another thread never sees a count and parameters that disagree.
        self._head: tuple[int, Params] = (0, first)
        self._recent: OrderedDict[int, Params] = OrderedDict()
        #: Guards the recent past, which a viewer's thread and a prefetching thread both use.
        self._lock = threading.RLock()
        self._recent_capacity = max(RECENT_STRETCH + 8, min(64, RECENT_BUDGET // max(1, parameter_bytes(scenario))))
        self._recorded: OrderedDict[int, Iteration] = OrderedDict()

    # --- the batches ------------------------------------------------------------------------------------

    def _draw_indices(self) -> np.ndarray | None:
        """Which training samples each iteration takes, drawn once from the seed's sampling stream."""
        sc, bs = self.scenario, self.batch_size
        samples = 1 if sc.x.ndim == 1 else sc.x.shape[0]
        if bs is None or sc.training is None or sc.x.ndim == 1:
            return None  # the whole training set, every iteration
        _, _, rng = random_streams(sc.training.seed)
        if sc.training.sampling == "with_replacement":
            return rng.integers(0, samples, size=(self.iterations, bs))
        needed = self.iterations * bs
        passes = [rng.permutation(samples) for _ in range(math.ceil(needed / samples))]
        return np.concatenate(passes)[:needed].reshape(self.iterations, bs)

    def batch(self, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Iteration i's (x, d): one sample as vectors for batches of 1 (as the course's online SGD)."""
        sc = self.scenario
        if self._indices is None:
            return sc.x, sc.d
        rows = self._indices[i - 1]
        if self.batch_size == 1:
            return sc.x[rows[0]], sc.d[rows[0]]
        return sc.x[rows], sc.d[rows]

    def sample_numbers(self, i: int) -> np.ndarray | None:
        """The training samples iteration i takes (0-based rows of the training set); None for all of them."""
        return None if self._indices is None else self._indices[i - 1]

    # --- the straight run --------------------------------------------------------------------------------

    @property
    def computed(self) -> int:
        """Iterations computed so far by the straight run."""
        return self._head[0]

    @property
    def done(self) -> bool:
        return self.computed == self.iterations

    def advance(self, n: int | None = None) -> int:
        """Run up to ``n`` more iterations (all that are left by default); return how many ran.

        One thread at a time may advance; others may read (``iteration``, ``losses``) meanwhile."""
        computed, params = self._head
        todo = self.iterations - computed if n is None else min(n, self.iterations - computed)
        W, b = _copy(params)  # updated in place below; what was handed out stays as it was
        acts, fn, lr, every = self.acts, self.loss_fn, self.lr, self.every
        losses, accuracies = self.losses, self.accuracies
        batch, checkpoints = self.batch, self._checkpoints
        last = checkpoints[-1][0]
        tuning = self._tune_ms is not None and computed < TIMED_ITERATIONS
        with np.errstate(all="ignore"):
            for i in range(computed + 1, computed + todo + 1):
                x, d = batch(i)
                p = compute_pass(W, b, acts, x, d, fn, lr, in_place=True)
                losses[i - 1] = p.loss
                if accuracies is not None:
                    accuracies[i - 1] = fn.accuracy(p.zs[-1], d)
                if tuning and i == TIMED_ITERATIONS // 2:
                    self._clock = time.perf_counter()
                elif tuning and i == TIMED_ITERATIONS:
                    every = self._tune((time.perf_counter() - self._clock) / (TIMED_ITERATIONS // 2))
                if i + 1 - last >= every:
                    last = i + 1
                    checkpoints.append((last, _copy((W, b))))
        self._head = (computed + todo, (tuple(W), tuple(b)))
        return todo

    def _tune(self, seconds_per_iteration: float) -> int:
        """K: what the budget needs, or more if recomputing that many iterations is still quick."""
        by_time = int(self._tune_ms / 1000 / max(seconds_per_iteration, 1e-9))
        self.every = max(self._by_memory, min(self.iterations, by_time))
        return self.every

    def run_all(self, progress: Callable[[int, int], None] | None = None, chunk: int | None = None) -> None:
        """Compute every iteration, calling ``progress(done, total)`` after each chunk."""
        chunk = chunk or (max(1, self.iterations // 200) if progress is not None else self.iterations)
        while not self.done:
            self.advance(chunk)
            if progress is not None:
                progress(self.computed, self.iterations)

    @property
    def checkpoint_count(self) -> int:
        return len(self._checkpoints)

    # --- time travel --------------------------------------------------------------------------------------

    def prefetch(self, i: int) -> None:
        """Make stepping back from iteration i quick: keep the parameters of the stretch below it at hand
        (recomputed from a checkpoint if need be). Meant for a background thread while the viewer waits
        for the next key; it only computes what a later :meth:`params_before` would."""
        for target in (i - 1, i - RECENT_STRETCH):
            if 1 <= target <= self.computed:
                self.params_before(target)

    def params_before(self, i: int) -> Params:
        """The parameters iteration i starts from (i = iterations + 1: the final ones), recomputed from
        the nearest checkpoint; the ones passed on the way are kept as the recent past."""
        with self._lock:
            return self._params_before(i)

    def _params_before(self, i: int) -> Params:
        computed, params = self._head
        if not 1 <= i <= computed + 1:
            raise IndexError(f"iteration {i} is not computed yet ({computed} of {self.iterations} are)")
        if i == computed + 1:
            return params
        if i in self._recent:
            self._recent.move_to_end(i)
            return self._recent[i]
        start, checkpoint = self._checkpoints[bisect_right(self._checkpoints, i, key=lambda c: c[0]) - 1]
        # Start from a kept parameter set if one is nearer than the checkpoint.
        nearer = [j for j in self._recent if start < j < i]
        if nearer:
            start = max(nearer)
            W, b = _copy(self._recent[start])
        else:
            W, b = _copy(checkpoint)
        with np.errstate(all="ignore"):
            for j in range(start, i):
                if (j >= i - RECENT_STRETCH or (i - j) % RECENT_STRETCH == 0) and j not in self._recent:
                    self._remember(j, _copy((W, b)))
                x, d = self.batch(j)
                compute_pass(W, b, self.acts, x, d, self.loss_fn, self.lr, in_place=True)
        params = (tuple(W), tuple(b))
        self._remember(i, params)
        # The lowest kept iterations are the next ones a step back needs: they are the last to be dropped.
        for j in range(i, i - RECENT_STRETCH - 1, -1):
            if j in self._recent:
                self._recent.move_to_end(j)
        return params

    def _remember(self, i: int, params: Params) -> None:
        self._recent[i] = params
        self._recent.move_to_end(i)
        while len(self._recent) > self._recent_capacity:
            self._recent.popitem(last=False)

    def iteration(self, i: int) -> Iteration:
        """Iteration i, recorded step by step from the parameters before it and its batch."""
        if not 1 <= i <= self.iterations:
            raise IndexError(f"no iteration {i}: the run has iterations 1 to {self.iterations}")
        if i in self._recorded:
            self._recorded.move_to_end(i)
            return self._recorded[i]
        layers = self._layers(self.params_before(i))
        x, d = self.batch(i)
        sc = self.scenario
        steps = iteration_steps(layers, x, d, sc.loss, sc.learning_rate, iteration=i)
        rows = self.sample_numbers(i)
        result = Iteration(scenario=sc, number=i, x=x, d=d, layers=layers, steps=tuple(steps),
                           rows=None if rows is None else tuple(int(r) for r in rows), note=self.start_note(i))
        self._recorded[i] = result
        while len(self._recorded) > RECORDED_ITERATIONS:
            self._recorded.popitem(last=False)
        return result

    def start_note(self, i: int) -> str:
        """What iteration i starts from, in words: its batch (training-set rows, counted from 1) and whose
        parameters."""
        sc, config = self.scenario, self.scenario.training
        if config is None:
            return ""
        samples = 1 if sc.x.ndim == 1 else sc.x.shape[0]
        rows = self.sample_numbers(i)
        held = "" if sc.test_x is None else " (the held-out test samples not counted)"
        if rows is None:
            batch = f"the whole training set ({samples} sample{'s' if samples != 1 else ''}), as every iteration"
        elif len(rows) == 1:
            batch = f"row {rows[0] + 1} (counting from 1) of the {samples} training samples{held}"
        else:
            shown = ", ".join(str(r + 1) for r in rows[:5]) + (", …" if len(rows) > 5 else "")
            batch = f"{len(rows)} of the {samples} training samples{held}: rows {shown} (counting from 1)"
        how = ""
        if rows is not None and config.sampling == "with_replacement":
            how = ", drawn at random with replacement"
        elif rows is not None:
            start = (i - 1) * len(rows)
            first, last = start // samples + 1, (start + len(rows) - 1) // samples + 1
            how = (f", the next rows of shuffled pass {first} over the data" if first == last else
                   f": the last rows of shuffled pass {first} and the first of pass {last}")
        after = "the initial parameters" if i == 1 else f"the parameters after iteration {i - 1}"
        method = config.method[0].upper() + config.method[1:]
        return f"{method}: its batch is {batch}{how}. It starts from {after}."

    def final_layers(self) -> tuple[Layer, ...]:
        """The parameters after the last computed iteration."""
        return self._layers(self._head[1])

    def _layers(self, params: Params) -> tuple[Layer, ...]:
        """A parameter set as the scenario's layers (their activations with these W and b)."""
        W, b = params
        return tuple(Layer(W=w, b=bias, activation=layer.activation)
                     for w, bias, layer in zip(W, b, self.scenario.layers))

    # --- how good the parameters are ---------------------------------------------------------------------

    def evaluate(self, x: np.ndarray, d: np.ndarray, i: int | None = None) -> Evaluation:
        """Loss and accuracy of the parameters before iteration i (the final ones by default) on (x, d)."""
        W, b = self._head[1] if i is None else self.params_before(i)
        with np.errstate(all="ignore"):
            p = compute_pass(W, b, self.acts, x, None, None, None)
            y, u = p.zs[-1], p.us[-1]
            loss = float(self.loss_fn.value(u, y, d))
            share = self.loss_fn.accuracy(y, d) if self.classifier else None
        return Evaluation(loss, share, 1 if x.ndim == 1 else x.shape[0])


def train(scenario: Scenario) -> Session:
    """A session of ``scenario``, computed to the end."""
    session = Session(scenario)
    session.run_all()
    return session


def run(scenario: Scenario) -> Iteration:
    """A scenario's first iteration, recorded (the whole run of a plain scenario)."""
    return Session(scenario).iteration(1)
