"""``nnstep`` itself: the verbs pass through to the engine without Textual, a FILE opens the app in a
real terminal (a pseudo-terminal), and a bad FILE is refused before the app starts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def launch(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nnstep", *args], capture_output=True, text=True,
                          encoding="utf-8", cwd=cwd, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_verbs_pass_through_to_the_engine_without_loading_textual():
    code = textwrap.dedent("""
        import contextlib, io, sys
        from nnstep import tui
        from nnstep.tui.launch import main
        with contextlib.redirect_stdout(io.StringIO()):
            codes = [main(["list"]), main(["trace", "classify_2_3_4", "--format", "json"]),
                     main(["check", "backprop_2_3_2"])]
        print(codes, sorted(m for m in sys.modules if m.split(".")[0] == "textual"))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[0, 0, 0] []"


def test_help_says_how_to_open_the_debugger():
    result = launch("--help")
    assert result.returncode == 0
    assert "nnstep FILE    open the step debugger on FILE" in result.stdout
    assert "nnstep         open the debugger's scenario picker" in result.stdout


@pytest.mark.parametrize("args,words", [
    (["tests/data/picker/broken.toml"], "broken.toml: layers[0].W: expected 2 rows"),
    (["no_such_file.toml"], "no_such_file.toml: no such file"),
    (["clasify_2_3_4"], "did you mean 'classify_2_3_4'?"),
    (["somewhere/classify_2_3_4.toml"], "`nnstep classify_2_3_4` opens it from any folder"),
    (["a.toml", "b.toml"], "one scenario at a time"),
])
def test_a_bad_file_is_refused_before_the_app_starts(args, words):
    result = launch(*args)
    assert result.returncode == 2
    assert words in result.stderr
    assert result.stderr.startswith("nnstep: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def _read_until(fd: int, needle: bytes, timeout: float = 60) -> bytes:
    import select

    seen = b""
    end = time.monotonic() + timeout
    while needle not in seen:
        left = end - time.monotonic()
        assert left > 0, f"{needle!r} never appeared; the screen had: {seen[-400:]!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


def _drain(fd: int) -> None:
    import select

    if select.select([fd], [], [], 0.05)[0]:
        try:
            os.read(fd, 65536)
        except OSError:
            pass


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_nnstep_file_opens_the_debugger_in_a_real_terminal_and_q_quits():
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(ROOT / "no-config"))
    proc = subprocess.Popen([sys.executable, "-m", "nnstep", "classify_2_3_4"], stdin=slave, stdout=slave,
                            stderr=slave, cwd=ROOT, env=env, close_fds=True)
    os.close(slave)
    try:
        _read_until(master, b"Operation")
        os.write(master, b"n")
        _read_until(master, b"step 1/15")
        os.write(master, b"q")
        end = time.monotonic() + 30
        while proc.poll() is None:  # keep reading, or the app blocks writing its last screen
            assert time.monotonic() < end, "q did not quit"
            _drain(master)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
