"""``nnstep compare FILE MINE``: a student's own arrays against nnstep's, the first step where the two runs
part, and the likely mistake behind each difference.

MINE is an ``.npz`` or a ``.json`` of arrays named as nnstep names them (``u1``, ``z1``, ``y``, ``loss``,
``delta2``, ``grad_W1``, and ``W1``, ``b1`` … for the parameters after the update; ``x``, ``d`` and, in a
JSON trace of nnstep's own, the parameters before it), or a notebook's ``print_vec`` printout
(:mod:`nnstep.engine.printout`). :func:`read_mine` reads it for one iteration, :func:`compare` compares it
step by step, and :func:`main` is the command.

A cell matches when ``|theirs − ours| ≤ resolution + rtol·(|ours| + the array's largest |ours|)``: the
resolution is what the number was printed at (0 for binary files), and rtol (1e-9 by default) allows for
the last digits that another order of the same operations changes. For an array that differs, the step is
recomputed from the student's own inputs to it (theirs where they gave them, so that an early error does
not hide a later one): first as it should be (when that gives their numbers, the step is right and the
difference comes from earlier), then with each classic mistake of :mod:`nnstep.engine.mistakes`. At an
update the tolerance beyond the default's is at most half the update itself, so that no ``--rtol`` lets
an update of the wrong sign match. A loss that differs only as the course's cross_entropy_error makes it
is marked :attr:`ArrayResult.course_quirk`: it differs, but no later step reads it, so it is never
:attr:`Comparison.first_divergence`.
"""

from __future__ import annotations

import dataclasses
import difflib
import io
import json
import math
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from nnstep.engine import mistakes as known, names, printout
from nnstep.engine.limits import DATA_BYTES, size_text, visible
from nnstep.engine.numbers import exact
from nnstep.engine.ops import LOSSES
from nnstep.engine.steps import Iteration, Step, shape_label

#: The relative tolerance of a comparison (``--rtol``): the last digits another order of the same
#: operations may change; far below what the course's 1e-7 in the log changes its loss by (2.7e-7 of it
#: at least).
DEFAULT_RTOL = 1e-9
#: The tolerance of the likely mistakes: a student's own code computes them in its own order.
CAUSE_RTOL = 1e-9
#: A MINE file larger than this is refused unread (a printout or a JSON; an .npz may be as large as a data file).
MINE_BYTES = 64 * 10**6
#: Arrays in an .npz, at most.
MINE_ARRAYS = 10_000

Status = Literal["match", "differs", "missing", "unknown"]

#: Every sentence ``nnstep compare`` says.
TEXT = {
    # Why MINE cannot be read.
    "what": "your arrays (an .npz, a .json or a printout)",
    "empty": "is empty; expected your arrays: an .npz (np.savez), a .json of arrays by name, or a printout",
    "not_utf8": "not UTF-8 text (byte 0x{byte:02x} at offset {offset}), nor an .npz; a printout or a .json is "
                "UTF-8 text",
    "npy": "is a single array (.npy); expected an .npz of arrays by name (np.savez(path, u1=u1, z1=z1, …))",
    "not_npz": "is not a numpy .npz file ({why}); np.savez(path, u1=u1, …) writes one",
    "pickle": "holds Python objects (a pickle) in {name}, which nnstep never loads; expected arrays of numbers",
    "npz_member": "holds {member}, which is not a numpy array",
    "too_many": "holds {n} arrays; nnstep reads at most {most}",
    "unpacks": "would unpack to {size}; nnstep reads arrays of up to {most}",
    "declares": "array {name} declares shape {shape}, more than the file holds",
    "dtype": "array {name} has dtype {dtype}; expected numbers (integers or floats)",
    "ndim": "array {name} has shape {shape}; nnstep's arrays are numbers, vectors and matrices",
    "empty_array": "array {name} is empty (shape {shape})",
    "not_finite": "array {name} holds {what} at {index}; nnstep compares finite numbers (did the run overflow?)",
    "json": "is not valid JSON ({why})",
    "json_top": "expected a JSON object of arrays by name ({{\"u1\": [[…]], \"loss\": 0.09, …}}), found {found}",
    "json_array": "{name}: expected a number or nested lists of numbers, found {found}",
    "json_not_finite": "{name} holds \"{found}\"; nnstep compares finite numbers (did the run overflow?)",
    "json_ragged": "{name}: rows of different lengths; expected a number, a vector or a matrix",
    "json_steps": "a JSON trace with no step of iteration {n}; it holds iteration{s} {have}: compare it with "
                  "--iteration {first}",
    "json_step": "steps[{i}] has no name and value; expected nnstep's JSON trace (nnstep trace FILE --format json)",
    "nothing": "holds no array that nnstep knows ({found}); nnstep names them {expected}",
    "nothing_found": "found no arrays",
    # How MINE was read, and what the comparison noticed.
    "reshaped": "shapes that differ from ours only by axes of length one, compared entry by entry: {arrays}",
    "reshaped_one": "your {name} {theirs} (ours {ours})",
    "course_loss": "{label} matches the course's value {value}, not ours {ours}. {why}",
    "exact_loss": "{label} matches ours, {value}, the exact loss, not the {course} of the course's "
                  "cross_entropy_error (which adds 1e-7 inside the log)",
    "input_differs": "your {name} ({what}) is not the scenario's: at {index} yours {theirs}, ours {ours}; the "
                     "steps that read it are recomputed from yours in looking for a mistake",
    "input_shape": "your {name} ({what}) has shape {theirs}, the scenario's {ours}: not used",
    "what_x": "the input",
    "what_d": "the target",
    "what_param": "before the update",
    "what_other": "as the run starts",
    # The text report.
    "title": "nnstep compare: {scenario} ({shape}{iteration}) against {mine} ({source})",
    "of_iteration": ", iteration {n} of {total}",
    "source_npz": "an .npz of arrays",
    "source_json": "a .json of arrays",
    "source_printout": "a print_vec printout",
    "counts": "{steps} steps: {match} match, {differs} differ{s}, {missing} not given",
    "match": "match",
    "missing": "not given",
    "differs": "DIFFERS at {index}: ours {ours}, yours {theirs}; {count} of {size} entries differ, by up to {abs} "
               "({rel} relative)",
    "differs_shape": "DIFFERS in shape: ours {ours}, yours {theirs}",
    "unknown": "not compared: nnstep has no array '{name}'{hint}",
    "unknown_label": "not compared: *** {name} *** is not a label nnstep reads{hint}",
    "hint": " (did you mean {suggestion}?)",
    "likely": "likely: ",
    "first": "first difference: {name}, step {index}/{total} ({phase}, {where}: {formula})",
    "layer": "layer {l}",
    "output": "output",
    "all_match": "everything you gave matches ({n} array{s})",
    "all_match_but": "everything compared matches ({n} array{s}), but {k} of what you gave {were} not compared "
                     "(above)",
    "quirk_only": "{why}; everything else matches ({n} array{s})",
    "quirk_only_but": "{why}; everything else compared matches ({n} array{s}), but {k} of what you gave {were} "
                      "not compared (above)",
    "quirk_then": "{why}; no later step reads the loss, so the runs part later:",
    "why_course_one_hot": "your {name} is the course's cross_entropy_error (1e-7 inside the log)",
    "why_epsilon": "your {name} is the course's cross_entropy_error (1e-7 inside the log)",
    "why_course_soft": "your {name} is the course's cross_entropy_error (the argmax of soft targets, 1e-7 inside "
                       "the log)",
    "why_course_unit": "your {name} is the course's cross_entropy_error on one output unit (−log(y + 1e-7) "
                       "whatever the label)",
    "loose_update": "the tolerance at {arrays} is as large as the update itself (learning_rate·|grad|): there "
                    "an update of the wrong sign or size would match too; a smaller --rtol, or more printed "
                    "digits, tells them apart",
    "loose_one": "{name} ({n} of {size} entries)",
    "rounded": "Your numbers agree with ours to the digits they carry ({digits}): rounded, as a printout is? "
               "Give the printout itself, or --rtol {rtol}.",
    "digits_dec": "{n} decimals",
    "swapped": "Your {name} holds our {other}, and your {other} our {name}: their labels or names swapped?",
    "typo": "Only this array differs, and the steps that read it ({readers}) match, as does every later step: "
            "a typo in it?",
    "digits_sig": "{n} significant digits",
    "notes": "notes:",
}


