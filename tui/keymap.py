"""The user's keymap file: ``[keys]`` maps binding ids to keys, checked like a scenario file is.

A file that cannot be used never stops the app: what can be applied is applied, and every problem
(unreadable file, unknown id with a suggestion, a key bound twice) is reported in one notice.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Mapping


def keymap_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "nnstep" / "keys.toml"


def display_path(path: Path) -> str:
    """``~/.config/nnstep/keys.toml`` rather than the full path under the home folder."""
    home = Path(os.path.expanduser("~"))
    try:
        return "~/" + str(path.relative_to(home))
    except ValueError:
        return str(path)


def read_keymap(path: Path, defaults: Mapping[str, str],
                scopes: list[list[str]] | None = None) -> tuple[dict[str, str], list[str]]:
    """The usable part of the keymap file at ``path`` and the problems found in it.

    ``defaults`` maps every binding id to its default keys; ``scopes`` lists groups of ids that are
    active together, where one key must not do two things.
    """
    if not path.is_file():
        return {}, []
    where = display_path(path)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, [f"{where}: not read ({exc}); the default keys apply"]
    keys = table.get("keys")
    if not isinstance(keys, dict):
        return {}, [f"{where}: no [keys] table (write `[keys]` and then lines like next_step = \"l,right\"); "
                    f"the default keys apply"]
    keymap: dict[str, str] = {}
    problems = []
    for binding_id, value in keys.items():
        if binding_id not in defaults:
            close = difflib.get_close_matches(binding_id, list(defaults), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else " (the help screen lists the ids)"
            problems.append(f"{where}: {binding_id}: no such binding{hint}")
        elif not isinstance(value, str) or not value.strip():
            problems.append(f"{where}: {binding_id}: expected keys as a string like \"l,right\", "
                            f"found {value!r}")
        else:
            keymap[binding_id] = value
    for scope in scopes or []:
        # A remapped key that another binding of the same screen already answers to is not applied:
        # one key doing two things would leave one of them unreachable, and which one is arbitrary.
        ids = list(dict.fromkeys(scope))
        for binding_id in ids:
            if binding_id not in keymap:
                continue
            taken = {key.strip(): other for other in ids if other != binding_id
                     for key in keymap.get(other, defaults.get(other, "")).split(",") if key.strip()}
            clash = [(key.strip(), taken[key.strip()]) for key in keymap[binding_id].split(",")
                     if key.strip() in taken]
            if clash:
                key, other = clash[0]
                problems.append(f"{where}: {binding_id} = \"{keymap.pop(binding_id)}\" not applied: {key} "
                                f"already does {other}")
    return keymap, problems
