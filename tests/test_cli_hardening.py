"""The command line when the world is unkind: its output closed or full, Ctrl-C at any moment, absurd
report counts, traces larger than memory, checks that take minutes, and ``--save`` onto what is
already there.

Each case is one finding of the hardening trial, run through the real command line in a subprocess
(``python -m nnstep.engine.cli``), as a user's shell runs it.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nnstep.engine.bundled import find_bundled

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "nnstep.engine.cli"]
SCRIPT = Path(sys.executable).with_name("nnstep")
DIGITS_JSON = ["trace", "digits_minibatch", "--iterations", ":", "--format", "json"]

#: A batch run long enough (about 6 s here) to be interrupted at any point.
SLOW_TRAIN = """\
name = "a long batch run"
loss = "mse"
learning_rate = 0.05

[training]
iterations = 20000
batch_size = "all"
seed = 0

[data]
samples = 1000
inputs = { distribution = "uniform", low = 0.0, high = 1.0, features = 2 }
target = { linear = [3.0, 2.0], bias = 0.0 }

[[layers]]
units = 64
init = "xavier"
activation = "relu"

[[layers]]
units = 1
init = "xavier"
activation = "identity"
"""

#: A scenario whose 4 million generated samples take a while to load, before the app could start.
SLOW_LOAD = SLOW_TRAIN.replace("iterations = 20000", "iterations = 10").replace("samples = 1000", "samples = 4000000")

#: A gradient check of about 75,000 forward passes (2 s here).
SLOW_CHECK = f"""\
name = "a long gradient check"
loss = "cross_entropy"
learning_rate = 0.1
x = [{", ".join(f"{(i % 7 - 3) / 10:.1f}" for i in range(50))}]
d = [{", ".join("1" if i == 3 else "0" for i in range(10))}]

[[layers]]
units = 600
init = "xavier"
activation = "tanh"

[[layers]]
units = 10
init = "xavier"
activation = "softmax"
"""


def cli(*args, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("capture_output", True)
    return subprocess.run([*CLI, *map(str, args)], timeout=timeout, **kwargs)


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def one_line(stderr: bytes | str, start: str) -> str:
    """The single line on standard error, checked: no traceback, nothing else, starting with ``start``."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    assert "Traceback" not in text and "Exception ignored" not in text, text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith(start), lines[0]
    return lines[0]


# =====================================================================================================
# 1. Output closed (>&-) or full (> /dev/full): one line on stderr and exit code 2
# =====================================================================================================

VERBS = {
    "list": ["list"],
    "trace-text": ["trace", "three_layer"],
    "trace-json": ["trace", "three_layer", "--format", "json"],
    "trace-seed": ["trace", "three_layer", "--format", "seed"],
    "trace-many": ["trace", "digits_minibatch", "--iterations", ":3", "--format", "json"],  # 5 MB
    "check": ["check", "backprop_2_3_2"],
    "explain": ["explain", "digits_minibatch", "u1", "0,0", "--chain"],
    "explain-json": ["explain", "classify_2_3_4", "update:W1", "1,2", "--chain", "--format", "json"],
    "train": ["train", "sgd_regression"],
    "help": ["--help"],
}


