"""The scenario files that ship with nnstep, found wherever the package is installed."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def bundled_dir() -> Path:
    return Path(str(files("nnstep.scenarios")))


def bundled_scenarios() -> list[Path]:
    """Every bundled scenario file, sorted by name."""
    return sorted(bundled_dir().glob("*.toml"))


def find_bundled(name: str) -> Path | None:
    """The bundled scenario called ``name`` (with or without ``.toml``), if there is one."""
    stem = name[:-5] if name.endswith(".toml") else name
    path = bundled_dir() / f"{stem}.toml"
    return path if path.is_file() else None
