"""The debugger screen: the five panes, the step cursor, breakpoints and replay.

The screen owns the state, a :class:`~nnstep.tui.navigation.View` that every key replaces with the one a
pure function of :mod:`nnstep.tui.navigation` returns, and hands it down to the panes as attributes; panes
only render. Every view is a function of that state, so stepping back restores exactly the screen that
was there before.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header
from textual.worker import get_current_worker

from nnstep.engine.bundled import bundled_dir
from nnstep.engine.explain import chain, explain, label
from nnstep.engine.limits import visible
from nnstep.engine.session import Session
from nnstep.engine.views import START, phase_starts
from nnstep.engine.numbers import exact
from nnstep.tui import navigation
from nnstep.tui.comparing import MineError, Overlay, load
from nnstep.tui.cursor import index_label
from nnstep.tui.image_pane import ImagePane
from nnstep.tui.loss_pane import LossPane
from nnstep.tui.navigation import SPEEDS, View
from nnstep.tui.network_pane import NetworkPane
from nnstep.tui.operation_pane import TEXT as OPERATION_TEXT, Explained, OperationPane, differ_word
from nnstep.tui.params_pane import ParamsPane
from nnstep.tui.steps_pane import StepsPane
from nnstep.tui.values_pane import CHAIN_TOOLTIP, ValuesPane, reads_masks


def describe_path(path) -> str:
    """Where the scenario came from, the same wherever nnstep is installed: bundled, or the file as given."""
    if path is None:
        return ""
    p = Path(path)
    if p.parent.resolve() == bundled_dir().resolve():
        return f"bundled scenario {p.stem}"
    return visible(str(p))  # a file name is text from outside: its control characters are shown, not obeyed


#: Every sentence the screen itself shows (the panes and the moves have their own).
TEXT = {
    "sub_title_mine": "{where} · yours: {file}",
    "steps_mine": "Steps · yours: {file}",
    "steps_counts": "✓ {match}  ✗ {differs}  · {missing}",
    "steps_quirks": "  ≈ {quirk}",
    "steps_nothing": "not compared in iteration {n}",
    "mine_not_read": "Iteration {n}: {error}",
    "mine_cell": "{cell} = {theirs}, ours = {ours}{verdict}",
    "mine_same": ": the same",
    "mine_differs": ": they differ",
    "mine_loaded": "Comparing {file}: {counts}. {first}",
    "mine_loaded_first": "{key} jumps to the first difference, step {step}.",
    "mine_loaded_none": "Everything compared matches.",
    "mine_closed": "The comparison with {file} is closed.",
    "mine_tooltip": "Compare your own arrays (an .npz, a .json or a print_vec printout) with these; again to read "
                    "the file anew, open another or close the comparison",
    "first_difference_tooltip": "Jump to the first step where your arrays differ from nnstep's",
}

#: Bindings that only a training run offers.
TRAINING_ONLY = ("next_iteration", "previous_iteration", "goto_iteration")
#: ... of which "goto_iteration" is listed in the Footer only on a wide screen (see check_action).

#: Below these sizes the layout drops panes (see app.tcss).
NARROW_WIDTH, SLIM_WIDTH, SHORT_HEIGHT, LOW_HEIGHT, TINY_WIDTH, TINY_HEIGHT = 110, 80, 30, 22, 60, 16


#: The straight run's worker says how far it has got at most this often (the plot redraws 4 times a second).
PROGRESS_EVERY = 0.25


@dataclass
class TrainingProgressed(Message, bubble=False):
    """The straight run has computed ``computed`` of ``total`` iterations."""

    computed: int
    total: int

    def can_replace(self, message: Message) -> bool:
        # A burst waiting in the queue (a busy screen) comes down to one: only the latest count matters.
        return isinstance(message, TrainingProgressed)


@dataclass
class TrainingFinished(Message, bubble=False):
    """The straight run has computed every one of its ``total`` iterations."""

    total: int


class DebuggerScreen(Screen):
    """Step through one run, or through any iteration of a training run."""

    BINDINGS = [
        # Help first, so that the Footer shows it even when a narrow terminal cuts the rest short.
        Binding("question_mark,f1", "app.help", "Help", key_display="?", tooltip="This help", id="help"),
        # Listed while the cell cursor is on, early: the way out must not be cut off a narrow Footer.
        Binding("escape", "hide_cell", "Hide", key_display="Esc", tooltip="Hide the chain, or else the cell cursor",
                id="hide_cell"),
        Binding("n,right", "next_step", "Next", tooltip="Run the next operation", id="next_step"),
        Binding("p,left", "previous_step", "Back", tooltip="Step back (the screen is exactly as it was)",
                id="previous_step"),
        Binding("right_square_bracket", "next_phase", "Phase", key_display="]", show=False,
                tooltip="Jump to the first step of the next phase", id="next_phase"),
        Binding("left_square_bracket", "previous_phase", "Prev phase", key_display="[", show=False,
                tooltip="Jump to the start of this phase, or the one before", id="previous_phase"),
        # Priority: the focused steps list would otherwise take Home and End for itself.
        Binding("g,home", "first_step", "Start", show=False, priority=True,
                tooltip="Go to the start, before the first operation (of this iteration)", id="first_step"),
        Binding("G,end", "last_step", "End", show=False, priority=True, tooltip="Go to the last step (of this iteration)",
                id="last_step"),
        Binding("b", "toggle_breakpoint", "Break", tooltip="Set or clear a breakpoint on the current step",
                id="toggle_breakpoint"),
        Binding("c", "continue_run", "Continue", tooltip="Run on to the next breakpoint (or the last step)",
                id="continue_run"),
        # One id for both, so that a remap moves play and pause together; the Footer shows the one that applies.
        Binding("space", "play", "Play", tooltip="Play or pause the replay, one step at a time",
                id="toggle_replay"),
        Binding("space", "pause", "Pause", tooltip="Pause the replay", id="toggle_replay"),
        Binding("plus,equals_sign", "faster", "Faster", key_display="+", show=False, tooltip="Replay faster",
                id="faster"),
        Binding("minus", "slower", "Slower", key_display="-", show=False, tooltip="Replay slower", id="slower"),
        Binding("f", "toggle_digits", "Digits", show=False, tooltip="Show 4 or 8 decimals", id="toggle_digits"),
        # The chain of the cell under the cursor: the Values pane lists "e" in the Footer (its own binding of
        # the same id); it works from any pane.
        Binding("e", "show_chain", "Chain", show=False, tooltip=CHAIN_TOOLTIP, id="show_chain"),
        # Training runs only (hidden otherwise): the same step of the next or previous iteration, or any.
        Binding("full_stop", "next_iteration", "Next iter", key_display=".", show=False,
                tooltip="Training: the same step of the next iteration", id="next_iteration"),
        Binding("comma", "previous_iteration", "Prev iter", key_display=",", show=False,
                tooltip="Training: the same step of the previous iteration", id="previous_iteration"),
        Binding("i", "goto_iteration", "Iteration…", tooltip="Training: go to iteration N", id="goto_iteration"),
        # The same key, out of the Footer below 110 columns, where Quit needs the room (one id: one remap).
        Binding("i", "goto_iteration_unlisted", "Iteration…", show=False, tooltip="Training: go to iteration N",
                id="goto_iteration"),
        # Your own arrays against these (listed in the help and the palette; the Footer has no room to spare):
        # the Footer lists "d" only while they are compared (one id: one remap).
        Binding("m", "open_mine", "Mine…", show=False, tooltip=TEXT["mine_tooltip"], id="open_mine"),
        Binding("d", "first_difference", "1st diff", tooltip=TEXT["first_difference_tooltip"],
                id="first_difference"),
        Binding("d", "first_difference_unlisted", "1st diff", show=False, tooltip=TEXT["first_difference_tooltip"],
                id="first_difference"),
    ]

    #: The layout by size (app.tcss): Textual gives the screen one class per axis on every resize.
    HORIZONTAL_BREAKPOINTS = [(0, "-width-tiny"), (TINY_WIDTH, "-width-slim"), (SLIM_WIDTH, "-width-narrow"),
                              (NARROW_WIDTH, "-width-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-height-tiny"), (TINY_HEIGHT, "-height-low"), (LOW_HEIGHT, "-height-short"),
                            (SHORT_HEIGHT, "-height-tall")]

    # repaint=False: the panes repaint themselves; repainting the whole screen on every step costs more.
    digits: reactive[int] = reactive(4, init=False, repaint=False)

    def __init__(self, session: Session, overlay: Overlay | None = None) -> None:
        super().__init__()
        #: The session whose iterations this screen shows (one for a plain scenario).
        self.session = session
        #: The same session when it is a training run (a loss history, iteration keys); else None.
        self.training: Session | None = session if session.is_training else None
        run = session.iteration(1)
        #: The iteration shown (the view says which).
        self.run = run
        #: How many iterations there are, and the index of an iteration's last step.
        self.total = session.iterations
        self.last = len(run.steps) - 1
        #: Where the cursor is, the breakpoints and the replay: replaced by each move (see _apply).
        self.view = View()
        #: What the moves need to know about the run (see _navigation_context).
        self._run_context: navigation.Context | None = None
        self._resume_replay = False
        #: Narrower than 110 columns or shorter than 30 rows: the Footer has no room for "i" (set by _apply_size).
        self._reduced = False
        self._timer: Timer | None = None
        #: The user's own arrays compared with the iteration shown (None: no comparison), and their file,
        #: read again for each iteration of a training run (a JSON trace holds one set per iteration).
        self.overlay = overlay
        self.mine_file: str | None = None if overlay is None else overlay.mine.path

    # The view's fields, read where the panes and the tests look for them.

    @property
    def iteration(self) -> int:
        return self.view.iteration

    @property
    def position(self) -> int:
        return self.view.position

    @property
    def breakpoints(self) -> frozenset[int]:
        return self.view.breakpoints

    @property
    def playing(self) -> bool:
        return self.view.playing

    @property
    def speed(self) -> int:
        return self.view.speed

    @property
    def replay_note(self) -> str:
        return self.view.replay_note

    # --- layout ---------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield NetworkPane(self.run, id="network")
                if self.training is not None and self.run.scenario.image is not None:
                    yield ImagePane(self.run, id="image")
                yield StepsPane(self.run, id="steps")
            with Vertical(id="right"):
                if self.training is not None:
                    yield LossPane(self.training.classifier, id="loss")
                yield OperationPane(self.run, self.app.key_names(), id="operation")
                yield ValuesPane(self.run, id="values")
                yield ParamsPane(self.run, id="params")
        yield Footer()

    def on_mount(self) -> None:
        sc = self.run.scenario
        self.title = f"nnstep · {sc.name}"
        self.sub_title = describe_path(sc.path)
        self.query_one(NetworkPane).border_title = f"Network {sc.shape}"
        self.query_one(StepsPane).border_title = "Steps"
        self.query_one(ValuesPane).border_title = "Values"
        self.query_one(ParamsPane).border_title = "Parameters and loss"
        self.set_class(self.training is not None, "-training")
        self._apply_size(self.app.size.width, self.app.size.height)
        self._hand_overlay()
        self._show()
        self.query_one(StepsPane).focus()
        if self.training is not None:
            self.call_after_refresh(self._plot)
            if not self.training.done:
                self._compute()

    # --- the training run's straight run, on a worker thread ----------------------------------------------

    @work(thread=True, exclusive=True, group="training")
    def _compute(self) -> None:
        """Run the iterations not yet computed, in chunks, while the screen stays responsive; say how far
        it has got (TrainingProgressed, at most every PROGRESS_EVERY seconds) and when it is done. The
        worker only posts messages: the screen's handlers redraw."""
        worker, training = get_current_worker(), self.training
        chunk = max(1, min(50, training.iterations // 400))
        posted = time.monotonic()
        while not training.done and not worker.is_cancelled:
            training.advance(chunk)
            if time.monotonic() - posted >= PROGRESS_EVERY:
                posted = time.monotonic()
                self.post_message(TrainingProgressed(training.computed, training.iterations))
        if not worker.is_cancelled:
            self.post_message(TrainingFinished(training.iterations))

    @on(TrainingProgressed)
    @on(TrainingFinished)
    def _on_progress(self) -> None:
        """While the run is computed: redraw the plot and its progress; go to an iteration asked for."""
        self._plot()
        self._apply(navigation.progressed(self.view, self._navigation_context()))

    def _plot(self) -> None:
        t = self.training
        if t is not None:
            self.query_one(LossPane).plot(t.losses, t.accuracies, t.computed, self.iteration)

    def on_resize(self, event) -> None:
        self._apply_size(event.size.width, event.size.height)
        self.call_after_refresh(self._show_status)
        self.call_after_refresh(self._plot)

    def _apply_size(self, width: int, height: int) -> None:
        """What CSS cannot do at a new size (the breakpoints' classes lay the panes out): the Footer's keys,
        the loss plot's rows, the focus off a list that is no longer shown."""
        tiny = width < TINY_WIDTH or height < TINY_HEIGHT
        # Both axes at once, which a breakpoint cannot say: the Footer lists "i" only on a wide, tall screen.
        self._reduced = width < NARROW_WIDTH or height < SHORT_HEIGHT
        self.refresh_bindings()
        if self.training is not None:
            self.query_one(LossPane).set_compact(height < SHORT_HEIGHT)
        footer = self.query_one(Footer)
        footer.compact = width < NARROW_WIDTH
        if footer.show_command_palette != (width >= NARROW_WIDTH):
            # Below 100 columns the keys need the room; ctrl+p still opens the palette.
            footer.show_command_palette = width >= NARROW_WIDTH
            footer.refresh(recompose=True)
        if tiny and self.query_one(StepsPane).has_focus:
            self.query_one(ValuesPane).focus()  # the list is hidden: keys must not move it unseen

    def on_screen_suspend(self) -> None:
        """Help, the palette or the picker opened over the debugger: the replay waits for it to close."""
        self._resume_replay = self.playing
        self.action_pause()

    def on_screen_resume(self) -> None:
        if self._resume_replay:
            self._resume_replay = False
            self.action_play()

    # --- state flowing down to the panes ------------------------------------------------------------

    def watch_digits(self, digits: int) -> None:
        self.query_one(ValuesPane).digits = digits
        self.query_one(ParamsPane).digits = digits

    def _show(self) -> None:
        pos = self.position
        self._place_cell()
        if self.training is not None and self.run.scenario.image is not None:
            self.query_one(ImagePane).show_batch(self.run, pos)
        self.query_one(NetworkPane).position = pos
        self.query_one(StepsPane).show(pos, self.breakpoints)
        operation = self.query_one(OperationPane)
        operation.position = pos
        operation.border_title = operation.title(pos)
        self.query_one(ValuesPane).position = pos
        self.query_one(ParamsPane).position = pos
        self._show_status()
        self.call_after_refresh(self._show_status)  # once the panes have their sizes (at the first paint)
        self.call_after_refresh(self._prepare_neighbours, pos)

    def _prepare_neighbours(self, pos: int) -> None:
        """Once the screen is painted, render the steps either side, so the next key only repaints."""
        if pos != self.position:
            return
        for near in (pos + 1, pos - 1):
            if START <= near <= self.last:
                for pane in (NetworkPane, OperationPane, ValuesPane, ParamsPane):
                    self.query_one(pane).prepare_position(near)

    # --- the cell cursor ------------------------------------------------------------------------------

    def _place_cell(self, draw: bool = False) -> None:
        """Hand the cell cursor, the explanation of its cell and what that read down to the Values and
        Operation panes (the cursor put on the step now shown first); ``draw``: redraw them now, for a
        change that is not a move to another step."""
        values, operation = self.query_one(ValuesPane), self.query_one(OperationPane)
        if self.view.cell is not None:
            self.view = navigation.place_cell(self.view, values.grids(self.position))
        cursor = self.view.cell
        explained, reads = self._explained()
        if (values.cursor, operation.explained) == (cursor, explained) and not draw:
            return
        old_cursor = values.cursor
        values.cursor, values.reads, operation.explained = cursor, reads, explained
        title = values.title(self.position)
        if values.border_title != title:
            values.border_title = title
        chained = explained is not None and explained.chain is not None
        if self.has_class("-chain") != chained:
            self.set_class(chained, "-chain")  # the chain takes the Parameters pane's rows (app.tcss)
        if (old_cursor is None) != (cursor is None):
            self.refresh_bindings()  # the Footer lists Escape while the cursor is on
        if draw or values.position == self.position:
            values.redraw()
            operation.watch_position()

    def _explained(self):
        """What the Operation pane says of the cursor's cell, and the cells that the explained one read."""
        cursor = self.view.cell
        if cursor is None:
            return None, {}
        values = self.query_one(ValuesPane)
        shown = values.shown_at(self.position)
        here = shown[cursor.slot]
        if self.position < 0:
            return Explained(index_label(here.name, cursor.cell)), {}
        step = self.run.steps[self.position]
        digits = self.digits  # the plugged-in numbers to as many significant digits as the pane shows decimals
        e = explain(self.run, step, cursor.result, digits=digits)
        has_chain = self._chained()
        links = None
        if self.view.chain and has_chain:  # on a forward step, the chain waits for a step that has one
            links = chain(self.run, step, cursor.result, digits=digits)
        reads = reads_masks(shown, e.reads)
        visiting = "" if here.produced else index_label(here.name, cursor.cell)
        was_read = here.source in reads and not here.theirs and bool(reads[here.source][cursor.cell])
        return Explained(label(step.name, cursor.result), e.lines, visiting, was_read,
                         None if links is None else tuple(link.lines for link in links),
                         has_chain, self._mine_cell(here, cursor.cell)), reads

    @staticmethod
    def _mine_cell(here, cell) -> str:
        """With the cursor on the user's own array: their cell, ours at the same index, and whether they differ."""
        if not here.theirs:
            return ""
        theirs = np.asarray(here.array)
        ours = np.asarray(here.ours)
        if theirs.ndim != len(cell):
            return ""
        at = cell if ours.shape == theirs.shape else None
        if at is None and ours.size == theirs.size:
            at = np.unravel_index(np.ravel_multi_index(cell, theirs.shape), ours.shape)
        verdict = ""
        if here.differs is not None:
            verdict = TEXT["mine_differs" if here.differs[cell] else "mine_same"]
        return TEXT["mine_cell"].format(cell=index_label(here.name, cell), theirs=exact(float(theirs[cell])),
                                        ours="—" if at is None else exact(float(ours[at])), verdict=verdict)

    def _set_cell(self, view: View) -> None:
        """Show a change of the cell cursor (or the chain) alone: the step stays."""
        if view == self.view:
            return
        chain_before = self.view.chain
        self.view = view
        self._place_cell(draw=True)
        if view.chain and not chain_before:
            self.query_one(OperationPane).scroll_to(y=0, animate=False, immediate=True)

    # --- the compare overlay (the user's own arrays) ------------------------------------------------------

    def action_open_mine(self) -> None:
        """The dialog that opens (or reads again, or closes) the user's arrays."""
        from nnstep.tui.mine_dialog import MineDialog

        def chosen(result) -> None:
            if result is None:
                return
            before = self.mine_file
            self.show_overlay(result.overlay)
            overlay = result.overlay
            if overlay is None:
                self.say(TEXT["mine_closed"].format(file=visible(before or "")))
                return
            first = overlay.first_divergence
            keys = self.app.key_names()
            counts = overlay.counts()
            summary = OPERATION_TEXT["mine_counts"].format(**counts, differ=differ_word(counts["differs"])) + \
                (OPERATION_TEXT["mine_quirks"].format(**counts) if counts["quirk"] else "")
            self.say(TEXT["mine_loaded"].format(
                file=overlay.name, counts=summary,
                first=TEXT["mine_loaded_none"] if first is None else
                TEXT["mine_loaded_first"].format(key=keys.get("first_difference", "d"), step=first + 1)))

        self.app.push_screen(MineDialog(self.run, self.mine_file), chosen)

    def show_overlay(self, overlay: Overlay | None) -> None:
        """Compare the user's arrays with the iteration shown (None: no longer), and show it in every pane."""
        self.overlay = overlay
        self.mine_file = None if overlay is None else overlay.mine.path
        self._hand_overlay()
        self._show()
        self._place_cell(draw=True)
        self.query_one(OperationPane).watch_position()
        self.query_one(ValuesPane).redraw()
        self.refresh_bindings()  # the Footer lists "d" while a comparison is shown

    def _compare_again(self) -> None:
        """Another iteration of a training run: the same file compared with it (a bad one says why, once)."""
        try:
            self.overlay = load(self.mine_file, self.run)
        except MineError as exc:
            self.overlay = None
            self.say(TEXT["mine_not_read"].format(n=self.run.number, error=exc), "warning")
        self._hand_overlay()

    def _hand_overlay(self) -> None:
        """The overlay down to the panes, and the titles that say which file is compared."""
        overlay = self.overlay
        self.query_one(ValuesPane).set_overlay(overlay)
        self.query_one(OperationPane).set_overlay(overlay)
        steps = self.query_one(StepsPane)
        steps.set_marks(None if overlay is None else overlay.marks())
        where = describe_path(self.run.scenario.path)
        if self.mine_file is None:
            self.sub_title, steps.border_title, steps.border_subtitle = where, "Steps", ""
            return
        file = visible(Path(self.mine_file).name)
        self.sub_title = TEXT["sub_title_mine"].format(where=where, file=visible(self.mine_file))
        steps.border_title = TEXT["steps_mine"].format(file=file)
        if overlay is None:  # the file holds nothing for this iteration (a notice said why)
            steps.border_subtitle = TEXT["steps_nothing"].format(n=self.run.number)
            return
        counts = overlay.counts()
        steps.border_subtitle = TEXT["steps_counts"].format(**counts) + \
            (TEXT["steps_quirks"].format(**counts) if counts["quirk"] else "")

    def action_first_difference(self) -> None:
        overlay = self.overlay
        first = None if overlay is None else overlay.first_divergence
        file = None if self.mine_file is None else visible(self.mine_file)
        self._move(navigation.first_difference, first, file)

    def action_first_difference_unlisted(self) -> None:
        self.action_first_difference()

    @on(ValuesPane.Focused)
    def _cell_on(self) -> None:
        self._set_cell(navigation.cell_on(self.view, self.query_one(ValuesPane).grids(self.position)))

    def action_move_cell(self, direction: str) -> None:
        self._set_cell(navigation.move_cell(self.view, self.query_one(ValuesPane).grids(self.position), direction))

    def _chained(self) -> bool:
        """Whether the step shown has a chain from the loss (a delta, a gradient, an update)."""
        return self.position >= 0 and self.run.steps[self.position].phase in ("backward", "update")

    def action_show_chain(self) -> None:
        values = self.query_one(ValuesPane)
        without = None if self._chained() else ("" if self.position < 0 else self.run.steps[self.position].name)
        moved = navigation.toggle_chain(self.view, self._navigation_context(), values.grids(self.position), without)
        self._set_cell(moved.view)
        for notice in moved.notices:
            self.say(notice.text, notice.severity)
        if self.view.chain:
            self.query_one(OperationPane).focus()  # j/k scroll the chain; Escape hides it
        elif not values.has_focus:
            values.focus()

    def action_hide_cell(self) -> None:
        chain_was = self.view.chain
        self._set_cell(navigation.cell_off(self.view))
        if chain_was and self.query_one(OperationPane).has_focus:
            self.query_one(ValuesPane).focus()

    def _show_status(self) -> None:
        operation = self.query_one(OperationPane)
        operation.status = navigation.status(self.view)
        operation.update_subtitle()

    def say(self, message: str, severity: str = "information") -> None:
        """One notice at a time: a new one replaces the last instead of stacking up."""
        self.app.clear_notifications()
        self.notify(message, severity=severity, timeout=3, markup=False)

    # --- moving the cursor ----------------------------------------------------------------------------

    def _navigation_context(self) -> navigation.Context:
        """What the moves need to know: the run's shape (the same in every iteration, worked out once) and
        how many iterations the straight run has computed by now."""
        if self._run_context is None:
            self._run_context = navigation.Context(
                last=self.last, total=self.total, computed=self.session.computed,
                phase_starts=tuple(phase_starts(self.run)), formulas=tuple(s.formula for s in self.run.steps),
                training=self.training is not None, keys=self.app.key_names())
        return replace(self._run_context, computed=self.session.computed)

    def _apply(self, moved: navigation.Moved) -> None:
        """Show the view a move returned, then its notices: another iteration, or another step (or the
        same one with other breakpoints), else just the new status; the replay's timer follows the view."""
        old, new = self.view, moved.view
        if new == old and not moved.notices:
            return  # nothing to show (the straight run's progress, with no jump waiting for it)
        self.view = new
        if new.iteration != old.iteration:
            self._switch(new.iteration, new.position)
        elif new.position != old.position or new.breakpoints != old.breakpoints:
            self._show()  # showing the step shows the status too
        else:
            self._show_status()
        if new.playing != old.playing:
            self.refresh_bindings()  # the Footer offers Pause while playing, Play otherwise
        if new.playing and not old.playing:
            self.app.clear_notifications()  # an old "paused at the breakpoint" would read as news
        if new.playing and (not old.playing or new.speed != old.speed):
            self._start_timer()
        elif old.playing and not new.playing:
            self._stop_timer()
        for notice in moved.notices:
            self.say(notice.text, notice.severity)

    def _move(self, move, *args) -> None:
        """Apply ``move(view, context, *args)``, one of the moves of :mod:`nnstep.tui.navigation`."""
        self._apply(move(self.view, self._navigation_context(), *args))

    def _switch(self, iteration: int, position: int) -> None:
        """Show ``iteration`` at ``position``: every pane gets that iteration's run and redraws once."""
        run = self.training.iteration(iteration)
        self.run = run
        for pane in (NetworkPane, OperationPane, ValuesPane, ParamsPane):
            widget = self.query_one(pane)
            widget.run = run
            widget.set_reactive(type(widget).position, position)
        self.query_one(StepsPane).set_run(run)
        if self.mine_file is not None:
            self._compare_again()
        self._show()
        self.query_one(NetworkPane).refresh_network()
        self.query_one(OperationPane).watch_position()
        self.query_one(ValuesPane).redraw()
        self.query_one(ParamsPane).redraw()
        self._plot()
        self._prefetch(iteration)

    @work(thread=True, exclusive=True, group="prefetch")
    def _prefetch(self, iteration: int) -> None:
        """Keep the iterations below this one at hand, so that stepping back stays quick (the engine
        recomputes them from a checkpoint if need be) while the user reads this one."""
        self.training.prefetch(iteration)

    def action_next_step(self) -> None:
        self._move(navigation.next_step)

    def action_previous_step(self) -> None:
        self._move(navigation.previous_step)

    def action_next_phase(self) -> None:
        self._move(navigation.next_phase)

    def action_previous_phase(self) -> None:
        self._move(navigation.previous_phase)

    def action_next_iteration(self) -> None:
        self._move(navigation.next_iteration)

    def action_previous_iteration(self) -> None:
        self._move(navigation.previous_iteration)

    def action_goto_iteration(self) -> None:
        from nnstep.tui.iteration_dialog import IterationDialog

        def chosen(iteration: int | None) -> None:
            if iteration is not None:
                self._move(navigation.goto_iteration, iteration)

        self.app.push_screen(IterationDialog(self.iteration, self.total, self.training.computed), chosen)

    def action_goto_iteration_unlisted(self) -> None:
        self.action_goto_iteration()

    def action_first_step(self) -> None:
        self._move(navigation.first_step)

    def action_last_step(self) -> None:
        self._move(navigation.last_step)

    @on(StepsPane.JumpRequested)
    def _jump(self, event: StepsPane.JumpRequested) -> None:
        self._move(navigation.jump, event.position)

    # --- breakpoints ----------------------------------------------------------------------------------

    def action_toggle_breakpoint(self) -> None:
        # When the list that shows ● is hidden at this size, the move says it instead.
        listed = bool(self.query_one(StepsPane).display and self.query_one("#left").display)
        self._move(navigation.toggle_breakpoint, listed)

    def action_continue_run(self) -> None:
        self._move(navigation.continue_run)

    # --- replay ---------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters) -> bool | None:
        """Space plays or pauses, and the Footer says which it will do; the cell cursor's keys are listed
        while it is on."""
        if action == "hide_cell":
            return self.view.cell is not None
        if action == "play":
            return not self.playing
        if action == "pause":
            return self.playing
        if action == "goto_iteration":
            return self.training is not None and not self._reduced
        if action in TRAINING_ONLY:
            return self.training is not None
        if action == "goto_iteration_unlisted":
            return self.training is not None and self._reduced
        if action == "first_difference":
            return self.mine_file is not None
        if action == "first_difference_unlisted":
            return self.mine_file is None
        return True

    def action_pause(self) -> None:
        self._apply(navigation.pause(self.view))

    def action_play(self) -> None:
        self._move(navigation.play)

    def action_faster(self) -> None:
        self._apply(navigation.faster(self.view))

    def action_slower(self) -> None:
        self._apply(navigation.slower(self.view))

    def action_toggle_digits(self) -> None:
        self.digits = 8 if self.digits == 4 else 4
        if self.view.cell is not None:
            self._place_cell(draw=True)  # the explanation's numbers follow the decimals shown

    def _start_timer(self) -> None:
        self._stop_timer()
        self._timer = self.set_interval(1 / SPEEDS[self.speed], self._replay_tick)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _replay_tick(self) -> None:
        self._move(navigation.replay_tick)