class MineError(Exception):
    """Why MINE cannot be read, in one line (the command exits with code 2)."""


@dataclass(frozen=True)
class Cells:
    """How a printout gave an array, cell by cell."""

    #: The absolute resolution each cell was printed at.
    resolution: np.ndarray
    #: False where numpy's '...' left a cell out (its value is NaN); None when every cell was printed.
    shown: np.ndarray | None = None


@dataclass(frozen=True)
class Mine:
    """What the user gave, read for one iteration."""

    path: str
    #: The steps' arrays by nnstep's name: u1, z1, y, loss, delta2, grad_W1, W1 (after the update), …
    arrays: dict[str, np.ndarray]
    #: Per array: the absolute resolution it was printed at (its coarsest cell); 0 for binary files.
    precision: dict[str, float]
    #: Names not recognised (a file's names, a printout's labels) → a did-you-mean, or None.
    unknown: dict[str, str | None]
    #: How the file was read (labels taken by order or by their numbers, iterations, shortened arrays).
    notes: tuple[str, ...]
    #: What the file is.
    source: Literal["npz", "json", "printout"] = "npz"
    #: What the user's run started from, by the names the steps read them by: x, d, learning_rate and the
    #: parameters before the update (W1, b1, …), where the file gives them (a printout, a JSON trace).
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    #: Per array of ``arrays`` (and of ``inputs``) given in print: its resolution and printed cells.
    cells: dict[str, Cells] = field(default_factory=dict)
    input_cells: dict[str, Cells] = field(default_factory=dict)


@dataclass(frozen=True)
class ArrayResult:
    """One array compared."""

    name: str
    #: The step producing it (None for a name nnstep does not know).
    step: Step | None
    status: Status
    #: Theirs as given (None when not given).
    theirs: np.ndarray | None
    #: In ours' shape, True where the cell differs (None unless the shapes agree).
    differing: np.ndarray | None
    first_index: tuple[int, ...] | None
    ours_at: float | None
    theirs_at: float | None
    #: The largest |theirs − ours|, and the largest |theirs − ours| / max(|ours|, |theirs|).
    max_abs: float | None
    max_rel: float | None
    #: (ours, theirs) for a shape mismatch.
    shapes: tuple[tuple[int, ...], tuple[int, ...]] | None
    #: The likely mistake in one sentence, or the no-known-mistake sentence (for an array that differs).
    cause: str | None
    #: A did-you-mean for an unknown name.
    suggestion: str | None
    #: Which sentence ``cause`` is: a key of :data:`nnstep.engine.mistakes.TEXT` (a mistake, ``earlier``,
    #: ``none``) or ``rounded``; None when nothing differs.
    cause_key: str | None = None
    #: A difference that the course's own functions make and no later step reads (a loss computed with the
    #: course's cross_entropy_error): it differs, but the runs do not part there.
    course_quirk: bool = False


@dataclass(frozen=True)
class Comparison:
    """MINE against one iteration: every step's array in step order, then the names nnstep does not know."""

    iteration: Iteration
    arrays: tuple[ArrayResult, ...]
    #: The first array (in step order) that differs: where the two runs part.
    first_divergence: str | None
    notes: tuple[str, ...]

    def for_step(self, step: Step) -> ArrayResult | None:
        """The result for ``step`` (by its place in the iteration)."""
        return next((r for r in self.arrays if r.step is not None and r.step.index == step.index
                     and r.step.iteration == step.iteration), None)

    @property
    def differs(self) -> bool:
        return any(r.status == "differs" for r in self.arrays)


# --- reading MINE ---------------------------------------------------------------------------------------


