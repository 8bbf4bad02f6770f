"""The headless command line: ``nnstep trace``, ``explain``, ``compare``, ``check``, ``train`` and ``list``.

(``nnstep FILE`` and plain ``nnstep`` open the debugger; :mod:`nnstep.tui.launch` sends the verbs here.)

Exit codes: 0 ok, 1 a gradient check failed, 2 bad input or usage, or an output that cannot be written
(closed, or a full disk), 130 Ctrl-C. Nothing but argparse is imported before the arguments are read, so
``nnstep --help`` answers without loading numpy; each verb imports what it needs.
"""

from __future__ import annotations

import os
import sys

from nnstep.engine import interrupts

if __name__ == "__main__":  # `python -m nnstep.engine.cli`: a Ctrl-C while the rest loads is one line too
    interrupts.end_at_once()

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = interrupts.EXIT_INTERRUPTED
#: What a MemoryError anywhere becomes: one line, exit 2.
NO_MEMORY = ("not enough memory for this scenario (the machine could not give what it asked for); try "
             "fewer samples, units or iterations")


def visible(text: str) -> str:
    """Text from outside (a file name as typed) with its control characters shown, not obeyed."""
    from nnstep.engine.limits import visible as shown

    return shown(text)

DESCRIPTION = """\
nnstep: see every number of a small dense network's forward pass, loss,
backward pass and parameter update, one step at a time.

  nnstep FILE    open the step debugger on FILE
  nnstep         open the debugger's scenario picker
  nnstep VERB    run a headless verb (below)

FILE is a scenario file (TOML), or the name of a bundled scenario
(`nnstep list` shows them)."""

USAGE = "nnstep [FILE] | nnstep [-h] [--version] VERB ..."

EPILOG = ("exit codes: 0 ok · 1 a gradient check failed, or compare found a difference · 2 bad input or usage, or output that cannot be "
          "written · 130 Ctrl-C")
TRACE_EPILOG = "exit codes: 0 ok · 2 bad input or usage, or output that cannot be written · 130 Ctrl-C"


