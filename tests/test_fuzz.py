"""Fuzzing the loader and every verb: whatever a scenario file holds, nnstep answers with an exit code
and at most a line of explanation, never a traceback, and never takes long to say no.

Files are drawn by hypothesis from a grammar of scenario files: mostly well-formed, with every kind of
value in every place (huge integers, 1e308, strings with escapes, nesting, wrong types), so that both
validation and the maths behind it get exercised. Sizes are drawn either small (so the verbs really
run) or beyond every limit (so they must be refused at once). Bounded in examples and time for CI.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnstep.engine.cli import main
from nnstep.engine.ops import ACTIVATIONS, LOSSES

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                    derandomize=True)
#: No verb may take longer than this on a drawn file (they are small, or refused).
SECONDS = 10.0

numbers = st.one_of(
    st.integers(-3, 3), st.floats(-3, 3, allow_nan=False), st.sampled_from([0, 1e308, -1e308, 1e-308, 5e-324]),
    st.integers(min_value=10**12, max_value=10**30), st.just(10**400), st.just(-(2**64)))
strings = st.one_of(st.sampled_from(["relu", "ReLU", "mse", "all", "", "randn", "epoch", "normal"]),
                    st.text(st.characters(codec="utf-8"), max_size=12),
                    st.just("\u001b]0;T\u0007\u001b[2J\u001b]52;c;aGk=\u0007"))
scalars = st.one_of(numbers, strings, st.booleans())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=12)


def vector(n: int):
    return st.lists(st.floats(-2, 2, allow_nan=False).map(lambda v: round(v, 3)), min_size=n, max_size=n)


@st.composite
def matrices(draw, rows: int, cols: int):
    return draw(st.lists(vector(cols), min_size=rows, max_size=rows))


@st.composite
def scenario_docs(draw) -> dict:
    """A scenario as a TOML-able dict, well-formed unless a perturbation below says otherwise."""
    widths = [draw(st.integers(1, 4)) for _ in range(draw(st.integers(2, 4)))]
    loss = draw(st.sampled_from([None, *LOSSES]))
    acts = [draw(st.sampled_from(list(ACTIVATIONS))) for _ in widths[1:]]
    if loss is not None and LOSSES[loss].requires:
        acts[-1] = LOSSES[loss].requires
        if loss == "binary_cross_entropy":
            widths[-1] = 1
        if loss == "cross_entropy" and widths[-1] < 2:
            widths[-1] = 2
    batch = draw(st.sampled_from([None, 1, 3]))
    doc: dict = {"name": draw(strings), "description": draw(strings)}
    if loss is not None:
        doc["loss"] = loss
        doc["learning_rate"] = draw(st.sampled_from([0.1, 0.01, 1e300]))
    layers = []
    for l, act in enumerate(acts):
        if draw(st.booleans()):
            layers.append({"W": draw(matrices(widths[l], widths[l + 1])), "b": draw(vector(widths[l + 1])),
                           "activation": act})
        else:
            layers.append({"units": widths[l + 1], "activation": act,
                           "init": draw(st.sampled_from(["randn", "xavier", "he", "zeros"]))})
    doc["layers"] = layers
    training = loss is not None and draw(st.booleans())
    if training:
        doc["training"] = {"iterations": draw(st.one_of(st.integers(1, 12), st.integers(10**12, 10**20))),
                           "batch_size": draw(st.sampled_from(["all", 1, 2])), "seed": draw(st.integers(0, 5))}
        doc["data"] = {"samples": draw(st.one_of(st.integers(2, 20), st.just(10**400))),
                       "inputs": {"distribution": "uniform", "features": widths[0]},
                       "target": {"linear": draw(vector(widths[0])), "bias": 0.0}}
        if LOSSES[loss].classifier:
            doc.pop("data")
            training = False
            doc.pop("training")
    if not training:
        rows = batch or 1
        x = draw(matrices(rows, widths[0])) if batch else draw(vector(widths[0]))
        doc["x"] = x
        if loss is not None:
            if loss == "cross_entropy":
                eye = np.eye(widths[-1])[[draw(st.integers(0, widths[-1] - 1)) for _ in range(rows)]]
                d = eye.tolist() if batch else eye[0].tolist()
            elif loss == "binary_cross_entropy":
                d = [[float(draw(st.integers(0, 1)))] for _ in range(rows)] if batch else [1.0]
            else:
                d = draw(matrices(rows, widths[-1])) if batch else draw(vector(widths[-1]))
            doc["d"] = d
    # Perturbations: a value anywhere replaced by anything, a key added, a table emptied.
    for _ in range(draw(st.integers(0, 2))):
        where = draw(st.sampled_from(["top", "layer", "training", "data", "add"]))
        if where == "top":
            key = draw(st.sampled_from([k for k in doc if k != "layers"] or ["x"]))
            doc[key] = draw(values)
        elif where == "layer":
            layer = draw(st.sampled_from(layers))
            layer[draw(st.sampled_from(["W", "b", "activation", "units", "scale", "init"]))] = draw(values)
        elif where in ("training", "data") and where in doc:
            table = doc[where]
            table[draw(st.sampled_from(sorted(table)))] = draw(values)
        else:
            doc[draw(strings) or "extra"] = draw(values)
    return doc


def toml_string(text: str) -> str:
    """A TOML basic string: controls and DEL escaped as \\uXXXX, everything else as itself."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return toml_string(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(item) for item in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{toml_string(k)} = {toml_value(item)}" for k, item in v.items()) + " }"
    raise TypeError(v)


