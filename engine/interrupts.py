"""Ctrl-C on the command line: one line on standard error and exit code 130, whenever it comes.

Python turns SIGINT into a KeyboardInterrupt wherever it lands: while modules import, while a verb
reports an earlier Ctrl-C, while the interpreter shuts down, each with a traceback. The command's entry
points therefore choose what a Ctrl-C does. Inside a verb, :func:`catch`: the first one raises
KeyboardInterrupt, so the verb can unwind (clear its progress bar, remove a half-written file, say how
far it got); any further one ends the process at once. Outside, :func:`end_at_once`: nothing is left to
unwind, so the process ends at once with the line. It imports nothing slow, so that it is in place
within a millisecond of the first line of nnstep.
"""

from __future__ import annotations

import os
import sys

try:
    import _signal as signal  # the C module itself: ``signal`` spends milliseconds building its enums
except ImportError:  # an interpreter without it
    import signal

#: The exit code of a process ended by Ctrl-C, as a shell reports one killed by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130
MESSAGE = "nnstep: interrupted"

_reported = False


def report(message: str = MESSAGE) -> None:
    """Say on standard error why the verb stopped; once: a second Ctrl-C after it adds nothing."""
    global _reported
    if _reported:
        return
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass  # standard error is closed or full: the exit code still says it
    _reported = True


def _end(signum: int, frame: object) -> None:
    if not _reported:
        try:  # straight to the descriptor: the handler may have interrupted a write to sys.stderr
            os.write(2, (MESSAGE + "\n").encode())
        except OSError:
            pass
    os._exit(EXIT_INTERRUPTED)


def _unwind(signum: int, frame: object) -> None:
    signal.signal(signal.SIGINT, _end)  # a second Ctrl-C must not interrupt the clean-up with a traceback
    raise KeyboardInterrupt


def _install(handler: object) -> object:
    """Install ``handler`` for SIGINT; return the one it replaces (None where signals cannot be set:
    outside the main thread)."""
    try:
        return signal.signal(signal.SIGINT, handler)
    except ValueError:
        return None


def catch() -> object:
    """From now on the first Ctrl-C raises KeyboardInterrupt and a later one ends the process at once;
    return the handler this replaces, for :func:`restore`."""
    global _reported
    _reported = False
    return _install(_unwind)


def end_at_once() -> object:
    """From now on a Ctrl-C ends the process at once, with the line and exit code 130 (no clean-up runs)."""
    return _install(_end)


def restore(previous: object) -> None:
    """Put back the handler that :func:`catch` or :func:`end_at_once` replaced."""
    if previous is not None:
        _install(previous)
