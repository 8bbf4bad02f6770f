"""Scenario files: TOML data describing one dense network, its input, target, loss and learning rate.

A scenario file is only ever parsed as data (``tomllib``); nothing in it runs. Every way a file can
be wrong raises :class:`ScenarioError` naming the file, the key and what was expected against what
was found, so the command line and the app can show one clear sentence instead of a traceback.
"""

from __future__ import annotations

import difflib
import math
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnstep.engine import names
from nnstep.engine.limits import DATA_BYTES, MEMORY_BYTES, SCENARIO_BYTES, number_text, size_text, visible
from nnstep.engine.numbers import count
from nnstep.engine.ops import ACTIVATIONS, LOSSES

TOP_KEYS = ("name", "description", "loss", "learning_rate", "seed", "params", "x", "d", "training", "data",
            "layers")
LAYER_KEYS = ("W", "b", "activation", "units", "init", "scale")
TRAINING_KEYS = ("iterations", "batch_size", "seed", "sampling")
DATA_KEYS = ("samples", "inputs", "target", "file", "test_samples", "image")
INPUT_KEYS = ("distribution", "features", "low", "high", "mean", "std")
TARGET_KEYS = ("linear", "bias")
SAMPLINGS = ("with_replacement", "epoch")
INITS = ("randn", "xavier", "he", "zeros")
DISTRIBUTIONS = ("uniform", "normal")

#: What nnstep says about ``seed`` and ``params = "net.npz"`` (the notes, and why a file is refused).
TEXT = {
    "seed_unused": "nothing here is drawn at random (every layer gives its W and b{how}); a seed is for layers "
                   "with units (random initial parameters) or a [training] run",
    "seed_unused_params": " in the params file",
    "seeds_disagree": "seed = {top} and training.seed = {training} disagree; give the seed once, at the top or in "
                      "[training] (both mean the seed of every random draw)",
    "params_and_units": "{key} is not used with params = \"{file}\": the file gives every layer's W and b, so "
                        "[[layers]] tables give only their activation",
    "params_missing": "{file} has no {arrays} {missing}; expected {expected} (a W and a b for each of the {layers} "
                      "[[layers]] tables), found {found}{rename}",
    "params_rename": " ({extra}: did you mean {wanted}?)",
    "params_extra": "{file} also holds {extra}{suggestion}, which no [[layers]] table uses; expected exactly "
                    "{expected} for the {layers} [[layers]] tables",
    "params_W_shape": "{name} in {file} has shape {shape}; expected a matrix of shape (inputs, units), one row per "
                      "input and one column per unit{hint}",
    "params_W_vector": " (a vector is read as the weights of a one-unit output layer, as the course's SGD notebook "
                       "writes W2 = np.random.randn(10), only when it holds one weight per input: {inputs} here)",
    "params_b_shape": "{name} in {file} has shape {shape}; expected a vector with one bias per unit{hint}",
    "params_b_number": " (a number is read as the bias of a one-unit output layer only)",
    "params_W_read": "{name}: the course's vector of {n} weights (np.random.randn({n})), read as a column {shape} "
                     "for the one output unit",
    "params_b_read": "{name}: a number (np.random.randn()), read as a vector of one bias (1,)",
}
#: How a params file's arrays are named, for its messages.
PARAMS_ARRAYS = "W1, b1, W2, b2, …"


class ScenarioError(Exception):
    """A scenario that cannot be used, with the file and key it concerns."""

    def __init__(self, path: str | Path | None, key: str | None, message: str):
        message = visible(message)  # it may quote the file's own text
        super().__init__(message)
        self.path = None if path is None else visible(str(path))
        # A key is one line, whatever the file's own key holds (a TOML key may be "\n").
        self.key = None if key is None else visible(key).replace("\n", "\\n").replace("\t", "\\t")
        self.message = message

    def __str__(self) -> str:
        parts = [p for p in (self.path, self.key) if p]
        return ": ".join(parts + [self.message])


@dataclass(frozen=True)
class Layer:
    """One dense layer: u = z_prev · W + b, z = activation(u)."""

    W: np.ndarray
    b: np.ndarray
    activation: str

    @property
    def units(self) -> int:
        return self.W.shape[1]


@dataclass(frozen=True)
class TrainingConfig:
    """The ``[training]`` table: how many iterations, on which batches, drawn how."""

    iterations: int
    #: Samples per iteration; None for batch gradient descent (the whole training set every iteration).
    batch_size: int | None
    seed: int
    sampling: str

    @property
    def method(self) -> str:
        """The seed's name for it: online SGD, mini-batch or batch gradient descent."""
        if self.batch_size is None:
            return "batch gradient descent"
        if self.batch_size == 1:
            return "stochastic gradient descent (online, one sample per iteration)"
        return f"mini-batch gradient descent (batches of {self.batch_size})"


