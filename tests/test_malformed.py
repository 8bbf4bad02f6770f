"""Malformed scenario files, each run through the real command line (``python -m nnstep.engine.cli``).

Every case starts from the scenario form of the issue (VALID below, written exactly as external
tests write it) and makes one small edit. The contract: exit code 2, nothing on stdout, ONE short
line on stderr that names the file, the key (where there is one) and what was expected against what
was found (both shapes for a shape error), and never a traceback. The same holds for ``trace`` in
every format and for ``check``.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

VALID = '''\
name = "2-3-4 multi-class classification"
description = "ReLU hidden layer, softmax output, cross entropy (seed 1_1)"
loss = "cross_entropy"   # mse | cross_entropy | binary_cross_entropy; omit the key for a forward-only run
learning_rate = 0.01     # > 0
x = [1.0, 2.0]           # one sample as a vector, or a batch as a matrix (one row per sample)
d = [0, 0, 0, 1]         # the target, same shape as the output

[[layers]]
W = [[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]   # shape (inputs, units)
b = [0.1, 0.2, 0.3]
activation = "relu"      # identity | relu | sigmoid | tanh | step | softmax

[[layers]]
W = [[0.1, 0.4, 0.7, 1.0], [0.2, 0.5, 0.8, 1.1], [0.3, 0.6, 0.9, 1.2]]
b = [0.1, 0.2, 0.3, 0.4]
activation = "softmax"
'''

# Lines of VALID that the edits below address (each occurs exactly once).
LOSS = 'loss = "cross_entropy"'
LR = "learning_rate = 0.01"
X = "x = [1.0, 2.0]"
D = "d = [0, 0, 0, 1]"
W1 = "W = [[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]"
B1 = "b = [0.1, 0.2, 0.3]\n"
ACT1 = 'activation = "relu"'
W2 = "W = [[0.1, 0.4, 0.7, 1.0], [0.2, 0.5, 0.8, 1.1], [0.3, 0.6, 0.9, 1.2]]"
B2 = "b = [0.1, 0.2, 0.3, 0.4]"
ACT2 = 'activation = "softmax"'
HEADER, _, _ = VALID.partition("[[layers]]")  # the top-level keys, before the first table


def sub(*pairs: str) -> Callable[[str], str]:
    """An edit replacing each ``old`` by ``new`` (given as old, new, old, new, …); each old occurs once."""
    assert len(pairs) % 2 == 0

    def edit(text: str) -> str:
        for old, new in zip(pairs[::2], pairs[1::2]):
            assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the scenario"
            text = text.replace(old, new)
        return text

    return edit


def drop(old: str) -> Callable[[str], str]:
    return sub(old, "")


def only(text: str) -> Callable[[str], str]:
    return lambda _: text


@dataclass(frozen=True)
class Case:
    id: str
    #: VALID → the malformed text (or bytes); None when the case makes its own path (missing, folder).
    edit: Callable[[str], str | bytes] | None
    #: The key the message must name, or None for a problem with the whole file.
    key: str | None
    #: Further words a user should see: what was expected and what was found.
    expect: tuple[str, ...]
    #: Words that would read wrongly here.
    forbid: tuple[str, ...] = ()


CASES = [
    # --- the file itself -------------------------------------------------------------------------
    Case("missing_file", None, None, ("no such file",)),
    Case("folder", None, None, ("folder",)),
    Case("not_utf8", lambda t: t.replace("ReLU", "R\xe9LU").encode("latin-1"), None, ("UTF-8", "0xe9")),
    Case("not_toml_unclosed_array", sub(X, "x = [1.0, 2.0"), None, ("not valid TOML", "Unclosed array", "line ")),
    Case("not_toml_bare_word", sub(LR, "learning_rate = fast"), None, ("not valid TOML", "line 4")),
    Case("empty_file", only(""), None, ("the file is empty", "[[layers]]")),
    # --- missing keys ----------------------------------------------------------------------------
    Case("missing_x", drop(X), "x", ("missing",)),
    Case("missing_layers", lambda t: HEADER, "layers", ("missing", "[[layers]]")),
    Case("missing_W", drop(W1), "layers[0].W", ("missing",)),
    Case("missing_b", drop(B2), "layers[1].b", ("missing",)),
    Case("missing_activation", drop(ACT1), "layers[0].activation", ("missing",)),
    Case("missing_d_with_loss", drop(D), "d", ("missing", "cross_entropy", "(4,)")),
    Case("missing_learning_rate_with_loss", drop(LR), "learning_rate", ("missing", "> 0")),
    Case("empty_layers_array", lambda t: HEADER + "layers = []\n", "layers", ("at least one",)),
    # --- unknown keys ----------------------------------------------------------------------------
    Case("unknown_top_key_typo", sub(LR, "lerning_rate = 0.01"), "lerning_rate",
         ("unknown key", "did you mean 'learning_rate'")),
    Case("unknown_top_key_no_match", sub(LR, LR + "\nepochs = 3"), "epochs", ("unknown key", "learning_rate")),
    Case("unknown_layer_key_typo", sub(ACT1, 'activaton = "relu"'), "layers[0].activaton",
         ("unknown key", "did you mean 'activation'")),
    Case("unknown_layer_key", sub(B2, B2 + "\ndropout = 0.5"), "layers[1].dropout", ("unknown key", "W, b")),
    # --- wrong types -----------------------------------------------------------------------------
    Case("string_learning_rate", sub(LR, 'learning_rate = "0.01"'), "learning_rate",
         ("expected a number", 'string ("0.01")')),
    Case("boolean_learning_rate", sub(LR, "learning_rate = true"), "learning_rate",
         ("expected a number", "boolean")),
    Case("string_in_W", sub(W1, 'W = [[0.1, "0.3", 0.5], [0.2, 0.4, 0.6]]'), "layers[0].W[0][1]",
         ("expected a number", "string")),
    Case("boolean_in_b", sub(B1, "b = [0.1, true, 0.3]\n"), "layers[0].b[1]", ("expected a number", "boolean")),
    Case("string_in_x", sub(X, 'x = ["1.0", 2.0]'), "x[0]", ("expected a number", "string")),
    Case("name_is_a_number", sub('name = "2-3-4 multi-class classification"', "name = 42"), "name",
         ("expected a string", "number")),
    Case("activation_is_a_number", sub(ACT1, "activation = 1"), "layers[0].activation",
         ("expected a string", "number")),
    Case("loss_is_a_boolean", sub(LOSS, "loss = true"), "loss", ("expected a string", "boolean")),
    Case("x_is_a_number", sub(X, "x = 1.0"), "x", ("vector", "number")),
    Case("d_is_a_string", sub(D, 'd = "one-hot"'), "d", ("vector", "string")),
    # --- array shapes ----------------------------------------------------------------------------
    Case("ragged_W", sub(W1, "W = [[0.1, 0.3, 0.5], [0.2, 0.4]]"), "layers[0].W",
         ("different lengths", "row 0 has 3", "row 1 has 2")),
    Case("3d_W", sub(W1, "W = [[[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]]"), "layers[0].W", ("3-D",)),
    Case("3d_x", sub(X, "x = [[[1.0, 2.0]]]"), "x", ("3-D",)),
    Case("empty_x", sub(X, "x = []"), "x", ("empty",)),
    Case("empty_W_row", sub(W1, "W = [[0.1, 0.3, 0.5], []]"), "layers[0].W[1]", ("row of numbers", "empty")),
    Case("empty_b", sub(B2, "b = []"), "layers[1].b", ("vector", "empty")),
    Case("W_is_a_vector", sub(W1, "W = [0.1, 0.3, 0.5]"), "layers[0].W", ("matrix", "vector of 3 numbers")),
    Case("b_is_a_matrix", sub(B1, "b = [[0.1, 0.2, 0.3]]\n"), "layers[0].b", ("vector", "matrix")),
    Case("W_row_is_a_number", sub(W1, "W = [[0.1, 0.3, 0.5], 0.2]"), "layers[0].W[1]", ("row", "number")),
    Case("x_mixes_numbers_and_lists", sub(X, "x = [1.0, [2.0]]"), "x", ("mix",)),
    # A vector where only a vector is allowed: the message should not offer a matrix.
    Case("b_mixes_numbers_and_lists", sub(B1, "b = [0.1, [0.2], 0.3]\n"), "layers[0].b",
         ("expected a vector", "mix of numbers and lists", "element 1")),
    # --- shapes that do not chain ----------------------------------------------------------------
    Case("x_vs_W1", sub(X, "x = [1.0, 2.0, 3.0]"), "layers[0].W", ("x has shape (3,)", "(2, 3)")),
    Case("x_batch_vs_W1", sub(X, "x = [[1.0, 2.0, 3.0]]"), "layers[0].W", ("(1, 3)", "(2, 3)")),
    Case("W1_vs_W2", sub(W2, "W = [[0.1, 0.4, 0.7, 1.0], [0.2, 0.5, 0.8, 1.1]]"), "layers[1].W",
         ("(2, 3)", "(2, 4)")),
    Case("b1_vs_W1", sub(B1, "b = [0.1, 0.2]\n"), "layers[0].b", ("(3,)", "(2,)", "(2, 3)")),
    Case("W2_vs_b2", sub(W2, "W = [[0.1, 0.4, 0.7, 1.0, 1.3], [0.2, 0.5, 0.8, 1.1, 1.4], [0.3, 0.6, 0.9, 1.2, 1.5]]"),
         "layers[1].b", ("(3, 5)", "(5,)", "(4,)")),
    Case("d_vs_output", sub(D, "d = [0, 0, 1]"), "d", ("(4,)", "(3,)")),
    Case("d_vs_output_batch", sub(X, "x = [[1.0, 2.0]]"), "d", ("(1, 4)", "(4,)"), forbid=("1 rows",)),
    Case("batch_size_x2_d1", sub(X, "x = [[1.0, 2.0], [3.0, 4.0]]", D, "d = [[0, 0, 0, 1]]"), "d",
         ("(2, 4)", "(1, 4)", "2 rows")),
    # --- unknown names ---------------------------------------------------------------------------
    Case("unknown_activation_typo", sub(ACT1, 'activation = "rleu"'), "layers[0].activation",
         ("unknown activation 'rleu'", "did you mean 'relu'", "identity, relu, sigmoid, tanh, step, softmax")),
    Case("unknown_activation", sub(ACT2, 'activation = "maxout"'), "layers[1].activation",
         ("unknown activation 'maxout'", "identity, relu")),
    Case("unknown_loss_typo", sub(LOSS, 'loss = "cross_entropi"'), "loss",
         ("unknown loss 'cross_entropi'", "did you mean 'cross_entropy'", "mse")),
    Case("unknown_loss", sub(LOSS, 'loss = "hinge"'), "loss",
         ("unknown loss 'hinge'", "mse, cross_entropy, binary_cross_entropy")),
    # --- numbers out of range --------------------------------------------------------------------
    Case("nan_in_W", sub(W1, "W = [[nan, 0.3, 0.5], [0.2, 0.4, 0.6]]"), "layers[0].W[0][0]", ("finite", "nan")),
    Case("nan_learning_rate", sub(LR, "learning_rate = nan"), "learning_rate", ("finite", "nan")),
    Case("inf_in_x", sub(X, "x = [inf, 2.0]"), "x[0]", ("finite", "inf")),
    Case("minus_inf_in_b", sub(B2, "b = [0.1, 0.2, -inf, 0.4]"), "layers[1].b[2]", ("finite", "-inf")),
    Case("overflowing_float", sub(X, "x = [1e999, 2.0]"), "x[0]", ("finite",)),
    # TOML integers are 64-bit; Python's tomllib reads any length, and float() of this one overflows.
    Case("huge_integer", sub(X, "x = [1" + "0" * 400 + ", 2]"), "x[0]", ("number",)),
    Case("learning_rate_zero", sub(LR, "learning_rate = 0"), "learning_rate", ("> 0", "found 0")),
    Case("learning_rate_negative", sub(LR, "learning_rate = -0.01"), "learning_rate", ("> 0", "-0.01")),
    # --- the loss against the output and the target ----------------------------------------------
    Case("cross_entropy_sigmoid_output", sub(ACT2, 'activation = "sigmoid"'), "layers[1].activation",
         ("cross_entropy", "softmax", "sigmoid")),
    Case("binary_cross_entropy_softmax_output", sub(LOSS, 'loss = "binary_cross_entropy"'),
         "layers[1].activation", ("binary_cross_entropy", "sigmoid", "softmax")),
    Case("cross_entropy_d_sums_to_2", sub(D, "d = [0, 0, 1, 1]"), "d", ("sum to 1", "summing to 2")),
    Case("cross_entropy_batch_row_sums_to_0", sub(X, "x = [[1.0, 2.0], [3.0, 4.0]]",
                                                  D, "d = [[0, 0, 0, 1], [0, 0, 0, 0]]"), "d",
         ("sum to 1", "row 1", "summing to 0")),
    Case("cross_entropy_negative_d", sub(D, "d = [-1, 0, 1, 1]"), "d", ("≥ 0", "-1")),
    Case("binary_cross_entropy_d_above_1",
         sub(LOSS, 'loss = "binary_cross_entropy"', ACT2, 'activation = "sigmoid"', D, "d = [0, 0, 2, 1]"), "d",
         ("between 0 and 1", "2")),
    Case("binary_cross_entropy_d_below_0",
         sub(LOSS, 'loss = "binary_cross_entropy"', ACT2, 'activation = "sigmoid"', D, "d = [0, -0.5, 1, 1]"), "d",
         ("between 0 and 1", "-0.5")),
    # --- layers that are not an array of tables --------------------------------------------------
    Case("activation_in_capitals", sub(ACT1, 'activation = "ReLU"'), "layers[0].activation",
         ("unknown activation 'ReLU'", "did you mean 'relu'")),
    Case("lowercase_w", sub(W1, W1.replace("W =", "w =")), "layers[0].w", ("unknown key", "did you mean 'W'")),
    Case("top_level_key_after_layers", lambda t: t.replace(LOSS + "   ", "#", 1) + LOSS + "\n",
         "layers[1].loss", ("top-level key", "before the first")),
    Case("W_transposed", sub(W1, "W = [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]"), "layers[0].W",
         ("expected 2 rows", "(3, 2)", "transposed")),
    Case("layers_is_a_list_of_numbers", lambda t: HEADER + "layers = [1, 2]\n", "layers[0]",
         ("[[layers]] table", "found a number (1)")),
    Case("layers_is_a_string", lambda t: HEADER + 'layers = "relu, softmax"\n', "layers", ("[[layers]]", "string")),
    Case("layers_is_one_table", lambda t: t.replace("[[layers]]", "[layers]", 1).split("[[layers]]")[0], "layers",
         ("[[layers]]", "table")),
]


def _run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nnstep.engine.cli", *map(str, args)],
                          capture_output=True, text=True, encoding="utf-8", timeout=60)


def cli_make_file(tmp_path: Path, case: Case) -> Path:
    """Write the case's file (or make its folder) and return the path to give the command line."""
    if case.id == "missing_file":
        return tmp_path / "no_such_scenario.toml"
    if case.id == "folder":
        folder = tmp_path / "a_folder.toml"
        folder.mkdir()
        return folder
    content = case.edit(VALID)
    path = tmp_path / f"{case.id}.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def assert_one_clear_error(result: subprocess.CompletedProcess, path: Path, case: Case) -> None:
    err = result.stderr
    shown = f"exit {result.returncode}\nstdout: {result.stdout!r}\nstderr: {err!r}"
    assert "Traceback" not in err, shown
    assert result.returncode == 2, shown
    assert result.stdout == "", shown
    assert len(err.strip().splitlines()) == 1, shown
    assert len(err) < 400, shown
    assert str(path) in err, shown
    message = err.replace(str(path), "FILE")  # so that words in the file's name do not count
    if case.key is not None:
        assert case.key in message, shown
    for words in case.expect:
        assert words in message, f"{words!r} not in the message\n{shown}"
    for words in case.forbid:
        assert words not in message, f"{words!r} reads wrongly in the message\n{shown}"


