"""The ``nnstep`` command: the headless verbs go to :mod:`nnstep.engine.cli`; a FILE, or nothing, opens the app.

Textual is imported only when the app opens, so ``nnstep trace`` starts as fast as the engine alone.
"""

from __future__ import annotations

import sys

#: The headless verbs, in the order ``nnstep --help`` lists them.
VERBS = ("trace", "explain", "compare", "check", "train", "list")


def main(argv: list[str] | None = None) -> int:
    from nnstep.engine import interrupts  # first: from here on a Ctrl-C is one line and exit code 130

    previous = interrupts.end_at_once()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and (argv[0] in VERBS or argv[0].startswith("-")):
        from nnstep.engine.cli import main as cli_main

        return cli_main(argv)
    app = _app(argv)
    if isinstance(app, int):
        return app
    from nnstep.engine.cli import EXIT_OK

    interrupts.restore(previous)  # the app runs as it always did, with Python's own handler
    app.run()
    return app.return_code or EXIT_OK


def _app(argv: list[str]):
    """The app on FILE (or on the picker), or the exit code of a FILE that cannot be opened."""
    from nnstep.engine.cli import EXIT_BAD_INPUT, load_or_report

    if len(argv) > 1:
        print(f"nnstep: one scenario at a time (got {len(argv)} arguments); "
              f"`nnstep --help` shows the commands", file=sys.stderr)
        return EXIT_BAD_INPUT
    result = None
    if argv:
        from nnstep.engine.session import Session

        scenario = load_or_report(argv[0], None)
        if scenario is None:
            return EXIT_BAD_INPUT
        result = Session(scenario)
    from nnstep.tui.app import NNStepApp

    return NNStepApp(session=result)


if __name__ == "__main__":
    sys.exit(main())
