"""Renderings of a run for the command line: readable text, JSON, and the seed notebook's printout."""

from __future__ import annotations

import json
import math
import re
import textwrap
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from nnstep.engine import names
from nnstep.engine.numbers import count, exact, percent
from nnstep.engine.ops import ACTIVATIONS, LOSSES
from nnstep.engine.scenario import Scenario
from nnstep.engine.steps import Iteration, Kind, Step, shape_label


#: The text trace's width when the caller does not give one (a pipe, a file).
TEXT_WIDTH = 100

#: The sentences of the traces that are not a step's own (the text trace's, the seed printout's).
TEXT = {
    "params": "params: {names} from {file}{note}",
    "params_note": "; {note}",
    "seed": "seed: {seed} (the random initial parameters are drawn from it)",
    "loss_after": "After the update: loss {after} on the same batch, {change} from {before}.",
    "loss_after_not_finite": "After the update: the loss on the same batch is {after} (before it: {before}); the "
                             "numbers have overflowed.",
    "down": "down {by}",
    "up": "up {by}",
    "share": " ({share})",
    "same": "unchanged",
    "not_finite": "not comparable (not finite)",
    # The seed printout's headings and its closing block: which notebook cell it is laid out as, and every
    # place where the notebook prints something else (its quirks) or nnstep prints more or less than it.
    "init": "##### ネットワークの初期化 #####",
    "init_later": "##### 繰り返し {i} 開始時のパラメータ (the parameters after iteration {before}) #####",
    "forward": "##### 順伝播開始 #####",
    "total": "出力合計: {total}",
    "result": "##### 結果表示 #####",
    "backward": "##### 誤差逆伝播開始 #####",
    "updated": "##### 更新後パラメータ #####",
    "iteration": "##### 繰り返し {i} (iteration) #####",
    "closing": "##### ノートブックとの違い (how this printout differs from the course's notebook) #####",
    "single_unit": "notebook 1_1_forward_propagation, cell 順伝播（単層・単ユニット）",
    "single_layer": "notebook 1_1_forward_propagation, cell 順伝播（単層・複数ユニット）",
    "three_layer": "notebook 1_1_forward_propagation, cell 順伝播（3層・複数ユニット）",
    "classify": "notebook 1_1_forward_propagation, cell 多クラス分類（2-3-4ネットワーク）",
    "regress": "notebook 1_1_forward_propagation, cell 回帰（2-3-2ネットワーク）",
    "binary": "notebook 1_1_forward_propagation, cell 2値分類（2-3-1ネットワーク）",
    "backprop": "notebook 1_2_back_propagation, cell メインプログラム",
    "layout": "- Laid out as {notebook} prints its network (this one is {shape}): the same blocks, labels and "
              "order{rest}",
    "layout_rest": ", except as the lines below say.",
    "layout_same": "; nothing differs.",
    "layout_none": "- No notebook of the course prints a {shape} network like this one: laid out as the course "
                   "prints its networks (1_1's forward pass and 結果表示, 1_2's backward pass and updated "
                   "parameters).",
    "layout_training": "- A training run: the course's training notebooks (1_3, 1_4) print no arrays. Each "
                       "iteration is laid out as the course prints its networks (1_1's forward pass and 結果表示, "
                       "1_2's backward pass and updated parameters), under its 繰り返し heading, with its own "
                       "batch as 入力 and 訓練データ.",
    "number_bias": "- バイアス: the notebook's b is a Python number (b = 0.5) and prints without brackets; the "
                   "scenario's b is a vector of one bias, printed as {b}.",
    "reshaped": "- {names}: {file} holds {them} in the course's shapes (a vector of weights, a number), read here "
                "as a column and a vector of one bias; a notebook that holds {them} so prints {them}, and the output "
                "layer's arrays computed from {them}, with one pair of brackets fewer.",
    "beyond_forward": "- {labels}: the notebook computes {them} but does not print {them}.",
    "output_is_z1": "- 出力1: the notebook prints z1 under this label (print_vec(\"出力1\", z1)); nnstep prints y, "
                    "the network's output, which the label means.",
    "total_of_z1": "- 出力合計: the notebook prints the sum of z1 (np.sum(z1) = {z1}); nnstep prints the sum of y.",
    "rowwise_total": "- 出力合計: each row of probabilities sums to 1 only up to rounding, so the total may print "
                     "a last digit off ({rows}, or just below it), depending on the CPU and numpy's version: the "
                     "course's own runs printed 1.0 and 0.9999999999999999 for one row.",
    "loss_unprinted": "- 誤差: the notebook computes the loss but never prints it; nnstep prints it where the "
                      "notebook computes it, between the forward and the backward pass.",
    "beyond_result": "- 結果表示 (出力, 訓練データ, 誤差): the notebook has no target and no loss; these are the "
                     "scenario's own d and loss, printed as the 1_1 cells 多クラス分類 and 回帰 print theirs.",
    "loss_value": "- 誤差: {why}.",
    "loss_value_training": "- 誤差 of iteration {i}: {why}. Every iteration's 誤差 is the course's value.",
    "deltas_as_du2": "- 偏微分_dE/du1: the notebook labels delta1 偏微分_dE/du2, as it labels delta2 "
                     "(print_vec(\"偏微分_dE/du2\", delta1)); nnstep labels each delta by its layer.",
    "beyond_backward": "- 誤差逆伝播開始 to 更新後パラメータ: the notebook stops before the backward pass; nnstep goes "
                       "on with the scenario's learning rate ({lr}) and prints the backward pass and the updated "
                       "parameters as notebook 1_2 prints them.",
    "missing": "- {what}: the notebook goes on to {which}; the scenario has no loss key, so nnstep stops at 出力合計.",
    "missing_result": "結果表示",
    "missing_result_which": "the loss (出力, 訓練データ, 誤差)",
    "missing_backward": "誤差逆伝播開始 to 更新後パラメータ",
    "missing_backward_which": "the backward pass and the update",
}


