"""Scenario files: TOML data describing one dense network, its input, target, loss and learning rate.

A scenario file is only ever parsed as data (``tomllib``); nothing in it runs. Every way a file can
be wrong raises :class:`ScenarioError` naming the file, the key and what was expected against what
was found, so the command line and the app can show one clear sentence instead of a traceback.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.ops import ACTIVATIONS, LOSSES

TOP_KEYS = ("name", "description", "loss", "learning_rate", "x", "d", "layers")
LAYER_KEYS = ("W", "b", "activation")


class ScenarioError(Exception):
    """A scenario that cannot be used, with the file and key it concerns."""

    def __init__(self, path: str | Path | None, key: str | None, message: str):
        super().__init__(message)
        self.path = None if path is None else str(path)
        self.key = key
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

    def fail(self, key: str | None, message: str) -> ScenarioError:
        return ScenarioError(self.path, key, message)

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
    reader.check_keys(doc, TOP_KEYS, "")

    name = reader.string(doc, "name", "name", default=path.stem if path else "scenario")
    description = reader.string(doc, "description", "description", default="")

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

    if "x" not in doc:
        raise reader.fail("x", "missing; expected the input: one sample as a vector, or a batch as a "
                          "matrix with one row per sample")
    x = reader.array(doc["x"], "x", (1, 2), "the input as a vector of numbers or a matrix (one row per sample)")

    layers = _read_layers(reader, doc, x)
    output_shape = x.shape[:-1] + (layers[-1].units,)

    d = None
    if "d" in doc:
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
        _check_loss(reader, loss, layers, d)

    integer_arrays = {_seed_name(key) for key in reader.integer_arrays}
    return Scenario(name=name, description=description, x=x, layers=tuple(layers), loss=loss, d=d,
                    learning_rate=learning_rate, path=path, integer_arrays=frozenset(integer_arrays))


def _seed_name(key: str) -> str:
    """``layers[0].W`` → ``W1``; ``x`` stays ``x``."""
    if key.startswith("layers["):
        index, attr = key[len("layers["):].split("].")
        return f"{attr}{int(index) + 1}"
    return key


def _read_layers(reader: _Reader, doc: dict, x: np.ndarray) -> list[Layer]:
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

    layers: list[Layer] = []
    inputs, inputs_from = x.shape[-1], f"x has shape {_shape_text(x.shape)}"
    for i, table in enumerate(tables):
        where = f"layers[{i}]"
        reader.check_keys(table, LAYER_KEYS, where)
        for key in LAYER_KEYS:
            if key not in table:
                raise reader.fail(f"{where}.{key}", "missing; every layer needs W (inputs × units), "
                                  "b (one per unit) and activation")
        W = reader.array(table["W"], f"{where}.W", (2,), "a matrix of shape (inputs, units): one row per input")
        b = reader.array(table["b"], f"{where}.b", (1,), "a vector with one bias per unit")
        activation = reader.string(table, "activation", f"{where}.activation")
        if activation not in ACTIVATIONS:
            raise reader.fail(f"{where}.activation", f"unknown activation '{activation}'"
                              f"{_suggest(activation, list(ACTIVATIONS))}; expected one of "
                              f"{', '.join(ACTIVATIONS)}")
        if W.shape[0] != inputs:
            transposed = " (is W transposed? it needs one row per input, one column per unit)" \
                if W.shape[1] == inputs else ""
            raise reader.fail(f"{where}.W", f"expected {inputs} rows, one per input ({inputs_from}), "
                              f"found shape {_shape_text(W.shape)}{transposed}")
        if b.shape != (W.shape[1],):
            raise reader.fail(f"{where}.b", f"expected shape {_shape_text((W.shape[1],))}, one bias per "
                              f"unit ({where}.W has shape {_shape_text(W.shape)}), found shape "
                              f"{_shape_text(b.shape)}")
        layers.append(Layer(W=W, b=b, activation=activation))
        inputs, inputs_from = W.shape[1], f"{where}.W has shape {_shape_text(W.shape)}"
    return layers


def _check_loss(reader: _Reader, loss: str, layers: list[Layer], d: np.ndarray) -> None:
    last = f"layers[{len(layers) - 1}].activation"
    required = LOSSES[loss].requires
    if required is not None and layers[-1].activation != required:
        raise reader.fail(last, f"loss = '{loss}' needs a {required} output layer, found "
                          f"'{layers[-1].activation}'")
    if loss == "cross_entropy":
        if np.any(d < 0):
            raise reader.fail("d", "expected probabilities ≥ 0 for cross_entropy (one-hot labels such "
                              f"as [0, 0, 1]), found {d.min():g}")
        sums = d.sum(axis=-1)
        bad = np.flatnonzero(np.abs(np.atleast_1d(sums) - 1.0) > 1e-9)
        if bad.size:
            row = int(bad[0])
            where = "d" if d.ndim == 1 else f"row {row} of d"
            raise reader.fail("d", f"expected each row to sum to 1 for cross_entropy (a one-hot label or "
                              f"a probability distribution), found {where} summing to "
                              f"{float(np.atleast_1d(sums)[row]):g}")
    if loss == "binary_cross_entropy" and (np.any(d < 0) or np.any(d > 1)):
        found = d.min() if np.any(d < 0) else d.max()
        raise reader.fail("d", f"expected labels between 0 and 1 for binary_cross_entropy, found {found:g}")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(path, None, "no such file") from None
    except IsADirectoryError:
        raise ScenarioError(path, None, "is a folder; expected a scenario file (.toml)") from None
    except PermissionError:
        raise ScenarioError(path, None, "cannot be read: permission denied") from None
    except OSError as exc:
        raise ScenarioError(path, None, f"cannot be read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(path, None, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                            f"{exc.start}); scenario files are UTF-8 TOML") from None
    return parse_scenario(text, path)