def random_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent generators for the data, the initial parameters and the batch sampling, all from
    ``seed``: changing the iterations or the batch size leaves the data and the initial weights alone."""
    data, init, sampling = np.random.SeedSequence(seed).spawn(3)
    return np.random.default_rng(data), np.random.default_rng(init), np.random.default_rng(sampling)


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: arrays are float64 and their shapes chain."""

    name: str
    description: str
    x: np.ndarray
    layers: tuple[Layer, ...]
    loss: str | None = None
    d: np.ndarray | None = None
    learning_rate: float | None = None
    path: Path | None = None
    #: Arrays the file wrote with integers only (``x``, ``d``, ``W1``, ``b3`` …), printed as such
    #: by the seed format, as numpy prints the course's integer arrays.
    integer_arrays: frozenset[str] = field(default_factory=frozenset)
    #: The ``[training]`` table, for a training run over many iterations; None for one iteration.
    training: TrainingConfig | None = None
    #: Held-out samples (``[data] test_samples``), never trained on; None when there are none.
    test_x: np.ndarray | None = None
    test_d: np.ndarray | None = None
    #: Each input row is an image of this (height, width) (``[data] image``), shown as a heatmap.
    image: tuple[int, int] | None = None
    #: Where the data came from, in words (``100000 generated samples …``), for a training run.
    data_note: str = ""
    #: The rows of the data (generated or from the file, counted from 0) held out for testing.
    held_out: tuple[int, ...] | None = None
    #: ``params = "net.npz"``: the file as the scenario names it, None when the layers give W and b.
    params_file: str | None = None
    #: How the file's arrays in the course's shapes were read, in words (``W2: the course's vector of 10
    #: weights …``); empty when every array had the shape of its layer.
    params_note: str = ""
    #: The parameters the file held in the course's shapes (a 1-D ``W2``, a number ``b2``), read as a
    #: column and a vector of one: their printouts have one pair of brackets more than the course's.
    reshaped: frozenset[str] = field(default_factory=frozenset)
    #: The seed of the random initial parameters (``units`` layers) or of a training run; None when
    #: nothing is drawn.
    seed: int | None = None

    @property
    def shown_path(self) -> str:
        """The file's path as text to print: its control characters made visible."""
        return "" if self.path is None else visible(str(self.path))

    @property
    def shape(self) -> str:
        """The network's widths, input first: ``2-3-4``."""
        return "-".join(str(n) for n in [self.layers[0].W.shape[0]] + [l.units for l in self.layers])


