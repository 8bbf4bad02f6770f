"""Renderings of a run for the command line: readable text, JSON, and the seed notebook's printout."""

from __future__ import annotations

import json
import math
import re
import textwrap
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from nnstep.engine import names
from nnstep.engine.numbers import count
from nnstep.engine.ops import LOSSES
from nnstep.engine.scenario import Scenario
from nnstep.engine.steps import Iteration, Kind, Step, shape_label


#: The text trace's width when the caller does not give one (a pipe, a file).
TEXT_WIDTH = 100


def array_text(array: np.ndarray, width: int = 75) -> str:
    """numpy's own printing (precision 8, aligned columns, "..." past 1000 numbers), as the course sees it."""
    a = np.asarray(array)
    return str(a[()]) if a.ndim == 0 else np.array2string(a, precision=8, max_line_width=width)


def wrap(text: str, width: int, indent: str = "") -> list[str]:
    """Wrap prose to ``width`` without breaking a formula such as ``y − d`` across lines."""
    glued = re.sub(r" ([−+=⊙·/×]) ", "\xa0\\1\xa0", text)
    lines = textwrap.wrap(glued, width=width, initial_indent=indent, subsequent_indent=indent,
                          break_on_hyphens=False)
    return [line.replace("\xa0", " ") for line in lines]


# --- text --------------------------------------------------------------------------------------------


def render_text(run: Iteration | list[Iteration], width: int = TEXT_WIDTH) -> str:
    """Every step with its formula, inputs, result and note, for a terminal ``width`` columns wide
    (several iterations of a training run: each under its own heading)."""
    runs = run if isinstance(run, list) else [run]
    width = max(40, width)
    lines = _text_heading(runs[0], len(runs), runs[-1].number, width)
    for one in runs:
        lines += _text_iteration(one, width)
    return "\n".join(lines) + "\n"


def text_pieces(numbers: Sequence[int], iteration: Callable[[int], Iteration],
                width: int = TEXT_WIDTH) -> Iterator[str]:
    """:func:`render_text` of iterations ``numbers`` piece by piece, each iteration recorded (by
    ``iteration``), rendered and let go in turn, so that memory does not grow with their number."""
    width = max(40, width)
    yield "\n".join(_text_heading(iteration(numbers[0]), len(numbers), numbers[-1], width))
    for i in numbers:
        yield "\n" + "\n".join(_text_iteration(iteration(i), width))
    yield "\n"


def _text_heading(first: Iteration, shown: int, last: int, width: int) -> list[str]:
    """The scenario, its run, and which of its iterations follow (``shown`` of them, ``first`` to ``last``)."""
    sc = first.scenario
    acts = " → ".join(layer.activation for layer in sc.layers)
    if sc.loss:
        setup = f"{sc.loss}, learning rate {sc.learning_rate:g}"
    else:
        unused = [key for key, value in (("d", sc.d), ("learning_rate", sc.learning_rate)) if value is not None]
        setup = "forward only (no loss key" + (f"; {' and '.join(unused)} not used)" if unused else ")")
    lines = [sc.name, f"{sc.shape} · {acts} · {setup}"]
    if sc.path:
        lines.append(f"file: {sc.shown_path}")
    if sc.training is not None:
        t = sc.training
        lines.append(f"training: {count(t.iterations, 'iteration')} of {t.method}, seed {t.seed}"
                     + (f", sampling {t.sampling}" if t.batch_size is not None else ""))
        lines.append(f"data: {sc.data_note}")
    if sc.description:
        lines += [""] + wrap(sc.description, min(width, 100))
    if sc.training is not None:
        which = f"iteration {first.number}" if shown == 1 else f"iterations {first.number} to {last}"
        lines += ["", f"{which} of {sc.training.iterations}, {len(first.steps)} steps each"
                  + (" (--iterations A:B traces others)" if shown == 1 else "")]
    else:
        lines += ["", f"{len(first.steps)} steps"]
    return lines


def _text_iteration(one: Iteration, width: int) -> list[str]:
    """One iteration's steps under their phases' headings (and, in a training run, its own heading)."""
    sc = one.scenario
    lines: list[str] = []
    if sc.training is not None:
        head = f"#### ITERATION {one.number}/{sc.training.iterations} "
        lines += ["", head + "#" * max(4, min(width, 74) - len(head)), ""] + wrap(one.note, min(width, 100))
    phase = None
    for step in one.steps:
        if step.phase != phase:
            phase = step.phase
            lines += ["", f"== {phase.upper()} " + "=" * (min(width, 74) - 4 - len(phase))]
        lines += [""] + _step_text(step, len(one.steps), width)
    return lines


