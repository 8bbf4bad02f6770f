"""The course's ``print_vec`` printout read back as arrays: ``*** 総入力1 ***`` and the numpy-printed array
under it, as pasted from a notebook's output (leading spaces possibly lost).

:func:`parse` reads the text alone: its blocks (a label and its numbers), ``##### … #####`` headings
(``##### 繰り返し N (iteration) #####`` starts an iteration's printout, ``##### 更新後パラメータ #####``
the updated parameters) and ``出力合計: …`` lines. Every number keeps the resolution it was printed at:
half a unit of its last digit, and numpy drops an array's trailing zeros (``1.2`` in an array printed at
8 digits is 1.20000000), so a number printed with fewer digits than the printout's others is taken to be
as precise as they are. :func:`read` then gives each block nnstep's name for it in a network: by its label,
by its order for the course's doubled ``偏微分_dE/du2``, and by its numbers where the course's notebooks
print one array under another's label (``出力1`` holding z1).
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from nnstep.engine import names
from nnstep.engine.limits import visible
from nnstep.engine.numbers import exact
from nnstep.engine.steps import Iteration

#: Every sentence this module says: why a printout cannot be read, and how its labels were read.
TEXT = {
    "line": "line {line}: ",
    "no_array": "*** {label} *** has no numbers under it; print_vec prints the array on the next line",
    "unclosed": "*** {label} ***: the array's brackets are not closed (a [ without its ])",
    "unexpected": "*** {label} ***: unexpected text '{text}' in the array; expected numbers as numpy prints them",
    "not_finite": "*** {label} *** holds {what}; nnstep compares finite numbers (did the run overflow?)",
    "ragged": "*** {label} ***: rows of different lengths ({lengths}); expected a vector or a matrix",
    "deep": "*** {label} *** is a {ndim}-D array; nnstep's arrays are numbers, vectors and matrices",
    "empty_array": "*** {label} *** is an empty array",
    "mixed": "*** {label} ***: numbers and rows mixed in one array",
    "no_blocks": "found no *** label *** blocks (the course's print_vec printout), nor an .npz or a .json",
    "twice": "two iteration headings for iteration {n} (lines {first} and {second})",
    "iterations_not_there": "holds the printout of iteration{s} {have} (##### 繰り返し N ##### headings), not of "
                            "iteration {n}; compare it with --iteration {first}",
    "order_forward": "*** {label} *** comes after *** {before} *** (line {before_line}): a printout runs forward "
                     "layer by layer from the input; are cells pasted out of order?",
    "order_phase": "*** {label} *** ({what}) comes after *** {before} *** (line {before_line}, {before_what}); a "
                   "printout runs forward, then backward, then prints the updated parameters. Several iterations "
                   "need ##### 繰り返し N (iteration) ##### lines between them",
    "no_prefix": "; or is *** {label} *** a gradient printed without its {prefix} prefix (*** {prefix}{label} ***)?",
    "phase_forward": "the forward pass",
    "phase_backward": "the backward pass",
    "phase_updated": "the updated parameters",
    "disagree": "*** {label} *** and *** {other} *** (line {other_line}) both give {name} but with different "
                "numbers; one printout has one {name}",
    "too_many_deltas": "{count} 偏微分_dE/du blocks, but the network has {deltas} deltas",
    # Notes: how the labels were read.
    "by_order": "{labels}: the deltas are labelled alike (as the course's notebook 1_2 prints both as "
                "偏微分_dE/du2), so they were taken by their order, from the output layer down: {names}",
    "quirk_label": "*** {label} *** (line {line}) holds {name}, not {meant}, as the course's notebook prints it "
                   "there: compared as {name}",
    "sum_quirk": "出力合計: {value} (line {line}) is sum({name}), not sum(y) = {y}: the course's notebook adds up "
                 "{name} there",
    "sum_none": "出力合計: {value} (line {line}) is neither sum(y) = {y}{others}",
    "sum_other": " nor sum({name}) = {value}",
    "summarised": "shortened by numpy's '...' (past 1000 numbers), so compared on the entries printed: "
                  "{arrays}",
    "summarised_one": "{label} (line {line}: {shown} of {size})",
    "section": "MINE holds the printouts of iterations {have}: iteration {n} compared",
    "label_at": "*** {label} *** (line {line})",
    "width": "*** {label} *** (line {line}) read as *** {normal} *** (its full-width characters as ASCII)",
    "by_shape": "{labels}: the deltas were taken by their shapes, which tell them apart (their labels, or their "
                "order from the output layer down, do not fit them): {names}",
}

#: The course's words for each kind of array (with the layer's number after it, but for a one-layer network).
WORDS = {"u": "総入力", "z": "中間層出力", "delta": "偏微分_dE/du", "grad_W": "偏微分_重み",
         "grad_b": "偏微分_バイアス", "W": "重み", "b": "バイアス"}
#: Labels that name one array whatever the network: the results block's echoes, the input and the target.
OUTPUT, OUTPUT_1, LOSS, INPUT, TARGET, SUM = "出力", "出力1", "誤差", "入力", "訓練データ", "出力合計"

_LABEL = re.compile(r"^\*{3}\s*(.*?)\s*\*{3}$")
_ITERATION = re.compile(r"^#{3,}\s*繰り返し\s*(\d+)\s*(?:\(iteration\))?\s*#{3,}$")
_UPDATED = re.compile(r"^#{3,}\s*更新後パラメータ\s*#{3,}$")
_HEADING = re.compile(r"^#{3,}")
_SUM = re.compile(r"^出力合計\s*[:：]\s*(.*?)\s*$")
_NUMBER = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
_SCALAR = re.compile(rf"^(?:np\.float(?:64|32)\()?({_NUMBER}|[-+]?nan|[-+]?inf)\)?$", re.IGNORECASE)
_TOKEN = re.compile(rf"\s*(\[|\]|,|\.\.\.|{_NUMBER}|[-+]?nan|[-+]?inf)", re.IGNORECASE)
#: What numpy's array repr adds around the numbers: ``array(`` … ``, dtype=float32)``.
_REPR = re.compile(r"^array\((.*?)(?:,\s*dtype=\w+)?\)$", re.DOTALL)


class PrintoutError(ValueError):
    """Why the printout cannot be read, in one line (with its line number)."""


@dataclass(frozen=True)
class Number:
    """One printed number: its value, its decimals (of the mantissa), its exponent, and whether it is a
    float (a ``.`` or an exponent) or an integer (printed exactly) and written with an exponent."""

    value: float
    decimals: int
    exponent: int
    is_float: bool
    scientific: bool = False

    def resolution(self, precision: int) -> float:
        """Half a unit of the last digit, at no fewer than ``precision`` digits (numpy's trimmed zeros)."""
        if not self.is_float or self.value == 0.0 and self.scientific:
            return 0.0  # integers print exactly; numpy's 0.00000000e+00 is exactly 0
        power = self.exponent - max(self.decimals, precision)
        return 0.5 * 10.0 ** power if power < 300 else math.inf


    @property
    def significant(self) -> int:
        """The significant digits it was written with."""
        if self.value == 0.0:
            return 1
        lead = math.floor(math.log10(abs(self.value)) - self.exponent + 1e-12)
        return max(1, lead + 1 + self.decimals)


def number_of(value: float) -> Number:
    """A float as Python writes it shortest (``repr``), read as a printed number: the digits it carries."""
    return _number(repr(float(value)))


#: numpy's '...' for the part of a shortened array it did not print.
ELLIPSIS = ...


@dataclass(frozen=True)
class Block:
    """``*** label ***`` and what is printed under it."""

    label: str
    line: int
    tree: object  # a Number (0-d), or nested lists of Numbers and ELLIPSIS
    #: After a ``##### 更新後パラメータ #####`` heading.
    after_update: bool

    @property
    def shortened(self) -> bool:
        return _has_ellipsis(self.tree)


@dataclass(frozen=True)
class Section:
    """One iteration's printout: its number (None without ``##### 繰り返し N #####`` headings)."""

    iteration: int | None
    line: int
    blocks: tuple[Block, ...]
    #: ``出力合計: …`` lines: (the number, its line).
    sums: tuple[tuple[Number, int], ...]


@dataclass(frozen=True)
class Printout:
    sections: tuple[Section, ...]
    #: The digits numpy printed arrays at: the most decimals of any float in an array (8 by default).
    precision: int


def _fail(line: int, key: str, **values) -> PrintoutError:
    return PrintoutError(TEXT["line"].format(line=line) + TEXT[key].format(**values))


def _number(text: str) -> Number:
    mantissa, _, exponent = text.lower().partition("e")
    _, point, decimals = mantissa.partition(".")
    return Number(float(text), len(decimals), int(exponent) if exponent else 0, bool(point or exponent),
                  bool(exponent))


def _has_ellipsis(tree) -> bool:
    return isinstance(tree, list) and any(item is ELLIPSIS or _has_ellipsis(item) for item in tree)


def _tree(text: str, label: str, line: int):
    """The nested lists of a numpy-printed array (commas, as in a repr or tolist, are allowed)."""
    text = text.strip()
    match = _REPR.match(text)
    if match:
        text = match.group(1).strip()
    stack: list[list] = []
    top: list | None = None
    pos = 0
    while pos < len(text):
        token = _TOKEN.match(text, pos)
        if token is None:
            rest = text[pos:].strip()
            if not rest:
                break
            raise _fail(line, "unexpected", label=label, text=visible(rest.split()[0][:40]))
        pos, t = token.end(), token.group(1)
        if t == "[":
            if len(stack) > 2:
                raise _fail(line, "deep", label=label, ndim=len(stack) + 1)
            stack.append([])
        elif t == "]":
            if not stack:
                raise _fail(line, "unexpected", label=label, text="]")
            done = stack.pop()
            if stack:
                stack[-1].append(done)
            elif top is None:
                top = done
            else:
                raise _fail(line, "unexpected", label=label, text="[")
        elif t == ",":
            continue
        elif not stack:
            raise _fail(line, "unexpected", label=label, text=visible(t))
        elif t == "...":
            stack[-1].append(ELLIPSIS)
        else:
            number = _number(t)
            if not math.isfinite(number.value):
                raise _fail(line, "not_finite", label=label, what=visible(t))
            stack[-1].append(number)
    if stack or top is None:
        raise _fail(line, "unclosed", label=label)
    _check_shape(top, label, line)
    return top


def _check_shape(tree: list, label: str, line: int) -> None:
    """A vector or a matrix, every row as long as the others (where none is shortened)."""
    depth = _depth(tree, label, line)
    if depth > 2:
        raise _fail(line, "deep", label=label, ndim=depth)
    if not [item for item in tree if item is not ELLIPSIS]:
        raise _fail(line, "empty_array", label=label)
    if depth == 2:
        rows = [row for row in tree if row is not ELLIPSIS]
        lengths = sorted({len(row) for row in rows if ELLIPSIS not in row})
        if len(lengths) > 1:
            raise _fail(line, "ragged", label=label, lengths=", ".join(map(str, lengths)))
        if not all(row for row in rows):
            raise _fail(line, "empty_array", label=label)


def _depth(tree, label: str, line: int) -> int:
    if not isinstance(tree, list):
        return 0
    depths = {_depth(item, label, line) for item in tree if item is not ELLIPSIS}
    if len(depths) > 1:
        raise _fail(line, "mixed", label=label)
    return 1 + (depths.pop() if depths else 0)


def parse(text: str) -> Printout:
    """The blocks, iteration sections and 出力合計 lines of a printout (no network needed)."""
    lines = [line.strip() for line in text.splitlines()]
    sections: list[Section] = []
    current: dict = {"iteration": None, "line": 1, "blocks": [], "sums": [], "updated": False}
    seen: dict[int, int] = {}
    floats: list[int] = []

    def close() -> None:
        if current["blocks"] or current["sums"] or current["iteration"] is not None:
            sections.append(Section(current["iteration"], current["line"], tuple(current["blocks"]),
                                    tuple(current["sums"])))

    i = 0
    while i < len(lines):
        line = lines[i]
        heading = _ITERATION.match(line)
        if heading:
            n = int(heading.group(1))
            if n in seen:
                raise PrintoutError(TEXT["twice"].format(n=n, first=seen[n], second=i + 1))
            seen[n] = i + 1
            if current["iteration"] is not None or sections:
                close()
                current = {"iteration": n, "line": i + 1, "blocks": [], "sums": [], "updated": False}
            else:  # blocks before the first heading belong to its iteration
                current.update(iteration=n, line=i + 1)
            i += 1
            continue
        if _UPDATED.match(line):
            current["updated"] = True
            i += 1
            continue
        total = _SUM.match(line)
        if total:
            scalar = _SCALAR.match(total.group(1))
            if scalar:
                current["sums"].append((_number(scalar.group(1)), i + 1))
            i += 1
            continue
        label = _LABEL.match(line)
        if not label or not label.group(1):
            i += 1
            continue
        name, start = visible(label.group(1)), i + 1
        i += 1
        while i < len(lines) and not lines[i]:
            i += 1
        if i == len(lines) or _LABEL.match(lines[i]) or _HEADING.match(lines[i]):
            raise _fail(start, "no_array", label=name)
        first = lines[i]
        scalar = _SCALAR.match(first)
        if scalar:
            number = _number(scalar.group(1))
            if not math.isfinite(number.value):
                raise _fail(i + 1, "not_finite", label=name, what=visible(first))
            tree = number
            i += 1
        elif first.startswith("[") or first.startswith("array("):
            parts, depth = [], 0
            while True:
                if i == len(lines) or parts and (_LABEL.match(lines[i]) or _HEADING.match(lines[i])):
                    raise _fail(start, "unclosed", label=name)
                parts.append(lines[i])
                depth += lines[i].count("[") - lines[i].count("]")
                i += 1
                if depth <= 0:
                    break
            tree = _tree(" ".join(parts), name, start)
            floats += [n.decimals for n in _numbers(tree) if n.is_float]
        else:
            raise _fail(start, "no_array", label=name)
        current["blocks"].append(Block(name, start, tree, current["updated"]))
    close()
    if not any(s.blocks for s in sections):
        raise PrintoutError(TEXT["no_blocks"])
    return Printout(tuple(sections), max(floats, default=0))


def _numbers(tree):
    if isinstance(tree, Number):
        yield tree
    elif isinstance(tree, list):
        for item in tree:
            if item is not ELLIPSIS:
                yield from _numbers(item)


@dataclass(frozen=True)
class Given:
    """One array as the printout gives it, in the shape it will be compared in."""

    value: np.ndarray
    #: Per cell: the absolute resolution it was printed at.
    resolution: np.ndarray
    #: Per cell: printed (False where numpy's '...' left it out); None when every cell was printed.
    shown: np.ndarray | None
    label: str
    line: int


def placed(block: Block, precision: int, shape: tuple[int, ...] | None) -> Given:
    """The block's numbers as an array: its own shape, or for a shortened one ``shape`` (ours), the
    cells left out as NaN; a shortened block that cannot be ``shape`` keeps only what was printed."""
    tree = block.tree
    if isinstance(tree, Number):
        return Given(np.float64(tree.value).reshape(()), np.float64(tree.resolution(precision)).reshape(()),
                     None, block.label, block.line)
    if block.shortened and shape is not None and _fits(tree, shape):
        value, res = np.full(shape, np.nan), np.zeros(shape)
        shown = np.zeros(shape, dtype=bool)
        for index, number in _cells(tree, shape):
            value[index], res[index], shown[index] = number.value, number.resolution(precision), True
        return Given(value, res, shown, block.label, block.line)
    rows = _printed(tree)
    value = np.array([[n.value for n in row] for row in rows] if _depth(tree, "", 0) == 2 else
                     [n.value for n in rows], dtype=np.float64)
    res = np.array([[n.resolution(precision) for n in row] for row in rows] if value.ndim == 2 else
                   [n.resolution(precision) for n in rows], dtype=np.float64)
    return Given(value, res, None, block.label, block.line)


def _printed(tree: list) -> list:
    """What was printed of a tree, the '...' dropped (rows of a shortened matrix as long as the shortest)."""
    items = [item for item in tree if item is not ELLIPSIS]
    if items and isinstance(items[0], list):
        rows = [_printed(row) for row in items]
        width = min(len(row) for row in rows)
        return [row[:width] for row in rows]
    return items


def _fits(tree, shape: tuple[int, ...]) -> bool:
    """The printed parts of ``tree`` can be the corners of an array of ``shape``."""
    if not isinstance(tree, list):
        return not shape
    if not shape:
        return False
    items = [item for item in tree if item is not ELLIPSIS]
    if ELLIPSIS in tree:
        if tree.count(ELLIPSIS) > 1 or len(items) > shape[0]:
            return False
    elif len(items) != shape[0]:
        return False
    return all(_fits(item, shape[1:]) for item in items)


def _cells(tree, shape: tuple[int, ...], prefix: tuple[int, ...] = ()):
    """(index, number) of every printed cell, the items after a '...' counted from the end."""
    if not isinstance(tree, list):
        yield prefix, tree
        return
    cut = tree.index(ELLIPSIS) if ELLIPSIS in tree else len(tree)
    for k, item in enumerate(tree):
        if item is ELLIPSIS:
            continue
        i = k if k < cut else shape[0] - (len(tree) - k)
        yield from _cells(item, shape[1:], prefix + (i,))


@dataclass
class Reading:
    """What a printout gives, by nnstep's names: the steps' arrays, and what the run started from
    (x, d and the parameters before the update)."""

    arrays: dict[str, Given] = field(default_factory=dict)
    inputs: dict[str, Given] = field(default_factory=dict)
    unknown: dict[str, str | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Meaning:
    """What a label stands for: a step's array (candidates in order: the label's own meaning first, then
    what the course's notebooks print under it), a delta of a layer, a parameter, or an input."""

    role: str  # "array", "delta", "param", "input"
    names: tuple[str, ...] = ()
    layer: int = 0
    #: A label whose place in the printout says nothing (the results block's echoes).
    echo: bool = False


def _meanings(iteration: Iteration) -> dict[str, _Meaning]:
    """Every label the course's printouts use, for this network."""
    L = len(iteration.layers)
    produced = {s.name for s in iteration.steps}
    out: dict[str, _Meaning] = {}

    def add(label: str, meaning: _Meaning) -> None:
        out.setdefault(label, meaning)

    for l in range(1, L + 1):
        for suffix in (("", str(l)) if L == 1 else (str(l),)):
            add(WORDS["u"] + suffix, _Meaning("array", (names.u(l),)))
            add(WORDS["z"] + suffix, _Meaning("array", (names.z(l, L),)))
            add(WORDS["delta"] + suffix, _Meaning("delta", layer=l))
            for kind in names.PARAMS:
                add(WORDS["grad_" + kind] + suffix, _Meaning("array", (names.grad(kind, l),)))
                add(WORDS[kind] + suffix, _Meaning("param", (names.param(kind, l),)))
    y = names.z(L, L)
    hidden = tuple(names.z(l, L) for l in range(1, L))
    add(OUTPUT_1, _Meaning("array", (y,) + hidden[:1]))
    add(OUTPUT, _Meaning("array", (y,), echo=True))
    add(WORDS["z"], _Meaning("array", hidden, echo=True))
    add(LOSS, _Meaning("array", ("loss",), echo=True))
    add(INPUT, _Meaning("input", ("x",), echo=True))
    add(TARGET, _Meaning("input", ("d",), echo=True))
    # nnstep's own names, as a student who labels print_vec with them writes them (*** u1 ***, *** grad_W1 ***).
    for l in range(1, L + 1):
        add(names.u(l), _Meaning("array", (names.u(l),)))
        add(names.z(l, L), _Meaning("array", (names.z(l, L),)))
        add(names.delta(l), _Meaning("delta", layer=l))
        for kind in names.PARAMS:
            add(names.grad(kind, l), _Meaning("array", (names.grad(kind, l),)))
            add(names.param(kind, l), _Meaning("param", (names.param(kind, l),)))
    add("loss", _Meaning("array", ("loss",), echo=True))
    add(names.z_in(1, L), _Meaning("input", (names.z_in(1, L),), echo=True))
    add("d", _Meaning("input", ("d",), echo=True))
    # Keep only what this run has (a forward-only run has no deltas, gradients or loss).
    return {label: m for label, m in out.items()
            if m.role in ("param", "input") or m.role == "delta" and names.delta(m.layer) in produced
            or m.role == "array" and m.names and all(n in produced for n in m.names)}


def _phase(iteration: Iteration, name: str) -> str | None:
    step = next((s for s in iteration.steps if s.name == name and s.kind != "update"), None)
    return None if step is None else step.phase


def read(printout: Printout, iteration: Iteration, agrees: Callable[[str, Given], bool]) -> Reading:
    """The arrays of the section for ``iteration``, by nnstep's names. ``agrees(name, given)`` says whether
    ``given`` is our array ``name`` (shape and numbers), to read a label by its numbers."""
    section, note = _section(printout, iteration.number)
    reading = Reading()
    if note:
        reading.notes.append(note)
    meanings = _meanings(iteration)
    L = len(iteration.layers)
    has_update = any(s.kind == "update" for s in iteration.steps)
    steps = {s.name: s for s in iteration.steps}
    ours = {s.name: s.value for s in iteration.steps if s.kind != "update"}
    deltas: list[tuple[Block, int]] = []
    # The order checks: the latest forward block, and the latest block of each phase.
    forward_at: tuple[int, Block] | None = None
    latest: dict[int, Block] = {}
    rank = {"forward": 1, "backward": 2, "updated": 3}

    #: Parameter blocks taken as the updated ones by their place alone (no 更新後パラメータ heading before them).
    by_place: list[Block] = []

    def ordered(block: Block, phase: str) -> None:
        later = [latest[r] for r in latest if r > rank[phase]]
        if later:
            before = max(later, key=lambda b: b.line)
            before_phase = next(p for p, r in rank.items() if latest.get(r) is before)
            error = _fail(block.line, "order_phase", label=block.label, what=TEXT["phase_" + phase],
                          before=before.label, before_line=before.line, before_what=TEXT["phase_" + before_phase])
            if any(b is before for b in by_place):  # 重み1 among the gradients: 偏微分_ left out?
                prefix = WORDS["grad_W"].removesuffix(WORDS["W"])
                error = PrintoutError(str(error) + TEXT["no_prefix"].format(label=before.label, prefix=prefix))
            raise error
        latest[rank[phase]] = block

    for block in section.blocks:
        meaning = meanings.get(block.label)
        normal = unicodedata.normalize("NFKC", block.label)
        if meaning is None and normal in meanings:  # full-width digits or letters: 総入力１
            reading.notes.append(TEXT["width"].format(label=block.label, line=block.line, normal=normal))
            meaning = meanings[normal]
        if meaning is None:
            reading.unknown[block.label] = _suggest(block.label, list(meanings))
            continue
        if meaning.role == "delta":
            ordered(block, "backward")
            deltas.append((block, meaning.layer))
            continue
        if meaning.role == "input":
            name = meaning.names[0]
            _keep(reading.inputs, name, placed(block, printout.precision, _shape(iteration, name)))
            continue
        if meaning.role == "param":
            name = meaning.names[0]
            updated = has_update and (block.after_update or rank["backward"] in latest)
            if updated:
                if not block.after_update:
                    by_place.append(block)
                ordered(block, "updated")
                _keep(reading.arrays, name, placed(block, printout.precision, steps[name].value.shape))
            else:
                _keep(reading.inputs, name, placed(block, printout.precision, _shape(iteration, name)))
            continue
        chosen, given = _choose(meaning.names, block, printout.precision, ours, agrees)
        if chosen != meaning.names[0]:
            reading.notes.append(TEXT["quirk_label"].format(label=block.label, line=block.line, name=chosen,
                                                            meant=meaning.names[0]))
        if not meaning.echo and chosen == meaning.names[0]:
            phase = _phase(iteration, chosen)
            if phase == "forward":
                index = steps[chosen].index
                if forward_at is not None and index < forward_at[0]:
                    raise _fail(block.line, "order_forward", label=block.label, before=forward_at[1].label,
                                before_line=forward_at[1].line)
                forward_at = (index, block)
            ordered(block, "backward" if phase == "backward" else "forward")
        _keep(reading.arrays, chosen, given)
    _read_deltas(deltas, L, printout.precision, ours, reading)
    for number, line in section.sums:
        reading.notes.append(_sum_note(number, line, iteration, agrees))
    shortened = sorted((g for g in list(reading.arrays.values()) + list(reading.inputs.values())
                        if g.shown is not None), key=lambda g: g.line)
    if shortened:
        reading.notes.append(TEXT["summarised"].format(arrays=", ".join(
            TEXT["summarised_one"].format(label=g.label, line=g.line, shown=int(g.shown.sum()), size=g.shown.size)
            for g in shortened)))
    return reading


def _section(printout: Printout, n: int) -> tuple[Section, str | None]:
    numbered = [s for s in printout.sections if s.iteration is not None]
    if not numbered:
        return printout.sections[0], None
    for s in numbered:
        if s.iteration == n:
            have = ", ".join(str(t.iteration) for t in numbered)
            return s, TEXT["section"].format(have=have, n=n) if len(numbered) > 1 else None
    have = ", ".join(str(s.iteration) for s in numbered)
    raise PrintoutError(TEXT["iterations_not_there"].format(s="s" if len(numbered) > 1 else "", have=have, n=n,
                                                            first=numbered[0].iteration))


def _shape(iteration: Iteration, name: str) -> tuple[int, ...] | None:
    """Our shape of an input (x, d, a parameter before the update), for placing a shortened block."""
    for s in iteration.steps:
        if name in s.inputs:
            return s.inputs[name].shape
    return None


def _choose(candidates: tuple[str, ...], block: Block, precision: int, ours: dict[str, np.ndarray],
            agrees: Callable[[str, Given], bool]) -> tuple[str, Given]:
    """The first candidate whose numbers the block holds; the label's own meaning when none does."""
    first = None
    for name in candidates:
        given = placed(block, precision, ours[name].shape)
        if first is None:
            first = (name, given)
        if agrees(name, given):
            return name, given
    return first


def _keep(into: dict[str, Given], name: str, given: Given) -> None:
    """Record ``given`` as ``name``; an array printed twice (出力1 and 出力) must be printed alike."""
    earlier = into.get(name)
    if earlier is None:
        into[name] = given
        return
    a, b = earlier.value, given.value
    tolerance = earlier.resolution + given.resolution + 1e-12 * np.abs(a) if a.shape == b.shape else None
    same = tolerance is not None and bool(np.all(np.isnan(a) | np.isnan(b) | (np.abs(a - b) <= tolerance)))
    if not same:
        raise _fail(given.line, "disagree", label=given.label, other=earlier.label, other_line=earlier.line, name=name)
    if float(np.max(given.resolution, initial=0.0)) < float(np.max(earlier.resolution, initial=0.0)):
        into[name] = given


def _read_deltas(blocks: list[tuple[Block, int]], L: int, precision: int, ours: dict[str, np.ndarray],
                 reading: Reading) -> None:
    """Deltas by their labels' layers, or by their order (output first) when labels repeat; by their shapes
    when those tell them apart and the labels or the order do not fit them."""
    if not blocks:
        return
    layers = [l for _, l in blocks]
    labels = ", ".join(TEXT["label_at"].format(label=b.label, line=b.line) for b, _ in blocks)
    note = None
    if len(set(layers)) == len(layers):
        chosen = layers
    else:
        if len(blocks) > L:
            raise _fail(blocks[L][0].line, "too_many_deltas", count=len(blocks), deltas=L)
        chosen = list(range(L, L - len(blocks), -1))
        note = "by_order"
    shapes = [_block_shape(b.tree) for b, _ in blocks]

    def fits(assignment) -> bool:
        return all(shape is None or same_but_ones(ours[names.delta(l)].shape, shape)
                   for shape, l in zip(shapes, assignment))

    if not fits(chosen):
        by_shape = _assign_by_shape(len(blocks), L, fits)
        if by_shape is not None:
            chosen, note = by_shape, "by_shape"
    if note:
        reading.notes.append(TEXT[note].format(labels=labels, names=", ".join(names.delta(l) for l in chosen)))
    for (block, _), l in zip(blocks, chosen):
        name = names.delta(l)
        _keep(reading.arrays, name, placed(block, precision, ours[name].shape))


def _assign_by_shape(count: int, L: int, fits) -> list[int] | None:
    """Layers for ``count`` delta blocks that their shapes fit: output first where the order allows, else in
    any order; None when none does (or the network is too deep to try every order)."""
    import itertools

    down = list(range(L, 0, -1))
    for combination in itertools.combinations(down, count):
        if fits(combination):
            return list(combination)
    if L <= 6:
        for permutation in itertools.permutations(down, count):
            if fits(permutation):
                return list(permutation)
    return None


def _block_shape(tree) -> tuple[int, ...] | None:
    """The shape a block was printed in; None when numpy's '...' shortened it."""
    if isinstance(tree, Number):
        return ()
    if _has_ellipsis(tree):
        return None
    return (len(tree), len(tree[0])) if tree and isinstance(tree[0], list) else (len(tree),)


def same_but_ones(shape: tuple[int, ...], theirs: tuple[int, ...]) -> bool:
    """Two shapes that agree but for axes of length 1 ((1×3) and (3), (1) and a number); two matrices must
    have one shape ((1×3) and (3×1) are a transposition)."""
    if theirs == shape:
        return True
    if len(theirs) == len(shape):
        return False
    return math.prod(theirs) == math.prod(shape) and tuple(n for n in theirs if n != 1) == tuple(
        n for n in shape if n != 1)


def _sum_note(number: Number, line: int, iteration: Iteration, agrees: Callable[[str, Given], bool]) -> str:
    """Which sum 出力合計 is: of y, or (the course's quirk) of a hidden layer's output."""
    L = len(iteration.layers)
    values = {s.name: float(np.sum(s.value)) for s in iteration.steps if s.kind == "activation"}
    y = names.z(L, L)
    res = number.resolution(0)

    def near(value: float) -> bool:
        return abs(number.value - value) <= res + 1e-9 * max(1.0, abs(value))

    if near(values[y]):
        return ""
    for l in range(1, L):
        name = names.z(l, L)
        if near(values[name]):
            return TEXT["sum_quirk"].format(value=exact(number.value), line=line, name=name, y=exact(values[y]))
    others = "".join(TEXT["sum_other"].format(name=names.z(l, L), value=exact(values[names.z(l, L)]))
                     for l in range(1, L))
    return TEXT["sum_none"].format(value=exact(number.value), line=line, y=exact(values[y]), others=others)


def _suggest(word: str, choices: list[str]) -> str | None:
    """The closest label, after full-width digits and letters are read as ASCII (総入力１ is 総入力1)."""
    normal = unicodedata.normalize("NFKC", word)
    if normal in choices:
        return normal
    close = difflib.get_close_matches(normal, choices, n=1, cutoff=0.6)
    return close[0] if close else None