def _names(iteration: Iteration) -> tuple[dict[str, Step], dict[str, np.ndarray]]:
    """The steps by the name of their array, and what the iteration starts from by the name steps read it
    by (x, d, learning_rate, the parameters before the update)."""
    steps = {s.name: s for s in iteration.steps}
    produced = {s.name for s in iteration.steps if s.kind != "update"}
    start: dict[str, np.ndarray] = {}
    for s in iteration.steps:
        for k, v in s.inputs.items():
            if k not in produced:
                start.setdefault(k, v)
    return steps, start


def read_mine(path: str, iteration: Iteration) -> Mine:
    """MINE read for ``iteration``: an .npz (never a pickle), a .json, or a print_vec printout."""
    from nnstep.engine.scenario import ScenarioError, read_file

    shown = visible(str(path))
    try:
        data = read_file(Path(path), DATA_BYTES if _zipped(path) else MINE_BYTES, TEXT["what"])
    except ScenarioError as exc:
        raise MineError(f"{shown}: {exc.message}") from None
    if not data.strip():
        raise MineError(f"{shown}: {TEXT['empty']}")
    try:
        if data[:6] == b"\x93NUMPY":
            raise MineError(TEXT["npy"])
        if data[:2] == b"PK":
            return _from_npz(str(path), data, iteration)
        if str(path).lower().endswith(".npz"):
            raise MineError(TEXT["not_npz"].format(why="it is not a zip archive"))
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MineError(TEXT["not_utf8"].format(byte=data[exc.start], offset=exc.start)) from None
        if text.lstrip().startswith(("{", "[")) or str(path).lower().endswith(".json"):
            return _from_json(str(path), text, iteration)
        return _from_printout(str(path), text, iteration)
    except MineError as exc:
        message = str(exc)
        raise MineError(message if message.startswith(shown + ":") else f"{shown}: {message}") from None
    except printout.PrintoutError as exc:
        raise MineError(f"{shown}: {exc}") from None
    except RecursionError:
        raise MineError(f"{shown}: " + TEXT["json"].format(why="nested too deep")) from None


def _zipped(path: str) -> bool:
    """A regular file that starts as a zip archive does (an .npz may be as large as a data file)."""
    import os
    import stat

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as f:
            return f.read(2) == b"PK"
    except OSError:
        return False


def _checked(name: str, array: np.ndarray) -> np.ndarray:
    """``array`` as float64, refused when it is not a number, vector or matrix of finite numbers."""
    shown = visible(name)
    if array.dtype.kind not in "iuf":
        raise MineError(TEXT["dtype"].format(name=shown, dtype=array.dtype))
    if array.ndim > 2:
        raise MineError(TEXT["ndim"].format(name=shown, shape=_shape(array.shape)))
    if array.size == 0:
        raise MineError(TEXT["empty_array"].format(name=shown, shape=_shape(array.shape)))
    with np.errstate(all="ignore"):
        out = np.asarray(array, dtype=np.float64)
    bad = ~np.isfinite(out)
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        value = out[index]
        what = "NaN" if np.isnan(value) else "infinity"
        raise MineError(TEXT["not_finite"].format(name=shown, what=what, index=list(index)))
    return out


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + (",)" if len(shape) == 1 else ")")