def _parser():
    import argparse

    from nnstep.engine import __version__

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
    trace.add_argument("--iterations", metavar="A:B", type=_iteration_range,
                       help="a training run's iterations to trace, counted from 1, both ends included: "
                            "537, 10:12, 990: or :3 (default: the first)")
    trace.epilog = TRACE_EPILOG

    check = verbs.add_parser("check", prog="nnstep check", help="check every gradient against central finite differences",
                             description="Validate the scenario, then compare every gradient step "
                                         "(delta, grad_W, grad_b) with central differences in float64.",
                             epilog=EPILOG)
    check.add_argument("file", metavar="FILE", help="a scenario file or a bundled scenario's name")
    check.add_argument("--iteration", metavar="N", type=_positive, default=1,
                       help="a training run's iteration whose batch to check, counted from 1 (default 1)")

    train = verbs.add_parser("train", prog="nnstep train", help="run a training scenario to the end",
                             description="Run every iteration of a training scenario headless, with a progress "
                                         "bar, printing the loss (and a classifier's accuracy) every so often "
                                         "and at the end.", epilog=TRACE_EPILOG)
    train.add_argument("file", metavar="FILE", help="a scenario file or a bundled scenario's name")
    train.add_argument("--save", metavar="PARAMS.npz", help="write the final parameters (W1, b1, W2, …) to "
                                                            "this .npz file (checked before the run starts)")
    train.add_argument("--force", action="store_true",
                       help="let --save replace an existing file (or a symbolic link, never followed)")
    train.add_argument("--reports", metavar="N", type=_positive, default=10,
                       help="how many times to print the loss during the run (default 10; at most once "
                            "per iteration)")

    explain = verbs.add_parser(
        "explain", prog="nnstep explain", help="show how one number of one step was computed, with its numbers",
        description="Explain one cell of one step: the formula for that entry, the same with the numbers "
                    "plugged in, its terms, and every input cell it read.", epilog=TRACE_EPILOG)
    explain.add_argument("file", metavar="FILE", help="a scenario file or a bundled scenario's name")
    explain.add_argument("step_text", metavar="STEP",
                         help="the step's number as the trace counts it (from 1), or the name of the array it "
                              "produces: u2, z1, y, loss, delta1, grad_W2, grad_b1, update:W1")
    explain.add_argument("cell", metavar="CELL", nargs="*", default=[],
                         help="the index into that array, comma-separated: 0,3 (a matrix), 3 (a vector), "
                              "empty or left out for the loss")
    explain.add_argument("--iteration", metavar="N", type=_positive, default=1,
                         help="a training run's iteration, counted from 1 (default 1)")
    explain.add_argument("--chain", action="store_true",
                         help="also show the chain of links from the loss down to the cell (backward and "
                              "update steps)")
    explain.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")

    compare = verbs.add_parser(
        "compare", prog="nnstep compare", help="compare your own arrays or notebook printout with nnstep's",
        description="Compare MINE (a .npz or .json of arrays named as nnstep names them, or a notebook's "
                    "print_vec printout) with the scenario's own steps: which arrays match, the first step "
                    "where the two runs part, and the likely mistake.",
        epilog="exit codes: 0 everything compared matches · 1 something differs · 2 bad input or usage · "
               "130 Ctrl-C")
    compare.add_argument("file", metavar="FILE", help="a scenario file or a bundled scenario's name")
    compare.add_argument("mine", metavar="MINE", help="your arrays: a .npz, a .json, or a printout (text)")
    compare.add_argument("--iteration", metavar="N", type=_positive, default=1,
                         help="a training run's iteration to compare with, counted from 1 (default 1)")
    compare.add_argument("--rtol", metavar="R", type=_tolerance, default=None,
                         help="relative tolerance, on top of a printout's printed precision; default 1e-9. "
                              "A large one can let a wrong update match: an update changes a parameter by "
                              "only learning_rate·gradient")
    compare.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")

    verbs.add_parser("list", prog="nnstep list", help="list the bundled scenarios",
                     description="List the bundled scenarios: name, shape, loss, iterations, title.")
    return parser


def _positive(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, found '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, found {value}")
    return value


def _tolerance(text: str) -> float:
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number ≥ 0 such as 1e-6, found '{text}'") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number ≥ 0, found {text}")
    return value


def _one_iteration(args):
    """The iteration ``--iteration`` names, recorded; or exit code 2 after saying why there is none."""
    from nnstep.engine.session import Session

    scenario = _load(args.file, args.verb)
    wanted = _iterations(scenario, (args.iteration, args.iteration), f"--iteration {args.iteration}")
    if isinstance(wanted, str):
        error(f"nnstep: {wanted}")
        return EXIT_BAD_INPUT
    session = Session(scenario)
    session.advance(args.iteration - 1)
    return session.iteration(args.iteration)


def _explain(args) -> int:
    import shutil

    from nnstep.engine.explain import ExplainError, report

    iteration = _one_iteration(args)
    if isinstance(iteration, int):
        return iteration
    try:
        text = report(iteration, args.step_text, " ".join(args.cell), args.chain, args.format,
                      shutil.get_terminal_size((100, 24)).columns)
    except ExplainError as exc:
        error(f"nnstep: {iteration.scenario.shown_path}: {exc}")
        return EXIT_BAD_INPUT
    sys.stdout.write(text)
    return EXIT_OK


def _compare(args) -> int:
    import shutil

    from nnstep.engine.compare import MineError, report

    iteration = _one_iteration(args)
    if isinstance(iteration, int):
        return iteration
    try:
        code, text = report(iteration, args.mine, args.rtol, args.format,
                            shutil.get_terminal_size((100, 24)).columns, args.file)
    except MineError as exc:
        error(f"nnstep: {exc}")
        return EXIT_BAD_INPUT
    sys.stdout.write(text)
    return code


