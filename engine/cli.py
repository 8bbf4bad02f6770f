"""The headless command line: ``nnstep trace``, ``nnstep check`` and ``nnstep list``.

(``nnstep FILE`` and plain ``nnstep`` open the debugger; :mod:`tui.launch` sends the verbs here.)

Exit codes: 0 ok, 1 a gradient check failed, 2 bad input or usage. Only argparse is imported at start,
so ``nnstep --help`` answers without loading numpy; each verb imports what it needs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2

DESCRIPTION = """\
nnstep: see every number of a small dense network's forward pass, loss,
backward pass and parameter update, one step at a time.

  nnstep FILE    open the step debugger on FILE
  nnstep         open the debugger's scenario picker
  nnstep VERB    run a headless verb (below)

FILE is a scenario file (TOML), or the name of a bundled scenario
(`nnstep list` shows them)."""

USAGE = "nnstep [FILE] | nnstep [-h] [--version] VERB ..."

EPILOG = "exit codes: 0 ok · 1 a gradient check failed · 2 bad input or usage"
TRACE_EPILOG = "exit codes: 0 ok · 2 bad input or usage"


def _parser() -> argparse.ArgumentParser:
    from engine import __version__

    parser = argparse.ArgumentParser(prog="nnstep", usage=USAGE, description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"nnstep {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    trace = verbs.add_parser("trace", prog="nnstep trace", help="print every step of the run, in order",
                             description="Print every step of the run: forward, loss, backward, update.",
                             epilog=EPILOG)
    trace.add_argument("file", metavar="FILE", help="a scenario file or a bundled scenario's name")
    trace.add_argument("--format", choices=("text", "json", "seed"), default="text",
                       help="text: a readable listing (default) · json: every step as data · "
                            "seed: the course notebook's print_vec layout, to diff against your own")
    trace.epilog = TRACE_EPILOG

    check = verbs.add_parser("check", prog="nnstep check", help="check every gradient against central finite differences",
                             description="Validate the scenario, then compare every gradient step "
                                         "(delta, grad_W, grad_b) with central differences in float64.",
                             epilog=EPILOG)
    check.add_argument("file", metavar="FILE", help="a scenario file or a bundled scenario's name")

    verbs.add_parser("list", prog="nnstep list", help="list the bundled scenarios", description="List the bundled scenarios.")
    return parser


def load_or_report(arg: str, verb: str | None):
    """The scenario FILE names, or None after printing why it does not load (for exit code 2)."""
    from engine.scenario import ScenarioError

    try:
        return _load(arg, verb)
    except ScenarioError as exc:
        print(f"nnstep: {exc}", file=sys.stderr)
        return None


def _load(arg: str, verb: str | None):
    """Load FILE, falling back to a bundled scenario of that name when no such file exists."""
    from engine.bundled import bundled_scenarios, find_bundled
    from engine.scenario import ScenarioError, load_scenario

    if os.path.exists(arg):
        return load_scenario(arg)
    if os.sep in arg:
        name = os.path.basename(arg).removesuffix(".toml")
        if find_bundled(name):
            raise ScenarioError(arg, None, f"no such file; a bundled scenario has that name, and "
                                f"`{' '.join(filter(None, ('nnstep', verb, name)))}` opens it from any folder")
        return load_scenario(arg)  # reports the missing file
    bundled = find_bundled(arg)
    if bundled is not None:
        return load_scenario(bundled)
    import difflib

    names = [p.stem for p in bundled_scenarios()]
    close = difflib.get_close_matches(arg.removesuffix(".toml"), names, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise ScenarioError(arg, None, f"no such file, nor a bundled scenario of that name ({hint}"
                        "`nnstep list` shows them)")


def _trace(args) -> int:
    from engine.formats import RENDERERS, TEXT_WIDTH, render_text
    from engine.steps import run

    result = run(_load(args.file, args.verb))
    if args.format == "text":
        sys.stdout.write(render_text(result, shutil.get_terminal_size((TEXT_WIDTH, 24)).columns))
    else:
        sys.stdout.write(RENDERERS[args.format](result))
    return EXIT_OK


def _check(args) -> int:
    import numpy as np

    from engine.formats import shape_label
    from engine.gradcheck import ATOL, H, RTOL, check_gradients, kinks
    from engine.steps import run

    result = run(_load(args.file, args.verb))
    sc = result.scenario
    if sc.loss is None:
        print(f"{sc.path}: forward-only scenario (no loss): there are no gradients to check")
        return EXIT_OK
    rows = check_gradients(result)
    print(f"gradient check of {sc.path}")
    print(f"{sc.shape}, {sc.loss}: central differences, h = {H:g}, float64")
    print(f"an element passes when |analytic − numeric| ≤ {ATOL:g}·max(1, |loss|)")
    print(f"                                              + {RTOL:g}·max(|analytic|, |numeric|)")
    print()
    name_width = max(len("array"), *(len(r.name) for r in rows))
    shape_width = max(len("shape"), *(len(shape_label(r.analytic)) for r in rows))
    print(f"{'array':<{name_width}}  {'shape':<{shape_width}}  {'max abs error':>13}  {'max rel error':>13}  result")
    for r in rows:
        print(f"{r.name:<{name_width}}  {shape_label(r.analytic):<{shape_width}}  {r.max_abs_error:>13.3e}  "
              f"{r.max_rel_error:>13.3e}  {'pass' if r.passed else 'FAIL'}")
    failed = [r.name for r in rows if not r.passed]
    print()
    if failed:
        print(f"FAILED: {', '.join(failed)} disagree{'s' if len(failed) == 1 else ''} with finite differences")
        for note in kinks(result):
            print(f"note: {note}; finite differences straddle the kink there")
        overflowed = next((s.name for s in result.steps if not np.all(np.isfinite(s.value))), None)
        if overflowed:
            print(f"note: {overflowed} is the first step to overflow (inf or nan): the scenario's numbers "
                  f"exceed float64's range, so its gradients cannot be checked")
        return EXIT_CHECK_FAILED
    print(f"all {len(rows)} gradients agree with finite differences")
    return EXIT_OK


def _list(args) -> int:
    from engine.bundled import bundled_scenarios
    from engine.scenario import load_scenario

    scenarios = [load_scenario(p) for p in bundled_scenarios()]
    width = max(len(s.path.stem) for s in scenarios)
    for s in scenarios:
        loss = s.loss or "forward only"
        print(f"{s.path.stem:<{width}}  {s.shape:<8}  {loss:<20}  {s.name}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        # A terminal that cannot show the seed's Japanese labels gets escapes instead of a crash.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = _parser().parse_args(argv)
    try:
        from engine.scenario import ScenarioError

        try:
            return {"trace": _trace, "check": _check, "list": _list}[args.verb](args)
        except ScenarioError as exc:
            print(f"nnstep: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader went away (`nnstep trace … | head`): stop quietly, without a second error at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
