"""The debugger screen: the five panes, the step cursor, breakpoints and replay.

The screen owns the state (position, breakpoints, replay) and hands it down to the panes as
attributes; panes only render. Every view is a function of that state, so stepping back restores
exactly the screen that was there before.
"""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header
from textual.worker import get_current_worker

from nnstep.engine.bundled import bundled_dir
from nnstep.engine.session import Session
from nnstep.engine.views import START, phase_starts
from nnstep.tui.image_pane import ImagePane
from nnstep.tui.loss_pane import LossPane
from nnstep.tui.network_pane import NetworkPane
from nnstep.tui.operation_pane import OperationPane
from nnstep.tui.params_pane import ParamsPane
from nnstep.tui.steps_pane import StepsPane
from nnstep.tui.values_pane import ValuesPane


def describe_path(path) -> str:
    """Where the scenario came from, the same wherever nnstep is installed: bundled, or the file as given."""
    if path is None:
        return ""
    p = Path(path)
    return f"bundled scenario {p.stem}" if p.parent.resolve() == bundled_dir().resolve() else str(p)


#: Replay speeds in steps per second.
SPEEDS = (0.5, 1.0, 2.0, 4.0, 8.0)
DEFAULT_SPEED = 1

#: Bindings that only a training run offers.
TRAINING_ONLY = ("next_iteration", "previous_iteration", "goto_iteration")
#: ... of which "goto_iteration" is listed in the Footer only on a wide screen (see check_action).

#: Below these sizes the layout drops panes (see app.tcss).
NARROW_WIDTH, SLIM_WIDTH, SHORT_HEIGHT, LOW_HEIGHT, TINY_WIDTH, TINY_HEIGHT = 110, 80, 30, 22, 60, 16