def _iteration_range(text: str) -> tuple[int | None, int | None, str]:
    """``A:B`` (both ends included), ``A``, ``A:`` or ``:B``, iterations counted from 1; and the text."""
    import argparse

    first, sep, last = text.partition(":")
    try:
        a = int(first) if first.strip() else None
        b = (int(last) if last.strip() else None) if sep else a
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected A:B with whole numbers (e.g. 10:12), found '{text}'") from None
    if a is None and not sep:
        raise argparse.ArgumentTypeError("expected A:B, e.g. 10:12")
    for v in (a, b):
        if v is not None and v < 1:
            raise argparse.ArgumentTypeError(f"iterations count from 1, found {v}")
    if a is not None and b is not None and b < a:
        raise argparse.ArgumentTypeError(f"expected A ≤ B, found {a}:{b}")
    return a, b, text


def load_or_report(arg: str, verb: str | None):
    """The scenario FILE names, or None after printing why it does not load (for exit code 2)."""
    from nnstep.engine.scenario import ScenarioError

    try:
        return _load(arg, verb)
    except ScenarioError as exc:
        error(f"nnstep: {exc}")
        return None
    except MemoryError:
        error(f"nnstep: {visible(arg)}: {NO_MEMORY}")
        return None


def _load(arg: str, verb: str | None):
    """Load FILE, falling back to a bundled scenario of that name when no such file exists."""
    from nnstep.engine.bundled import bundled_scenarios, find_bundled
    from nnstep.engine.scenario import ScenarioError, load_scenario

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


def _iterations(scenario, wanted: tuple[int | None, int | None] | None, option: str) -> range | str:
    """The iterations to show, or why they cannot be (naming ``option`` as the user wrote it)."""
    total = scenario.training.iterations if scenario.training else 1
    if wanted is None:
        return range(1, 2)
    a, b = wanted[0] or 1, wanted[1] or total
    if b > total or a > total:
        what = f"has {total} iteration{'s' if total != 1 else ''}" if scenario.training else \
            "has one iteration (no [training] table)"
        return f"{scenario.shown_path}: {option} asks for iteration {max(a, b)}, but the run {what}"
    return range(a, b + 1)


def _trace(args) -> int:
    import shutil

    from nnstep.engine.formats import PIECES, TEXT_WIDTH
    from nnstep.engine.session import Session

    scenario = _load(args.file, args.verb)
    wanted = _iterations(scenario, args.iterations and args.iterations[:2],
                         f"--iterations {args.iterations[2]}" if args.iterations else "")
    if isinstance(wanted, str):
        error(f"nnstep: {wanted}")
        return EXIT_BAD_INPUT
    training = Session(scenario)
    training.advance(wanted[-1] - 1)  # the straight run up to the last one asked for
    options = {"width": shutil.get_terminal_size((TEXT_WIDTH, 24)).columns} if args.format == "text" else {}
    # Each iteration is recorded, written and let go in turn: memory stays flat in their number.
    _write_pieces(PIECES[args.format](wanted, training.iteration, **options))
    return EXIT_OK


def _write_pieces(pieces, size: int = 1 << 16) -> None:
    """Write the pieces to standard output in writes of about ``size`` characters."""
    write, batch, held = sys.stdout.write, [], 0
    for piece in pieces:
        batch.append(piece)
        held += len(piece)
        if held >= size:
            write("".join(batch))
            batch, held = [], 0
    write("".join(batch))


