"""The command line, run as a user runs it (a subprocess): every verb, every format, every exit code.

Exit codes: 0 ok, 1 a gradient check failed, 2 bad input or usage.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from nnstep.engine.bundled import bundled_scenarios

BUNDLED = {p.stem: p for p in bundled_scenarios()}
WITH_LOSS = sorted(name for name, p in BUNDLED.items() if "loss" in tomllib.loads(p.read_text("utf-8")))
FORWARD_ONLY = sorted(set(BUNDLED) - set(WITH_LOSS))
FORMATS = ("text", "json", "seed")
PHASES = ("forward", "loss", "backward", "update")
STEP_KEYS = {"index", "iteration", "phase", "layer", "name", "formula", "inputs", "value"}


def cli_run(*args: str | Path, cwd: Path | None = None, **env) -> subprocess.CompletedProcess:
    """``python -m nnstep.engine.cli ARGS`` with its output captured as UTF-8 text."""
    return subprocess.run([sys.executable, "-m", "nnstep.engine.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, encoding="utf-8", timeout=120,
                          env={**os.environ, **env})


def cli_json(name: str) -> dict:
    result = cli_run("trace", name, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def cli_layer_count(name: str) -> int:
    return len(tomllib.loads(BUNDLED[name].read_text("utf-8"))["layers"])


def test_the_bundled_scenarios_are_found():
    assert len(BUNDLED) >= 2
    assert "backprop_2_3_2" in BUNDLED
    assert WITH_LOSS and FORWARD_ONLY


# --- trace --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_trace_every_bundled_scenario_in_every_format(name, fmt):
    result = cli_run("trace", BUNDLED[name], "--format", fmt)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert result.stderr == ""


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_a_bundled_name_works_as_FILE(name, tmp_path):
    by_name = cli_run("trace", name, "--format", "json", cwd=tmp_path)
    by_name_toml = cli_run("trace", f"{name}.toml", "--format", "json", cwd=tmp_path)
    by_path = cli_run("trace", BUNDLED[name], "--format", "json", cwd=tmp_path)
    for result in (by_name, by_name_toml, by_path):
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
    assert json.loads(by_name.stdout)["steps"] == json.loads(by_path.stdout)["steps"]
    assert json.loads(by_name_toml.stdout)["steps"] == json.loads(by_path.stdout)["steps"]


def test_text_is_the_default_format():
    default = cli_run("trace", "backprop_2_3_2")
    text = cli_run("trace", "backprop_2_3_2", "--format", "text")
    assert default.returncode == 0 and default.stdout == text.stdout


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_text_lists_the_phases_in_order(name):
    out = cli_run("trace", name).stdout
    headers = re.findall(r"^== (FORWARD|LOSS|BACKWARD|UPDATE) ", out, flags=re.M)
    expected = ["FORWARD", "LOSS", "BACKWARD", "UPDATE"] if name in WITH_LOSS else ["FORWARD"]
    assert headers == expected


# --- the JSON contract --------------------------------------------------------------------------------


def _floats_only(value) -> bool:
    """A nested list of floats (or one float, for a 0-d array such as the loss)."""
    if isinstance(value, list):
        return bool(value) and all(_floats_only(v) for v in value)
    return type(value) is float


def _depth(value) -> int:
    return 1 + _depth(value[0]) if isinstance(value, list) else 0


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_json_contract(name):
    result = cli_run("trace", name, "--format", "json")
    doc = json.loads(result.stdout)
    training = doc["scenario"]["training"] is not None
    assert set(doc) == ({"scenario", "steps", "iterations"} if training else {"scenario", "steps", "loss_after_update"})
    assert isinstance(doc["scenario"], dict)
    # The loss the updated parameters give on the same batch: the document's own for one iteration, else
    # each traced iteration's; null without a loss.
    afters = [one["loss_after_update"] for one in doc["iterations"]] if training else [doc["loss_after_update"]]
    assert all((type(a) is float) if name in WITH_LOSS else a is None for a in afters), afters
    steps = doc["steps"]
    assert steps
    for step in steps:
        assert set(step) == STEP_KEYS, step["name"]
        assert isinstance(step["iteration"], int)
        assert step["layer"] is None or (isinstance(step["layer"], int) and step["layer"] >= 1)
        assert isinstance(step["name"], str) and step["name"]
        assert isinstance(step["formula"], str) and step["formula"]
        assert isinstance(step["inputs"], dict) and step["inputs"]
        for input_name, array in step["inputs"].items():
            assert _floats_only(array), (step["name"], input_name, array)
        assert _floats_only(step["value"]), (step["name"], step["value"])
        assert _depth(step["value"]) <= 2
    assert [s["index"] for s in steps] == list(range(len(steps)))
    order = [PHASES.index(s["phase"]) for s in steps]
    assert order == sorted(order), [s["phase"] for s in steps]
    L = cli_layer_count(name)
    if name in WITH_LOSS:
        assert [p for p in PHASES if p in {s["phase"] for s in steps}] == list(PHASES)
        loss = [s for s in steps if s["phase"] == "loss"]
        assert len(loss) == 1 and loss[0]["layer"] is None and type(loss[0]["value"]) is float
        updates = [s for s in steps if s["phase"] == "update"]
        assert sorted(s["name"] for s in updates) == sorted([f"W{l}" for l in range(1, L + 1)]
                                                           + [f"b{l}" for l in range(1, L + 1)])
        for s in updates:
            assert s["layer"] == int(s["name"][1:])
        # Only update steps produce W1, b1, …
        assert all(s["phase"] == "update" for s in steps if re.fullmatch(r"[Wb]\d+", s["name"]))
        # An updated parameter keeps the shape of the parameter in the scenario.
        layers = doc["scenario"]["layers"]
        for s in updates:
            start = layers[s["layer"] - 1][s["name"][0]]
            assert len(s["value"]) == len(start)
            if s["name"][0] == "W":
                assert [len(r) for r in s["value"]] == [len(r) for r in start]
    else:
        assert {s["phase"] for s in steps} == {"forward"}
        assert len(steps) == 2 * L


def test_json_carries_the_numbers():
    doc = cli_json("backprop_2_3_2")
    by_name = {(s["phase"], s["name"]): s["value"] for s in doc["steps"]}
    assert by_name[("forward", "y")][0][0] == pytest.approx(0.08706577, abs=1e-8)
    assert by_name[("backward", "delta1")][0][0] == pytest.approx(-0.02611973, abs=1e-8)
    assert by_name[("update", "W1")][0][0] == pytest.approx(0.1002612, abs=1e-8)
    assert by_name[("update", "b2")][0] == pytest.approx(0.09912934, abs=1e-8)
    assert doc["scenario"]["name"] == "2-3-2 backprop, one update"


# --- the seed format ----------------------------------------------------------------------------------


def test_seed_format_of_backprop_2_3_2():
    result = cli_run("trace", "backprop_2_3_2", "--format", "seed")
    assert result.returncode == 0 and result.stderr == ""
    out = result.stdout
    for number in ("0.08706577", "-0.02611973", "0.1002612", "0.09912934"):
        assert number in out
    labels = ["*** 総入力1 ***", "*** 中間層出力1 ***", "*** 出力1 ***", "*** 誤差 ***", "*** 偏微分_dE/du2 ***",
              "*** 偏微分_重み1 ***", "*** 偏微分_バイアス1 ***", "*** 重み1 ***"]
    for label in labels:
        assert label in out
    # The labels come in the notebook's order: forward, error, backward, then the updated weights.
    positions = [out.index(label) for label in labels[:7]]
    assert positions == sorted(positions)
    assert out.rindex("*** 重み1 ***") > out.index("*** 偏微分_バイアス1 ***")


def test_seed_prints_integers_beyond_int64_as_written(tmp_path):
    """The seed format prints integer-only arrays as integers; one beyond int64 must not wrap around."""
    path = tmp_path / "big_ints.toml"
    path.write_text('x = [10000000000000000000000, 2]\n\n[[layers]]\nW = [[1], [1]]\nb = [0]\n'
                    'activation = "identity"\n', encoding="utf-8")
    result = cli_run("trace", path, "--format", "seed")
    assert result.returncode == 0
    assert result.stderr == ""  # no RuntimeWarning from a failed cast
    assert "-9223372036854775808" not in result.stdout
    assert "10000000000000000000000" in result.stdout or "1.e+22" in result.stdout


# --- check --------------------------------------------------------------------------------------------


def _table(out: str) -> dict[str, str]:
    """The check table's rows: array name → result word."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^((?:delta|grad_W|grad_b)\d+)\s.*\s(pass|FAIL)$", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


