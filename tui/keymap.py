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

from nnstep.engine.limits import visible


#: A keymap file larger than this is not read.
KEYMAP_BYTES = 100_000
#: Modifiers Textual reports in front of a key: ``ctrl+n``.
MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")


def is_key(key: str) -> bool:
    """Whether Textual can report ``key`` when a key is pressed: one character, or a key name such as
    ``comma``, ``f5``, ``pageup``, ``ctrl+n`` (not ``,``, ``ctrl+``, ``f99``)."""
    from textual.keys import REPLACED_KEYS, Keys, key_to_character

    *modifiers, base = key.split("+")
    if not base or any(m not in MODIFIERS for m in modifiers):
        return False
    if len(base) == 1:
        return base.isprintable() and not base.isspace()
    named = {k.value for k in Keys if "+" not in k.value}
    return base in named or key_to_character(REPLACED_KEYS.get(base, base)) is not None


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
        if path.stat().st_size > KEYMAP_BYTES:
            return {}, [f"{where}: not read (larger than {KEYMAP_BYTES // 1000} KB); the default keys apply"]
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, [f"{where}: not read ({visible(str(exc))}); the default keys apply"]
    except RecursionError:
        return {}, [f"{where}: not read (nested too deep); the default keys apply"]
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
            problems.append(f"{where}: {visible(binding_id)}: no such binding{hint}")
        elif not isinstance(value, str) or not value.strip():
            problems.append(f"{where}: {binding_id}: expected keys as a string like \"l,right\", "
                            f"found {visible(repr(value))}")
        elif bad := [key for key in value.split(",") if not is_key(key.strip())]:
            shown = ", ".join(f'"{visible(k.strip())}"' for k in bad)
            problems.append(f"{where}: {binding_id} = \"{visible(value)}\" not applied: {shown} "
                            f"{'is not a key' if len(bad) == 1 else 'are not keys'} one can press (write keys "
                            f"as Textual names them, e.g. \"l\", \"comma\", \"ctrl+n\", \"f5\", \"pageup\")")
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
