"""Bad input from someone else's file: one clear line, exit 2, no traceback, no hang, nothing huge.

Each case is one finding of the hardening trial, run through the real command line. A scenario file
comes from a teacher or a classmate; it must not be able to crash, hang, fill the machine or write
to the terminal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nnstep.engine.bundled import find_bundled
from nnstep.engine.limits import DATA_BYTES, MEMORY_BYTES, SCENARIO_BYTES, visible

SGD = Path(find_bundled("sgd_regression")).read_text(encoding="utf-8")
DIGITS = Path(find_bundled("digits_minibatch")).read_text(encoding="utf-8")


def cli(*args, cwd=None, timeout=60, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nnstep.engine.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=timeout,
                          env=env)


def refused(result: subprocess.CompletedProcess, *words: str) -> str:
    """The one line a refusal prints, checked: exit 2, no traceback, every word in it."""
    assert result.returncode == 2, (result.returncode, result.stdout[-500:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def with_line(text: str, key: str, value: str) -> str:
    """``text`` with the first line ``key = …`` set to ``key = value``."""
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if line.split("=")[0].strip() == key)
    lines[i] = f"{key} = {value}"
    return "\n".join(lines) + "\n"


# --- sizes that cannot be had --------------------------------------------------------------------------


@pytest.mark.parametrize("iterations", ["1000000000000", "9223372036854775807", str(2**64), str(10**400)])
def test_iterations_beyond_memory_are_refused_with_the_figure(tmp_path, iterations):
    path = write(tmp_path, with_line(SGD, "iterations", iterations))
    line = refused(cli("trace", path), "training.iterations", "would need about", "nnstep keeps a scenario within 2 GB")
    assert len(line) < 300


def test_many_iterations_of_big_batches_are_refused(tmp_path):
    text = with_line(with_line(DIGITS, "iterations", "10000000"), "batch_size", "1000")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "digits.npz").write_bytes((Path(find_bundled("digits_minibatch")).parent / "data" /
                                                    "digits.npz").read_bytes())
    refused(cli("trace", write(tmp_path, text)), "training.iterations", "batches of 1000", "80.2 GB")


def test_samples_beyond_memory_are_refused(tmp_path):
    refused(cli("trace", write(tmp_path, with_line(SGD, "samples", str(10**400)))), "data.samples", "10^400")


@pytest.mark.parametrize("units", ["100000000000", "1000000000"])
def test_units_beyond_memory_are_refused_before_drawing(tmp_path, units):
    text = 'loss = "mse"\nlearning_rate = 0.1\nx = [1.0, 2.0]\nd = [1.0]\n[[layers]]\nunits = ' + units + \
           '\nactivation = "relu"\n[[layers]]\nunits = 1\nactivation = "identity"\n'
    refused(cli("trace", write(tmp_path, text), timeout=20), "layers[0].units", "would need about")


def test_the_limits_are_the_ones_the_readme_states():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert (SCENARIO_BYTES, MEMORY_BYTES, DATA_BYTES) == (16 * 10**6, 2 * 10**9, 10**9)
    for said in ("16 MB", "2 GB", "1 GB"):
        assert said in readme


# --- numbers that overflow ------------------------------------------------------------------------------


def test_a_uniform_range_wider_than_float64_is_refused(tmp_path):
    text = SGD.replace("low = 0.0", "low = -1e308").replace("high = 1.0", "high = 1e308")
    assert "1e308" in text
    refused(cli("trace", write(tmp_path, text)), "data.inputs", "wider than float64")


@pytest.mark.parametrize("edit, key", [
    (("distribution = \"uniform\", low = 0.0, high = 1.0", "distribution = \"normal\", mean = 1e308, std = 1e308"),
     "data.inputs"),
    (("linear = [3.0, 2.0]", "linear = [1e308, 1e308]"), "data.target"),
])
def test_generated_data_that_overflows_is_refused_without_a_warning(tmp_path, edit, key):
    assert edit[0] in SGD
    result = cli("trace", write(tmp_path, SGD.replace(*edit)))
    refused(result, key, "overflow")
    assert "RuntimeWarning" not in result.stderr


def test_generated_parameters_that_overflow_are_refused(tmp_path):
    text = 'loss = "mse"\nlearning_rate = 0.1\nx = [1.0, 2.0]\nd = [1.0]\n[[layers]]\nunits = 3\n' \
           'scale = 1e308\nactivation = "relu"\n[[layers]]\nunits = 1\nactivation = "identity"\n'
    result = cli("trace", write(tmp_path, text))
    refused(result, "layers[0].scale", "overflow")
    assert "RuntimeWarning" not in result.stderr


def test_a_nan_loss_note_does_not_crash_and_zero_times_log_zero_is_zero(tmp_path):
    text = 'loss = "cross_entropy"\nlearning_rate = 0.1\nx = [1.0]\nd = [1, 0]\n[[layers]]\n' \
           'W = [[1e308, -1e308]]\nb = [0.0, 0.0]\nactivation = "softmax"\n'
    result = cli("trace", write(tmp_path, text), "--format", "json")
    assert result.returncode == 0, result.stderr
    loss = next(s for s in json.loads(result.stdout)["steps"] if s["name"] == "loss")
    assert loss["value"] == 0.0  # −(1·log 1 + 0·log 0): the 0 class adds nothing


# --- files that are not what they say -------------------------------------------------------------------


def test_lists_nested_500_deep_are_refused(tmp_path):
    path = write(tmp_path, "x = " + "[" * 500 + "]" * 500 + "\n")
    refused(cli("trace", path), "nested too deep")


def test_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "f.toml"
    os.mkfifo(fifo)
    refused(cli("trace", fifo, timeout=10), "not a regular file")


def test_dev_zero_behind_a_toml_name_is_refused_at_once(tmp_path):
    link = tmp_path / "z.toml"
    link.symlink_to("/dev/zero")
    refused(cli("trace", link, timeout=10), "not a regular file")


def test_a_file_beyond_the_size_limit_is_refused_unread(tmp_path):
    path = tmp_path / "huge.toml"
    with open(path, "wb") as f:
        f.truncate(SCENARIO_BYTES + 1)  # sparse: nothing written, and nothing should be read
    refused(cli("trace", path, timeout=10), "nnstep reads a scenario file (.toml) of up to 16 MB")


@pytest.mark.parametrize("where", ["name", "data"])
def test_names_too_long_for_the_file_system(tmp_path, where):
    long = "a" * 300
    if where == "name":
        refused(cli("trace", f"{long}.toml", cwd=tmp_path))
        refused(cli("trace", tmp_path / f"{long}.toml"), "file name too long")
    else:
        text = SGD.split("[data]")[0] + f'[data]\nfile = "{long}.npz"\n' + "[[layers]]" + SGD.split("[[layers]]", 1)[1]
        refused(cli("trace", write(tmp_path, text)), "data.file", "file name too long")


def _data_scenario(tmp_path: Path, file: str) -> Path:
    text = ('loss = "mse"\nlearning_rate = 0.1\n[training]\niterations = 2\n[data]\nfile = ' + json.dumps(file) +
            '\n[[layers]]\nunits = 1\nactivation = "identity"\n')
    return write(tmp_path, text)


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def test_a_data_file_must_be_in_the_scenarios_folder(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    _npz(outside / "d.npz", x=np.ones((4, 2)), d=np.ones((4, 1)))
    inside = tmp_path / "scenario"
    (inside / "data").mkdir(parents=True)
    (inside / "link.npz").symlink_to(outside / "d.npz")
    _npz(inside / "data" / "ok.npz", x=np.ones((4, 2)), d=np.ones((4, 1)))
    refused(cli("trace", _data_scenario(inside, str(outside / "d.npz"))), "data.file", "absolute path")
    refused(cli("trace", _data_scenario(inside, "../elsewhere/d.npz")), "data.file", "outside the scenario")
    refused(cli("trace", _data_scenario(inside, "link.npz")), "data.file", "outside the scenario")
    assert cli("trace", _data_scenario(inside, "data/ok.npz")).returncode == 0


def test_a_data_file_in_a_folder_one_may_not_search(tmp_path, monkeypatch):
    """As a user without the right to search the folder (simulated: tests run as root, who may)."""
    from nnstep.engine.scenario import ScenarioError, load_scenario

    (tmp_path / "locked").mkdir()
    _npz(tmp_path / "locked" / "d.npz", x=np.ones((4, 2)), d=np.ones((4, 1)))
    path = _data_scenario(tmp_path, "locked/d.npz")
    real_stat = os.stat

    def stat(p, *args, **kwargs):
        if "locked" in str(p):
            raise PermissionError(13, "Permission denied", str(p))
        return real_stat(p, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value) == f"{path}: data.file: locked/d.npz: cannot be read: permission denied"


def test_an_npz_whose_header_claims_2e12_numbers_is_refused_before_unpacking(tmp_path):
    """610 bytes that would ask numpy for 16 TB."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros((2, 2)))
    header["shape"] = (1000000, 2000000)
    member = bytearray()

    class Sink:
        def write(self, b):
            member.extend(b)

    np.lib.format.write_array_header_1_0(Sink(), header)
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", bytes(member) + b"\0" * 32)
        z.writestr("d.npy", bytes(member) + b"\0" * 32)
    assert path.stat().st_size < 1000
    refused(cli("trace", _data_scenario(tmp_path, "bomb.npz"), timeout=20), "data.file", "declares shape")