@pytest.mark.parametrize("name", WITH_LOSS)
def test_check_passes_on_every_bundled_scenario_with_a_loss(name):
    result = cli_run("check", name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    L = cli_layer_count(name)
    expected = {f"{kind}{l}" for kind in ("delta", "grad_W", "grad_b") for l in range(1, L + 1)}
    assert _table(result.stdout) == {array: "pass" for array in expected}
    assert "FAIL" not in result.stdout


@pytest.mark.parametrize("name", FORWARD_ONLY)
def test_check_of_a_forward_only_scenario_says_there_is_nothing_to_check(name):
    result = cli_run("check", name)
    assert result.returncode == 0
    assert result.stderr == ""
    assert "forward-only" in result.stdout and "no gradients" in result.stdout
    assert _table(result.stdout) == {}


KINK = """\
name = "a ReLU unit exactly at its kink"
loss = "cross_entropy"
learning_rate = 0.01
x = [1.0, 2.0]
d = [0, 0, 0, 1]

[[layers]]
W = [[0.1, 0.3, 1.0], [0.2, 0.4, -0.5]]   # the third unit: u = 1.0·1.0 + 2.0·(−0.5) + 0.0 = 0 exactly
b = [0.1, 0.2, {b3}]
activation = "relu"

[[layers]]
W = [[0.1, 0.4, 0.7, 1.0], [0.2, 0.5, 0.8, 1.1], [0.3, 0.6, 0.9, 1.2]]
b = [0.1, 0.2, 0.3, 0.4]
activation = "softmax"
"""


def test_check_fails_at_a_relu_kink(tmp_path):
    path = tmp_path / "kink.toml"
    path.write_text(KINK.format(b3="0.0"), encoding="utf-8")
    trace = json.loads(cli_run("trace", path, "--format", "json").stdout)
    u1 = next(s["value"] for s in trace["steps"] if s["name"] == "u1")
    assert u1[2] == 0.0  # the kink, exactly

    result = cli_run("check", path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == ""
    table = _table(result.stdout)
    # Only what lies below the kinked unit disagrees: the layer-2 gradients do not move u1.
    assert table == {"delta2": "pass", "grad_W2": "pass", "grad_b2": "pass",
                     "delta1": "FAIL", "grad_W1": "FAIL", "grad_b1": "FAIL"}
    assert "FAIL" in result.stdout
    note = [line for line in result.stdout.splitlines() if line.startswith("note:")]
    assert len(note) == 1 and "u1" in note[0] and "kink" in note[0] and "relu" in note[0]


def test_check_passes_just_off_the_kink(tmp_path):
    """The same network with u = 0.01 (far beyond the step h) passes: the failure above is the kink's."""
    path = tmp_path / "near.toml"
    path.write_text(KINK.format(b3="0.01"), encoding="utf-8")
    result = cli_run("check", path)
    assert result.returncode == 0, result.stdout
    assert set(_table(result.stdout).values()) == {"pass"}
    assert "note:" not in result.stdout


# --- list, help, version, usage -----------------------------------------------------------------------


def test_list_names_every_bundled_scenario():
    result = cli_run("list")
    assert result.returncode == 0 and result.stderr == ""
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert listed == sorted(BUNDLED)


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["trace", "--help"], ["check", "--help"], ["list", "--help"]])
def test_help_exits_0(args):
    result = cli_run(*args)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: nnstep")
    assert result.stderr == ""