def _check(args) -> int:
    import numpy as np

    from nnstep.engine.formats import shape_label
    from nnstep.engine.gradcheck import ATOL, H, RESOLVE, RTOL, check_gradients, kinks, resolution

    result = _one_iteration(args)
    if isinstance(result, int):
        return result
    sc = result.scenario
    if sc.loss is None:
        print(f"{sc.shown_path}: forward-only scenario (no loss): there are no gradients to check")
        return EXIT_OK
    print(f"gradient check of {sc.shown_path}")
    if sc.training is not None:
        x = result.x
        batch = "one sample" if x.ndim == 1 else f"a batch of {x.shape[0]} samples"
        print(f"iteration {args.iteration} of {sc.training.iterations}: {batch}, from the parameters "
              f"the run reaches there")
    print(f"{sc.shape}, {sc.loss}: central differences, h = {H:g}, float64")
    print(f"an element passes when |analytic − numeric| ≤ {ATOL:g} + {RESOLVE}·eps·max(1, |loss|)/h")
    print(f"                                              + {RTOL:g}·max(|analytic|, |numeric|)")
    # Central differences run the network twice for each entry of every W, b and u (from u on).
    passes = 2 * sum(s.value.size for s in result.steps if s.phase == "backward")
    print(f"{passes} forward pass{'' if passes == 1 else 'es'}: two for each entry of every W, b and u")
    print(flush=True)  # all of that before a long wait, even through a pipe
    bar = _ProgressBar(passes, "forward passes") if sys.stderr is not None and sys.stderr.isatty() else None
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        bar.show(done)

    try:
        with interrupts.Stage(clean_up=_clearing(bar)):
            rows = check_gradients(result, progress if bar is not None else None)
    finally:
        if bar is not None:
            bar.clear()
    name_width = max(len("array"), *(len(r.name) for r in rows))
    shape_width = max(len("shape"), *(len(shape_label(r.analytic)) for r in rows))
    print(f"{'array':<{name_width}}  {'shape':<{shape_width}}  {'max abs error':>13}  {'max rel error':>13}  result")
    for r in rows:
        print(f"{r.name:<{name_width}}  {shape_label(r.analytic):<{shape_width}}  {r.max_abs_error:>13.3e}  "
              f"{r.max_rel_error:>13.3e}  {'pass' if r.passed else 'n/a' if r.unresolved else 'FAIL'}")
    failed = [r.name for r in rows if not r.passed and not r.unresolved]
    unresolved = [r.name for r in rows if r.unresolved]
    print()
    if failed or unresolved:
        if failed:
            print(f"FAILED: {', '.join(failed)} disagree{'s' if len(failed) == 1 else ''} with finite differences")
        rounding = [r.name for r in rows if r.reason == "rounding"]
        not_finite = [r.name for r in rows if r.reason == "not finite"]
        if rounding:
            loss = float(next(s.value for s in result.steps if s.phase == "loss"))
            print(f"NOT CHECKED: {', '.join(rounding)}: the loss is {loss:.3g}, so central differences "
                  f"(h = {H:g}) lose everything below {resolution(loss):.2g} to rounding, and every entry "
                  f"of {'this array' if len(rounding) == 1 else 'these arrays'} is smaller; a loss this "
                  f"large usually means the run has diverged")
        if not_finite:
            print(f"NOT CHECKED: {', '.join(not_finite)}: "
                  f"{'this gradient or its finite differences are' if len(not_finite) == 1 else 'these gradients or their finite differences are'} "
                  f"not finite (inf or nan), so there is no number to compare; the run has overflowed")
        for note in kinks(result):
            print(f"note: {note}; finite differences straddle the kink there")
        overflowed = next((s.name for s in result.steps if not np.all(np.isfinite(s.value))), None)
        if overflowed:
            print(f"note: {overflowed} is the first step to overflow (inf or nan): the scenario's numbers "
                  f"exceed float64's range, so its gradients cannot be checked")
        return EXIT_CHECK_FAILED
    print(f"all {len(rows)} gradients agree with finite differences")
    return EXIT_OK