def _step_text(step: Step, total: int, width: int) -> list[str]:
    where = f"layer {step.layer}" if step.layer is not None else "output"
    # Counted from 1, as the app counts them ("step 9/15"); JSON's "index" counts from 0.
    lines = [f"step {step.index + 1}/{total} · {step.phase} · {where} · {step.formula}"]
    arrays = list(step.inputs.items()) + [(step.name, step.value)]
    name_width = max(len(name) for name, _ in arrays)
    shape_width = max(len(shape_label(value)) for _, value in arrays)
    for i, (name, value) in enumerate(arrays):
        arrow = "→ " if i == len(step.inputs) else "  "
        head = f"   {arrow}{name:<{name_width}}  {shape_label(value):<{shape_width}}  "
        body = array_text(value, max(30, width - len(head))).split("\n")
        lines.append(head + body[0])
        lines += [" " * len(head) + row for row in body[1:]]
    if step.note:
        lines += wrap(step.note, min(width, 100), indent="     ")
    return lines


# --- json --------------------------------------------------------------------------------------------


def json_number(v: float) -> float | str:
    """``v``, or the string ``"inf"``, ``"-inf"`` or ``"nan"`` for a number JSON has no literal for: the
    output stays valid JSON, and an overflow (inf) can be told from an undefined result (nan)."""
    if math.isfinite(v):
        return v
    return "nan" if math.isnan(v) else "inf" if v > 0 else "-inf"


def _plain(array: Any) -> Any:
    """Nested lists of floats; inf, -inf and nan as the strings "inf", "-inf" and "nan"."""
    value = np.asarray(array, dtype=np.float64).tolist()

    def clean(v):
        if isinstance(v, list):
            return [clean(item) for item in v]
        return json_number(v)

    return clean(value)


def scenario_dict(sc: Scenario, first: Iteration) -> dict:
    """The scenario, with the batch and the parameters of ``first``, the first iteration shown."""
    return _scenario_doc(sc, first, _plain)


def _scenario_doc(sc: Scenario, first: Iteration, array: Callable[[Any], Any]) -> dict:
    """:func:`scenario_dict`, with each array as ``array`` makes it (nested lists, or kept as numpy for
    :func:`json_pieces`)."""
    return {
        "name": sc.name,
        "description": sc.description,
        "file": None if sc.path is None else str(sc.path),
        "shape": sc.shape,
        "loss": sc.loss,
        "learning_rate": sc.learning_rate,
        "x": array(first.x),
        "d": None if first.d is None else array(first.d),
        "layers": [{"W": array(l.W), "b": array(l.b), "activation": l.activation} for l in first.layers],
        # A training run: its [training] table and where its data came from; x, d and layers above are
        # then the first traced iteration's batch and the parameters that iteration starts from.
        "training": None if sc.training is None else {
            "iterations": sc.training.iterations, "batch_size": sc.training.batch_size or "all",
            "seed": sc.training.seed, "sampling": sc.training.sampling, "data": sc.data_note,
            "held_out_rows": None if sc.held_out is None else list(sc.held_out)},
    }


def _step_doc(s: Step, array: Callable[[Any], Any]) -> dict:
    return {
        "index": s.index,
        "iteration": s.iteration,
        "phase": s.phase,
        "layer": s.layer,
        "name": s.name,
        "formula": s.formula,
        "inputs": {k: array(v) for k, v in s.inputs.items()},
        "value": array(s.value),
    }


def _iteration_doc(one: Iteration) -> dict:
    """A traced iteration's batch: training-set rows counted from 0 (null: the whole training set)."""
    return {"iteration": one.number, "batch_rows": one.rows, "batch_accuracy": batch_accuracy(one), "note": one.note}


def render_json(run: Iteration | list[Iteration]) -> str:
    """The JSON document, built whole: for a few small iterations (:func:`json_pieces` streams it)."""
    runs = run if isinstance(run, list) else [run]
    steps = [_step_doc(s, _plain) for one in runs for s in one.steps]
    doc = {"scenario": scenario_dict(runs[0].scenario, runs[0]), "steps": steps}
    if runs[0].scenario.training is not None:
        doc["iterations"] = [_iteration_doc(one) for one in runs]
    return json.dumps(doc, indent=1,
                      ensure_ascii=False, allow_nan=False) + "\n"