def loss_change(before: float, after: float, digits: int | None = None) -> str:
    """``down 0.0039817… (4.37%)``: how the update moved the loss on the batch, the change in full
    precision or to ``digits`` significant digits."""
    if not (math.isfinite(before) and math.isfinite(after)):
        return TEXT["not_finite"]
    if after == before:
        return TEXT["same"]
    by = abs(after - before)
    change = TEXT["down" if after < before else "up"].format(by=exact(by) if digits is None else f"{by:.{digits}g}")
    return change + (TEXT["share"].format(share=percent(by / abs(before), 2)) if before else "")


def loss_after_text(run: Iteration) -> str | None:
    """The loss that the updated parameters give on the iteration's batch, against the loss before; None
    for a forward-only run."""
    after, before = run.loss_after_update, run.loss
    if after is None:
        return None
    if not (math.isfinite(after) and math.isfinite(before)):
        return TEXT["loss_after_not_finite"].format(after=exact(after), before=exact(before))
    return TEXT["loss_after"].format(after=exact(after), change=loss_change(before, after), before=exact(before))


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
    if sc.params_file is not None:
        note = TEXT["params_note"].format(note=sc.params_note) if sc.params_note else ""
        lines += wrap(TEXT["params"].format(names=", ".join(names.parameters(len(sc.layers))), file=sc.params_file,
                                            note=note), min(width, 100))
    if sc.seed is not None and sc.training is None:
        lines.append(TEXT["seed"].format(seed=sc.seed))
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
    after = loss_after_text(one)
    if after is not None:
        lines += [""] + wrap(after, min(width, 100))
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
        # params = "net.npz": the file, and how its arrays were read (the course's shapes of a one-unit output).
        "params": None if sc.params_file is None else {"file": sc.params_file, "note": sc.params_note},
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
    return {"iteration": one.number, "batch_rows": one.rows, "batch_accuracy": batch_accuracy(one),
            "loss_after_update": _loss_after(one), "note": one.note}


def _loss_after(one: Iteration) -> float | str | None:
    """The loss the updated parameters give on the same batch, as JSON writes a number (None: no loss)."""
    after = one.loss_after_update
    return None if after is None else json_number(after)


