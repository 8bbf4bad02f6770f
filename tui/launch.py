"""The ``nnstep`` command: the headless verbs go to :mod:`nnstep.engine.cli`; a FILE, or nothing, opens the app.

Textual is imported only when the app opens, so ``nnstep trace`` starts as fast as the engine alone.
"""

from __future__ import annotations

import sys

#: The headless verbs, in the order ``nnstep --help`` lists them.
VERBS = ("trace", "explain", "compare", "check", "train", "list")

#: Every sentence this module prints.
TEXT = {
    "one_scenario": "nnstep: one scenario at a time (got {n} arguments); `nnstep --help` shows the commands",
    "mine_needs_path": "nnstep: --mine needs the path of your arrays (nnstep FILE --mine MINE)",
    "mine_needs_file": "nnstep: --mine needs a scenario FILE to compare with (nnstep FILE --mine MINE)",
}


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


def _mine_argument(argv: list[str]) -> tuple[list[str], str | None] | str:
    """``argv`` without ``--mine MINE`` (or ``--mine=MINE``), and MINE; or why it cannot be read."""
    rest, mine = [], None
    args = iter(argv)
    for arg in args:
        if arg == "--mine":
            mine = next(args, None)
            if mine is None:
                return TEXT["mine_needs_path"]
        elif arg.startswith("--mine="):
            mine = arg.removeprefix("--mine=")
        else:
            rest.append(arg)
    if mine is not None and not mine.strip():
        return TEXT["mine_needs_path"]
    if mine is not None and not rest:
        return TEXT["mine_needs_file"]
    return rest, mine


def _app(argv: list[str]):
    """The app on FILE (or on the picker), with MINE compared (``--mine``), or the exit code of a FILE or a
    MINE that cannot be opened."""
    from nnstep.engine.cli import EXIT_BAD_INPUT, load_or_report

    parsed = _mine_argument(argv)
    if isinstance(parsed, str):
        print(parsed, file=sys.stderr)
        return EXIT_BAD_INPUT
    argv, mine = parsed
    if len(argv) > 1:
        print(TEXT["one_scenario"].format(n=len(argv)), file=sys.stderr)
        return EXIT_BAD_INPUT
    result = overlay = None
    if argv:
        from nnstep.engine.session import Session

        scenario = load_or_report(argv[0], None)
        if scenario is None:
            return EXIT_BAD_INPUT
        result = Session(scenario)
        if mine is not None:
            from nnstep.tui.comparing import MineError, load, mine_path

            try:
                overlay = load(mine_path(mine), result.iteration(1))
            except MineError as exc:
                print(f"nnstep: {exc}", file=sys.stderr)
                return EXIT_BAD_INPUT
    from nnstep.tui.app import NNStepApp

    return NNStepApp(session=result, overlay=overlay)


if __name__ == "__main__":
    sys.exit(main())