def json_pieces(numbers: Sequence[int], iteration: Callable[[int], Iteration]) -> Iterator[str]:
    """:func:`render_json` of iterations ``numbers``, byte for byte, piece by piece: each iteration is
    recorded (by ``iteration``), written and let go in turn, and an array is written a row at a time,
    so that memory stays flat however many iterations and however wide the layers."""
    first = iteration(numbers[0])
    training = first.scenario.training is not None
    yield '{\n "scenario": '
    yield from _json_pieces(_scenario_doc(first.scenario, first, _float64), 1)
    del first
    yield ',\n "steps": '
    opened = False
    summaries = []  # one short entry per iteration (its rows, accuracy and note), for "iterations"
    for i in numbers:
        one = iteration(i)
        for step in one.steps:
            yield ",\n  " if opened else "[\n  "
            opened = True
            yield from _json_pieces(_step_doc(step, _float64), 2)
        if training:
            summaries.append("".join(_json_pieces(_iteration_doc(one), 2)))
        del one
    yield "\n ]" if opened else "[]"
    if training:
        yield ',\n "iterations": ' + ("[\n  " + ",\n  ".join(summaries) + "\n ]" if summaries else "[]")
    yield "\n}\n"


def _float64(array: Any) -> np.ndarray:
    """The array as :func:`_plain` reads it, left as numpy for :func:`_array_pieces`."""
    return np.asarray(array, dtype=np.float64)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _json_pieces(value: Any, level: int) -> Iterator[str]:
    """``value`` as ``json.dumps(value, indent=1, ensure_ascii=False, allow_nan=False)`` writes it nested
    ``level`` deep in a document (one space per level), in pieces; numpy arrays as :func:`_plain` would
    make them."""
    if isinstance(value, np.ndarray):
        yield from _array_pieces(_float64(value), level)
    elif isinstance(value, dict) and value:
        yield from _members(((_dumps(key) + ": ", item) for key, item in value.items()), "{}", level)
    elif isinstance(value, (list, tuple)) and value:
        yield from _members((("", item) for item in value), "[]", level)
    else:
        yield _dumps(value)


def _members(members: Iterator[tuple[str, Any]], brackets: str, level: int) -> Iterator[str]:
    """A non-empty object or array: each member on its own line, one level deeper, after its key."""
    inner = "\n" + " " * (level + 1)
    separator = brackets[0] + inner
    for key, item in members:
        yield separator + key
        yield from _json_pieces(item, level + 1)
        separator = "," + inner
    yield "\n" + " " * level + brackets[1]


def _array_pieces(array: np.ndarray, level: int) -> Iterator[str]:
    """``_plain(array)`` of a float64 array as JSON at ``level``, a row at a time: no array is ever held
    whole as Python floats or as text."""
    if array.ndim == 0:
        yield _dumps(json_number(float(array)))
    elif not len(array):
        yield "[]"
    elif array.ndim > 1:
        yield from _members((("", row) for row in array), "[]", level)
    else:
        values = array.tolist()
        # json writes a finite float as float.__repr__; inf and nan become the strings of json_number.
        texts = map(float.__repr__, values) if np.all(np.isfinite(array)) else \
            (_dumps(json_number(v)) for v in values)
        inner = "\n" + " " * (level + 1)
        yield "[" + inner + ("," + inner).join(texts) + "\n" + " " * level + "]"


def batch_accuracy(run: Iteration) -> float | None:
    """A classifier's accuracy on the iteration's batch (its y against d); None for a regression."""
    loss = LOSSES.get(run.scenario.loss or "")
    if loss is None or not loss.classifier:
        return None
    share = loss.accuracy(run.output.value, run.d)
    return None if math.isnan(share) else share


# --- seed --------------------------------------------------------------------------------------------


#: The course's labels by kind of array (a parameter by W or b).
_SEED_LABELS = {"grad_W": "偏微分_重み", "grad_b": "偏微分_バイアス", "delta": "偏微分_dE/du", "affine": "総入力",
                "activation": "中間層出力", "W": "重み", "b": "バイアス"}