def render_json(run: Iteration | list[Iteration]) -> str:
    """The JSON document, built whole: for a few small iterations (:func:`json_pieces` streams it)."""
    runs = run if isinstance(run, list) else [run]
    steps = [_step_doc(s, _plain) for one in runs for s in one.steps]
    doc = {"scenario": scenario_dict(runs[0].scenario, runs[0]), "steps": steps}
    if runs[0].scenario.training is not None:
        doc["iterations"] = [_iteration_doc(one) for one in runs]
    else:  # one iteration: the loss after its update is the document's own (a training run's: per iteration)
        doc["loss_after_update"] = _loss_after(runs[0])
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
    after = None
    for i in numbers:
        one = iteration(i)
        for step in one.steps:
            yield ",\n  " if opened else "[\n  "
            opened = True
            yield from _json_pieces(_step_doc(step, _float64), 2)
        if training:
            summaries.append("".join(_json_pieces(_iteration_doc(one), 2)))
        else:
            after = _loss_after(one)
        del one
    yield "\n ]" if opened else "[]"
    if training:
        yield ',\n "iterations": ' + ("[\n  " + ",\n  ".join(summaries) + "\n ]" if summaries else "[]")
    else:
        yield ',\n "loss_after_update": ' + _dumps(after)
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


@dataclass(frozen=True)
class Notebook:
    """How one cell of the course's notebooks prints its network (COURSE.md): which blocks, in which
    order, and where it prints something other than what its label means (its quirks)."""

    #: Which cell: a key of :data:`TEXT`.
    name: str
    #: Where it prints x: before the network ("first"), after W and b ("after_parameters"), or nowhere.
    input: str | None = "first"
    #: Its ##### headings and 出力合計 (the single-layer cells print neither).
    headings: bool = True
    #: init_network prints the parameters (the 2値分類 cell's prints none).
    parameters: bool = True
    #: How many forward blocks it prints before 出力1 (the 3層 cell: u1, z1, u2); None: all of them.
    forward: int | None = None
    #: It goes on to a loss and prints 結果表示 (出力, 訓練データ, 誤差), this block starting with 中間層出力
    #: (z1) in the 回帰 and 2値分類 cells.
    result: bool = False
    result_hidden: bool = False
    #: It goes on to the backward pass and the update (1_2).
    backward: bool = False
    #: Its quirks: 出力1 holds z1, 出力合計 is sum(z1), both deltas are labelled 偏微分_dE/du2, the loss is
    #: computed but never printed, b is a Python number.
    output_is_z1: bool = False
    total_of_z1: bool = False
    deltas_as_du2: bool = False
    loss_unprinted: bool = False
    number_bias: bool = False


NOTEBOOKS = {
    "single_unit": Notebook("single_unit", input="after_parameters", headings=False, number_bias=True),
    "single_layer": Notebook("single_layer", input="after_parameters", headings=False),
    "three_layer": Notebook("three_layer", forward=3, output_is_z1=True, total_of_z1=True),
    "classify": Notebook("classify", input=None, result=True),
    "regress": Notebook("regress", input=None, result=True, result_hidden=True, total_of_z1=True),
    "binary": Notebook("binary", input=None, parameters=False, result=True, result_hidden=True, total_of_z1=True),
    "backprop": Notebook("backprop", input=None, backward=True, deltas_as_du2=True, loss_unprinted=True),
    # No cell prints the network: the course's whole layout (a training run: once per iteration).
    "layout_none": Notebook("layout_none", result=True, backward=True),
    "layout_training": Notebook("layout_training", result=True, backward=True),
}


