"""The engine is pure numpy: importing any of it never loads Textual, and its modules import cleanly.

Every check runs in a fresh interpreter, so that modules already imported by pytest (or by other
tests) cannot hide an import cycle or a stray ``import textual``.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
import textwrap

import pytest

from nnstep import engine

ENGINE_MODULES = sorted(m.name for m in pkgutil.walk_packages(engine.__path__, "nnstep.engine."))


def run_fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


def test_the_engine_has_the_expected_modules():
    assert {"nnstep.engine.ops", "nnstep.engine.scenario", "nnstep.engine.steps", "nnstep.engine.gradcheck"} <= set(ENGINE_MODULES)


def test_importing_every_engine_module_does_not_load_textual():
    proc = run_fresh("""
        import importlib, json, pkgutil, sys
        from nnstep import engine
        names = sorted(m.name for m in pkgutil.walk_packages(engine.__path__, "nnstep.engine."))
        for name in names:
            importlib.import_module(name)
        print(json.dumps({"imported": names,
                          "textual": sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))}))
    """)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["imported"] == ENGINE_MODULES
    assert report["textual"] == [], f"engine imports loaded Textual: {report['textual']}"


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_each_engine_module_imports_first_in_a_fresh_interpreter(module):
    """Imported alone and first, so an import cycle that depends on import order would fail here."""
    proc = run_fresh(f"""
        import importlib, sys
        importlib.import_module({module!r})
        assert "textual" not in sys.modules, sorted(m for m in sys.modules if m.startswith("textual"))
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_running_every_verb_of_the_command_line_does_not_load_textual():
    """Not only importing: loading, running, formatting and checking a scenario stay Textual-free."""
    proc = run_fresh("""
        import contextlib, io, sys
        from nnstep.engine.cli import main
        codes = []
        with contextlib.redirect_stdout(io.StringIO()):
            codes.append(main(["list"]))
            for fmt in ("text", "json", "seed"):
                codes.append(main(["trace", "classify_2_3_4", "--format", fmt]))
            codes.append(main(["check", "backprop_2_3_2"]))
        print(codes, "textual" in sys.modules)
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[0, 0, 0, 0, 0] False"
