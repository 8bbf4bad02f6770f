"""What ``pip install`` puts on a machine: one import package, ``nnstep``, with its bundled scenarios.

The wheel is built from this checkout and looked at as a user's machine would see it: its top-level
entries, and a fresh interpreter that sees only the unpacked wheel (and the dependencies), run from an
empty folder, so that neither this checkout nor the editable install can stand in for it.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, text=True, timeout=600)
    (built,) = out.glob("nnstep-*.whl")
    return built


def test_the_wheel_holds_nnstep_and_nothing_else_at_the_top_level(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"nnstep", next(t for t in top if t.endswith(".dist-info"))}
    assert {"nnstep/__init__.py", "nnstep/__main__.py", "nnstep/engine/ops.py", "nnstep/tui/app.tcss",
            "nnstep/scenarios/classify_2_3_4.toml", "nnstep/scenarios/data/digits.npz"} <= set(names)
    assert not [n for n in names if "/tests/" in n or n.startswith("tests/")]


def _dependencies() -> list[str]:
    """Where numpy and Textual are installed (site-packages), without the .pth files that would add this
    checkout through the editable install."""
    import numpy
    import textual

    return sorted({str(Path(m.__file__).resolve().parent.parent) for m in (numpy, textual)})


def test_an_installed_wheel_imports_as_nnstep_only(wheel, tmp_path):
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    code = textwrap.dedent("""
        import importlib, json
        found = {}
        for name in ("engine", "tui", "scenarios"):
            try:
                importlib.import_module(name)
                found[name] = "imported"
            except ImportError:
                found[name] = "missing"
        import nnstep
        from nnstep.engine.bundled import bundled_scenarios
        found["nnstep"] = nnstep.__file__
        found["bundled"] = [p.name for p in bundled_scenarios()]
        print(json.dumps(found))
    """)
    # -S: no site module, so no .pth file (the editable install's finder) is processed.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join([str(unpacked)] + _dependencies())
    proc = subprocess.run([sys.executable, "-S", "-c", code], cwd=empty, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    import json

    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (found["engine"], found["tui"], found["scenarios"]) == ("missing", "missing", "missing")
    assert Path(found["nnstep"]).resolve().is_relative_to(unpacked.resolve())
    assert "classify_2_3_4.toml" in found["bundled"] and "digits_minibatch.toml" in found["bundled"]
    version = subprocess.run([sys.executable, "-S", "-m", "nnstep", "--version"], cwd=empty, env=env,
                             capture_output=True, text=True, timeout=120)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"nnstep {_version()}"
    trace = subprocess.run([sys.executable, "-S", "-m", "nnstep", "trace", "backprop_2_3_2"], cwd=empty, env=env,
                           capture_output=True, text=True, timeout=120)
    assert trace.returncode == 0, trace.stderr
    assert "step 15/15" in trace.stdout


def _version() -> str:
    import nnstep

    return nnstep.__version__


def test_python_dash_m_nnstep_is_the_nnstep_command():
    by_module = subprocess.run([sys.executable, "-m", "nnstep", "list"], capture_output=True, text=True, timeout=120)
    script = Path(sys.executable).with_name("nnstep")
    assert by_module.returncode == 0, by_module.stderr
    if script.exists():
        by_script = subprocess.run([str(script), "list"], capture_output=True, text=True, timeout=120)
        assert by_script.stdout == by_module.stdout
    assert "classify_2_3_4" in by_module.stdout


def test_the_version_is_said_in_one_place():
    import nnstep
    from nnstep import engine

    assert engine.__version__ == nnstep.__version__
    assert subprocess.run([sys.executable, "-m", "nnstep", "--version"], capture_output=True, text=True,
                          timeout=60).stdout.strip() == f"nnstep {nnstep.__version__}"