def _from_npz(path: str, data: bytes, iteration: Iteration) -> Mine:
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > MINE_ARRAYS:
                raise MineError(TEXT["too_many"].format(n=len(members), most=MINE_ARRAYS))
            total = 0
            for info in members:
                if not info.filename.endswith(".npy"):
                    raise MineError(TEXT["npz_member"].format(member=visible(info.filename)))
                total += info.file_size
                if total > DATA_BYTES:
                    raise MineError(TEXT["unpacks"].format(size=size_text(total), most=size_text(DATA_BYTES)))
                with archive.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = header(f)
                name = info.filename.removesuffix(".npy")
                if dtype.hasobject:
                    raise MineError(TEXT["pickle"].format(name=visible(name)))
                if math.prod(shape) * dtype.itemsize > info.file_size:
                    raise MineError(TEXT["declares"].format(name=visible(name), shape=_shape(shape)))
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: _checked(name, archive[name]) for name in archive.files}
    except MineError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise MineError(TEXT["pickle"].format(name="an array")) from None
        raise MineError(TEXT["not_npz"].format(why=visible(str(exc))[:200])) from None
    except (OSError, EOFError, KeyError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
        raise MineError(TEXT["not_npz"].format(why=visible(str(exc))[:200] or type(exc).__name__)) from None
    return _by_name(path, arrays, {}, iteration, "npz")


def _from_json(path: str, text: str, iteration: Iteration) -> Mine:
    def refuse(constant: str):
        raise MineError(TEXT["json"].format(why=f"{constant} is not a JSON number"))

    try:
        doc = json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise MineError(TEXT["json"].format(why=f"{exc.msg} at line {exc.lineno}, column {exc.colno}")) from None
    except ValueError as exc:  # an integer too long to read
        raise MineError(TEXT["json"].format(why=visible(str(exc))[:200])) from None
    if not isinstance(doc, dict):
        raise MineError(TEXT["json_top"].format(found="a list" if isinstance(doc, list) else type(doc).__name__))
    inputs: dict[str, np.ndarray] = {}
    if isinstance(doc.get("steps"), list):  # nnstep's own JSON trace
        doc, inputs = _trace_arrays(doc["steps"], iteration)
    arrays = {name: _json_array(name, value) for name, value in doc.items()}
    inputs = {name: _json_array(name, value) for name, value in inputs.items()}
    return _by_name(path, arrays, inputs, iteration, "json")


def _trace_arrays(steps: list, iteration: Iteration) -> tuple[dict, dict]:
    """The arrays of iteration ``iteration.number`` in a JSON trace: each step's value by its name, and what
    the steps read that no step of the iteration produced (x, d, the parameters before the update)."""
    found: dict = {}
    inputs: dict = {}
    have: set[int] = set()
    produced = {s.name for s in iteration.steps if s.kind != "update"}
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or not isinstance(step.get("name"), str) or "value" not in step:
            raise MineError(TEXT["json_step"].format(i=i))
        number = step.get("iteration", iteration.number)
        if isinstance(number, int):
            have.add(number)
        if number != iteration.number:
            continue
        found[step["name"]] = step["value"]
        read = step.get("inputs")
        for k, v in read.items() if isinstance(read, dict) else ():
            if k not in produced:
                inputs.setdefault(k, v)
    if not found:
        listed = ", ".join(str(n) for n in sorted(have)) or "none"
        raise MineError(TEXT["json_steps"].format(n=iteration.number, s="s" if len(have) != 1 else "", have=listed,
                                                  first=min(have, default=1)))
    return found, inputs


def _json_array(name: str, value) -> np.ndarray:
    def bad(found: str) -> MineError:
        return MineError(TEXT["json_array"].format(name=visible(name), found=found))

    def check(v, depth: int) -> None:
        if isinstance(v, str) and v.lower().lstrip("+-") in ("inf", "infinity", "nan"):
            raise MineError(TEXT["json_not_finite"].format(name=visible(name), found=visible(v)))
        if isinstance(v, bool) or not isinstance(v, (int, float, list)):
            raise bad(visible(json.dumps(v, ensure_ascii=False))[:40] if isinstance(v, str) else type(v).__name__)
        if isinstance(v, list):
            if depth > 2:
                raise MineError(TEXT["ndim"].format(name=visible(name), shape="of 3 or more dimensions"))
            for item in v:
                check(item, depth + 1)

    check(value, 0)
    try:
        with np.errstate(all="ignore"):
            array = np.array(value, dtype=np.float64)
    except (ValueError, OverflowError):
        raise MineError(TEXT["json_ragged"].format(name=visible(name))) from None
    return _checked(name, array)


def _suggest(name: str, known_names: list[str], aliases: dict[str, str] | None = None) -> str | None:
    """A did-you-mean: the name in another case or width, a common other name for it (dW1, W1_new), or the
    closest known name."""
    lower = {k.lower(): k for k in known_names}
    word = unicodedata.normalize("NFKC", name).lower()
    if word in lower:
        return lower[word]
    alias = {k.lower(): v for k, v in (aliases or {}).items()}.get(word)
    if alias in known_names:
        return alias
    close = difflib.get_close_matches(word, list(lower), n=1, cutoff=0.6)
    return lower[close[0]] if close else None


def _aliases(L: int) -> dict[str, str]:
    """Other names students give nnstep's arrays: dW1, grad["W1"] and dE_dW1 for grad_W1, dE_du2 for
    delta2, W1_new for the updated W1."""
    out: dict[str, str] = {}
    for l in range(1, L + 1):
        u = names.u(l)
        for prefix in ("d", "dE_d", "dEd", "dE/d", "d_"):
            out[prefix + u] = names.delta(l)
        for kind in names.PARAMS:
            p = names.param(kind, l)
            for alias in ("d" + p, "d_" + p, "dE_d" + p, "dEd" + p, "dE/d" + p, "grad" + p, f'grad["{p}"]',
                          f"grad['{p}']", f"grads['{p}']", f'grads["{p}"]'):
                out[alias] = names.grad(kind, l)
            for alias in (p + "_new", "new_" + p, p + "_updated", p + "_after", p + "_next"):
                out[alias] = p
    return out


def _by_name(path: str, arrays: dict[str, np.ndarray], inputs: dict[str, np.ndarray], iteration: Iteration,
             source: Literal["npz", "json"]) -> Mine:
    """Split a file's arrays into the steps' arrays, what the run starts from, and unknown names."""
    steps, start = _names(iteration)
    outputs: dict[str, np.ndarray] = {}
    given_inputs = dict(inputs)
    unknown: dict[str, str | None] = {}
    for name, array in arrays.items():
        if name in steps:
            outputs[name] = array
        elif name in start:
            given_inputs.setdefault(name, array)
        else:
            unknown[visible(name)] = _suggest(name, list(steps) + list(start), _aliases(len(iteration.layers)))
    if not outputs:
        found = ", ".join(visible(n) for n in arrays) or TEXT["nothing_found"]
        raise MineError(TEXT["nothing"].format(found=found, expected=_expected(iteration)))
    given_inputs = {k: v for k, v in given_inputs.items() if k in start}
    return Mine(path=path, arrays=outputs, precision={k: 0.0 for k in outputs}, unknown=unknown, notes=(),
                source=source, inputs=given_inputs)


def _expected(iteration: Iteration) -> str:
    shown = [s.name for s in iteration.steps]
    return ", ".join(shown[:8]) + (", …" if len(shown) > 8 else "")


def _from_printout(path: str, text: str, iteration: Iteration) -> Mine:
    parsed = printout.parse(text)
    ours = {s.name: s.value for s in iteration.steps if s.kind != "update"}

    def agrees(name: str, given: printout.Given) -> bool:
        aligned = _align(ours[name].shape, given.value, given.resolution, given.shown)
        if aligned is None:
            return False
        t, res, shown = aligned
        return not np.any(_differing(ours[name], t, res, shown, DEFAULT_RTOL))

    reading = printout.read(parsed, iteration, agrees)
    if not reading.arrays:
        found = ", ".join(f"*** {label} ***" for label in list(reading.unknown)[:6]) or TEXT["nothing_found"]
        raise MineError(TEXT["nothing"].format(found=found, expected=_expected(iteration)))
    return Mine(path=path, arrays={k: g.value for k, g in reading.arrays.items()},
                precision={k: float(np.max(g.resolution, initial=0.0)) for k, g in reading.arrays.items()},
                unknown=dict(reading.unknown), notes=tuple(n for n in reading.notes if n), source="printout",
                inputs={k: g.value for k, g in reading.inputs.items()},
                cells={k: Cells(g.resolution, g.shown) for k, g in reading.arrays.items()},
                input_cells={k: Cells(g.resolution, g.shown) for k, g in reading.inputs.items()})


# --- comparing ------------------------------------------------------------------------------------------


def _align(shape: tuple[int, ...], theirs: np.ndarray, res: np.ndarray | None = None,
           shown: np.ndarray | None = None):
    """(theirs, resolution, shown) in ``shape`` when the shapes agree but for axes of length 1 ((1×3)
    and (3), (1) and a number); None when they do not. Two matrices must have one shape: (1×3) and (3×1)
    are a transposition."""
    res = np.zeros(theirs.shape) if res is None else res
    if theirs.shape == shape:
        return theirs, res, shown
    if printout.same_but_ones(shape, theirs.shape):
        return theirs.reshape(shape), res.reshape(shape), None if shown is None else shown.reshape(shape)
    return None


def input_differing(mine: Mine, name: str, ours: np.ndarray) -> tuple[np.ndarray | None, tuple | None]:
    """Where an input the user gave (x, d, a parameter before its update: ``mine.inputs[name]``) differs
    from ours, by the comparison's own rule (its resolution, the default tolerance): (mask in ours' shape,
    None), or (None, (ours' shape, theirs)) when the shapes do not agree. The comparison itself only
    notes such an input; the app's overlay marks its cells."""
    given = mine.inputs[name]
    cells = mine.input_cells.get(name)
    aligned = _align(ours.shape, given, None if cells is None else cells.resolution,
                     None if cells is None else cells.shown)
    if aligned is None:
        return None, (tuple(ours.shape), tuple(given.shape))
    theirs, res, shown = aligned
    return _differing(ours, theirs, res, shown, DEFAULT_RTOL), None


def _relative(array: np.ndarray) -> np.ndarray:
    """|array| + its largest |entry|: what a relative tolerance is taken of."""
    size = np.abs(array)
    return size + float(np.max(size[np.isfinite(size)], initial=0.0))


def _tolerance(ours: np.ndarray, res: np.ndarray, rtol: float, change: np.ndarray | None = None) -> np.ndarray:
    """Per cell, how far theirs may be from ours: the resolution and the relative tolerance. For an update
    (``change`` = after − before), the relative tolerance is at most half the change itself (beyond the
    default's), so that a large --rtol cannot let an update of the wrong sign, or none, match."""
    eps = 4 * np.finfo(float).eps
    with np.errstate(all="ignore"):
        tol = res * (1 + 1e-9) + (rtol + eps) * _relative(ours)
        if change is not None:
            tol = np.minimum(tol, res * (1 + 1e-9) + 0.5 * np.abs(change) + (DEFAULT_RTOL + eps) * _relative(ours))
    return tol


def _differing(ours: np.ndarray, theirs: np.ndarray, res: np.ndarray, shown: np.ndarray | None,
               rtol: float, change: np.ndarray | None = None) -> np.ndarray:
    """True where |theirs − ours| exceeds the resolution and the relative tolerance (cells printed only)."""
    with np.errstate(all="ignore"):
        out = ~(np.abs(theirs - ours) <= _tolerance(ours, res, rtol, change))
    if shown is not None:
        out &= shown
    return out


def _scale_differences(ours: np.ndarray, theirs: np.ndarray, shown: np.ndarray | None) -> tuple[float, float]:
    with np.errstate(all="ignore"):
        diff = np.abs(theirs - ours)
        rel = np.where(diff == 0, 0.0, diff / np.maximum(np.abs(ours), np.abs(theirs)))
    if shown is not None:
        diff, rel = diff[shown], rel[shown]
    return float(np.max(diff, initial=0.0)), float(np.max(rel, initial=0.0))


class _Run:
    """One comparison: ours, theirs, and the sources that steps are recomputed from."""

    def __init__(self, iteration: Iteration, mine: Mine, rtol: float) -> None:
        self.iteration, self.mine, self.rtol = iteration, mine, rtol
        self.steps, start = _names(iteration)
        self.notes: list[str] = []
        #: Ours by the names the steps read them by (what the iteration starts from, every array but the
        #: updated parameters); theirs, in ours' shapes (ours where a printout left cells out), with their
        #: resolutions.
        self.ours = {**start, **{s.name: s.value for s in iteration.steps if s.kind != "update"}}
        self.theirs: dict[str, np.ndarray] = {}
        self.res: dict[str, np.ndarray] = {}
        #: Arrays whose shapes differ from ours by axes of length one only (one note for all).
        self.reshaped: list[str] = []
        for name, array in mine.inputs.items():
            self._take(name, array, mine.input_cells.get(name), self.ours[name], True)
        for name, array in mine.arrays.items():
            step = self.steps[name]
            self._take(name, array, mine.cells.get(name), step.value, False, used=step.kind != "update")
        if self.reshaped:
            self.notes.append(TEXT["reshaped"].format(arrays=", ".join(self.reshaped)))
        self._probes: list[known.Source] | None = None
        #: Updates whose tolerance is as large as their change somewhere.
        self.loose: list[str] = []

    def _take(self, name: str, array: np.ndarray, cells: Cells | None, ours: np.ndarray, input_: bool,
              used: bool = True) -> None:
        """Keep theirs for recomputing steps (``used``), and note an input that is not the scenario's."""
        aligned = _align(ours.shape, array, None if cells is None else cells.resolution,
                         None if cells is None else cells.shown)
        if aligned is None:
            if input_:
                self.notes.append(TEXT["input_shape"].format(name=name, what=self._what(name),
                                                             theirs=shape_label(array), ours=shape_label(ours)))
            elif used and (cells is None or cells.shown is None):  # a later step may read it as it is
                self.theirs[name] = array
                self.res[name] = np.zeros(array.shape) if cells is None else cells.resolution
            return
        t, res, shown = aligned
        if shown is not None:
            t = np.where(shown, t, ours)
        if used:
            self.theirs[name], self.res[name] = t, res
        if input_:
            differs = _differing(ours, t, res, shown, self.rtol)
            if np.any(differs):
                index = tuple(int(i) for i in np.argwhere(differs)[0])
                self.notes.append(TEXT["input_differs"].format(
                    name=name, what=self._what(name), index=list(index), theirs=exact(t[index]),
                    ours=exact(ours[index])))
        elif array.shape != ours.shape:
            self.reshaped.append(TEXT["reshaped_one"].format(name=name, theirs=shape_label(array),
                                                             ours=shape_label(ours)))

    def _what(self, name: str) -> str:
        L = len(self.iteration.layers)
        if name == names.z_in(1, L):
            return TEXT["what_x"]
        if name == "d":
            return TEXT["what_d"]
        if name in names.parameters(L):
            return TEXT["what_param"]
        return TEXT["what_other"]

    def source(self, signs: int | None = None) -> known.Source:
        """Theirs where given, ours elsewhere; with ``signs``, theirs moved by their resolution (a probe)."""
        merged = dict(self.ours)
        for name, t in self.theirs.items():
            res = self.res[name]
            merged[name] = t if signs is None or not np.any(res) else t + res * _pattern(t.shape, signs, name)
        return known.Source(merged)

    def probes(self) -> list[known.Source]:
        if self._probes is None:
            printed = any(np.any(r) for r in self.res.values())
            self._probes = [self.source(k) for k in range(4)] if printed else []
        return self._probes

    # --- one array ---------------------------------------------------------------------------------------

    def result(self, step: Step) -> ArrayResult:
        name = step.name
        if name not in self.mine.arrays:
            return ArrayResult(name, step, "missing", None, None, None, None, None, None, None, None, None, None)
        raw = self.mine.arrays[name]
        cells = self.mine.cells.get(name)
        res = np.zeros(raw.shape) if cells is None else cells.resolution
        shown_raw = None if cells is None else cells.shown
        ours = step.value
        aligned = _align(ours.shape, raw, res, shown_raw)
        if aligned is None:
            cause, key = self.cause(step, raw, res, shown_raw)
            return ArrayResult(name, step, "differs", raw, None, None, None, None, None, None,
                               (ours.shape, raw.shape), cause, None, key)
        t, r, shown = aligned
        change = self._change(step) if step.kind == "update" else None
        differing = _differing(ours, t, r, shown, self.rtol, change)
        if change is not None:
            self._loose_update(step, r, change)
        if step.kind == "loss" and self.mine.source == "printout" and LOSSES[step.loss].classifier:
            differing = self._printed_loss(step, t, r, differing)
        if not np.any(differing):
            return ArrayResult(name, step, "match", raw, differing, None, None, None,
                               *_scale_differences(ours, t, shown), None, None, None)
        index = tuple(int(i) for i in np.argwhere(differing)[0])
        cause, key = self.cause(step, raw, res, shown_raw)
        return ArrayResult(name, step, "differs", raw, differing, index, float(ours[index]), float(t[index]),
                           *_scale_differences(ours, t, shown), None, cause, None, key,
                           step.kind == "loss" and key in known.COURSE_LOSS)

    def _printed_loss(self, step: Step, theirs: np.ndarray, res: np.ndarray, differing: np.ndarray) -> np.ndarray:
        """A printed classifier's loss matches ours or the course's cross_entropy_error (1e-7 inside the
        log); say which, where they differ."""
        y, d = step.inputs["y"], step.inputs["d"]
        course = np.asarray(known.course_loss(y, d))
        if not np.any(_differing(course, theirs, res, None, self.rtol)) and np.any(differing):
            self.notes.append(TEXT["course_loss"].format(label=printout.LOSS, value=exact(theirs[()]),
                                                         ours=exact(step.value[()]),
                                                         why=known.TEXT[known.course_loss_key(y, d)].format(
                                                             **known.course_loss_words(y, d, step.value))))
            return np.zeros_like(differing)
        if not np.any(differing) and np.any(_differing(step.value, course, np.zeros(()), None, self.rtol)):
            self.notes.append(TEXT["exact_loss"].format(label=printout.LOSS, value=exact(theirs[()]),
                                                        course=exact(course[()])))
        return differing

    def cause(self, step: Step, theirs: np.ndarray, res: np.ndarray,
              shown: np.ndarray | None) -> tuple[str, str]:
        """The likely mistake behind ``theirs`` (in their shape): the first recomputation that gives it, as
        (its sentence, its key)."""
        source, probes = self.source(), self.probes()
        tried: list[np.ndarray] = []

        def value_of(compute) -> np.ndarray | None:
            try:
                with np.errstate(all="ignore"):
                    return np.asarray(compute(source), dtype=np.float64)
            except (ValueError, IndexError, TypeError, KeyError, ZeroDivisionError, AttributeError):
                return None

        def gives(compute, value: np.ndarray) -> bool:
            aligned = _align(theirs.shape, value)
            if aligned is None:
                return False
            v = aligned[0]
            spread = np.zeros(v.shape)
            for probe in probes:
                try:
                    with np.errstate(all="ignore"):
                        moved = _align(theirs.shape, np.asarray(compute(probe), dtype=np.float64))
                except (ValueError, IndexError, TypeError, KeyError, ZeroDivisionError, AttributeError):
                    moved = None
                if moved is not None:
                    with np.errstate(all="ignore"):
                        spread = np.fmax(spread, np.abs(moved[0] - v))
            finite = np.isfinite(v) if shown is None else np.isfinite(v) | ~shown
            return bool(np.all(finite)) and not np.any(
                _differing(v, theirs, res + 2 * spread, shown, max(self.rtol, CAUSE_RTOL)))

        def new(value: np.ndarray) -> bool:
            for earlier in tried:
                if earlier.shape == value.shape and np.allclose(earlier, value, rtol=1e-12, atol=0, equal_nan=True):
                    return False
            tried.append(value)
            return True

        L = len(self.iteration.layers)
        right = known.correct(step)
        value = value_of(right)
        differing = [k for k in step.inputs if self._input_differs(k)]
        given = ", ".join(k for k in step.inputs if k in self.theirs)
        if value is not None:
            new(value)
            if differing and gives(right, value):
                return known.TEXT["earlier"].format(name=step.name, given=given,
                                                    differing=", ".join(differing)), "earlier"
        for mistake in known.mistakes(step, self.iteration):
            value = value_of(mistake.compute)
            if value is not None and new(value) and gives(mistake.compute, value):
                read = [k for k in (names.z(L, L), "d") if k in self.theirs]  # what the course's function reads
                if mistake.key in known.COURSE_LOSS and any(self._input_differs(k) for k in read):
                    return known.TEXT["earlier_course"].format(
                        name=step.name, given=", ".join(read),
                        differing=", ".join(k for k in read if self._input_differs(k))), "earlier"
                return mistake.sentence(step.name), mistake.key
        rounded = self._rounded(step, theirs, res, shown)
        if rounded is not None:
            return rounded, "rounded"
        return known.TEXT["none"], "none"

    def matches_ours(self, theirs_name: str, step: Step) -> bool:
        """Whether MINE's array ``theirs_name`` matches our array of ``step`` (another step's)."""
        cells = self.mine.cells.get(theirs_name)
        raw = self.mine.arrays[theirs_name]
        aligned = _align(step.value.shape, raw, None if cells is None else cells.resolution,
                         None if cells is None else cells.shown)
        return aligned is not None and not np.any(_differing(step.value, *aligned, self.rtol))

    def second_looks(self, results: list[ArrayResult]) -> list[ArrayResult]:
        """What only the whole comparison shows: two arrays that hold each other's numbers (labels swapped),
        and one array that differs alone while the steps that read it match (a typo)."""
        differs = [r for r in results if r.status == "differs" and r.cause_key in ("none", "earlier")]
        out = {r.name: r for r in results}
        for i, a in enumerate(differs):
            for b in differs[i + 1:]:
                if self.matches_ours(a.name, b.step) and self.matches_ours(b.name, a.step):
                    for x, y in ((a, b), (b, a)):
                        out[x.name] = dataclasses.replace(
                            out[x.name], cause=TEXT["swapped"].format(name=x.name, other=y.name), cause_key="swapped")
        for r in results:
            if out[r.name].cause_key != "none":
                continue
            later = [x for x in results if x.step is not None and x.step.index > r.step.index]
            readers = [x for x in later if r.name in x.step.inputs and x.status == "match"]
            if readers and not [x for x in later if x.status == "differs" and not x.course_quirk]:
                out[r.name] = dataclasses.replace(r, cause=TEXT["typo"].format(
                    readers=", ".join(x.name for x in readers)), cause_key="typo")
        return [out[r.name] for r in results]

    def _change(self, step: Step) -> np.ndarray:
        """What our update changes a parameter by (after − before)."""
        param = next(iter(step.inputs))
        return step.value - step.inputs[param]

    def _loose_update(self, step: Step, res: np.ndarray, change: np.ndarray) -> None:
        """Remember an update whose tolerance is as large as the change itself somewhere (a wrong update
        could match there)."""
        moved = change != 0
        loose = moved & (_tolerance(step.value, res, self.rtol, change) >= np.abs(change))
        if np.any(loose):
            self.loose.append(TEXT["loose_one"].format(name=step.name, n=int(loose.sum()), size=int(moved.sum())))

    def _rounded(self, step: Step, theirs: np.ndarray, res: np.ndarray, shown: np.ndarray | None) -> str | None:
        """Numbers typed or saved from a printout: theirs are ours rounded to the digits they carry."""
        aligned = _align(step.value.shape, theirs)
        if np.any(res) or shown is not None or aligned is None:
            return None
        t, ours = aligned[0], step.value
        numbers = [printout.number_of(float(v)) for v in t.flat]
        carried = np.array([n.resolution(0) for n in numbers]).reshape(t.shape)
        with np.errstate(all="ignore"):
            diff = np.abs(t - ours)
            if not np.all(diff <= carried * (1 + 1e-9) + _tolerance(ours, np.zeros(ours.shape), DEFAULT_RTOL)):
                return None
            needed = float(np.max(diff / _relative(ours)))
        if not 0 < needed < 1e-3:
            return None
        if any(n.scientific for n in numbers):
            digits = TEXT["digits_sig"].format(n=min(n.significant for n in numbers))
        else:
            digits = TEXT["digits_dec"].format(n=max(n.decimals for n in numbers))
        return TEXT["rounded"].format(digits=digits, rtol=f"1e{math.ceil(math.log10(needed))}")

    def _input_differs(self, name: str) -> bool:
        if name not in self.theirs:
            return False
        if self.theirs[name].shape != self.ours[name].shape:
            return True
        return bool(np.any(_differing(self.ours[name], self.theirs[name], self.res[name], None, self.rtol)))


def _pattern(shape: tuple[int, ...], k: int, name: str) -> np.ndarray:
    """Probe k's signs: all +1, all −1, alternating, and a fixed random pattern (the same every run)."""
    if k == 0:
        return np.ones(shape)
    if k == 1:
        return -np.ones(shape)
    if k == 2:
        return np.where(np.indices(shape).sum(axis=0) % 2 == 0, 1.0, -1.0) if shape else np.ones(shape)
    seed = sum(name.encode()) + 7919 * k
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=shape)