def _train(args) -> int:
    import time

    import numpy as np

    from nnstep.engine.numbers import count
    from nnstep.engine.session import Session

    scenario = _load(args.file, args.verb)
    if scenario.loss is None:
        error(f"nnstep: {scenario.shown_path}: forward-only scenario (no loss): there is nothing to train")
        return EXIT_BAD_INPUT
    target = None
    if args.save is not None:
        target, why = _save_target(args.save, args.force)
        if why:
            error(f"nnstep: --save {args.save or repr('')}: {why}; nothing was trained")
            return EXIT_BAD_INPUT
    training = Session(scenario)
    total = training.iterations
    t = scenario.training
    print(f"{scenario.name}")
    print(f"{scenario.shape} · {scenario.loss} · learning rate {scenario.learning_rate:g}")
    if t is not None:
        print(f"{count(total, 'iteration')} of {t.method}, seed {t.seed}"
              + (f", sampling {t.sampling}" if t.batch_size is not None else ""))
        print(f"data: {scenario.data_note}")
    if scenario.params_note:
        print(f"params: {scenario.params_note}")
    print()
    bar = _ProgressBar(total) if sys.stderr is not None and sys.stderr.isatty() else None
    shown = min(args.reports, total)  # more reports than iterations would only repeat them
    reports = sorted({max(1, round(total * k / shown)) for k in range(1, shown + 1)})
    width = len(str(total))
    start = time.perf_counter()
    stopped = f"of {total} iterations; nothing saved"
    try:
        with interrupts.Stage(lambda: f"nnstep: interrupted after {training.computed} {stopped}", _clearing(bar)):
            _train_loop(training, reports, bar, shown, width, total)
    except KeyboardInterrupt:  # not a Ctrl-C of the command line's (that ends it at once): a caller's own
        error(f"nnstep: interrupted after {training.computed} {stopped}")
        return EXIT_INTERRUPTED
    finally:
        if bar is not None:
            bar.clear()
    elapsed = time.perf_counter() - start
    print()
    _train_summary(scenario, training, total, elapsed)
    if not np.all(np.isfinite(training.losses)):
        first = int(np.flatnonzero(~np.isfinite(training.losses))[0]) + 1
        print(f"note: the loss is not finite from iteration {first} on: the run diverged (try a smaller "
              f"learning rate)")
    if target is not None:
        return _save(target, args.force, training)
    return EXIT_OK


