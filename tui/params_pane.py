"""All W and b as they stand at the current step, the loss once known (and, after the update, the loss
the new parameters give on the same batch), and an update in full."""

from __future__ import annotations

from rich.text import Text

from nnstep.engine.formats import loss_change
from nnstep.engine.numbers import exact
from nnstep.engine.steps import Iteration
from nnstep.engine.views import arrays_at, loss_at, parameter_names, update_parts, written_cells
from nnstep.tui.text_view import StepView
from nnstep.tui.arrays import label_width, labelled

#: Every sentence the pane shows, as templates.
TEXT = {
    "loss": "loss  ",
    "after": "\nafter update  ",
    "after_change": "  {change}",
    "forward_only": "none: a forward-only scenario",
    "not_yet": "not computed yet (step {step})",
    "update": "\n\nUpdate of {name}",
    "update_formula": "   after = before − {lr}·grad_{name}\n",
    "now": "\n\nParameters now",
    "updated": "   updated: {names}",
    "left_by": "   as iteration {before} left them",
    "initial": "   the initial parameters",
    "as_set": "   as the scenario sets them",
    "from_file": "   as {file} gives them",
    "file_note": "\n{note}",
}


class ParamsPane(StepView):
    """At an update step: before, gradient, after and change of that parameter, then all parameters."""

    COMPONENT_CLASSES = {"params--heading", "params--loss"}

    DEFAULT_CSS = """
    ParamsPane > .params--heading { color: $text-accent; text-style: bold; }
    ParamsPane > .params--loss { color: $text-warning; text-style: bold; }
    """

    def __init__(self, run: Iteration, **kwargs) -> None:
        super().__init__(run, **kwargs)
        self.loss_step = next((s.index for s in run.steps if s.phase == "loss"), None)

    def render_at(self, position: int, digits: int, width: int) -> Text:
        run = self.run
        styles = self.array_styles()
        heading = self.get_component_rich_style("params--heading")
        loss_style = self.get_component_rich_style("params--loss")
        text = Text()
        text.append(TEXT["loss"], style="bold")
        loss = loss_at(run, position)
        if loss is not None:
            text.append(exact(loss), style=loss_style)
        elif self.loss_step is None:
            text.append(TEXT["forward_only"], style=styles.shape)
        else:
            text.append(TEXT["not_yet"].format(step=self.loss_step + 1), style=styles.shape)
        after = run.loss_after_update
        if after is not None and position == len(run.steps) - 1:  # every parameter updated
            text.append(TEXT["after"], style="bold")
            text.append(exact(after), style=loss_style)
            text.append(TEXT["after_change"].format(change=loss_change(loss, after, digits=4)), style=styles.shape)
        step = run.steps[position] if position >= 0 else None
        if step is not None and step.phase == "update":
            parts = update_parts(step)
            rows = [("before", parts.before), (f"grad_{parts.name}", parts.gradient), ("after", parts.after),
                    ("change", parts.change)]
            w = label_width(rows)
            text.append(TEXT["update"].format(name=parts.name), style=heading)
            text.append(TEXT["update_formula"].format(lr=f"{run.scenario.learning_rate:g}", name=parts.name),
                        style=styles.shape)
            for name, a in rows:
                text.append_text(labelled(name, a, w, digits, width,
                                          written_cells(step) if name in ("after", "change") else None,
                                          arrow=name == "after", styles=styles))
                text.append("\n")
            text.rstrip()
        known = arrays_at(run, position)
        names = parameter_names(run)
        updated = {s.name for s in run.steps[: position + 1] if s.phase == "update"}
        sc = run.scenario
        text.append(TEXT["now"], style=heading)
        if updated:
            text.append(TEXT["updated"].format(names=", ".join(n for n in names if n in updated)), style=styles.shape)
        elif sc.training is not None and run.number > 1:
            text.append(TEXT["left_by"].format(before=run.number - 1), style=styles.shape)
        elif sc.training is not None:
            text.append(TEXT["initial"], style=styles.shape)
        elif sc.params_file is not None:
            text.append(TEXT["from_file"].format(file=sc.params_file), style=styles.shape)
            if sc.params_note:
                text.append(TEXT["file_note"].format(note=sc.params_note), style=styles.shape)
        else:
            text.append(TEXT["as_set"], style=styles.shape)
        w = label_width((n, known[n]) for n in names)
        for n in names:
            text.append("\n")
            text.append_text(labelled(n, known[n], w, digits, width, styles=styles))
        return text