class DebuggerScreen(Screen):
    """Step through one run, or through any iteration of a training run."""

    BINDINGS = [
        # Help first, so that the Footer shows it even when a narrow terminal cuts the rest short.
        Binding("question_mark,f1", "app.help", "Help", key_display="?", tooltip="This help", id="help"),
        Binding("n,right", "next_step", "Next", tooltip="Run the next operation", id="next_step"),
        Binding("p,left", "previous_step", "Back", tooltip="Step back (the screen is exactly as it was)",
                id="previous_step"),
        Binding("right_square_bracket", "next_phase", "Phase", key_display="]",
                tooltip="Jump to the first step of the next phase", id="next_phase"),
        Binding("left_square_bracket", "previous_phase", "Prev phase", key_display="[", show=False,
                tooltip="Jump to the start of this phase, or the one before", id="previous_phase"),
        # Priority: the focused steps list would otherwise take Home and End for itself.
        Binding("g,home", "first_step", "Start", show=False, priority=True,
                tooltip="Go to the start, before the first operation (of this iteration)", id="first_step"),
        Binding("G,end", "last_step", "End", show=False, priority=True, tooltip="Go to the last step (of this iteration)",
                id="last_step"),
        Binding("b", "toggle_breakpoint", "Breakpoint", tooltip="Set or clear a breakpoint on the current step",
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
        # Training runs only (hidden otherwise): the same step of the next or previous iteration, or any.
        Binding("full_stop", "next_iteration", "Next iter", key_display=".", show=False,
                tooltip="Training: the same step of the next iteration", id="next_iteration"),
        Binding("comma", "previous_iteration", "Prev iter", key_display=",", show=False,
                tooltip="Training: the same step of the previous iteration", id="previous_iteration"),
        Binding("i", "goto_iteration", "Iteration…", tooltip="Training: go to iteration N", id="goto_iteration"),
        # The same key, out of the Footer below 110 columns, where Quit needs the room (one id: one remap).
        Binding("i", "goto_iteration_unlisted", "Iteration…", show=False, tooltip="Training: go to iteration N",
                id="goto_iteration"),
    ]

    # repaint=False: the panes repaint themselves; repainting the whole screen on every step costs more.
    position: reactive[int] = reactive(START, init=False, repaint=False)
    playing: reactive[bool] = reactive(False, init=False, repaint=False)
    speed: reactive[int] = reactive(DEFAULT_SPEED, init=False, repaint=False)
    digits: reactive[int] = reactive(4, init=False, repaint=False)

    def __init__(self, session: Session) -> None:
        super().__init__()
        #: The session whose iterations this screen shows (one for a plain scenario).
        self.session = session
        #: The same session when it is a training run (a loss history, iteration keys); else None.
        self.training: Session | None = session if session.is_training else None
        run = session.iteration(1)
        self.run = run
        #: The iteration shown (counted from 1) and how many there are.
        self.iteration = 1
        self.total = session.iterations
        #: An iteration asked for before the straight run reached it: (iteration, position).
        self._pending: tuple[int, int] | None = None
        self._progress_timer: Timer | None = None
        #: Breakpoints are steps of an iteration (indices); in a training run they hold in every iteration.
        self.breakpoints: frozenset[int] = frozenset()
        self.last = len(run.steps) - 1
        #: Why the replay last stopped ("at the breakpoint on step 9"), shown until the cursor moves.
        self.replay_note = ""
        self._resume_replay = False
        self._timer: Timer | None = None

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
        self._show()
        self.query_one(StepsPane).focus()
        if self.training is not None:
            self.call_after_refresh(self._plot)
            if not self.training.done:
                self._progress_timer = self.set_interval(0.25, self._on_progress)
                self._compute()

    # --- the training run's straight run, on a worker thread ----------------------------------------------

    @work(thread=True, exclusive=True, group="training")
    def _compute(self) -> None:
        """Run the iterations not yet computed, in chunks, while the screen stays responsive."""
        worker, training = get_current_worker(), self.training
        chunk = max(1, min(50, training.iterations // 400))
        while not training.done and not worker.is_cancelled:
            training.advance(chunk)
        if not worker.is_cancelled:
            self.app.call_from_thread(self._on_progress)

    def _on_progress(self) -> None:
        """While the run is computed: redraw the plot and its progress; go to an iteration asked for."""
        self._plot()
        if self._pending is not None and self._reachable(self._pending[0]):
            iteration, position = self._pending
            self._pending = None
            self.go(position, iteration)
            self.say(f"At iteration {iteration}: it has been computed.")
        if self.training.done and self._progress_timer is not None:
            self._progress_timer.stop()
            self._progress_timer = None

    def _plot(self) -> None:
        t = self.training
        if t is not None:
            self.query_one(LossPane).plot(t.losses, t.accuracies, t.computed, self.iteration)

    def on_resize(self, event) -> None:
        self._apply_size(event.size.width, event.size.height)
        self.call_after_refresh(self._show_status)
        self.call_after_refresh(self._plot)

    def _apply_size(self, width: int, height: int) -> None:
        tiny = width < TINY_WIDTH or height < TINY_HEIGHT
        self.set_class(width < NARROW_WIDTH or height < SHORT_HEIGHT, "-reduced")
        self.set_class(width < SLIM_WIDTH, "-slim")
        self.set_class(height < LOW_HEIGHT, "-low")
        self.set_class(tiny, "-tiny")
        self.set_class(height < SHORT_HEIGHT, "-short")
        self.refresh_bindings()  # the Footer lists "i" only on a wide screen
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
        self._pause()

    def on_screen_resume(self) -> None:
        if self._resume_replay:
            self._resume_replay = False
            self.action_play()

    # --- state flowing down to the panes ------------------------------------------------------------

    def watch_position(self) -> None:
        self._show()

    def watch_digits(self, digits: int) -> None:
        self.query_one(ValuesPane).digits = digits
        self.query_one(ParamsPane).digits = digits

    def watch_playing(self) -> None:
        self._show_status()
        self.refresh_bindings()

    def watch_speed(self) -> None:
        if self.playing:
            self._start_timer()
        self._show_status()

    def _show(self) -> None:
        pos = self.position
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

    def _show_status(self) -> None:
        operation = self.query_one(OperationPane)
        speed = f"{SPEEDS[self.speed]:g} step{'s' if SPEEDS[self.speed] != 1 else ''}/s"
        marks = f" · {len(self.breakpoints)} breakpoint{'s' if len(self.breakpoints) != 1 else ''}" \
            if self.breakpoints else ""
        if self._pending is not None:
            operation.status = f"⧗ going to iteration {self._pending[0]} when computed{marks}"
        elif self.playing:
            operation.status = f"▶ playing {speed}{marks}"
        else:
            operation.status = f"{self.replay_note} · replay {speed}{marks}" if self.replay_note \
                else f"replay {speed}{marks}"
        operation.update_subtitle()

    def say(self, message: str, severity: str = "information") -> None:
        """One notice at a time: a new one replaces the last instead of stacking up."""
        self.app.clear_notifications()
        self.notify(message, severity=severity, timeout=3, markup=False)

    # --- moving the cursor ----------------------------------------------------------------------------

    def _reachable(self, iteration: int) -> bool:
        return self.training is None or iteration <= self.training.computed + 1

    def _switch(self, iteration: int, position: int) -> None:
        """Show ``iteration`` at ``position``: every pane gets that iteration's run and redraws once."""
        run = self.training.iteration(iteration)
        self.run, self.iteration = run, iteration
        self.set_reactive(DebuggerScreen.position, position)
        for pane in (NetworkPane, OperationPane, ValuesPane, ParamsPane):
            widget = self.query_one(pane)
            widget.run = run
            widget.set_reactive(type(widget).position, position)
        self.query_one(StepsPane).set_run(run)
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

    def go(self, position: int, iteration: int | None = None) -> None:
        """Move to ``position`` (clamped to the run) of ``iteration`` (this one by default), pausing a
        replay: the user has taken over (and a jump still waiting for its iteration is dropped)."""
        self._pause()
        self.replay_note = ""
        if self._pending is not None:
            dropped, self._pending = self._pending[0], None
            if iteration != dropped:
                self.say(f"No longer waiting to go to iteration {dropped}.")
        target = max(START, min(self.last, position))
        if iteration is not None and iteration != self.iteration:
            iteration = max(1, min(self.total, iteration))
            if not self._reachable(iteration):
                self._pending = (iteration, target)
                self.say(f"Iteration {iteration} is still being computed ({self.training.computed} of "
                         f"{self.total} done): going there when it is ready. Any move cancels this.")
                self._show_status()
                return
            self._switch(iteration, target)
            return
        if target == self.position:
            self._show_status()  # no step to show, but the replay's note has gone
        self.position = target  # showing the step shows the status too

    def action_next_step(self) -> None:
        if self.position == self.last and self.iteration < self.total:
            self.go(START, self.iteration + 1)
            return
        if self.position == self.last:
            keys = self.app.key_names()
            if self.training is not None:
                self.say(f"This is the last step of the last iteration. {keys['previous_step'].split(' / ')[0]} "
                         f"steps back, {keys['goto_iteration']} goes to any iteration.")
            else:
                self.say(f"This is the last step. {keys['previous_step'].split(' / ')[0]} steps back, "
                         f"{keys['first_step'].split(' / ')[0]} goes to the start.")
        self.go(self.position + 1)

    def action_previous_step(self) -> None:
        if self.position == START and self.iteration > 1:
            self.go(self.last, self.iteration - 1)
            return
        self.go(self.position - 1)

    def action_next_phase(self) -> None:
        ahead = [i for i in phase_starts(self.run) if i > self.position]
        if not ahead and self.iteration < self.total:
            self.go(START, self.iteration + 1)
            return
        self.go(ahead[0] if ahead else self.last)

    def action_previous_phase(self) -> None:
        behind = [i for i in phase_starts(self.run) if i < self.position]
        if not behind and self.iteration > 1:
            self.go(phase_starts(self.run)[-1], self.iteration - 1)
            return
        self.go(behind[-1] if behind else START)

    def action_next_iteration(self) -> None:
        if self.iteration == self.total:
            self.say(f"This is the last iteration ({self.total}).")
            return
        self.go(self.position, self.iteration + 1)

    def action_previous_iteration(self) -> None:
        if self.iteration == 1:
            self.say("This is the first iteration.")
            return
        self.go(self.position, self.iteration - 1)

    def action_goto_iteration(self) -> None:
        from nnstep.tui.iteration_dialog import IterationDialog

        def chosen(iteration: int | None) -> None:
            if iteration is not None:
                self.go(self.position, iteration)

        self.app.push_screen(IterationDialog(self.iteration, self.total, self.training.computed), chosen)

    def action_goto_iteration_unlisted(self) -> None:
        self.action_goto_iteration()

    def action_first_step(self) -> None:
        self.go(START)

    def action_last_step(self) -> None:
        self.go(self.last)

    @on(StepsPane.JumpRequested)
    def _jump(self, event: StepsPane.JumpRequested) -> None:
        self.go(event.position)

    # --- breakpoints ----------------------------------------------------------------------------------

    def action_toggle_breakpoint(self) -> None:
        if self.position < 0:
            self.say("Breakpoints go on steps: move to a step first.", severity="warning")
            return
        self.breakpoints = self.breakpoints ^ {self.position}
        self._show()
        if not self.query_one(StepsPane).display or not self.query_one("#left").display:
            # The list that shows ● is hidden at this size: say it instead.
            state = "set" if self.position in self.breakpoints else "cleared"
            self.say(f"Breakpoint {state} on step {self.position + 1}.")

    def action_continue_run(self) -> None:
        ahead = sorted(b for b in self.breakpoints if b > self.position)
        if not ahead and self.breakpoints and self.iteration < self.total:
            first = min(self.breakpoints)
            self.go(first, self.iteration + 1)
            self.say(f"Stopped at the breakpoint on step {first + 1} of iteration {self.iteration}: "
                     f"{self.run.steps[first].formula}")
        elif ahead:
            self.go(ahead[0])
            self.say(f"Stopped at the breakpoint on step {ahead[0] + 1}: {self.run.steps[ahead[0]].formula}")
        else:
            self.go(self.last)
            where = "the last step" + (" of this iteration" if self.training is not None else "")
            self.say(f"No breakpoint ahead: at {where}." if self.breakpoints
                     else f"No breakpoints set ({self.app.key_names()['toggle_breakpoint']} sets one): "
                          f"at {where}.")

    # --- replay ---------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters) -> bool | None:
        """Space plays or pauses, and the Footer says which it will do."""
        if action == "play":
            return not self.playing
        if action == "pause":
            return self.playing
        if action == "goto_iteration":
            return self.training is not None and not self.has_class("-reduced")
        if action in TRAINING_ONLY:
            return self.training is not None
        if action == "goto_iteration_unlisted":
            return self.training is not None and self.has_class("-reduced")
        return True

    def action_pause(self) -> None:
        self._pause()

    def action_play(self) -> None:
        if self.playing:
            return
        self.app.clear_notifications()  # an old "paused at the breakpoint" would read as news
        self.replay_note = ""
        if self.position == self.last and self.iteration == self.total:
            if self.training is not None:
                self.go(START, 1)
            else:
                self.position = START
        self.playing = True
        self._start_timer()

    def action_faster(self) -> None:
        self.speed = min(len(SPEEDS) - 1, self.speed + 1)

    def action_slower(self) -> None:
        self.speed = max(0, self.speed - 1)

    def action_toggle_digits(self) -> None:
        self.digits = 8 if self.digits == 4 else 4

    def _start_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_interval(1 / SPEEDS[self.speed], self._replay_tick)

    def _pause(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.playing = False

    def _replay_tick(self) -> None:
        if self.position >= self.last:
            if self.iteration < self.total and self._reachable(self.iteration + 1):
                self._switch(self.iteration + 1, START)  # the replay goes on into the next iteration
                return
            self._pause()
            return
        self.position += 1
        if self.position in self.breakpoints:
            self.replay_note = f"■ stopped at breakpoint {self.position + 1}"
            self._pause()
            self.say(f"Replay paused at the breakpoint on step {self.position + 1}.")
        elif self.position == self.last and self.iteration == self.total:
            self.replay_note = "■ finished"
            self._pause()
            self.say("Replay finished: this is the last step.")