def test_help_names_the_verbs_and_exit_codes():
    out = cli_run("--help").stdout
    for word in ("trace", "check", "list", "exit codes"):
        assert word in out


def test_version_exits_0():
    from nnstep.engine import __version__

    result = cli_run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"nnstep {__version__}"


@pytest.mark.parametrize("args, words", [
    ([], "required"),
    (["frobnicate", "backprop_2_3_2"], "invalid choice"),
    (["trace", "backprop_2_3_2", "--format", "yaml"], "invalid choice"),
    (["trace"], "FILE"),
    (["check"], "FILE"),
    (["trace", "backprop_2_3_2", "extra"], "unrecognized arguments"),
], ids=["no_verb", "unknown_verb", "unknown_format", "trace_without_FILE", "check_without_FILE", "extra_argument"])
def test_usage_errors_exit_2(args, words):
    result = cli_run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage: nnstep" in result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_the_console_script_runs():
    script = Path(sys.executable).with_name("nnstep")
    if not script.exists():
        pytest.skip("no nnstep console script beside this Python")
    result = subprocess.run([str(script), "check", "backprop_2_3_2"], capture_output=True, text=True,
                            encoding="utf-8", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "all 6 gradients agree" in result.stdout


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["trace", "--help"], []])
def test_help_does_not_import_numpy(args):
    code = ("import sys\n"
            "from nnstep.engine.cli import main\n"
            "try:\n"
            f"    main({args!r})\n"
            "except SystemExit:\n"
            "    pass\n"
            "print('numpy' in sys.modules, 'nnstep.engine.scenario' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "False False", result.stdout + result.stderr


# --- the reader goes away -----------------------------------------------------------------------------


def _big_scenario(path: Path, width: int = 30, layers: int = 20) -> Path:
    """A forward and backward pass whose trace runs to about a megabyte, far beyond a pipe's 64 KiB buffer.

    Arrays stay under numpy's summarising threshold (1000 elements), so every number is printed."""
    row = "[" + ", ".join(f"{0.01 * ((i % 7) - 3):.2f}" for i in range(width)) + "]"
    W = "[" + ", ".join([row] * width) + "]"
    b = "[" + ", ".join(["0.1"] * width) + "]"
    x = "[" + ", ".join(["1.0"] * width) + "]"
    d = "[" + ", ".join(["0.5"] * width) + "]"
    text = f'name = "big"\nloss = "mse"\nlearning_rate = 0.01\nx = {x}\nd = {d}\n'
    for _ in range(layers):
        text += f'\n[[layers]]\nW = {W}\nb = {b}\nactivation = "tanh"\n'
    path.write_text(text, encoding="utf-8")
    return path


def _pipe_env() -> dict[str, str]:
    """The environment of a user's shell: stdout block-buffered. (Under PYTHONUNBUFFERED, Python's
    unbuffered text stdout ignores a short write to a closed pipe, and no error would ever be raised.)"""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED", "PYTHONIOENCODING")}


def _read_a_little_then_close(command: list[str]) -> tuple[int, str]:
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_pipe_env())
    first = proc.stdout.readline()
    assert first
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err.decode("utf-8", "replace")