def compare(iteration: Iteration, mine: Mine, rtol: float = DEFAULT_RTOL) -> Comparison:
    """Every step's array of ``iteration`` against MINE's, in step order, then MINE's unknown names."""
    run = _Run(iteration, mine, rtol)
    results = run.second_looks([run.result(step) for step in iteration.steps])
    results += [ArrayResult(name, None, "unknown", None, None, None, None, None, None, None, None, None, hint)
                for name, hint in mine.unknown.items()]
    first = next((r.name for r in results if r.status == "differs" and not r.course_quirk), None)
    if run.loose:
        run.notes.append(TEXT["loose_update"].format(arrays=", ".join(run.loose)))
    return Comparison(iteration, tuple(results), first, tuple(mine.notes) + tuple(run.notes))


# --- the command ----------------------------------------------------------------------------------------


def as_json(comparison: Comparison, mine: Mine | None = None) -> dict:
    """The JSON report: ``{"arrays": [...], "first_divergence": name or null}`` and more keys."""
    from nnstep.engine.formats import json_number

    def number(v: float | None):
        return None if v is None else json_number(v)

    arrays = []
    for r in comparison.arrays:
        s = r.step
        arrays.append(dict(
            name=r.name, step=None if s is None else s.index, status=r.status,
            first_index=None if r.first_index is None else list(r.first_index),
            ours=number(r.ours_at), theirs=number(r.theirs_at), max_abs=number(r.max_abs),
            max_rel=number(r.max_rel), cause=r.cause, suggestion=r.suggestion, cause_key=r.cause_key,
            course_quirk=r.course_quirk,
            phase=None if s is None else s.phase, layer=None if s is None else s.layer,
            formula=None if s is None else s.formula,
            shapes=None if r.shapes is None else {"ours": list(r.shapes[0]), "theirs": list(r.shapes[1])},
            differing=None if r.differing is None else int(np.count_nonzero(r.differing))))
    out = {"arrays": arrays, "first_divergence": comparison.first_divergence,
           "iteration": comparison.iteration.number, "notes": list(comparison.notes)}
    if mine is not None:
        out["mine"] = {"file": visible(mine.path), "source": mine.source}
    return out


