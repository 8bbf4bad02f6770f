"""One number written in full: the shortest text that reads back as the same float (Python's repr).

Every full-precision number nnstep shows goes through :func:`exact`, so that tests which take pictures
of the screen can ask for fewer digits: the last one or two digits of a result of numpy's exp, log or
BLAS kernels differ between CPUs (AVX2, AVX-512), and a picture must not.
"""

from __future__ import annotations

import math

#: Significant digits of :func:`exact`; None (the default) writes every digit. Snapshot tests set 10.
SIGNIFICANT: int | None = None


def exact(value: float) -> str:
    """``0.09109144089484147``; ``nan``, ``inf`` and ``-inf`` as numpy writes them."""
    v = float(value)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(v) if SIGNIFICANT is None else f"{v:.{SIGNIFICANT}g}"


def percent(share: float | None, decimals: int = 0) -> str:
    """``97%``, ``96.7%``; ``n/a`` where there is no share (a diverged run's accuracy)."""
    if share is None or math.isnan(share):
        return "n/a"
    return f"{share:.{decimals}%}"


def count(n: int, noun: str) -> str:
    """``1 iteration``, ``500 iterations``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