def test_cases_are_distinct_and_many():
    ids = [c.id for c in CASES]
    assert len(set(ids)) == len(ids)
    assert len(CASES) >= 30
    edited = {c.edit(VALID) for c in CASES if c.edit is not None}
    assert VALID not in edited
    assert len(edited) == len([c for c in CASES if c.edit is not None])


@pytest.fixture
def cli_valid_file(tmp_path: Path) -> Path:
    path = tmp_path / "valid.toml"
    path.write_text(VALID, encoding="utf-8")
    return path


def test_the_valid_form_is_accepted(cli_valid_file):
    """The unedited form is accepted, so each failure below comes from its one edit."""
    for verb in ("trace", "check"):
        result = _run(verb, cli_valid_file)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""


@pytest.mark.parametrize("verb", ["trace", "check"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_scenario_gives_one_clear_message(tmp_path, case, verb):
    path = cli_make_file(tmp_path, case)
    assert_one_clear_error(_run(verb, path), path, case)


@pytest.mark.parametrize("fmt", ["text", "json", "seed"])
@pytest.mark.parametrize("case_id", ["W1_vs_W2", "nan_in_W", "missing_file"])
def test_malformed_scenario_in_every_format(tmp_path, case_id, fmt):
    case = next(c for c in CASES if c.id == case_id)
    path = cli_make_file(tmp_path, case)
    assert_one_clear_error(_run("trace", path, "--format", fmt), path, case)


def test_the_console_script_reports_the_same(tmp_path):
    """The installed ``nnstep`` script (not only ``python -m nnstep.engine.cli``) keeps the contract."""
    script = Path(sys.executable).with_name("nnstep")
    if not script.exists():
        pytest.skip("no nnstep console script beside this Python")
    case = next(c for c in CASES if c.id == "unknown_top_key_typo")
    path = cli_make_file(tmp_path, case)
    result = subprocess.run([str(script), "trace", str(path)], capture_output=True, text=True,
                            encoding="utf-8", timeout=60)
    assert_one_clear_error(result, path, case)


def test_a_relative_path_is_named_as_given(tmp_path):
    case = next(c for c in CASES if c.id == "d_vs_output")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bad.toml").write_text(case.edit(VALID), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "nnstep.engine.cli", "trace", "sub/bad.toml"], cwd=tmp_path,
                            capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert_one_clear_error(result, Path("sub/bad.toml"), case)


def test_an_unknown_name_without_a_folder_points_at_the_bundled_scenarios(tmp_path):
    """`nnstep trace backprop_2_3` (a typo of a bundled name) says neither a file nor a bundled name matched."""
    result = subprocess.run([sys.executable, "-m", "nnstep.engine.cli", "trace", "backprop_2_3"], cwd=tmp_path,
                            capture_output=True, text=True, encoding="utf-8", timeout=60)
    case = Case("bundled_typo", None, None, ("no such file", "bundled", "nnstep list"))
    assert_one_clear_error(result, Path("backprop_2_3"), case)