def _kind(value: Any) -> str:
    """What a TOML value is, in words, for error messages."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:27] + "..."
        return f'a string ("{shown}")'
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    """`` (did you mean 'relu'?)`` for a near miss, case included (``ReLU``, ``w``); else nothing."""
    same_letters = [c for c in choices if c.lower() == word.lower()]
    close = same_letters or difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Reader:
    """Reads one parsed TOML document, raising ScenarioError at the first problem."""

    def __init__(self, path: Path | None):
        self.path = path
        self.integer_arrays: set[str] = set()
        #: Some layer's parameters were drawn at random (``units``).
        self.drawn = False
        #: ``params = "…"``: the file, how its arrays were read, and those read from the course's shapes.
        self.params_file: str | None = None
        self.params_note = ""
        self.reshaped: set[str] = set()
        self.notes: list[str] = []

    def fail(self, key: str | None, message: str) -> ScenarioError:
        return ScenarioError(self.path, key, message)

    def afford(self, key: str, numbers: int | float, what: str) -> None:
        """Refuse, before allocating, ``numbers`` float64s for ``what`` beyond the memory nnstep allows."""
        need = int(numbers) * 8
        if need > MEMORY_BYTES:
            raise self.fail(key, f"{what} would need about {size_text(need)} of memory; nnstep keeps a "
                            f"scenario within {size_text(MEMORY_BYTES)}")

    def finite(self, key: str, array: np.ndarray, what: str) -> np.ndarray:
        """Refuse generated numbers that overflowed (as inf written in the file would be)."""
        if not np.all(np.isfinite(array)):
            raise self.fail(key, f"{what} overflow: some are beyond float64's range (about ±1.8e308) and come "
                            f"out inf or nan; expected numbers small enough to compute with")
        return array

    def check_keys(self, table: dict, allowed: tuple[str, ...], where: str) -> None:
        for key in table:
            if key not in allowed:
                name = f"{where}.{key}" if where else key
                known = ", ".join(allowed)
                message = f"unknown key{_suggest(key, allowed)}; the keys here are {known}"
                if where and key in TOP_KEYS:
                    message += (f". '{key}' is a top-level key: in TOML every key after a [[layers]] "
                                f"header belongs to that layer, so write top-level keys before the first one")
                raise self.fail(name, message)

    def string(self, table: dict, key: str, where: str, default: str | None = None) -> str | None:
        if key not in table:
            return default
        value = table[key]
        if not isinstance(value, str):
            raise self.fail(where, f"expected a string, found {_kind(value)}")
        return value

    def number(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"expected a number, found {_kind(value)}")
        try:
            number = float(value)
        except OverflowError:
            raise self.fail(key, f"expected a finite number, found an integer too large for float64 "
                            f"({len(str(abs(value)))} digits)") from None
        if not math.isfinite(number):
            raise self.fail(key, f"expected a finite number, found {value}"
                            + (" (a number beyond float64's range reads as inf)" if math.isinf(number) else ""))
        return number

    def integer(self, table: dict, key: str, where: str, minimum: int, default: int | None = None) -> int:
        if key not in table:
            if default is None:
                raise self.fail(where, f"missing; expected a whole number ≥ {minimum}")
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where, f"expected a whole number ≥ {minimum}, found {_kind(value)}")
        if value < minimum:
            raise self.fail(where, f"expected a whole number ≥ {minimum}, found {value}")
        return value

    def table(self, doc: dict, key: str, where: str, allowed: tuple[str, ...]) -> dict:
        value = doc[key]
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a table ({', '.join(allowed)}), found {_kind(value)}")
        self.check_keys(value, allowed, where)
        return value

    def choice(self, table: dict, key: str, where: str, choices: tuple[str, ...], default: str) -> str:
        value = self.string(table, key, where, default=default)
        if value not in choices:
            raise self.fail(where, f"unknown {key} '{value}'{_suggest(value, list(choices))}; expected one of "
                            f"{', '.join(choices)}")
        return value

    def array(self, value: Any, key: str, ndims: tuple[int, ...], what: str) -> np.ndarray:
        """A 1-D or 2-D array of finite numbers (as allowed by ``ndims``), as float64."""
        if not isinstance(value, list):
            raise self.fail(key, f"expected {what}, found {_kind(value)}")
        if not value:
            raise self.fail(key, f"expected {what}, found an empty list")
        rows = value if isinstance(value[0], list) else None
        if rows is None:
            if 1 not in ndims:
                raise self.fail(key, f"expected {what}, found a vector of {len(value)} numbers")
            for i, v in enumerate(value):
                if isinstance(v, list):
                    raise self.fail(key, f"expected {what}, found a mix of numbers and lists "
                                    f"(element 0 is a number, element {i} a list)")
            numbers = [self.number(v, f"{key}[{i}]") for i, v in enumerate(value)]
            ints = all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            array = np.array(numbers, dtype=np.float64)
        else:
            if 2 not in ndims:
                raise self.fail(key, f"expected {what}, found a matrix (a list of lists)")
            width = None
            matrix = []
            for i, row in enumerate(value):
                if not isinstance(row, list):
                    raise self.fail(f"{key}[{i}]", f"expected a row (a list of numbers) like the rows "
                                    f"before it, found {_kind(row)}")
                if not row:
                    raise self.fail(f"{key}[{i}]", "expected a row of numbers, found an empty list")
                for j, v in enumerate(row):
                    if isinstance(v, list):
                        raise self.fail(key, f"expected {what}, found a 3-D array "
                                        f"(lists nested three deep at {key}[{i}][{j}])")
                if width is None:
                    width = len(row)
                elif len(row) != width:
                    raise self.fail(key, f"rows have different lengths: row 0 has {width} numbers, "
                                    f"row {i} has {len(row)} (a matrix needs rows of equal length)")
                matrix.append([self.number(v, f"{key}[{i}][{j}]") for j, v in enumerate(row)])
            ints = all(isinstance(v, int) and not isinstance(v, bool) for row in value for v in row)
            array = np.array(matrix, dtype=np.float64)
        if ints:
            self.integer_arrays.add(key)
        return array


def parse_scenario(text: str, path: str | Path | None = None) -> Scenario:
    """Validate TOML text as a scenario."""
    path = None if path is None else Path(path)
    reader = _Reader(path)
    if not text.strip():
        raise reader.fail(None, "the file is empty; expected a scenario: x, and one [[layers]] table per "
                          "layer with W, b and activation")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise reader.fail(None, f"not valid TOML: {exc}") from None
    except RecursionError:
        raise reader.fail(None, "lists or tables are nested too deep to read (hundreds of levels); a "
                          "scenario's arrays are at most two deep") from None
    reader.check_keys(doc, TOP_KEYS, "")

    name = visible(reader.string(doc, "name", "name", default=path.stem if path else "scenario"))
    description = visible(reader.string(doc, "description", "description", default=""))

    loss = reader.string(doc, "loss", "loss")
    if loss is not None and loss not in LOSSES:
        raise reader.fail("loss", f"unknown loss '{loss}'{_suggest(loss, list(LOSSES))}; expected one of "
                          f"{', '.join(LOSSES)}, or no loss key for a forward-only run")

    learning_rate = None
    if "learning_rate" in doc:
        learning_rate = reader.number(doc["learning_rate"], "learning_rate")
        if learning_rate <= 0:
            raise reader.fail("learning_rate", f"expected a number > 0, found {doc['learning_rate']}")
    elif loss is not None:
        raise reader.fail("learning_rate", "missing; a scenario with a loss needs a learning rate > 0 "
                          "for its update steps")

    top_seed = reader.integer(doc, "seed", "seed", 0) if "seed" in doc else None
    training = _read_training(reader, doc, loss, top_seed)
    seed = training.seed if training is not None else 0 if top_seed is None else top_seed
    data_rng, init_rng, _ = random_streams(seed)
    test_x = test_d = image = held_out = None
    data_note = ""
    if "data" in doc:
        for key in ("x", "d"):
            if key in doc:
                raise reader.fail(key, "the [data] table gives the samples; write either inline x and d "
                                  "or a [data] table, not both")
        x, d, test_x, test_d, image, data_note, held_out = _read_data(reader, doc, data_rng)
    elif "x" not in doc:
        raise reader.fail("x", "missing; expected the input: one sample as a vector, or a batch as a "
                          "matrix with one row per sample (or a [data] table for a training run)")
    else:
        x = reader.array(doc["x"], "x", (1, 2), "the input as a vector of numbers or a matrix (one row per sample)")
        d = None

    layers = _read_layers(reader, doc, x, init_rng)
    if top_seed is not None and training is None and not reader.drawn:
        raise reader.fail("seed", TEXT["seed_unused"].format(how=TEXT["seed_unused_params"] if "params" in doc else ""))
    output_shape = x.shape[:-1] + (layers[-1].units,)

    if "data" in doc:
        if d.shape != output_shape:
            raise reader.fail("data", f"the targets d have {d.shape[1]} column{'s' if d.shape[1] != 1 else ''} "
                              f"but the last layer has {layers[-1].units} unit"
                              f"{'s' if layers[-1].units != 1 else ''}; expected one column per output unit")
    elif "d" in doc:
        d = reader.array(doc["d"], "d", (1, 2), "the target as a vector or matrix of numbers")
        if d.shape != output_shape:
            rows = x.shape[0] if x.ndim == 2 else 1
            batch = "one sample" if x.ndim == 1 else f"{rows} row{'s' if rows != 1 else ''}, one per sample of x"
            raise reader.fail("d", f"expected shape {_shape_text(output_shape)} like the output ({batch}, "
                              f"{layers[-1].units} units in the last layer; x has shape "
                              f"{_shape_text(x.shape)}), found shape {_shape_text(d.shape)}")
    elif loss is not None:
        raise reader.fail("d", f"missing; loss = '{loss}' needs a target d of shape {_shape_text(output_shape)}")

    if loss is not None:
        # Targets from a [data] table are reported under it (they came from its file or its target).
        d_key = "data.file" if "data" in doc and "file" in doc["data"] else "data" if "data" in doc else "d"
        _check_loss(reader, loss, layers, d, d_key)
        if test_d is not None:
            _check_loss(reader, loss, layers, test_d, d_key)
    if training is not None:
        _check_batch(reader, training, x)
        if not data_note:
            samples = 1 if x.ndim == 1 else x.shape[0]
            data_note = f"the scenario's own x and d ({samples} sample{'s' if samples != 1 else ''})"

    integer_arrays = {_seed_name(key) for key in reader.integer_arrays}
    return Scenario(name=name, description=description, x=x, layers=tuple(layers), loss=loss, d=d,
                    learning_rate=learning_rate, path=path, integer_arrays=frozenset(integer_arrays),
                    training=training, test_x=test_x, test_d=test_d, image=image, data_note=data_note,
                    held_out=held_out, params_file=reader.params_file, params_note=reader.params_note,
                    reshaped=frozenset(reader.reshaped),
                    seed=seed if training is not None or reader.drawn else None)


def _read_training(reader: _Reader, doc: dict, loss: str | None, top_seed: int | None) -> TrainingConfig | None:
    """The ``[training]`` table; its seed is the top-level ``seed`` when it gives none (both: they must agree)."""
    if "training" not in doc:
        if "data" in doc:
            raise reader.fail("training", "missing; a [data] table is for a training run, which needs a "
                              "[training] table with iterations (and batch_size, seed, sampling)")
        return None
    table = reader.table(doc, "training", "training", TRAINING_KEYS)
    if loss is None:
        raise reader.fail("loss", "missing; a [training] run needs a loss (mse, cross_entropy or "
                          "binary_cross_entropy) to descend")
    iterations = reader.integer(table, "iterations", "training.iterations", 1)
    batch = table.get("batch_size", "all")
    if batch == "all":
        batch_size = None
    elif isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise reader.fail("training.batch_size", f'expected a whole number ≥ 1 (1 for online SGD, n for '
                          f'mini-batches of n) or "all" (batch gradient descent), found {_kind(batch)}')
    else:
        batch_size = batch
    seed = reader.integer(table, "seed", "training.seed", 0, default=0 if top_seed is None else top_seed)
    if top_seed is not None and seed != top_seed:
        raise reader.fail("seed", TEXT["seeds_disagree"].format(top=top_seed, training=seed))
    sampling = reader.choice(table, "sampling", "training.sampling", SAMPLINGS, "with_replacement")
    return TrainingConfig(iterations=iterations, batch_size=batch_size, seed=seed, sampling=sampling)


def _check_batch(reader: _Reader, training: TrainingConfig, x: np.ndarray) -> None:
    samples = 1 if x.ndim == 1 else x.shape[0]
    if training.batch_size is not None and training.batch_size > samples:
        raise reader.fail("training.batch_size", f"expected at most {samples}, the number of training samples "
                          f"({_shape_text(x.shape)} in x), found {training.batch_size}")
    # Per iteration a run keeps its loss and accuracy, and the rows of its batch (drawn up front).
    per_iteration = 2 + (training.batch_size or 0)
    reader.afford("training.iterations", training.iterations * per_iteration,
                  f"the records of {number_text(training.iterations)} iterations" +
                  (f" with batches of {training.batch_size}" if training.batch_size else ""))


def _read_data(reader: _Reader, doc: dict, rng: np.random.Generator):
    """The samples of a ``[data]`` table, generated from the seed or read from a file, and the held-out split."""
    table = reader.table(doc, "data", "data", DATA_KEYS)
    if "file" in table:
        for key in ("samples", "inputs", "target"):
            if key in table:
                raise reader.fail(f"data.{key}", "not used with data.file: the file holds the samples; "
                                  "write either file, or samples, inputs and target")
        file = reader.string(table, "file", "data.file")
        x, d, note = _read_data_file(reader, file)
    else:
        x, d, note = _generate_data(reader, table, rng)
    image = None
    if "image" in table:
        shape = table["image"]
        if (not isinstance(shape, list) or len(shape) != 2
                or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in shape)):
            raise reader.fail("data.image", f"expected [height, width], two whole numbers ≥ 1, found "
                              f"{_kind(shape) if not isinstance(shape, list) else shape}")
        if shape[0] * shape[1] != x.shape[1]:
            raise reader.fail("data.image", f"expected height × width = {x.shape[1]}, the number of inputs, "
                              f"found {shape[0]} × {shape[1]} = {shape[0] * shape[1]}")
        image = (shape[0], shape[1])
    test_x = test_d = None
    held_out = None
    if "test_samples" in table:
        held = reader.integer(table, "test_samples", "data.test_samples", 1)
        if held >= x.shape[0]:
            raise reader.fail("data.test_samples", f"expected fewer than the {x.shape[0]} samples, so that some "
                              f"are left to train on, found {held}")
        order = rng.permutation(x.shape[0])
        test, train = np.sort(order[:held]), np.sort(order[held:])
        test_x, test_d, x, d = x[test], d[test], x[train], d[train]
        note += f"; {held} held out for testing, the other {x.shape[0]}, in order, to train on"
        held_out = tuple(int(r) for r in test)
    return x, d, test_x, test_d, image, note, held_out


def _generate_data(reader: _Reader, table: dict, rng: np.random.Generator):
    for key in ("samples", "inputs", "target"):
        if key not in table:
            raise reader.fail(f"data.{key}", "missing; generated data needs samples, inputs = { distribution, "
                              "features, … } and target = { linear = [...], bias }, or give file = \"….npz\"")
    samples = reader.integer(table, "samples", "data.samples", 1)
    inputs = reader.table(table, "inputs", "data.inputs", INPUT_KEYS)
    features = reader.integer(inputs, "features", "data.inputs.features", 1)
    dist = reader.choice(inputs, "distribution", "data.inputs.distribution", DISTRIBUTIONS, "uniform")
    if dist == "uniform":
        for key in ("mean", "std"):
            if key in inputs:
                raise reader.fail(f"data.inputs.{key}", "not used by a uniform distribution (low and high are)")
        low = reader.number(inputs.get("low", 0.0), "data.inputs.low")
        high = reader.number(inputs.get("high", 1.0), "data.inputs.high")
        if not low < high:
            raise reader.fail("data.inputs.high", f"expected high > low ({low:g}), found {high:g}")
        if not math.isfinite(high - low):
            raise reader.fail("data.inputs", f"the range from low ({low:g}) to high ({high:g}) is wider than "
                              f"float64 can hold (about 1.8e308); expected a narrower range")
        reader.afford("data.samples", samples * features, f"{number_text(samples)} samples of {features} inputs")
        x = rng.uniform(low, high, size=(samples, features))
        what = f"uniform on [{low:g}, {high:g})"
    else:
        for key in ("low", "high"):
            if key in inputs:
                raise reader.fail(f"data.inputs.{key}", "not used by a normal distribution (mean and std are)")
        mean = reader.number(inputs.get("mean", 0.0), "data.inputs.mean")
        std = reader.number(inputs.get("std", 1.0), "data.inputs.std")
        if std <= 0:
            raise reader.fail("data.inputs.std", f"expected a number > 0, found {std:g}")
        reader.afford("data.samples", samples * features, f"{number_text(samples)} samples of {features} inputs")
        with np.errstate(all="ignore"):
            x = reader.finite("data.inputs", rng.normal(mean, std, size=(samples, features)), "the generated inputs")
        what = f"normal with mean {mean:g} and std {std:g}"
    target = reader.table(table, "target", "data.target", TARGET_KEYS)
    if "linear" not in target:
        raise reader.fail("data.target.linear", f"missing; expected the weights of d = x·linear + bias, "
                          f"{features} numbers (one per input feature)")
    w = reader.array(target["linear"], "data.target.linear", (1, 2),
                     f"{features} numbers (one per input), or a matrix with {features} rows for several outputs")
    if w.shape[0] != features:
        raise reader.fail("data.target.linear", f"expected {features} rows, one per input feature "
                          f"(data.inputs.features = {features}), found shape {_shape_text(w.shape)}")
    w = w.reshape(features, -1)
    bias = reader.number(target.get("bias", 0.0), "data.target.bias")
    reader.afford("data.samples", samples * w.shape[1], f"{number_text(samples)} targets of {w.shape[1]} outputs")
    with np.errstate(all="ignore"):
        d = reader.finite("data.target", np.dot(x, w) + bias, "the generated targets d = x·linear + bias")
    weights = ", ".join(f"{v:g}" for v in w.ravel()) if w.shape[1] == 1 else "the given matrix"
    return x, d, f"{samples} generated samples: x {what} ({count(features, 'feature')}), d = x·[{weights}] + {bias:g}"


def _data_path(reader: _Reader, file: str, key: str = "data.file", example: str = "data/digits.npz") -> Path:
    """Where a file the scenario names (``data.file``, ``params``) is: inside the scenario file's folder (or
    below it), never elsewhere, so that a scenario from someone else cannot read the rest of the machine
    (no absolute paths, no ``..`` out of the folder, no link that leads out of it)."""
    base = reader.path.parent if reader.path is not None else Path(".")
    if not file:
        raise reader.fail(key, "expected the name of an .npz file beside the scenario file, found \"\"")
    if Path(file).is_absolute():
        raise reader.fail(key, f"{file} is an absolute path; expected a file in the scenario file's folder "
                          f"or below it, named relative to it (e.g. \"{example}\")")
    where = base / file
    try:
        inside = where.resolve().is_relative_to(base.resolve())
    except (OSError, RuntimeError) as exc:  # a link loop, a name too long
        raise reader.fail(key, f"{file} cannot be read: {_os_problem(exc) if isinstance(exc, OSError) else exc}") from None
    if not inside:
        raise reader.fail(key, f"{file} leads outside the scenario file's folder (through .. or a link); "
                          "nnstep reads the files a scenario names only from that folder or below it")
    return where


def _npz_member(reader: _Reader, archive, key: str, file: str, where: str = "data.file",
                arrays: str = "x and d") -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype that array ``key`` of an .npz declares, read from its header alone, refused
    when it holds Python objects or would take more memory than nnstep allows."""
    import zipfile

    name = f"{key}.npy"
    try:
        info = archive.getinfo(name)
    except KeyError:
        found = ", ".join(n.removesuffix(".npy") for n in archive.namelist()) or "none"
        raise reader.fail(where, f"{file} has no array '{key}'; expected arrays x (samples × inputs) and d "
                          f"(samples × outputs), found {found}") from None
    if info.file_size > DATA_BYTES:
        raise reader.fail(where, f"array {key} in {file} unpacks to {size_text(info.file_size)}; nnstep reads "
                          f".npz files of up to {size_text(DATA_BYTES)}")
    try:
        with archive.open(info) as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise reader.fail(where, f"array {key} in {file} is not a numpy array ({exc})") from None
    if dtype.hasobject:
        raise reader.fail(where, _pickle_message(file, arrays))
    size = math.prod(shape) * dtype.itemsize
    if size > DATA_BYTES or size > info.file_size:
        raise reader.fail(where, f"array {key} in {file} declares shape {_shape_text(shape)} "
                          f"({size_text(size)}) but {'nnstep reads up to ' + size_text(DATA_BYTES) if size > DATA_BYTES else 'the file holds ' + size_text(info.file_size)}")
    return shape, dtype


