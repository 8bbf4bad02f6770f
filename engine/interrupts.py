"""Ctrl-C on the command line: one line on standard error and exit code 130, whenever it comes.

Python turns SIGINT into a KeyboardInterrupt wherever it lands: while modules import (a traceback),
inside a finalizer or the import machinery's own callbacks (where it is printed as "Exception ignored"
and then lost, and the program goes on), while an earlier one is being reported. So the command line
raises none: from its first lines, :func:`end_at_once` makes a Ctrl-C end the process where it is,
after the clean-up and with the line that the current :class:`Stage` gives (a training run says how
far it got; a save removes its half-written file). It imports nothing slow, so that it is in place
within a millisecond of the first line of nnstep.
"""

from __future__ import annotations

import os

try:
    import _signal as signal  # the C module itself: ``signal`` spends milliseconds building its enums
except ImportError:  # an interpreter without it
    import signal

#: The exit code of a process ended by Ctrl-C, as a shell reports one killed by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130
MESSAGE = "nnstep: interrupted"

#: The stages under way, innermost last.
_stages: list[Stage] = []
_ending = False


class Stage:
    """``with Stage(line, clean_up):`` a Ctrl-C inside first calls ``clean_up()``, then says ``line()``
    (of the innermost stage that has one) instead of :data:`MESSAGE`. Both run in the signal handler,
    between two steps of the program: they must be quick, and write only with ``os.write``."""

    def __init__(self, line=None, clean_up=None) -> None:
        self.line, self.clean_up = line, clean_up

    def __enter__(self) -> Stage:
        _stages.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _stages.remove(self)


def say(line: str) -> None:
    """Write one line straight to standard error's descriptor (not through sys.stderr, whose buffer a
    handler may have interrupted); a closed or full standard error is no further error."""
    try:
        os.write(2, (line + "\n").encode("utf-8", "backslashreplace"))
    except OSError:
        pass


def _end(signum: int, frame: object) -> None:
    global _ending
    if _ending:  # a second Ctrl-C while the first is answered
        return
    _ending = True
    line = MESSAGE
    for stage in reversed(_stages):
        try:
            if stage.clean_up is not None:
                stage.clean_up()
            if stage.line is not None and line is MESSAGE:
                line = stage.line()
        except Exception:
            pass
    say(line)
    os._exit(EXIT_INTERRUPTED)


def end_at_once() -> object:
    """From now on a Ctrl-C ends the process at once: the current stages' clean-up, one line, exit
    code 130. Return the handler this replaces, for :func:`restore` (None where signals cannot be set:
    outside the main thread)."""
    try:
        return signal.signal(signal.SIGINT, _end)
    except ValueError:
        return None


def restore(previous: object) -> None:
    """Put back the handler that :func:`end_at_once` replaced."""
    if previous is not None:
        try:
            signal.signal(signal.SIGINT, previous)
        except ValueError:
            pass