def notebook(sc: Scenario) -> Notebook:
    """The notebook cell that prints a network like ``sc``'s, by its depth and task: one layer (forward
    only) as 1_1's single-layer cells, three layers as its 3層 cell, two layers as 1_2 for a batch (x a
    matrix), else as the 1_1 cell of its task (softmax output: 多クラス分類; a classifier's loss: 2値分類;
    otherwise 回帰). Training runs and other networks: the course's whole layout."""
    depth = len(sc.layers)
    if sc.training is not None:
        return NOTEBOOKS["layout_training"]
    if depth == 1 and sc.loss is None:
        return NOTEBOOKS["single_unit" if sc.layers[0].units == 1 else "single_layer"]
    if depth == 3:
        return NOTEBOOKS["three_layer"]
    if depth != 2:
        return NOTEBOOKS["layout_none"]
    if sc.x.ndim == 2:
        return NOTEBOOKS["backprop"]
    if ACTIVATIONS[sc.layers[-1].activation].rowwise:
        return NOTEBOOKS["classify"]
    if sc.loss is not None and LOSSES[sc.loss].classifier:
        return NOTEBOOKS["binary"]
    return NOTEBOOKS["regress"]


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


def course_loss(run: Iteration) -> float | None:
    """The loss as the course's own function computes it for this iteration (its 誤差); None without a loss."""
    if run.scenario.loss is None:
        return None
    last = len(run.layers)
    u = next(s.value for s in run.steps if s.kind == "affine" and s.layer == last)
    with np.errstate(all="ignore"):
        return float(LOSSES[run.scenario.loss].course_value(u, run.output.value, run.d))


def render_seed(run: Iteration | list[Iteration]) -> str:
    """The course notebook's printout (print_vec labels, numpy's default array printing), laid out as the
    notebook cell of that network prints it, then a closing block on where the two differ; several
    iterations: one printout each under a ``##### 繰り返し i (iteration) #####`` line."""
    if isinstance(run, list):
        by_number = {one.number: one for one in run}
        return "".join(seed_pieces([one.number for one in run], by_number.__getitem__))
    return "".join(_seed_iterations(iter([run]), headed=False))


def seed_pieces(numbers: Sequence[int], iteration: Callable[[int], Iteration]) -> Iterator[str]:
    """:func:`render_seed` of iterations ``numbers``, one iteration at a time (recorded by ``iteration``)."""
    headed = len(numbers) > 1 or iteration(numbers[0]).scenario.training is not None
    return _seed_iterations((iteration(i) for i in numbers), headed)


def _seed_iterations(runs: Iterator[Iteration], headed: bool) -> Iterator[str]:
    """Each iteration's printout in turn (under its heading when ``headed``), then the closing block,
    written from the first of them."""
    closing = ""
    for k, one in enumerate(runs):
        book = notebook(one.scenario)
        if not k:
            closing = _seed_closing(one, book)
        head = TEXT["iteration"].format(i=one.number) + "\n" if headed else ""
        yield ("\n" if k else "") + head + _seed_one(one, book)
        del one
    yield "\n" + closing


def _seed_one(run: Iteration, book: Notebook) -> str:
    sc = run.scenario
    L = len(run.layers)
    by_kind = {(s.kind, s.layer, s.param): s.value for s in run.steps}
    y = run.output.value
    out: list[str] = []
    with np.printoptions(precision=8, linewidth=75):  # numpy's defaults, whatever the caller set
        if book.input == "first":
            _print_vec(out, "入力", _as_written(sc, "x", run.x))
        if book.headings:
            i = run.number
            out.append(TEXT["init"] if i == 1 else TEXT["init_later"].format(i=i, before=i - 1))
        if book.parameters:
            for kind in names.PARAMS:
                for l, layer in enumerate(run.layers, start=1):
                    _print_vec(out, _seed_label(kind, l, L),
                               _as_written(sc, names.param(kind, l), getattr(layer, kind)))
        if book.input == "after_parameters":
            _print_vec(out, "入力", _as_written(sc, "x", run.x))
        if book.headings:
            out.append(TEXT["forward"])
        for step in run.steps:
            if step.phase == "forward":
                _print_vec(out, _seed_label(step.kind, step.layer, L), step.value)
        if book.headings:
            out += [TEXT["total"].format(total=exact(np.sum(y))), ""]
        if sc.loss is None:
            return "\n".join(out)
        loss = exact(course_loss(run))
        if book.loss_unprinted:  # where the notebook computes it, between the forward and backward pass
            out.pop()
            _print_vec(out, "誤差", loss)
            out.append("")
        else:
            out.append(TEXT["result"])
            if book.result_hidden:
                _print_vec(out, "中間層出力", by_kind[("activation", L - 1, None)])
            _print_vec(out, "出力", y)
            _print_vec(out, "訓練データ", _as_written(sc, "d", run.d))
            _print_vec(out, "誤差", loss)
            out.append("")
        out.append(TEXT["backward"])
        for kind, param in (("delta", None), ("grad_W", "W"), ("grad_b", "b")):
            for l in (range(L, 0, -1) if kind == "delta" else range(1, L + 1)):
                _print_vec(out, _seed_label(kind, l, L), by_kind[(kind, l, param)])
        out += [TEXT["result"], TEXT["updated"]]
        for kind in names.PARAMS:
            for l in range(1, L + 1):
                _print_vec(out, _seed_label(kind, l, L), by_kind[("update", l, kind)])
    return "\n".join(out)