def _pickle_message(file: str, arrays: str) -> str:
    """Why an .npz holding Python objects is refused."""
    return f"{file} holds Python objects (a pickle), which nnstep never loads; expected plain numeric arrays {arrays}"


def _open_npz(reader: _Reader, file: str, where: str, arrays: str, savez: str, example: str) -> bytes:
    """The bytes of an ``.npz`` file the scenario names, inside its folder, checked to be a zip archive."""
    path = _data_path(reader, file, where, example)
    try:
        data = read_file(path, DATA_BYTES, "an .npz file")
    except ScenarioError as exc:
        raise reader.fail(where, f"{file}: {exc.message}"
                          + (" (relative to the scenario file's folder)" if exc.message == "no such file" else "")) from None
    magic = data[:6]
    if magic == b"\x93NUMPY":
        raise reader.fail(where, f"{file} is a single array (.npy); expected an .npz with arrays {arrays} ({savez})")
    if not magic.startswith(b"PK"):
        raise reader.fail(where, f"{file} is not a numpy .npz file (an .npz is a zip archive of arrays; "
                          f"{savez} writes one)")
    return data


def _npz_names(reader: _Reader, data: bytes, file: str, where: str) -> list[str]:
    """The arrays an .npz holds, by name, from its zip directory (nothing unpacked)."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [n.removesuffix(".npy") for n in archive.namelist()]
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise reader.fail(where, f"{file} is not a numpy .npz file ({exc})") from None


def _load_npz(reader: _Reader, data: bytes, file: str, keys: list[str], where: str, arrays: str) -> dict[str, np.ndarray]:
    """Arrays ``keys`` of an .npz, each checked from its header (size, no objects) before anything is
    unpacked, then read with ``allow_pickle=False`` and checked to hold numbers (integer arrays are kept
    as such, for the caller to note)."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            declared = [_npz_member(reader, archive, key, file, where, arrays) for key in keys]
        reader.afford(where, sum(math.prod(shape) for shape, _ in declared), f"the arrays of {file}")
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            out = {key: archive[key] for key in keys}
    except ScenarioError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise reader.fail(where, _pickle_message(file, arrays)) from None
        raise reader.fail(where, f"{file} is not a numpy .npz file ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise reader.fail(where, f"{file} is not a numpy .npz file ({exc})") from None
    for key, a in out.items():
        if a.dtype.kind not in "iuf":
            raise reader.fail(where, f"array {key} in {file} has dtype {a.dtype}; expected numbers "
                              "(integers or floats)")
    return out


def _finite(reader: _Reader, a: np.ndarray, key: str, file: str, where: str) -> np.ndarray:
    """``a`` as float64, refused when it holds inf or nan."""
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise reader.fail(where, f"array {key} in {file} has values that are not finite (inf or nan)")
    return a


def _read_data_file(reader: _Reader, file: str):
    """Arrays x and d from an ``.npz`` file, read as data only (no pickles), relative to the scenario file;
    their sizes are checked from the archive's headers before anything is unpacked."""
    where = "data.file"
    data = _open_npz(reader, file, where, "x and d", "numpy.savez(path, x=x, d=d)", "data/digits.npz")
    arrays = _load_npz(reader, data, file, ["x", "d"], where, "x and d")
    out = []
    for key in ("x", "d"):
        a = arrays[key]
        if a.ndim != 2 or 0 in a.shape:
            raise reader.fail(where, f"array {key} in {file} has shape {_shape_text(a.shape)}; expected "
                              f"a matrix with one row per sample")
        out.append(_finite(reader, a, key, file, where))
    x, d = out
    if x.shape[0] != d.shape[0]:
        raise reader.fail(where, f"{file}: x has {x.shape[0]} rows but d has {d.shape[0]}; expected one "
                          "row of each per sample")
    return x, d, f"{file}: {x.shape[0]} samples of {x.shape[1]} inputs"


def _read_params(reader: _Reader, file: Any, layers: int) -> dict[str, np.ndarray]:
    """``params = "net.npz"``: the arrays W1, b1, W2, … of a network of ``layers`` layers, as the course's
    notebook holds them (``np.savez("net.npz", **network)``), exactly those names, numbers only, finite."""
    where = "params"
    if not isinstance(file, str):
        raise reader.fail(where, f"expected the name of an .npz file of W1, b1, W2, b2, … beside the scenario "
                          f"file, found {_kind(file)}")
    data = _open_npz(reader, file, where, PARAMS_ARRAYS, "numpy.savez(path, **network)", "net.npz")
    found = _npz_names(reader, data, file, where)
    expected = names.parameters(layers)
    shown = visible(file)
    missing = [n for n in expected if n not in found]
    extra = [n for n in found if n not in expected]
    if missing:
        close = [(e, _suggest(e, missing)) for e in extra]
        rename = next((TEXT["params_rename"].format(extra=e, wanted=hint.split("'")[1]) for e, hint in close if hint), "")
        raise reader.fail(where, TEXT["params_missing"].format(
            file=shown, arrays="array" if len(missing) == 1 else "arrays", missing=", ".join(missing),
            expected=", ".join(expected), layers=layers, found=", ".join(found) or "none", rename=rename))
    if extra:
        raise reader.fail(where, TEXT["params_extra"].format(
            file=shown, extra=", ".join(extra), suggestion=_suggest(extra[0], expected),
            expected=", ".join(expected), layers=layers))
    arrays = _load_npz(reader, data, file, expected, where, PARAMS_ARRAYS)
    for key, a in arrays.items():
        if a.dtype.kind in "iu":
            reader.integer_arrays.add(key)
        arrays[key] = _finite(reader, a, key, file, where)
    reader.params_file = shown
    return arrays


def _file_parameters(reader: _Reader, arrays: dict[str, np.ndarray], l: int, last: int, inputs: int):
    """Layer ``l``'s W and b from a params file, the course's shapes of a one-unit output layer (a 1-D W,
    a number b) read as a column and a vector of one; any other shape is left for the usual checks."""
    file = reader.params_file
    W_name, b_name = names.param("W", l), names.param("b", l)
    W, b = arrays[W_name], arrays[b_name]
    if W.ndim == 1 and l == last and W.shape[0] == inputs:
        W = W.reshape(inputs, 1)
        reader.reshaped.add(W_name)
        reader.notes.append(TEXT["params_W_read"].format(name=W_name, n=inputs, shape=_shape_text(W.shape)))
    if W.ndim != 2 or 0 in W.shape:
        hint = TEXT["params_W_vector"].format(inputs=inputs) if W.ndim == 1 else ""
        raise reader.fail("params", TEXT["params_W_shape"].format(name=W_name, file=file, shape=_shape_text(W.shape),
                                                                  hint=hint))
    if b.ndim == 0 and l == last and W.shape[1] == 1:
        b = b.reshape(1)
        reader.reshaped.add(b_name)
        reader.notes.append(TEXT["params_b_read"].format(name=b_name))
    if b.ndim != 1:
        raise reader.fail("params", TEXT["params_b_shape"].format(
            name=b_name, file=file, shape=_shape_text(b.shape), hint=TEXT["params_b_number"] if b.ndim == 0 else ""))
    return W, b


def _seed_name(key: str) -> str:
    """``layers[0].W`` → ``W1``; ``x`` stays ``x``."""
    if key.startswith("layers["):
        index, attr = key[len("layers["):].split("].")
        return f"{attr}{int(index) + 1}"
    return key


def _read_layers(reader: _Reader, doc: dict, x: np.ndarray, rng: np.random.Generator) -> list[Layer]:
    if "layers" not in doc:
        raise reader.fail("layers", "missing; expected one [[layers]] table per layer, each with W, b "
                          "and activation")
    tables = doc["layers"]
    if not isinstance(tables, list):
        raise reader.fail("layers", f"expected [[layers]] tables (each with W, b and activation), "
                          f"found {_kind(tables)}")
    for i, table in enumerate(tables):
        if not isinstance(table, dict):
            raise reader.fail(f"layers[{i}]", f"expected a [[layers]] table with W, b and activation, "
                              f"found {_kind(table)}")
    if not tables:
        raise reader.fail("layers", "expected at least one [[layers]] table, found none")
    params = None
    if "params" in doc:
        for i, table in enumerate(tables):
            for key in ("W", "b", "units", "init", "scale"):
                if key in table:
                    raise reader.fail(f"layers[{i}].{key}", TEXT["params_and_units"].format(
                        key=key, file=visible(str(doc["params"]))))
        params = _read_params(reader, doc["params"], len(tables))

    layers: list[Layer] = []
    inputs, inputs_from = x.shape[-1], f"x has shape {_shape_text(x.shape)}"
    for i, table in enumerate(tables):
        where = f"layers[{i}]"
        reader.check_keys(table, LAYER_KEYS, where)
        # What the messages call W and b: the table's keys, or the arrays of the params file.
        W_key, b_key, W_said, b_said = f"{where}.W", f"{where}.b", f"{where}.W", ""
        if params is not None:
            W, b = _file_parameters(reader, params, i + 1, len(tables), inputs)
            W_key = b_key = "params"
            W_said = names.param("W", i + 1)
            b_said = f"{names.param('b', i + 1)} in {reader.params_file}: "
        elif "units" in table:
            W, b = _initial_parameters(reader, table, where, inputs, rng)
            reader.drawn = True
        else:
            for key in ("init", "scale"):
                if key in table:
                    raise reader.fail(f"{where}.{key}", "only with units (random initial parameters); this "
                                      "layer gives W and b")
            for key in ("W", "b", "activation"):
                if key not in table:
                    raise reader.fail(f"{where}.{key}", "missing; every layer needs W (inputs × units), "
                                      "b (one per unit) and activation, or units (and init) instead of W and b")
            W = reader.array(table["W"], f"{where}.W", (2,), "a matrix of shape (inputs, units): one row per input")
            b = reader.array(table["b"], f"{where}.b", (1,), "a vector with one bias per unit")
        if "activation" not in table:
            raise reader.fail(f"{where}.activation", "missing; every layer needs an activation")
        activation = reader.string(table, "activation", f"{where}.activation")
        if activation not in ACTIVATIONS:
            raise reader.fail(f"{where}.activation", f"unknown activation '{activation}'"
                              f"{_suggest(activation, list(ACTIVATIONS))}; expected one of "
                              f"{', '.join(ACTIVATIONS)}")
        if W.shape[0] != inputs:
            transposed = " (is W transposed? it needs one row per input, one column per unit)" \
                if W.shape[1] == inputs else ""
            in_file = f"{W_said} in {reader.params_file}: " if params is not None else ""
            raise reader.fail(W_key, f"{in_file}expected {inputs} rows, one per input ({inputs_from}), "
                              f"found shape {_shape_text(W.shape)}{transposed}")
        if b.shape != (W.shape[1],):
            raise reader.fail(b_key, f"{b_said}expected shape {_shape_text((W.shape[1],))}, one bias per "
                              f"unit ({W_said} has shape {_shape_text(W.shape)}), found shape "
                              f"{_shape_text(b.shape)}")
        layers.append(Layer(W=W, b=b, activation=activation))
        inputs, inputs_from = W.shape[1], f"{W_said} has shape {_shape_text(W.shape)}"
    reader.params_note = "; ".join(reader.notes)
    return layers


def _initial_parameters(reader: _Reader, table: dict, where: str, inputs: int, rng: np.random.Generator):
    """W and b drawn for ``units = n``: randn (the course: both N(0, 1)), xavier (W ~ N(0, 1/inputs)),
    he (W ~ N(0, 2/inputs)) or zeros; the last three start b at 0. ``scale`` multiplies what is drawn."""
    for key in ("W", "b"):
        if key in table:
            raise reader.fail(f"{where}.{key}", "give either W and b, or units (random initial parameters), "
                              "not both")
    units = reader.integer(table, "units", f"{where}.units", 1)
    init = reader.choice(table, "init", f"{where}.init", INITS, "randn")
    scale = reader.number(table.get("scale", 1.0), f"{where}.scale")
    if scale <= 0:
        raise reader.fail(f"{where}.scale", f"expected a number > 0, found {table['scale']}")
    reader.afford(f"{where}.units", (inputs + 1) * units, f"a layer of {number_text(units)} units on {inputs} inputs")
    W = rng.standard_normal((inputs, units))
    b = rng.standard_normal(units) if init == "randn" else np.zeros(units)
    if init == "xavier":
        W = W / math.sqrt(inputs)
    elif init == "he":
        W = W * math.sqrt(2.0 / inputs)
    elif init == "zeros":
        W = np.zeros((inputs, units))
    with np.errstate(all="ignore"):
        return (reader.finite(f"{where}.scale", W * scale, "the initial weights"),
                reader.finite(f"{where}.scale", b * scale, "the initial biases"))


def _check_loss(reader: _Reader, loss: str, layers: list[Layer], d: np.ndarray, key: str = "d") -> None:
    last = f"layers[{len(layers) - 1}].activation"
    required = LOSSES[loss].requires
    if required is not None and layers[-1].activation != required:
        raise reader.fail(last, f"loss = '{loss}' needs a {required} output layer, found "
                          f"'{layers[-1].activation}'")
    problem = LOSSES[loss].check_targets(d, key)
    if problem:
        raise reader.fail(key, problem)


def _os_problem(exc: OSError) -> str:
    """``permission denied``, ``file name too long``: an OSError in words."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    return (exc.strerror or str(exc)).lower() if exc.strerror else str(exc)


def read_file(path: Path, limit: int, what: str) -> bytes:
    """The bytes of ``path`` when it is a regular file of at most ``limit`` bytes; else a ScenarioError
    that says why (no such file, a folder, a FIFO or device, too large, not readable)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ScenarioError(path, None, "no such file") from None
    except OSError as exc:
        raise ScenarioError(path, None, f"cannot be read: {_os_problem(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ScenarioError(path, None, f"is a folder; expected {what}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ScenarioError(path, None, f"is not a regular file (a pipe, a device or a socket); expected {what}")
    if info.st_size > limit:
        raise ScenarioError(path, None, f"is {size_text(info.st_size)}; nnstep reads {what} of up to "
                            f"{size_text(limit)}")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise ScenarioError(path, None, f"cannot be read: {_os_problem(exc)}") from None
    if len(data) > limit:  # it grew since stat
        raise ScenarioError(path, None, f"is larger than {size_text(limit)}, the most nnstep reads of {what}")
    return data


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    path = Path(path)
    data = read_file(path, SCENARIO_BYTES, "a scenario file (.toml)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(path, None, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                            f"{exc.start}); scenario files are UTF-8 TOML") from None
    return parse_scenario(text, path)