def test_the_pipe_procedure_does_break_a_naive_writer():
    """A control: the same procedure makes a plain Python writer fail loudly, so the tests below can see it."""
    code, err = _read_a_little_then_close([sys.executable, "-c", "import sys; sys.stdout.write('x\\n' * 700_000)"])
    assert "BrokenPipeError" in err and code == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_closing_the_pipe_early_is_quiet(tmp_path, fmt):
    """`nnstep trace BIG | head -1`: the reader leaves after one line; no traceback, no error at exit."""
    path = _big_scenario(tmp_path / "big.toml")
    full = cli_run("trace", path, "--format", fmt)
    assert full.returncode == 0 and len(full.stdout.encode()) > 500_000  # the pipe really fills
    code, err = _read_a_little_then_close([sys.executable, "-m", "nnstep.engine.cli", "trace", str(path), "--format", fmt])
    assert "Traceback" not in err, err
    assert "Exception ignored" not in err, err
    assert "BrokenPipe" not in err, err
    assert code in (0, 141, -13), (code, err)  # 0, or quietly ended by SIGPIPE


def test_closing_the_pipe_early_is_quiet_with_the_console_script(tmp_path):
    script = Path(sys.executable).with_name("nnstep")
    if not script.exists():
        pytest.skip("no nnstep console script beside this Python")
    path = _big_scenario(tmp_path / "big.toml")
    code, err = _read_a_little_then_close([str(script), "trace", str(path), "--format", "json"])
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert code in (0, 141, -13), (code, err)