def test_a_zip_bomb_npz_is_refused_before_unpacking(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("x.npy", "w", force_zip64=True) as f:
            header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 1)))
            header["shape"] = (DATA_BYTES // 8 // 2 + 1, 2)
            np.lib.format.write_array_header_1_0(f, header)
            block = b"\0" * 2**20
            for _ in range(DATA_BYTES // 2**20 + 8):
                f.write(block)
        z.writestr("d.npy", b"")
    assert path.stat().st_size < 5 * 10**6
    refused(cli("trace", _data_scenario(tmp_path, "bomb.npz"), timeout=30), "data.file", "unpacks to")


# --- text from a file is shown, never obeyed --------------------------------------------------------------


ESCAPES = "\u001b]0;TITLE\u0007\u001b[2J\u001b[1A\u001b[2K\u001b]52;c;aGk=\u0007"


def test_escape_sequences_in_a_scenario_are_made_visible(tmp_path):
    path = write(tmp_path, 'name = ' + json.dumps("evil" + ESCAPES) + '\n' + "\n".join(
        line for line in SGD.splitlines() if not line.startswith("name =")) + "\n")
    result = cli("trace", path)
    assert result.returncode == 0, result.stderr
    assert "\u001b" not in result.stdout and "\u0007" not in result.stdout
    assert "evil\\x1b]0;TITLE\\x07" in result.stdout
    bad_key = write(tmp_path, json.dumps("k" + ESCAPES) + " = 1\n" + SGD, "bad.toml")
    line = refused(cli("trace", bad_key), "unknown key")
    assert "\u001b" not in line and "\\x1b" in line


def test_visible_keeps_text_and_shows_controls():
    assert visible("誤差 · δ = y − d\nnext\tline") == "誤差 · δ = y − d\nnext\tline"
    assert visible("a\u001b[2Jb\rc\u202ed") == "a\\x1b[2Jb\\x0dc\\u202ed"


# --- checks that said pass --------------------------------------------------------------------------------


KINK = """loss = "mse"
learning_rate = 0.1
x = [1.0]
d = [100000.0]
[[layers]]
W = [[1.0, 1.0]]
b = [-1.0, 0.0]
activation = "relu"
[[layers]]
W = [[0.001], [1.0]]
b = [0.0]
activation = "identity"
"""


def test_check_does_not_pass_a_100_percent_error_at_a_kink_because_the_loss_is_large(tmp_path):
    result = cli("check", write(tmp_path, KINK))
    assert result.returncode == 1, result.stdout
    assert "FAILED: delta1, grad_W1, grad_b1" in result.stdout
    assert "the kink of relu" in result.stdout and "u1 has 1 entry within" in result.stdout


def test_check_never_passes_an_infinite_difference(tmp_path):
    text = 'loss = "mse"\nlearning_rate = 0.1\nx = [1.0]\nd = [1e200]\n[[layers]]\nW = [[1.0]]\nb = [0.0]\n' \
           'activation = "identity"\n'
    result = cli("check", write(tmp_path, text))
    assert result.returncode == 1, result.stdout
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith(("delta", "grad_"))]
    assert rows and all(row[-1] == "n/a" for row in rows), result.stdout
    assert "pass" not in result.stdout.split("result", 1)[1]


def test_seed_format_prints_a_later_iterations_parameters_as_floats(tmp_path):
    text = ('loss = "mse"\nlearning_rate = 0.1\nx = [[1, 2], [3, 4]]\nd = [[1, 0], [0, 1]]\n[training]\n'
            'iterations = 3\n[[layers]]\nW = [[1, 0], [0, 1]]\nb = [0, 0]\nactivation = "identity"\n')
    out = cli("trace", write(tmp_path, text), "--format", "seed", "--iterations", "2").stdout
    start = out.split("*** 重み ***\n", 1)[1].split("\n\n", 1)[0]
    assert "." in start, start  # [[ 0.775 -0.275] …], not the truncated [[0 0] [0 0]]
    first = cli("trace", write(tmp_path, text), "--format", "seed").stdout
    assert "*** 重み ***\n[[1 0]\n [0 1]]" in first  # as the file wrote them


def test_a_run_whose_outputs_are_nan_has_no_accuracy(tmp_path):
    from nnstep.engine.scenario import parse_scenario
    from nnstep.engine.session import Session

    text = ('loss = "cross_entropy"\nlearning_rate = 1e300\nx = [[1.0, 2.0], [2.0, 1.0]]\nd = [[1, 0], [0, 1]]\n'
            '[training]\niterations = 6\n[[layers]]\nW = [[1.0, -1.0], [2.0, 0.5]]\nb = [0.0, 0.0]\n'
            'activation = "identity"\n[[layers]]\nW = [[1.0, -1.0], [2.0, 0.5]]\nb = [0.0, 0.0]\n'
            'activation = "softmax"\n')
    session = Session(parse_scenario(text, tmp_path / "nan.toml"))
    session.run_all()
    y = session.iteration(6).output.value
    assert not np.all(np.isfinite(y))
    assert np.isnan(session.accuracies[5])


# --- the keymap file ---------------------------------------------------------------------------------------


KEYMAP_DEFAULTS = {"toggle_digits": "f", "next_step": "n,right", "help": "question_mark,f1"}


@pytest.mark.parametrize("keys, bad", [("f,[/]", '"[/]"'), (",", '""'), ("ctrl+", '"ctrl+"'), ("f99", '"f99"'),
                                       ("hyperdrive+x", '"hyperdrive+x"')])
def test_keys_that_cannot_be_pressed_are_refused_by_name(tmp_path, keys, bad):
    from nnstep.tui.keymap import read_keymap

    path = tmp_path / "keys.toml"
    path.write_text(f"[keys]\ntoggle_digits = {json.dumps(keys)}\nnext_step = \"l,right\"\n", encoding="utf-8")
    keymap, problems = read_keymap(path, KEYMAP_DEFAULTS)
    assert keymap == {"next_step": "l,right"}  # the rest still applies
    assert len(problems) == 1 and "toggle_digits" in problems[0] and bad in problems[0], problems
    assert "not applied" in problems[0]


@pytest.mark.parametrize("keys", ["f,d", "ctrl+d", "f5", "comma", "plus", "left_square_bracket", "shift+tab", "G"])
def test_keys_one_can_press_are_applied(tmp_path, keys):
    from nnstep.tui.keymap import read_keymap

    path = tmp_path / "keys.toml"
    path.write_text(f"[keys]\ntoggle_digits = {json.dumps(keys)}\n", encoding="utf-8")
    assert read_keymap(path, KEYMAP_DEFAULTS) == ({"toggle_digits": keys}, [])


def test_a_keymap_nested_500_deep_is_reported_not_fatal(tmp_path):
    from nnstep.tui.keymap import read_keymap

    path = tmp_path / "keys.toml"
    path.write_text("[keys]\nx = " + "[" * 500 + "]" * 500 + "\n", encoding="utf-8")
    keymap, problems = read_keymap(path, KEYMAP_DEFAULTS)
    assert keymap == {} and len(problems) == 1 and "nested too deep" in problems[0]


def test_a_memory_error_anywhere_ends_in_one_line(monkeypatch, capsys):
    """Whatever the estimate misses, a MemoryError is a message and exit 2, not a traceback."""
    from nnstep.engine import cli, session

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(session.Session, "advance", no_memory)
    assert cli.main(["train", "batch_regression"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == f"nnstep: batch_regression: {cli.NO_MEMORY}"
    monkeypatch.setattr("nnstep.engine.scenario.parse_scenario", no_memory)
    assert cli.main(["trace", "classify_2_3_4"]) == 2
    assert capsys.readouterr().err.strip() == f"nnstep: classify_2_3_4: {cli.NO_MEMORY}"


async def test_a_memory_error_while_opening_from_the_picker_shows_the_error_screen(monkeypatch):
    from tui_helpers import SIZE, make_app, open_from_picker

    from nnstep.engine.cli import NO_MEMORY

    app = make_app(None)

    def no_memory(*args, **kwargs):
        raise MemoryError

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        monkeypatch.setattr("nnstep.engine.scenario.parse_scenario", no_memory)
        await open_from_picker(pilot, "classify_2_3_4")
        await pilot.pause()
        assert type(app.screen).__name__ == "ErrorScreen" and NO_MEMORY in app.screen.message


def test_train_says_n_a_for_the_accuracy_of_a_run_that_diverged(tmp_path):
    text = ('loss = "cross_entropy"\nlearning_rate = 1e300\nx = [[1.0, 2.0], [2.0, 1.0]]\nd = [[1, 0], [0, 1]]\n'
            '[training]\niterations = 6\n[[layers]]\nW = [[1.0, -1.0], [2.0, 0.5]]\nb = [0.0, 0.0]\n'
            'activation = "identity"\n[[layers]]\nW = [[1.0, -1.0], [2.0, 0.5]]\nb = [0.0, 0.0]\n'
            'activation = "softmax"\n')
    out = cli("train", write(tmp_path, text), "--reports", "6").stdout
    last = next(line for line in out.splitlines() if line.startswith("iteration 6/6"))
    assert "accuracy n/a" in last and "accuracy nan" not in last and "50%" not in last
    assert "accuracy n/a" in next(line for line in out.splitlines() if line.startswith("final parameters"))


def test_a_key_that_holds_a_new_line_is_reported_on_one_line(tmp_path):
    from nnstep.engine.scenario import ScenarioError, load_scenario

    path = tmp_path / "nl.toml"
    path.write_text('name = "a"\n"\\n" = 0\nx = [0.0]\n[[layers]]\nunits = 1\nactivation = "identity"\n',
                    encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert "\n" not in str(caught.value) and ": \\n: unknown key" in str(caught.value)
