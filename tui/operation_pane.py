"""The current operation: its formula with shapes, the numpy code that computes it, and what it means."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from nnstep.engine.steps import Iteration
from nnstep.tui.text_view import ScrollingTextView, iteration_of

class OperationPane(ScrollingTextView):
    """What the step at ``position`` does, in the seed's notation, in numpy and in words."""

    COMPONENT_CLASSES = {"operation--formula", "operation--code", "operation--label", "operation--description"}

    DEFAULT_CSS = """
    OperationPane > .operation--formula { color: $text-warning; text-style: bold; }
    OperationPane > .operation--code { color: $text-success; }
    OperationPane > .operation--label { color: $text-muted; }
    OperationPane > .operation--description { color: $foreground 80%; }
    """

    position: reactive[int] = reactive(-1, repaint=False)  # the view repaints the lines that changed

    def __init__(self, run: Iteration, keys: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run = run
        #: The keys of each binding id as the user types them (after any remap), for the hints.
        self.keys = keys or {}

    def on_resize(self) -> None:
        self.watch_position()

    def prepare_position(self, position: int) -> None:
        """Render ``position`` ahead of time, so that stepping there only repaints."""
        self.prepare((iteration_of(self.run), position), lambda width: self.describe(position))

    def watch_position(self) -> None:
        if self.is_mounted:
            self.show_cached((iteration_of(self.run), self.position), lambda width: self.describe(self.position))

    def describe(self, position: int) -> Text:
        run = self.run
        style = self.get_component_rich_style
        formula, code, label = style("operation--formula"), style("operation--code"), style("operation--label")
        text = Text()
        if position < 0 and run.note:
            text.append(f"Start of iteration {iteration_of(run)} of {run.scenario.training.iterations}.", style=formula)
            text.append(" " + run.note + " Press ")
            text.append(self.keys.get("next_step", "n / →").replace(" / ", " or "), style="bold")
            text.append(" to run its first operation, ")
            text.append(run.steps[0].formula, style=formula)
            text.append(".")
            if iteration_of(run) == 1 and run.scenario.description:
                text.append("\n\n" + run.scenario.description, style=style("operation--description"))
            return text
        if position < 0:
            sc = run.scenario
            text.append("Start: nothing computed yet.", style=formula)
            text.append(f" {sc.shape} network · {' → '.join(l.activation for l in sc.layers)} · "
                        f"{sc.loss or 'forward only'}\n")
            loaded = "x, d and the initial parameters are" if sc.d is not None else "x and the initial parameters are"
            text.append(f"{loaded} loaded. Press ")
            text.append(self.keys.get("next_step", "n / →").replace(" / ", " or "), style="bold")
            text.append(" to run the first operation, ")
            text.append(run.steps[0].formula, style=formula)
            text.append(".")
            if sc.description:
                text.append("\n\n" + sc.description, style=style("operation--description"))
            return text
        step = run.steps[position]
        text.append(step.formula, style=formula)
        text.append("\nshapes ", style=label)
        text.append(step.shapes)
        text.append("\nnumpy  ", style=label)
        text.append(step.code, style=code)
        if step.note:
            text.append("\n" + step.note)
        training = run.scenario.training
        if position == len(run.steps) - 1 and training is not None and iteration_of(run) < training.iterations:
            text.append(f"\nThe last step of iteration {iteration_of(run)}. ", style="italic")
            text.append(self.keys.get("next_step", "n / →").split(" / ")[0], style="bold")
            text.append(" starts the next one; ", style="italic")
            text.append(self.keys.get("next_iteration", "."), style="bold")
            text.append(" goes to this step of the next.", style="italic")
        elif position == len(run.steps) - 1 and training is not None:
            text.append("\nThis is the last step of the last iteration: the training run is complete. ",
                        style="italic")
            text.append(self.keys.get("goto_iteration", "i"), style="bold")
            text.append(" goes to any iteration, ", style="italic")
            text.append(self.keys.get("first_step", "g / Home").split(" / ")[0], style="bold")
            text.append(" to this iteration's start.", style="italic")
        elif position == len(run.steps) - 1:
            text.append("\nThis is the last step: the run is complete. ", style="italic")
            text.append(self.keys.get("previous_step", "p / ←").split(" / ")[0], style="bold")
            text.append(" steps back, ")
            text.append(self.keys.get("first_step", "g / Home").split(" / ")[0], style="bold")
            text.append(" goes to the start.", style="italic")
        return text

    def title(self, position: int) -> str:
        """``Operation · iteration 537/1000 · step 9/15 · backward · layer 1``; in a narrow pane a training
        run's title starts ``Iteration 537/1000``, so that the step number stays in view."""
        training = self.run.scenario.training
        if position < 0:
            tail = f"start · {len(self.run.steps)} steps ahead"
        else:
            step = self.run.steps[position]
            where = f"layer {step.layer}" if step.layer is not None else "output"
            tail = f"step {position + 1}/{len(self.run.steps)} · {step.phase} · {where}"
        if training is None:
            return f"Operation · {tail}"
        full = f"Operation · iteration {iteration_of(self.run)}/{training.iterations} · {tail}"
        return full if len(full) <= self.size.width - 4 else "Iteration " + full.removeprefix("Operation · iteration ")