# --- output that the terminal cannot encode ------------------------------------------------------------


def test_a_non_utf8_stdout_gives_no_traceback():
    """With a stdout that cannot encode the seed's Japanese labels (a latin-1 or ASCII locale, a Windows
    console), nnstep must not crash with a traceback: it should either escape the characters or stop with
    one clear message."""
    result = subprocess.run([sys.executable, "-m", "nnstep.engine.cli", "trace", "backprop_2_3_2", "--format", "seed"],
                            capture_output=True, timeout=60,
                            env={**os.environ, "PYTHONIOENCODING": "ascii", "PYTHONUTF8": "0"})
    err = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    assert result.returncode in (0, 2)


# --- reading the text trace in a terminal ----------------------------------------------------------


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("name", ["classify_2_3_4", "binary_2_3_1", "three_layer"])
def test_text_trace_fits_the_terminal_width(name, columns):
    result = cli_run("trace", name, COLUMNS=str(columns))
    assert result.returncode == 0
    too_long = [line for line in result.stdout.splitlines() if len(line) > columns]
    assert not too_long, too_long


def test_notes_never_break_a_formula_across_lines():
    out = cli_run("trace", "binary_2_3_1", COLUMNS="80").stdout
    assert not any(line.rstrip().endswith((" y", "−")) for line in out.splitlines())
    assert "y − d" in out


def test_text_trace_shows_the_description_and_what_a_forward_only_run_ignores(tmp_path):
    out = cli_run("trace", "classify_2_3_4").stdout
    assert "Softmax turns u2 into probabilities" in out
    path = tmp_path / "no_loss.toml"
    path.write_text("learning_rate = 0.1\nx = [1.0]\nd = [2.0]\n[[layers]]\nW = [[1.0]]\nb = [0.0]\n"
                    'activation = "identity"\n', encoding="utf-8")
    out = cli_run("trace", path).stdout
    assert "forward only (no loss key; d and learning_rate not used)" in out


def _overflowing(tmp_path) -> Path:
    path = tmp_path / "overflow.toml"
    path.write_text('loss = "mse"\nlearning_rate = 0.1\nx = [1e200, 2e200]\nd = [1.0]\n[[layers]]\n'
                    'W = [[1e200], [1e200]]\nb = [0.0]\nactivation = "identity"\n', encoding="utf-8")
    return path


def test_overflow_is_named_in_the_trace_and_the_check(tmp_path):
    path = _overflowing(tmp_path)
    trace = cli_run("trace", path)
    assert trace.returncode == 0 and trace.stderr == ""
    assert "Overflow: u1 is not finite (inf or nan)" in trace.stdout
    check = cli_run("check", path)
    assert check.returncode == 1 and check.stderr == ""
    assert "note: u1 is the first step to overflow" in check.stdout


def test_a_bundled_scenario_path_outside_the_repository_points_to_its_name(tmp_path):
    result = cli_run("trace", "scenarios/backprop_2_3_2.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "`nnstep trace backprop_2_3_2`" in result.stderr