def _seed_label(kind: Kind | str, layer: int, layers: int) -> str:
    """The course's Japanese label for an array of ``kind`` (or a parameter, "W" or "b") of ``layer``; a
    one-layer network's labels carry no number, and its output is 中間層出力, a deeper one's 出力1."""
    if kind == "activation" and layer == layers:
        return "中間層出力" if layers == 1 else "出力1"
    return _SEED_LABELS[kind] + ("" if layers == 1 else str(layer))


def _print_vec(out: list[str], label: str, value: Any) -> None:
    """The course's print_vec: a label line, numpy's default print, a blank line."""
    out += [f"*** {label} ***", str(value), ""]


def _as_written(sc: Scenario, name: str, array: np.ndarray) -> np.ndarray:
    """Integers stay integers in print, as numpy prints the course's ``np.array([0, 0, 0, 1])``: an array
    the file wrote in integers, while it still holds whole numbers (a later iteration's parameters do not)."""
    whole = bool(np.all(np.abs(array) < 2.0**53) and np.all(array == np.round(array)))  # float64 holds them exactly
    return array.astype(np.int64) if name in sc.integer_arrays and whole else array


def render_seed(run: Iteration | list[Iteration]) -> str:
    """The seed notebook's printout: print_vec labels and numpy's default array printing (for several
    iterations, one printout each under a ``##### 繰り返し i #####`` line)."""
    if isinstance(run, list):
        if len(run) == 1 and run[0].scenario.training is None:
            return _seed_one(run[0])
        return "\n".join(f"##### 繰り返し {one.number} (iteration) #####\n" + _seed_one(one)
                         for one in run)
    return _seed_one(run)


def seed_pieces(numbers: Sequence[int], iteration: Callable[[int], Iteration]) -> Iterator[str]:
    """:func:`render_seed` of iterations ``numbers``, one iteration at a time (recorded by ``iteration``)."""
    if len(numbers) == 1 and iteration(numbers[0]).scenario.training is None:
        yield _seed_one(iteration(numbers[0]))
        return
    for k, i in enumerate(numbers):
        one = iteration(i)
        yield ("\n" if k else "") + f"##### 繰り返し {one.number} (iteration) #####\n" + _seed_one(one)
        del one


def _seed_one(run: Iteration) -> str:
    sc = run.scenario
    L = len(run.layers)
    by_kind = {(s.kind, s.layer, s.param): s.value for s in run.steps}
    y = run.output.value
    out: list[str] = []
    with np.printoptions(precision=8, linewidth=75):  # numpy's defaults, whatever the caller set
        _print_vec(out, "入力", _as_written(sc, "x", run.x))
        i = run.number
        out.append("##### ネットワークの初期化 #####" if i == 1 else
                   f"##### 繰り返し {i} 開始時のパラメータ (the parameters after iteration {i - 1}) #####")
        for kind in names.PARAMS:
            for l, layer in enumerate(run.layers, start=1):
                _print_vec(out, _seed_label(kind, l, L), _as_written(sc, names.param(kind, l), getattr(layer, kind)))
        out.append("##### 順伝播開始 #####")
        for step in run.steps:
            if step.phase == "forward":
                _print_vec(out, _seed_label(step.kind, step.layer, L), step.value)
        out += ["出力合計: " + str(np.sum(y)), ""]
        if sc.loss is None:
            return "\n".join(out)
        out.append("##### 結果表示 #####")
        _print_vec(out, "出力", y)
        _print_vec(out, "訓練データ", _as_written(sc, "d", run.d))
        _print_vec(out, "誤差", by_kind[("loss", None, None)][()])
        out += ["", "##### 誤差逆伝播開始 #####"]
        for kind, param in (("delta", None), ("grad_W", "W"), ("grad_b", "b")):
            for l in (range(L, 0, -1) if kind == "delta" else range(1, L + 1)):
                _print_vec(out, _seed_label(kind, l, L), by_kind[(kind, l, param)])
        out += ["##### 結果表示 #####", "##### 更新後パラメータ #####"]
        for kind in names.PARAMS:
            for l in range(1, L + 1):
                _print_vec(out, _seed_label(kind, l, L), by_kind[("update", l, kind)])
    return "\n".join(out)


RENDERERS = {"text": render_text, "json": render_json, "seed": render_seed}
#: The same renderings piece by piece, for any number of iterations: ``PIECES[format](numbers, iteration)``.
PIECES = {"text": text_pieces, "json": json_pieces, "seed": seed_pieces}