def render_text(comparison: Comparison, mine: Mine, width: int = 100, file: str | None = None) -> str:
    """The report for a terminal: one line per array, the likely mistakes, the first difference, notes
    (``file``: the scenario as the user named it; its path by default)."""
    from nnstep.engine.formats import wrap

    it = comparison.iteration
    sc = it.scenario
    total = sc.training.iterations if sc.training else 1
    where = TEXT["of_iteration"].format(n=it.number, total=total) if sc.training else ""
    lines = [TEXT["title"].format(scenario=visible(file) if file else sc.shown_path, shape=sc.shape, iteration=where,
                                  mine=visible(mine.path), source=TEXT["source_" + mine.source])]
    counts = {status: sum(r.status == status for r in comparison.arrays) for status in ("match", "differs", "missing")}
    lines.append(TEXT["counts"].format(steps=len(it.steps), match=counts["match"], differs=counts["differs"],
                                       s="s" if counts["differs"] == 1 else "", missing=counts["missing"]))
    lines.append("")
    name_width = max(len(r.name) for r in comparison.arrays)
    number_width = len(str(len(it.steps)))
    for r in comparison.arrays:
        head = (f"{r.step.index + 1:>{number_width}}" if r.step else " " * number_width) + f"  {r.name:<{name_width}}  "
        if r.status == "unknown":
            hint = TEXT["hint"].format(suggestion=r.suggestion) if r.suggestion else ""
            body = TEXT["unknown_label" if mine.source == "printout" else "unknown"].format(name=r.name, hint=hint)
        elif r.status in ("match", "missing"):
            body = TEXT[r.status]
        elif r.shapes is not None:
            body = TEXT["differs_shape"].format(ours=shape_label(np.empty(r.shapes[0])),
                                                theirs=shape_label(np.empty(r.shapes[1])))
        else:
            body = TEXT["differs"].format(index=list(r.first_index), ours=exact(r.ours_at), theirs=exact(r.theirs_at),
                                          count=int(np.count_nonzero(r.differing)), size=r.differing.size,
                                          abs=f"{r.max_abs:.3g}", rel=f"{r.max_rel:.3g}")
        lines += _hang(head, wrap(body, max(30, width - len(head))))
        if r.cause:
            lines += _hang(" " * len(head) + TEXT["likely"], wrap(r.cause, max(30, width - len(head) - 8)))
    lines.append("")
    quirks = [r for r in comparison.arrays if r.course_quirk]
    why = ", ".join(TEXT["why_" + r.cause_key].format(name=r.name) for r in quirks)
    if comparison.first_divergence is not None:
        if quirks:
            lines += wrap(TEXT["quirk_then"].format(why=why), width)
        r = next(r for r in comparison.arrays if r.name == comparison.first_divergence and r.step is not None)
        s = r.step
        lines += wrap(TEXT["first"].format(name=s.name, index=s.index + 1, total=len(it.steps), phase=s.phase,
                                           where=TEXT["layer"].format(l=s.layer) if s.layer is not None
                                           else TEXT["output"],
                                           formula=s.formula), width)
        if r.cause:
            lines += _hang("  " + TEXT["likely"], wrap(r.cause, width - 10))
    else:
        n = counts["match"]
        unknown = sum(r.status == "unknown" for r in comparison.arrays)
        key = ("quirk_only" if quirks else "all_match") + ("_but" if unknown else "")
        lines += wrap(TEXT[key].format(n=n, s="s" if n != 1 else "", why=why, k=unknown,
                                       were="was" if unknown == 1 else "were"), width)
    if comparison.notes:
        lines += ["", TEXT["notes"]]
        for note in comparison.notes:
            lines += _hang("- ", wrap(note, width - 2))
    return "\n".join(lines) + "\n"


def _hang(head: str, body: list[str]) -> list[str]:
    """``head`` before the first line of ``body``, the others indented under it."""
    if not body:
        return [head.rstrip()]
    return [head + body[0]] + [" " * len(head) + line for line in body[1:]]


def report(iteration: Iteration, mine_path: str, rtol: float | None, fmt: str, width: int = 100,
           file_arg: str | None = None) -> tuple[int, str]:
    """``nnstep compare``'s output for ``iteration`` and its exit code: 0 when everything compared matches,
    1 when anything differs. A MINE that cannot be read raises :class:`MineError` (exit code 2)."""
    mine = read_mine(mine_path, iteration)
    result = compare(iteration, mine, DEFAULT_RTOL if rtol is None else float(rtol))
    if fmt == "json":
        text = json.dumps(as_json(result, mine), ensure_ascii=False, indent=1, allow_nan=False) + "\n"
    else:
        text = render_text(result, mine, width, file_arg)
    return (1 if result.differs else 0), text