def toml_text(doc: dict) -> str:
    lines = [f"{toml_string(k)} = {toml_value(v)}" for k, v in doc.items() if k not in ("layers", "training", "data")]
    for table in ("training", "data"):
        if isinstance(doc.get(table), dict):
            lines += [f"[{table}]"] + [f"{toml_string(k)} = {toml_value(v)}" for k, v in doc[table].items()]
        elif table in doc:
            lines.insert(0, f"{table} = {toml_value(doc[table])}")
    for layer in doc["layers"]:
        lines += ["[[layers]]"] + [f"{toml_string(k)} = {toml_value(v)}" for k, v in layer.items()]
    return "\n".join(lines) + "\n"


def run_verb(argv: list[str]) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - start


VERBS = [["trace"], ["trace", "--format", "json"], ["trace", "--format", "seed"], ["check"], ["train"],
         ["explain", "y", "0"], ["explain", "loss", "--chain"], ["explain", "update:W1", "0,0", "--chain", "--format",
                                                                "json"]]


@SETTINGS
@given(doc=scenario_docs(), verb=st.sampled_from(VERBS))
def test_every_verb_answers_any_scenario_with_an_exit_code_and_no_traceback(tmp_path_factory, doc, verb):
    path = tmp_path_factory.mktemp("fuzz") / "s.toml"
    path.write_text(toml_text(doc), encoding="utf-8")
    code, out, err, seconds = run_verb(verb[:1] + [str(path)] + verb[1:])
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in err
    assert seconds < SECONDS, (verb, seconds)
    if code == 2:
        assert err.startswith("nnstep: ") and len(err.strip().splitlines()) == 1, err
    for text in (out, err):
        assert "\u001b" not in text and "\u0007" not in text  # a file's escapes never reach the terminal
    if "json" in verb and code == 0:
        json.loads(out)  # valid JSON, whatever the numbers became


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(tokens=st.lists(st.sampled_from(list("[]{}=\",.x1e-+ \n#'abcd") + ["[[layers]]", "W", "layers", "x = "]),
                       max_size=40))
def test_the_loader_answers_any_text(tmp_path_factory, tokens):
    text = "".join(tokens)
    path = tmp_path_factory.mktemp("fuzz") / "t.toml"
    path.write_text(text, encoding="utf-8")
    code, _, err, seconds = run_verb(["trace", str(path)])
    assert code in (0, 2) and "Traceback" not in err and seconds < SECONDS
