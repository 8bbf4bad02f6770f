"""Where the debugger's cursor is, and every move it makes, as pure functions over a small immutable view.

Each move takes the :class:`View` and a :class:`Context` (what the move needs to know about the run) and
returns the new view with the notices to show. The debugger screen assigns the view and its panes render
it; nothing here imports Textual, so every move is tested without a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, NamedTuple, Sequence

from nnstep.engine.views import START
from nnstep.tui import cursor as cells
from nnstep.tui.cursor import Cursor, Direction, Grid

#: Replay speeds in steps per second.
SPEEDS = (0.5, 1.0, 2.0, 4.0, 8.0)
DEFAULT_SPEED = 1

#: Every sentence this module shows a user, in one place (a translation replaces the templates).
TEXT = {
    "last_step": "This is the last step. {back} steps back, {start} goes to the start.",
    "last_step_training": "This is the last step of the last iteration. {back} steps back, {goto} goes to any "
                          "iteration.",
    "last_iteration": "This is the last iteration ({total}).",
    "first_iteration": "This is the first iteration.",
    "no_longer_waiting": "No longer waiting to go to iteration {iteration}.",
    "still_computing": "Iteration {iteration} is still being computed ({computed} of {total} done): going there "
                       "when it is ready. Any move cancels this.",
    "now_computed": "At iteration {iteration}: it has been computed.",
    "breakpoint_needs_a_step": "Breakpoints go on steps: move to a step first.",
    "breakpoint_set": "Breakpoint set on step {step}.",
    "breakpoint_cleared": "Breakpoint cleared on step {step}.",
    "stopped_in_next_iteration": "Stopped at the breakpoint on step {step} of iteration {iteration}: {formula}",
    "stopped": "Stopped at the breakpoint on step {step}: {formula}",
    "no_breakpoint_ahead": "No breakpoint ahead: at {where}.",
    "no_breakpoints": "No breakpoints set ({key} sets one): at {where}.",
    "the_last_step": "the last step",
    "the_last_step_of_this_iteration": "the last step of this iteration",
    "replay_paused": "Replay paused at the breakpoint on step {step}.",
    "replay_finished": "Replay finished: this is the last step.",
    "note_breakpoint": "■ stopped at breakpoint {step}",
    "note_finished": "■ finished",
    "speed_one": "{speed:g} step/s",
    "speed_many": "{speed:g} steps/s",
    "breakpoints_one": " · {count} breakpoint",
    "breakpoints_many": " · {count} breakpoints",
    "status_pending": "⧗ going to iteration {iteration} when computed{marks}",
    "status_playing": "▶ playing {speed}{marks}",
    "status_noted": "{note} · replay {speed}{marks}",
    "status": "replay {speed}{marks}",
    "no_chain": "{name} is computed going forward: the chain of derivatives starts at the loss, and {key} shows "
                "it on a delta, a gradient or an update.",
    "no_chain_start": "These are the data the run starts from: the chain of derivatives starts at the loss, and "
                      "{key} shows it on a delta, a gradient or an update.",
    "no_mine": "No arrays of yours to compare with: {key} opens a file of them (.npz, .json or a printout).",
    "no_difference": "Nothing in {file} differs from nnstep's arrays in this iteration.",
    "first_difference": "The first difference: step {step}, {formula}",
}

#: The keys a notice names when the app has not said (the defaults of the bindings).
DEFAULT_KEYS = {"previous_step": "p / ←", "first_step": "g / Home", "goto_iteration": "i", "toggle_breakpoint": "b",
                "show_chain": "e", "open_mine": "m"}


@dataclass(frozen=True)
class View:
    """What the debugger shows: one step of one iteration, the breakpoints and the replay."""

    #: The iteration shown, counted from 1.
    iteration: int = 1
    #: The index of the last step executed; START (−1) before the first operation.
    position: int = START
    #: Step indices; in a training run they hold in every iteration.
    breakpoints: frozenset[int] = frozenset()
    playing: bool = False
    #: An index into SPEEDS.
    speed: int = DEFAULT_SPEED
    #: An iteration asked for before the straight run reached it: (iteration, position).
    pending: tuple[int, int] | None = None
    #: Why the replay last stopped ("■ stopped at breakpoint 9"), shown until the cursor moves.
    replay_note: str = ""
    #: The Values pane's cell cursor (None: off), and whether the chain from the loss to its cell is shown.
    cell: Cursor | None = None
    chain: bool = False


@dataclass(frozen=True)
class Context:
    """What a move needs to know about the run; the same for every iteration but ``computed``."""

    #: The index of the last step of an iteration.
    last: int
    #: How many iterations there are, and how many the straight run has computed so far.
    total: int = 1
    computed: int = 1
    #: The index of each phase's first step, and each step's formula (alike in every iteration).
    phase_starts: tuple[int, ...] = ()
    formulas: tuple[str, ...] = ()
    training: bool = False
    #: Binding id → the keys it answers to now, e.g. ``{"previous_step": "p / ←"}``.
    keys: Mapping[str, str] = field(default_factory=dict)

    def reachable(self, iteration: int) -> bool:
        """An iteration can be shown once the one before it is computed."""
        return not self.training or iteration <= self.computed + 1

    def key(self, binding_id: str) -> str:
        return self.keys.get(binding_id, DEFAULT_KEYS[binding_id])


class Notice(NamedTuple):
    """A sentence to show the user, with its severity (``information`` or ``warning``)."""

    text: str
    severity: str = "information"


class Moved(NamedTuple):
    """The view after a move, and the notices to show, in order (each replaces the one before)."""

    view: View
    notices: tuple[Notice, ...] = ()


def _say(template: str, /, **values) -> Notice:
    return Notice(TEXT[template].format(**values))


# --- moving the cursor --------------------------------------------------------------------------------


def go(view: View, ctx: Context, position: int, iteration: int | None = None) -> Moved:
    """Move to ``position`` (clamped to the run) of ``iteration`` (this one by default), pausing a replay:
    the user has taken over. A jump still waiting for its iteration is dropped; an iteration not yet
    computed becomes the one waited for."""
    notices: list[Notice] = []
    view = replace(view, playing=False, replay_note="")
    if view.pending is not None:
        dropped = view.pending[0]
        view = replace(view, pending=None)
        if iteration != dropped:
            notices.append(_say("no_longer_waiting", iteration=dropped))
    target = max(START, min(ctx.last, position))
    if iteration is not None and iteration != view.iteration:
        iteration = max(1, min(ctx.total, iteration))
        if not ctx.reachable(iteration):
            notices.append(_say("still_computing", iteration=iteration, computed=ctx.computed, total=ctx.total))
            return Moved(replace(view, pending=(iteration, target)), tuple(notices))
        return Moved(replace(view, iteration=iteration, position=target), tuple(notices))
    return Moved(replace(view, position=target), tuple(notices))


def next_step(view: View, ctx: Context) -> Moved:
    """The next operation; from the last step, the start of the next iteration."""
    if view.position == ctx.last and view.iteration < ctx.total:
        return go(view, ctx, START, view.iteration + 1)
    notices: tuple[Notice, ...] = ()
    if view.position == ctx.last:
        back = ctx.key("previous_step").split(" / ")[0]
        notices = (_say("last_step_training", back=back, goto=ctx.key("goto_iteration")) if ctx.training else
                   _say("last_step", back=back, start=ctx.key("first_step").split(" / ")[0]),)
    moved = go(view, ctx, view.position + 1)
    return Moved(moved.view, notices + moved.notices)


def previous_step(view: View, ctx: Context) -> Moved:
    """Step back; from the start, the last step of the previous iteration."""
    if view.position == START and view.iteration > 1:
        return go(view, ctx, ctx.last, view.iteration - 1)
    return go(view, ctx, view.position - 1)


def next_phase(view: View, ctx: Context) -> Moved:
    """The first step of the next phase; after the last phase, the start of the next iteration."""
    ahead = [i for i in ctx.phase_starts if i > view.position]
    if not ahead and view.iteration < ctx.total:
        return go(view, ctx, START, view.iteration + 1)
    return go(view, ctx, ahead[0] if ahead else ctx.last)


def previous_phase(view: View, ctx: Context) -> Moved:
    """The start of this phase, or the one before; from the start, the last phase of the previous iteration."""
    behind = [i for i in ctx.phase_starts if i < view.position]
    if not behind and view.iteration > 1:
        return go(view, ctx, ctx.phase_starts[-1], view.iteration - 1)
    return go(view, ctx, behind[-1] if behind else START)


def first_step(view: View, ctx: Context) -> Moved:
    """The start of this iteration, before its first operation."""
    return go(view, ctx, START)


def last_step(view: View, ctx: Context) -> Moved:
    """The last step of this iteration."""
    return go(view, ctx, ctx.last)


def jump(view: View, ctx: Context, position: int) -> Moved:
    """A step chosen in the list, in this iteration."""
    return go(view, ctx, position)


def first_difference(view: View, ctx: Context, first: int | None, file: str | None) -> Moved:
    """The first step where the user's arrays (``file``, None: none opened) differ from ours (``first``, its
    index, None: none differs), in this iteration."""
    if file is None:
        return Moved(view, (_say("no_mine", key=ctx.key("open_mine")),))
    if first is None:
        return Moved(view, (_say("no_difference", file=file),))
    moved = go(view, ctx, first)
    return Moved(moved.view, moved.notices + (_say("first_difference", step=first + 1, formula=ctx.formulas[first]),))


# --- iterations -----------------------------------------------------------------------------------------


def next_iteration(view: View, ctx: Context) -> Moved:
    """The same step of the next iteration."""
    if view.iteration == ctx.total:
        return Moved(view, (_say("last_iteration", total=ctx.total),))
    return go(view, ctx, view.position, view.iteration + 1)


def previous_iteration(view: View, ctx: Context) -> Moved:
    """The same step of the previous iteration."""
    if view.iteration == 1:
        return Moved(view, (_say("first_iteration"),))
    return go(view, ctx, view.position, view.iteration - 1)


def goto_iteration(view: View, ctx: Context, iteration: int) -> Moved:
    """The same step of ``iteration``, now or, if it is not computed yet, once it is."""
    return go(view, ctx, view.position, iteration)


def progressed(view: View, ctx: Context) -> Moved:
    """The straight run has computed ``ctx.computed`` iterations: a jump waiting for one of them goes."""
    if view.pending is None or not ctx.reachable(view.pending[0]):
        return Moved(view)
    iteration, position = view.pending
    moved = go(replace(view, pending=None), ctx, position, iteration)
    return Moved(moved.view, moved.notices + (_say("now_computed", iteration=iteration),))


# --- breakpoints ----------------------------------------------------------------------------------------


def toggle_breakpoint(view: View, ctx: Context, listed: bool = True) -> Moved:
    """Set or clear a breakpoint on the current step; say so when the list that shows ● is not ``listed``."""
    if view.position < 0:
        return Moved(view, (Notice(TEXT["breakpoint_needs_a_step"], "warning"),))
    breakpoints = view.breakpoints ^ {view.position}
    notices: tuple[Notice, ...] = ()
    if not listed:
        key = "breakpoint_set" if view.position in breakpoints else "breakpoint_cleared"
        notices = (_say(key, step=view.position + 1),)
    return Moved(replace(view, breakpoints=breakpoints), notices)


def continue_run(view: View, ctx: Context) -> Moved:
    """On to the next breakpoint, in the next iteration if none is ahead in this one; else the last step."""
    ahead = sorted(b for b in view.breakpoints if b > view.position)
    if not ahead and view.breakpoints and view.iteration < ctx.total:
        first = min(view.breakpoints)
        moved = go(view, ctx, first, view.iteration + 1)
        stop = _say("stopped_in_next_iteration", step=first + 1, iteration=moved.view.iteration,
                    formula=ctx.formulas[first])
    elif ahead:
        moved = go(view, ctx, ahead[0])
        stop = _say("stopped", step=ahead[0] + 1, formula=ctx.formulas[ahead[0]])
    else:
        moved = go(view, ctx, ctx.last)
        where = TEXT["the_last_step_of_this_iteration" if ctx.training else "the_last_step"]
        stop = _say("no_breakpoint_ahead", where=where) if view.breakpoints else \
            _say("no_breakpoints", key=ctx.key("toggle_breakpoint"), where=where)
    return Moved(moved.view, moved.notices + (stop,))


# --- replay ---------------------------------------------------------------------------------------------


def play(view: View, ctx: Context) -> Moved:
    """Start the replay; from the very end it starts over (from iteration 1 of a training run)."""
    if view.playing:
        return Moved(view)
    view = replace(view, replay_note="")
    notices: tuple[Notice, ...] = ()
    if view.position == ctx.last and view.iteration == ctx.total:
        if ctx.training:
            view, notices = go(view, ctx, START, 1)
        else:
            view = replace(view, position=START)
    return Moved(replace(view, playing=True), notices)


def pause(view: View) -> Moved:
    return Moved(replace(view, playing=False))


def faster(view: View) -> Moved:
    return Moved(replace(view, speed=min(len(SPEEDS) - 1, view.speed + 1)))


def slower(view: View) -> Moved:
    return Moved(replace(view, speed=max(0, view.speed - 1)))


def replay_tick(view: View, ctx: Context) -> Moved:
    """One step of the replay: it stops at a breakpoint and at the very end, and runs on into the next
    iteration once that one can be shown."""
    if view.position >= ctx.last:
        if view.iteration < ctx.total and ctx.reachable(view.iteration + 1):
            return Moved(replace(view, iteration=view.iteration + 1, position=START))
        return Moved(replace(view, playing=False))
    position = view.position + 1
    if position in view.breakpoints:
        return Moved(replace(view, position=position, playing=False,
                             replay_note=TEXT["note_breakpoint"].format(step=position + 1)),
                     (_say("replay_paused", step=position + 1),))
    if position == ctx.last and view.iteration == ctx.total:
        return Moved(replace(view, position=position, playing=False, replay_note=TEXT["note_finished"]),
                     (_say("replay_finished"),))
    return Moved(replace(view, position=position))


# --- the status line ------------------------------------------------------------------------------------


def status(view: View) -> str:
    """The Operation pane's status: a jump waiting, the replay playing, or why it stopped; with its speed
    and how many breakpoints are set."""
    rate = SPEEDS[view.speed]
    speed = TEXT["speed_one" if rate == 1 else "speed_many"].format(speed=rate)
    count = len(view.breakpoints)
    marks = TEXT["breakpoints_one" if count == 1 else "breakpoints_many"].format(count=count) if count else ""
    if view.pending is not None:
        return TEXT["status_pending"].format(iteration=view.pending[0], marks=marks)
    if view.playing:
        return TEXT["status_playing"].format(speed=speed, marks=marks)
    if view.replay_note:
        return TEXT["status_noted"].format(note=view.replay_note, speed=speed, marks=marks)
    return TEXT["status"].format(speed=speed, marks=marks)


# --- the cell cursor ------------------------------------------------------------------------------------
# The Values pane's cursor over the cells of the arrays shown (``grids``, see nnstep.tui.cursor): it comes on
# when the pane takes the focus and stays, over every step, until Escape.


def cell_on(view: View, grids: Sequence[Grid]) -> View:
    """The cell cursor on: where it was, or on the first cell of the result."""
    return replace(view, cell=cells.place(view.cell, grids) if view.cell is not None else cells.start(grids))


def move_cell(view: View, grids: Sequence[Grid], direction: Direction) -> View:
    """One key's move of the cell cursor (turning it on first if it was off)."""
    view = cell_on(view, grids) if view.cell is None else view
    return view if view.cell is None else replace(view, cell=cells.move(view.cell, grids, direction))


def place_cell(view: View, grids: Sequence[Grid]) -> View:
    """The cell cursor on the arrays of the step now shown: the same index where the array has it."""
    return view if view.cell is None else replace(view, cell=cells.place(view.cell, grids))


def toggle_chain(view: View, ctx: Context, grids: Sequence[Grid], without: str | None = None) -> Moved:
    """Show the chain from the loss to the cursor's cell (the cursor comes on if it was off), or hide it.
    ``without``: the name of the step shown when it has no chain (a forward step, the loss; "" at the start),
    which a notice says instead."""
    if view.chain:
        return Moved(replace(view, chain=False))
    view = cell_on(view, grids)
    if without is not None:
        key = ctx.key("show_chain")
        return Moved(view, (_say("no_chain", name=without, key=key) if without else _say("no_chain_start", key=key),))
    return Moved(replace(view, chain=True))


def cell_off(view: View) -> View:
    """Escape: the chain goes if it is shown, else the cell cursor."""
    if view.chain:
        return replace(view, chain=False)
    return replace(view, cell=None)