def _seed_closing(run: Iteration, book: Notebook) -> str:
    """The closing block: which notebook the printout is laid out as, and, in print order, each place where
    the notebook prints something else, or where nnstep prints more or less than it. No ``*** ***`` line:
    whoever reads the printout's blocks back reads none here."""
    sc, T = run.scenario, TEXT
    L = len(run.layers)
    forward = [s for s in run.steps if s.phase == "forward"]
    lines: list[str] = []
    if book.number_bias:
        with np.printoptions(precision=8, linewidth=75):
            lines.append(T["number_bias"].format(b=str(_as_written(sc, names.param("b", 1), run.layers[0].b))))
    if sc.reshaped:
        shown = [n for n in names.parameters(L) if n in sc.reshaped]
        lines.append(T["reshaped"].format(names=" and ".join(shown), file=sc.params_file,
                                          them="them" if len(shown) > 1 else "it"))
    if book.forward is not None and len(forward) - 1 > book.forward:
        extra = [_seed_label(s.kind, s.layer, L) for s in forward[book.forward:-1]]
        lines.append(T["beyond_forward"].format(labels=", ".join(extra), them="them" if len(extra) > 1 else "it"))
    if book.output_is_z1:
        lines.append(T["output_is_z1"])
    if book.total_of_z1:
        z1 = next(s.value for s in forward if s.kind == "activation" and s.layer == 1)
        lines.append(T["total_of_z1"].format(z1=exact(np.sum(z1))))
    if book.headings and ACTIVATIONS[sc.layers[-1].activation].rowwise:
        lines.append(T["rowwise_total"].format(rows=float(1 if run.x.ndim == 1 else run.x.shape[0])))
    if sc.loss is None:
        for wanted, key in ((book.result, "missing_result"), (book.backward, "missing_backward")):
            if wanted:
                lines.append(T["missing"].format(what=T[key], which=T[key + "_which"]))
    else:
        if book.loss_unprinted:
            lines.append(T["loss_unprinted"])
        elif not book.result:
            lines.append(T["beyond_result"])
        why = LOSSES[sc.loss].course_difference(run.output.value, run.d, course_loss(run), run.loss)
        if why and sc.training is not None:
            lines.append(T["loss_value_training"].format(i=run.number, why=why))
        elif why:
            lines.append(T["loss_value"].format(why=why))
        if book.deltas_as_du2:
            lines.append(T["deltas_as_du2"])
        if not book.backward:
            lines.append(T["beyond_backward"].format(lr=f"{sc.learning_rate:g}"))
    if book.name in ("layout_none", "layout_training"):
        head = T[book.name].format(shape=sc.shape)
    else:
        head = T["layout"].format(notebook=T[book.name], shape=sc.shape,
                                  rest=T["layout_rest"] if lines else T["layout_same"])
    return "\n".join([T["closing"], head] + lines) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "seed": render_seed}
#: The same renderings piece by piece, for any number of iterations: ``PIECES[format](numbers, iteration)``.
PIECES = {"text": text_pieces, "json": json_pieces, "seed": seed_pieces}
