"""Static contracts of the code, read from the source with ``ast`` (nothing is imported or run):

- the engine never imports Textual, Rich or the app, not even inside a function;
- no import circle among the modules of ``engine/`` or among those of ``tui/``;
- no module outside ``engine/ops.py`` branches on an activation's or a loss's name: each op's maths,
  words and properties live in its class, so adding one touches ops.py and its tests only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from nnstep.engine.ops import ACTIVATIONS, LOSSES

ROOT = Path(__file__).resolve().parent.parent
#: The installed package's name for each folder.
PACKAGES = {"engine": "nnstep.engine", "tui": "nnstep.tui"}


def modules(folder: str) -> dict[str, Path]:
    """``nnstep.engine.ops`` → its file, for every module of the folder."""
    out = {}
    for path in sorted((ROOT / folder).glob("*.py")):
        stem = path.stem
        out[PACKAGES[folder] if stem == "__init__" else f"{PACKAGES[folder]}.{stem}"] = path
    return out


def imports(path: Path, module: str) -> set[str]:
    """Every module ``path`` imports, anywhere in it (relative imports resolved), as dotted names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.stem == "__init__" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            # ``from nnstep.engine import names`` imports the module nnstep.engine.names
            found |= {f"{prefix}.{alias.name}" for alias in node.names}
    return found


def graph(folder: str) -> dict[str, set[str]]:
    mods = modules(folder)
    return {m: {i for i in imports(p, m) if i in mods and i != m} for m, p in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, each as the modules along it (found by depth-first search)."""
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def test_the_graph_reader_sees_imports_inside_functions_and_relative_ones(tmp_path):
    (tmp_path / "m.py").write_text("import os\ndef f():\n    from .ops import X\n    from nnstep.engine import names\n")
    got = imports(tmp_path / "m.py", "nnstep.engine.m")
    assert {"os", "nnstep.engine.ops", "nnstep.engine.names"} <= got


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_no_import_circle(folder):
    assert cycles(graph(folder)) == []


def test_the_engine_never_imports_the_ui_even_inside_functions():
    for module, path in modules("engine").items():
        bad = sorted(i for i in imports(path, module)
                     if i.split(".")[0] in ("textual", "rich") or i.startswith("nnstep.tui"))
        assert bad == [], f"{module} imports {bad}"


def test_nothing_imports_the_old_top_level_packages():
    for folder in ("engine", "tui"):
        for module, path in modules(folder).items():
            old = sorted(i for i in imports(path, module) if i.split(".")[0] in ("engine", "tui", "scenarios"))
            assert old == [], f"{module} imports {old}; write nnstep.{old[0]}"


OP_NAMES = set(ACTIVATIONS) | set(LOSSES)


def name_constants(path: Path) -> list[tuple[int, str]]:
    """String constants in the code (not docstrings) that are exactly an op's name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    # A dict literal's key ({"step": …} in a JSON document) names a field, not an op.
    keys = {id(key) for node in ast.walk(tree) if isinstance(node, ast.Dict) for key in node.keys if key is not None}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in OP_NAMES
            and id(node) not in docstrings | keys]


def test_the_name_scan_finds_a_branch_on_a_name(tmp_path):
    (tmp_path / "m.py").write_text('def f(act):\n    """relu"""\n    return act == "relu" or {"step": 1}\n')
    assert name_constants(tmp_path / "m.py") == [(3, "relu")]


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_only_ops_branches_on_an_activations_or_a_losss_name(folder):
    for module, path in modules(folder).items():
        if module == "nnstep.engine.ops":
            continue
        assert name_constants(path) == [], f"{path.relative_to(ROOT)} names ops: {name_constants(path)}"
