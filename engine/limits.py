"""What nnstep will read and hold for one scenario, and text from files made safe to show.

A scenario file comes from a teacher or a classmate: it must not be able to crash, hang or fill the
machine, nor write to the terminal. So only regular files are read, up to a size; what a scenario
needs in memory is estimated before anything is allocated; and every text that came from a file is
shown with its control characters made visible.
"""

from __future__ import annotations

import unicodedata

#: A scenario file (TOML) larger than this is refused unread: a bigger network belongs in an .npz.
SCENARIO_BYTES = 16 * 10**6
#: What one scenario may take in memory: its data, its parameters, and the per-iteration records of
#: a training run (losses, accuracies, the batches' rows). Refused above it, with the figure.
MEMORY_BYTES = 2 * 10**9
#: An .npz data file whose arrays would expand beyond this is refused before it is unpacked.
DATA_BYTES = 1 * 10**9

#: Characters that are shown as themselves although they are not printable: new lines and tabs.
_KEPT = {"\n", "\t"}


def visible(text: str) -> str:
    """``text`` with every control character (escape, bell, carriage return, bidirectional overrides …)
    written as ``\\x1b`` or ``\\u202e``, so that a file's text cannot move the cursor, retitle or clear
    the terminal, or write to the clipboard when it is printed."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch in _KEPT or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
    return "".join(out)


def number_text(n: int) -> str:
    """A whole number as written, or ``1e+12``, ``10^400`` when it is too long to read."""
    if n < 10**12:
        return str(n)
    digits = len(str(int(n))) - 1
    return f"10^{digits}" if digits > 300 else f"{float(n):.3g}"


def size_text(n: int | float) -> str:
    """``12.3 GB``, ``640 MB``, ``73 KB``: a size in bytes for a person (powers of 1000, as disks say)."""
    if n >= 10**15:
        return f"{number_text(int(n))} bytes"
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} bytes"