def _train_loop(training, reports, bar, count: int, width: int, total: int) -> int:
    """Advance to each report, printing its line; return the iterations done."""
    import numpy as np

    from nnstep.engine.numbers import percent

    done = 0
    for report in reports:
        while done < report:
            done += training.advance(min(report - done, max(1, total // 200)))
            if bar is not None:
                bar.show(done)
        since = max(0, done - max(1, total // count))
        window = training.losses[since:done]
        line = f"iteration {done:>{width}}/{total}  batch loss {training.losses[done - 1]:.5g}"
        if training.accuracies is not None:
            line += f", accuracy {percent(training.accuracies[done - 1])}"
        if window.size > 1:
            line += f"  ·  mean of the last {window.size}: loss {np.mean(window):.5g}"
            if training.accuracies is not None:
                line += f", accuracy {percent(np.mean(training.accuracies[since:done]), 1)}"
        if bar is not None:
            bar.clear()
        print(line, flush=True)
    return done


def _train_summary(scenario, training, total: int, elapsed: float) -> None:
    from nnstep.engine.numbers import percent

    print(f"{total} iteration{'s' if total != 1 else ''} in {elapsed:.2f} s")
    final = training.evaluate(scenario.x, scenario.d)
    print(f"final parameters on the {final.samples} training sample{'s' if final.samples != 1 else ''}: "
          f"loss {final.loss:.6g}" + (f", accuracy {percent(final.accuracy, 1)}" if final.accuracy is not None else ""))
    if scenario.test_x is not None:
        test = training.evaluate(scenario.test_x, scenario.test_d)
        print(f"on the {test.samples} held-out test samples: loss {test.loss:.6g}"
              + (f", accuracy {percent(test.accuracy, 1)}" if test.accuracy is not None else ""))


def _save_target(path: str, force: bool) -> tuple[str, str | None]:
    """The file ``--save path`` writes (np.savez adds ``.npz`` to a name without it) and why it cannot
    be written, if it cannot; checked before the run, so that no run is lost to it."""
    if not path:
        return path, "expected a file name, such as params.npz"
    target = path if path.endswith(".npz") else path + ".npz"
    separators = tuple(filter(None, (os.sep, os.altsep)))
    if path.endswith(separators) or os.path.isdir(path) or os.path.isdir(target):
        folder = path if path.endswith(separators) or os.path.isdir(path) else target
        what = "is a folder" if os.path.isdir(folder) else "names a folder"
        return target, f"{what}; expected a file name, such as {os.path.join(folder, 'params.npz')}"
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        return target, f"no such folder ({folder})"
    if not os.access(folder, os.W_OK | os.X_OK):
        return target, f"the folder is not writable ({folder})"
    if os.path.lexists(target) and not force:
        return target, f"{target} already exists; add --force to replace it"
    return target, None


def _save(target: str, force: bool, training) -> int:
    """Write the final parameters to ``target`` whole or not at all: into a new file beside it, then
    renamed over it. A full disk or a Ctrl-C on the way leaves the earlier file as it was; a symbolic
    link at ``target`` is replaced, never followed."""
    import tempfile

    import numpy as np

    arrays = {}
    for l, layer in enumerate(training.final_layers(), start=1):
        arrays[f"W{l}"], arrays[f"b{l}"] = layer.W, layer.b
    replaced = os.path.lexists(target)
    if replaced and not force:  # it appeared during the run
        error(f"nnstep: --save: {target} appeared during the run; nothing saved (add --force to replace it)")
        return EXIT_BAD_INPUT
    folder, name = os.path.split(os.path.abspath(target))
    temporary = []  # the file being written, until it is renamed into place

    def remove_temporary() -> None:
        for path in temporary:
            try:
                os.remove(path)
            except OSError:
                pass

    stopped = "nnstep: interrupted while saving; nothing saved" + (f" ({target} is as it was)" if replaced else "")
    try:
        with interrupts.Stage(lambda: stopped, remove_temporary):
            descriptor, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
            temporary.append(path)
            with os.fdopen(descriptor, "wb") as file:
                umask = os.umask(0)
                os.umask(umask)
                os.fchmod(file.fileno(), 0o666 & ~umask)  # as open() would have made it (mkstemp makes 0600)
                np.savez(file, **arrays)  # a file object: np.savez adds no .npz
                file.flush()
                os.fsync(file.fileno())
            os.replace(path, target)
            temporary.clear()
    except OSError as exc:
        kept = f"; {target} is as it was" if replaced else ""
        error(f"nnstep: --save {target}: cannot write: {exc.strerror or exc}; nothing saved{kept}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # a caller's own (the command line's Ctrl-C ends it in the Stage above)
        error(stopped)
        return EXIT_INTERRUPTED
    finally:
        remove_temporary()
    print(f"saved {', '.join(arrays)} to {target}" + (" (replacing the earlier file)" if replaced else ""))
    return EXIT_OK


def _clearing(bar: _ProgressBar | None):
    """What clears ``bar`` from a signal handler (straight to the descriptor), or None without a bar."""
    return None if bar is None else (lambda: os.write(2, b"\r\x1b[K"))


class _ProgressBar:
    """One line on standard error, redrawn at most ten times a second."""

    def __init__(self, total: int, unit: str = "iterations") -> None:
        import time

        self.total, self.unit = max(1, total), unit
        self.clock, self.start, self.last = time.perf_counter, time.perf_counter(), 0.0

    def show(self, done: int) -> None:
        now = self.clock()
        if now - self.last < 0.1 and done < self.total:
            return
        self.last = now
        width = 30
        filled = round(width * done / self.total)
        sys.stderr.write(f"\r[{'█' * filled}{'·' * (width - filled)}] {done / self.total:4.0%}  "
                         f"{done}/{self.total} {self.unit}  {now - self.start:.1f} s")
        sys.stderr.flush()

    def clear(self) -> None:
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def _list(args) -> int:
    from nnstep.engine.bundled import bundled_scenarios
    from nnstep.engine.numbers import count
    from nnstep.engine.scenario import load_scenario

    scenarios = [load_scenario(p) for p in bundled_scenarios()]
    width = max(len(s.path.stem) for s in scenarios)
    for s in scenarios:
        loss = s.loss or "forward only"
        runs = count(s.training.iterations if s.training else 1, "iteration")
        print(f"{s.path.stem:<{width}}  {s.shape:<8}  {loss:<20}  {runs:<15}  {s.name}")
    return EXIT_OK


class OutputError(Exception):
    """Standard output cannot take what is written to it: closed, or its disk full (not a reader gone
    away: that is a BrokenPipeError, and quiet)."""


class _Output:
    """Standard output, its write errors raised as :class:`OutputError` so that they are told apart from
    the verbs' own (a BrokenPipeError stays itself)."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(exc.strerror or str(exc)) from exc

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(exc.strerror or str(exc)) from exc

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def error(line: str) -> None:
    """Print one line on standard error, if it is open; a failure to do so is not another error."""
    if sys.stderr is None:
        return
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:
        _discard(sys.stderr)  # nor again at exit


def _discard(stream) -> None:
    """Send what is left of ``stream`` to the null device, so that no flush fails again at exit."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    except (AttributeError, OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return its exit code. An output that cannot be written, or a Ctrl-C at any
    moment, ends it with one line on standard error (exit code 2 or 130), never a traceback."""
    previous = interrupts.end_at_once()
    try:
        return _main(argv)
    except KeyboardInterrupt:  # a caller's own handler's, before ours was in place, or a test's
        error(interrupts.MESSAGE)
        _settle_output()
        return EXIT_INTERRUPTED
    finally:
        if argv is not None:  # called, not run as the command (which answers Ctrl-C to the very end)
            interrupts.restore(previous)


def _settle_output() -> None:
    """Write out what standard output still holds, or drop it if it cannot be written, so that the
    interpreter's own flush at exit has nothing left to fail on."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except OSError:
        _discard(sys.stdout)


def _main(argv: list[str] | None) -> int:
    stdout = sys.stdout
    if stdout is None:  # started with descriptor 1 closed (`>&-`)
        error("nnstep: cannot write to standard output: it is closed")
        return EXIT_BAD_INPUT
    for stream in (stdout, sys.stderr):
        # A terminal that cannot show the seed's Japanese labels gets escapes instead of a crash.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    sys.stdout = _Output(stdout)
    try:
        try:
            args = _parser().parse_args(argv)
        except SystemExit:
            sys.stdout.flush()  # --help and --version: their text too can meet a full disk
            raise
        from nnstep.engine.scenario import ScenarioError

        try:
            code = {"trace": _trace, "check": _check, "train": _train, "list": _list, "explain": _explain,
                    "compare": _compare}[args.verb](args)
        except ScenarioError as exc:
            error(f"nnstep: {exc}")
            code = EXIT_BAD_INPUT
        except MemoryError:
            error(f"nnstep: {visible(args.file) if hasattr(args, 'file') else args.verb}: {NO_MEMORY}")
            code = EXIT_BAD_INPUT
        sys.stdout.flush()  # here, not at exit, where a full disk could no longer be reported
        return code
    except BrokenPipeError:
        # The reader went away (`nnstep trace … | head`): stop quietly, without a second error at exit.
        _discard(stdout)
        return EXIT_OK
    except OutputError as exc:
        error(f"nnstep: cannot write to standard output: {exc}")
        _discard(stdout)
        return EXIT_BAD_INPUT
    finally:
        sys.stdout = stdout


if __name__ == "__main__":
    sys.exit(main())
