"""The scenario files that ship with nnstep, found wherever the package is installed."""

from __future__ import annotations

import os
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
    if not stem or "/" in stem or os.sep in stem or len(stem) > 200:  # not a name a bundled file can have
        return None
    path = bundled_dir() / f"{stem}.toml"
    try:
        return path if path.is_file() else None
    except OSError:
        return None