def _environment(buffered: bool) -> dict[str, str]:
    """A user's shell (stdout block-buffered: the last write fails only at the final flush), or
    PYTHONUNBUFFERED (every write fails at once)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return env if buffered else {**env, "PYTHONUNBUFFERED": "1"}


@pytest.mark.parametrize("verb", VERBS)
def test_a_closed_output_is_one_line_and_exit_2(verb):
    result = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", *CLI, *VERBS[verb]], capture_output=True,
                            timeout=120)
    assert result.returncode == 2, (result.returncode, result.stderr)
    one_line(result.stderr, "nnstep: cannot write to standard output: it is closed")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("verb", VERBS)
def test_a_full_output_is_one_line_and_exit_2(verb, buffered):
    with open("/dev/full", "w") as full:
        result = subprocess.run([*CLI, *VERBS[verb]], stdout=full, stderr=subprocess.PIPE, timeout=120,
                                env=_environment(buffered))
    assert result.returncode == 2, (result.returncode, result.stderr)
    one_line(result.stderr, "nnstep: cannot write to standard output: No space left on device")


@pytest.mark.skipif(not SCRIPT.exists() or not os.path.exists("/dev/full"), reason="needs the nnstep script")
def test_the_console_script_says_so_too():
    closed = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", str(SCRIPT), "list"], capture_output=True, timeout=60)
    assert closed.returncode == 2
    one_line(closed.stderr, "nnstep: cannot write to standard output: it is closed")
    with open("/dev/full", "w") as full:
        result = subprocess.run([str(SCRIPT), "check", "backprop_2_3_2"], stdout=full, stderr=subprocess.PIPE,
                                timeout=60, env=_environment(True))
    assert result.returncode == 2
    one_line(result.stderr, "nnstep: cannot write to standard output: No space left on device")


# =====================================================================================================
# 2. Ctrl-C at any moment: one line and exit code 130
# =====================================================================================================

#: A frame of nnstep's own code in a traceback (the package's folders, not the console-script wrapper):
#: its file, its function and the line it was running.
OURS = re.compile(r'File "' + re.escape(str(ROOT)) + r'/((?:engine|tui|nnstep)/[^"]+)", line \d+, in ([^\n]*)\n +([^\n]*)')
#: The lines nnstep runs before its Ctrl-C handler is in place, besides the handler's own module:
#: importing the entry point and that module (a few milliseconds, without cached bytecode).
START_UP = re.compile(r"(from nnstep\.tui\.launch import main|sys\.exit\(main\(\)\)|from nnstep\.engine import "
                      r"interrupts|import (os|sys)|from __future__ import annotations)(?=\s|$)")


def _interrupt(command: list[str], delay: float, cwd: Path | None = None) -> tuple[int, str]:
    """Ctrl-C ``delay`` seconds after the start; the exit code and standard error (a process still
    running a minute later is killed: the Ctrl-C was lost)."""
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=cwd)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err.decode("utf-8", "replace")


def _before_nnstep(code: int, err: str) -> bool:
    """The signal landed in start-up, before nnstep's handler was in place: in Python's own (the site
    module, runpy finding and compiling the module, where it may also be lost: "Exception ignored …
    KeyboardInterrupt") or on the few lines that import the handler. Out of nnstep's reach, and said
    so in the README."""
    if "Fatal Python error: init_import_site" in err:
        return True
    return "Traceback" in err and all((path == "engine/interrupts.py" and function == "<module>") or START_UP.match(line)
                                      for path, function, line in OURS.findall(err))


def assert_answers_ctrl_c(command: list[str], delays, line: str = "nnstep: interrupted", cwd: Path | None = None):
    """Ctrl-C ``delay`` seconds after the start: one line and exit code 130, or done first (0).

    A Ctrl-C that lands before nnstep's handler is in place (see :func:`_before_nnstep`) is tried
    again; on a loaded machine it may land there every time for the shortest delays, which then test
    nothing (and are let pass), but from 0.3 s on the handler is always in place and must answer."""
    for delay in delays:
        for _ in range(3):
            code, err = _interrupt(command, delay, cwd)
            if not _before_nnstep(code, err):
                break
        else:
            assert delay < 0.3, (delay, err)
            continue
        assert "Traceback" not in err and "Fatal Python error" not in err, (delay, err)
        if code == 0:
            continue  # it finished first
        if code == -signal.SIGINT:
            # Killed by the signal before Python had set up its own handler: nothing is printed, and a
            # shell reports exit code 130 all the same.
            assert err == "", (delay, err)
            continue
        assert code == 130, (delay, code, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(line), (delay, err)


def test_ctrl_c_during_a_long_json_trace():
    assert_answers_ctrl_c([*CLI, *DIGITS_JSON], (0.0, 0.05, 0.1, 0.3, 1.0))


def test_ctrl_c_during_a_text_and_a_seed_trace():
    for fmt in ("text", "seed"):
        assert_answers_ctrl_c([*CLI, "trace", "digits_minibatch", "--iterations", ":", "--format", fmt], (0.05, 0.5))


def test_ctrl_c_during_training(tmp_path):
    path = write(tmp_path, SLOW_TRAIN)
    assert_answers_ctrl_c([*CLI, "train", str(path)], (0.0, 0.05, 0.1, 1.0, 2.0))
    # Once the run is under way (its first report is out), it says how far it got.
    proc = subprocess.Popen([*CLI, "train", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in proc.stdout:
        if line.startswith(b"iteration "):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert re.fullmatch(rb"nnstep: interrupted after \d+ of 20000 iterations; nothing saved\n", err), err
    assert b"final parameters" not in out


def test_ctrl_c_during_a_check(tmp_path):
    assert_answers_ctrl_c([*CLI, "check", str(write(tmp_path, SLOW_CHECK))], (0.0, 0.05, 0.3, 1.0))


def test_ctrl_c_during_list_and_the_console_script():
    assert_answers_ctrl_c([*CLI, "list"], (0.0, 0.05, 0.1, 0.3))
    if SCRIPT.exists():
        assert_answers_ctrl_c([str(SCRIPT), *DIGITS_JSON], (0.0, 0.05, 0.1, 0.5))


def test_ctrl_c_while_nnstep_FILE_loads_before_the_app_starts(tmp_path):
    # numpy, 4 million samples, then Textual: the app cannot have started within these delays.
    assert_answers_ctrl_c([sys.executable, "-m", "nnstep", str(write(tmp_path, SLOW_LOAD))], (0.0, 0.05, 0.1, 0.3))


def test_a_second_ctrl_c_while_the_first_is_answered(tmp_path):
    proc = subprocess.Popen([*CLI, "train", str(write(tmp_path, SLOW_TRAIN))], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err.decode()
    assert 1 <= len(err.decode().strip().splitlines()) <= 2


# =====================================================================================================
# 3. --reports beyond the iterations starts at once
# =====================================================================================================


def test_more_reports_than_iterations_starts_at_once():
    started = time.perf_counter()
    result = cli("train", "batch_regression", "--reports", "100000000000", timeout=60)
    assert result.returncode == 0, result.stderr
    assert time.perf_counter() - started < 30
    reports = [line for line in result.stdout.decode().splitlines() if line.startswith("iteration ")]
    assert len(reports) == 500  # one per iteration, no more
    assert reports[-1].startswith("iteration 500/500")


# =====================================================================================================
# 4. trace streams: the same bytes as the whole-document renderers, in flat memory
# =====================================================================================================


def _diverging(tmp_path) -> Path:
    """sgd_regression on inputs from −5 to 5: it overflows within ten iterations (inf and nan in the JSON)."""
    text = Path(find_bundled("sgd_regression")).read_text(encoding="utf-8")
    text = re.sub(r"low = [-0-9.]+", "low = -5.0", text)
    text = re.sub(r"high = [-0-9.]+", "high = 5.0", text)
    return write(tmp_path, text, "diverging.toml")


STREAMED = [
    ("backprop_2_3_2", None), ("classify_2_3_4", None), ("three_layer", None), ("single_unit", None),
    ("single_layer", None), ("digits_minibatch", "1:3"), ("digits_minibatch", "599:"),
    ("sgd_regression", "998:1000"), ("batch_regression", "10:12"), ("diverging", "6:12"),
]


@pytest.mark.parametrize("fmt", ["text", "json", "seed"])
@pytest.mark.parametrize("name, iterations", STREAMED, ids=[f"{n}-{i}" for n, i in STREAMED])
def test_the_streamed_trace_is_byte_for_byte_the_whole_document(name, iterations, fmt, tmp_path):
    from nnstep.engine.formats import render_json, render_seed, render_text
    from nnstep.engine.scenario import load_scenario
    from nnstep.engine.session import Session

    path = _diverging(tmp_path) if name == "diverging" else Path(find_bundled(name))
    session = Session(load_scenario(path))
    if iterations is None:
        wanted = [1]
    else:
        first, _, last = iterations.partition(":")
        wanted = list(range(int(first or 1), int(last or session.iterations) + 1))
    session.advance(wanted[-1] - 1)
    runs = [session.iteration(i) for i in wanted]
    width = 80 if name == "classify_2_3_4" else 100
    expected = {"text": lambda: render_text(runs, width), "json": lambda: render_json(runs),
                "seed": lambda: render_seed(runs)}[fmt]()
    args = ["trace", path, "--format", fmt] + (["--iterations", iterations] if iterations else [])
    result = cli(*args, env={**os.environ, "COLUMNS": str(width)})
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected.encode("utf-8")


def test_json_pieces_write_what_json_dumps_writes():
    """The streaming encoder against json.dumps itself on what a step can hold, nested at every depth."""
    from nnstep.engine.formats import _json_pieces, _plain

    arrays = [np.array(0.5), np.array(-0.0), np.array(np.inf), np.zeros(0), np.zeros((0, 3)), np.zeros((3, 0)),
              np.array([1e-300, 5e-324, 1.7976931348623157e308, -2.5, 1 / 3]),
              np.array([[1.0, np.nan], [-np.inf, np.inf]]), np.arange(24.0).reshape(2, 3, 4),
              np.array([1, 2, 3]), np.array([[True, False]])]
    others = ["text with \"quotes\", a \\ and \n a new line\u2028, é 誤差", 3, None, True, 0.1, [], {}, (1, 2),
              [1, [2, [3, []]]], {"a": {}, "b": [{}]}]
    for value in arrays + others:
        doc = {"outer": [{"inner": value, "after": 1}], "last": value}
        plain = json.loads(json.dumps(doc, default=lambda a: _plain(a)))  # the whole-document way
        expected = json.dumps(plain, indent=1, ensure_ascii=False, allow_nan=False)
        assert "".join(_json_pieces(doc, 0)) == expected, value


def _peak_kb(args: list[str], env: dict[str, str] | None = None) -> int:
    """The peak resident memory (KB) of the command line running ``args``, its output thrown away."""
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, proc.stderr.read()
    proc.stderr.close()
    return usage.ru_maxrss


@pytest.mark.skipif(not hasattr(os, "wait4"), reason="needs os.wait4 (POSIX)")
def test_the_memory_of_a_json_trace_does_not_grow_with_its_iterations():
    few = _peak_kb(["trace", "digits_minibatch", "--iterations", ":5", "--format", "json"])
    many = _peak_kb(["trace", "digits_minibatch", "--iterations", ":60", "--format", "json"])
    # Whole documents: 109 MB against 842 MB (12 MB an iteration). Streamed: about 42 MB both.
    assert many - few < 64_000, (few, many)


@pytest.mark.skipif(not hasattr(os, "wait4"), reason="needs os.wait4 (POSIX)")
def test_a_wide_layer_is_written_a_row_at_a_time(tmp_path):
    x = ", ".join(["1"] * 1000)
    path = write(tmp_path, f'loss = "mse"\nlearning_rate = 0.01\nx = [{x}]\nd = [{x.replace("1", "0")}]\n'
                           '[[layers]]\nunits = 1000\ninit = "xavier"\nactivation = "identity"\n')
    peak = _peak_kb(["trace", path, "--format", "json"])  # 170 MB of JSON
    # The whole document peaked at 1.19 GB; the engine's own arrays of this iteration take under 100 MB.
    assert peak < 350_000, peak


# =====================================================================================================
# 5. check says how many forward passes it takes, and shows its progress on a terminal
# =====================================================================================================


@pytest.mark.parametrize("name", ["backprop_2_3_2", "digits_minibatch"])
def test_check_says_how_many_forward_passes_before_the_table(name):
    from nnstep.engine.gradcheck import check_gradients
    from nnstep.engine.scenario import load_scenario
    from nnstep.engine.session import Session

    run = Session(load_scenario(find_bundled(name))).iteration(1)
    counted = []
    check_gradients(run, counted.append)
    expected = sum(counted)  # the passes the check really ran
    assert expected == 2 * sum(s.value.size for s in run.steps if s.phase == "backward")
    lines = cli("check", name).stdout.decode().splitlines()
    said = next(i for i, line in enumerate(lines) if "forward passes" in line)
    assert lines[said] == f"{expected} forward passes: two for each entry of every W, b and u"
    assert said < next(i for i, line in enumerate(lines) if line.startswith("array "))


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_check_shows_its_progress_on_a_terminal(tmp_path):
    import pty

    path = write(tmp_path, SLOW_CHECK)
    master, slave = pty.openpty()
    proc = subprocess.Popen([*CLI, "check", str(path)], stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        seen += chunk
    out = proc.communicate(timeout=120)[0].decode()
    os.close(master)
    assert proc.returncode == 0, out
    assert re.search(rb"\r\[[^\r]*\] +\d+%  \d+/74440 forward passes  [\d.]+ s", seen), seen[-300:]
    assert seen.endswith(b"\r\x1b[K")  # cleared before the table
    assert "74440 forward passes" in out and "all 6 gradients agree" in out


# =====================================================================================================
# 6. --save: checked before the run, never half-written, never over a file without --force
# =====================================================================================================


def _train(*args, cwd: Path) -> subprocess.CompletedProcess:
    return cli("train", "sgd_regression", *args, cwd=cwd, text=True)


def _refused_before_training(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""  # refused before the run, not after it
    line = one_line(result.stderr, "nnstep: --save ")
    assert line.endswith("; nothing was trained"), line
    for word in words:
        assert word in line, line
    return line


@pytest.mark.parametrize("target, words", [
    ("", ["expected a file name"]),
    ("d1/", ["names a folder", "d1/params.npz"]),
    ("existing/", ["is a folder", "existing/params.npz"]),
    ("existing", ["is a folder", "existing/params.npz"]),
    ("missing/p.npz", ["no such folder"]),
], ids=["empty", "trailing_separator", "folder_with_separator", "folder", "missing_folder"])
def test_a_save_target_that_cannot_be_a_file_is_refused_before_training(target, words, tmp_path):
    (tmp_path / "existing").mkdir()
    _refused_before_training(_train("--save", target, cwd=tmp_path), *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]  # nothing written, d1/.npz least of all
    assert list((tmp_path / "existing").iterdir()) == []


@pytest.mark.parametrize("name", ["params.npz", "params"])
def test_an_existing_file_is_kept_unless_forced(name, tmp_path):
    earlier = tmp_path / "params.npz"  # what --save params writes too
    earlier.write_bytes(b"the earlier parameters")
    line = _refused_before_training(_train("--save", name, cwd=tmp_path), "already exists", "--force")
    assert "params.npz" in line
    assert earlier.read_bytes() == b"the earlier parameters"

    forced = _train("--save", name, "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "saved W1, b1, W2, b2 to params.npz (replacing the earlier file)" in forced.stdout
    with np.load(earlier, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["W1", "W2", "b1", "b2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.npz"]  # no temporary file left


def test_a_symlink_at_the_target_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim.npz"
    victim.write_bytes(b"someone else's file")
    link = tmp_path / "params.npz"
    link.symlink_to(victim)
    _refused_before_training(_train("--save", "params.npz", cwd=tmp_path), "already exists")
    result = _train("--save", "params.npz", "--force", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert victim.read_bytes() == b"someone else's file"
    assert not link.is_symlink() and link.is_file()
    with np.load(link, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["W1", "W2", "b1", "b2"]


def test_a_new_file_gets_the_usual_permissions(tmp_path):
    result = _train("--save", "p.npz", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "p.npz").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KB file system (tmpfs), for a disk that fills up during the save; root only."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_during_the_save_keeps_the_earlier_file(small_disk):
    first = cli("train", "digits_minibatch", "--save", small_disk / "p.npz", text=True)
    assert first.returncode == 0, first.stderr
    earlier = (small_disk / "p.npz").read_bytes()  # 25 KB
    (small_disk / "filler").write_bytes(b"\0" * 20_000)  # leaves less than another 25 KB
    result = cli("train", "digits_minibatch", "--save", small_disk / "p.npz", "--force", text=True)
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr, f"nnstep: --save {small_disk / 'p.npz'}: cannot write: No space left on device")
    assert "nothing saved" in line and "is as it was" in line
    assert (small_disk / "p.npz").read_bytes() == earlier
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "p.npz"]  # no temporary file left


@pytest.mark.parametrize("failure", ["disk full", "ctrl-c"])
def test_a_save_that_fails_halfway_keeps_the_earlier_file(failure, tmp_path, monkeypatch, capsys):
    from nnstep.engine.cli import main

    earlier = tmp_path / "p.npz"
    earlier.write_bytes(b"the earlier parameters")

    def savez(file, **arrays):
        (open(file, "wb") if isinstance(file, (str, os.PathLike)) else file).write(b"PK\x03\x04 half an archive")
        if failure == "disk full":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", savez)
    code = main(["train", "sgd_regression", "--save", str(earlier), "--force"])
    err = capsys.readouterr().err
    assert code == (2 if failure == "disk full" else 130), err
    assert earlier.read_bytes() == b"the earlier parameters"
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]  # no temporary file left
    assert ("No space left on device" if failure == "disk full" else "interrupted while saving") in err


def test_ctrl_c_during_the_save_removes_the_half_written_file(tmp_path):
    """A real Ctrl-C while np.savez writes (made slow here): the earlier file stays, the new one goes."""
    earlier = tmp_path / "p.npz"
    earlier.write_bytes(b"the earlier parameters")
    code = f"""
import sys, time
import numpy as np
def savez(file, **arrays):
    file = open(file, "wb") if isinstance(file, str) else file
    file.write(b"PK half an archive")
    file.flush()
    print("writing", flush=True)
    time.sleep(30)
np.savez = savez
from nnstep.engine.cli import main
sys.exit(main(["train", "sgd_regression", "--save", {str(earlier)!r}, "--force"]))
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in proc.stdout:
        if line == b"writing\n":
            break
    assert len(list(tmp_path.iterdir())) == 2  # the earlier file and the one being written
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.decode() == f"nnstep: interrupted while saving; nothing saved ({earlier} is as it was)\n"
    assert earlier.read_bytes() == b"the earlier parameters"
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]
