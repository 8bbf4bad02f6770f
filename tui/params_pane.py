"""All W and b as they stand at the current step, the loss once known, and an update in full."""

from __future__ import annotations

from rich.text import Text

from nnstep.engine.numbers import exact
from nnstep.engine.steps import Iteration
from nnstep.engine.views import arrays_at, loss_at, parameter_names, update_parts, written_cells
from nnstep.tui.text_view import StepView
from nnstep.tui.arrays import label_width, labelled

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
        text = Text()
        text.append("loss  ", style="bold")
        loss = loss_at(run, position)
        if loss is not None:
            text.append(exact(loss), style=self.get_component_rich_style("params--loss"))
        elif self.loss_step is None:
            text.append("none: a forward-only scenario", style=styles.shape)
        else:
            text.append(f"not computed yet (step {self.loss_step + 1})", style=styles.shape)
        step = run.steps[position] if position >= 0 else None
        if step is not None and step.phase == "update":
            parts = update_parts(step)
            rows = [("before", parts.before), (f"grad_{parts.name}", parts.gradient), ("after", parts.after),
                    ("change", parts.change)]
            w = label_width(rows)
            text.append(f"\n\nUpdate of {parts.name}", style=heading)
            text.append(f"   after = before − {run.scenario.learning_rate:g}·grad_{parts.name}\n",
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
        text.append("\n\nParameters now", style=heading)
        if updated:
            text.append(f"   updated: {', '.join(n for n in names if n in updated)}", style=styles.shape)
        elif run.scenario.training is not None and run.number > 1:
            text.append(f"   as iteration {run.number - 1} left them", style=styles.shape)
        elif run.scenario.training is not None:
            text.append("   the initial parameters", style=styles.shape)
        else:
            text.append("   as the scenario sets them", style=styles.shape)
        w = label_width((n, known[n]) for n in names)
        for n in names:
            text.append("\n")
            text.append_text(labelled(n, known[n], w, digits, width, styles=styles))
        return text
