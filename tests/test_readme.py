"""The README tells the truth: CI runs its test command, and its examples are what nnstep prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _fenced_sh_commands() -> list[str]:
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", README, re.S)]


def test_readme_starts_with_an_install_and_run_command_and_an_install_and_test_command():
    first, second = _fenced_sh_commands()[:2]
    assert "pip install" in first and "nnstep" in first
    assert "pip install" in second and "pytest" in second


def test_ci_runs_the_readme_test_command_word_for_word():
    test_command = _fenced_sh_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()


def _readme_example_lines(command: str) -> list[str]:
    block = re.search(r"```\n\$ " + re.escape(command) + r"\n(.*?)```", README, re.S)
    assert block, f"README has no example of {command}"
    return block.group(1).splitlines()


def test_readme_trace_example_is_what_nnstep_prints():
    lines = _readme_example_lines("nnstep trace scenarios/backprop_2_3_2.toml")
    out = subprocess.run([sys.executable, "-m", "nnstep.engine.cli", "trace", "scenarios/backprop_2_3_2.toml"],
                         cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "COLUMNS": "100"}).stdout.splitlines()
    # Every run of lines between the README's "…" elisions appears in the real output, in order.
    chunks, chunk = [], []
    for line in lines:
        if line == "…":
            chunks.append(chunk)
            chunk = []
        else:
            chunk.append(line)
    chunks.append(chunk)
    position = 0
    for chunk in filter(None, chunks):
        for start in range(position, len(out)):
            if out[start:start + len(chunk)] == chunk:
                position = start + len(chunk)
                break
        else:
            raise AssertionError("README example lines not in the output:\n" + "\n".join(chunk))


def test_readme_error_example_is_what_nnstep_prints(tmp_path):
    expected = _readme_example_lines("nnstep trace bad.toml")[0]
    text = (ROOT / "scenarios" / "classify_2_3_4.toml").read_text(encoding="utf-8")
    text = text.replace("[0.3, 0.6, 0.9, 1.2]]", "[0.3, 0.6, 0.9, 1.2], [1, 1, 1, 1]]")
    (tmp_path / "bad.toml").write_text(text, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "nnstep.engine.cli", "trace", "bad.toml"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == expected


def test_readme_explain_example_is_what_nnstep_prints():
    """The example of ``nnstep explain``, its numbers to 10 significant digits (the last digits of exp and
    of BLAS sums differ between CPUs)."""
    block = re.search(r"```\n  \$ nnstep explain classify_2_3_4 delta1 2\n(.*?)  ```", README, re.S)
    assert block, "README has no example of nnstep explain"
    out = subprocess.run([sys.executable, "-m", "nnstep", "explain", "classify_2_3_4", "delta1", "2"], cwd=ROOT,
                         capture_output=True, text=True, check=True, env={**os.environ, "COLUMNS": "96"}).stdout

    def rounded(text: str) -> str:
        return re.sub(r"\d+\.\d+(e-?\d+)?", lambda m: f"{float(m.group()):.10g}", text)

    shown = [line[2:] if line.startswith("  ") else line for line in block.group(1).splitlines()]
    assert rounded("\n".join(shown)) == rounded(out.rstrip("\n"))
