"""The array the current operation produced, with the cells it wrote marked, then every array it read."""

from __future__ import annotations

from rich.text import Text

from nnstep.engine.views import update_parts, written_cells
from nnstep.tui.text_view import StepView
from nnstep.tui.arrays import label_width, labelled


class ValuesPane(StepView):
    """The result (→) on top, what it read below; scrolls when the arrays are taller than the pane."""

    def render_at(self, position: int, digits: int, width: int) -> Text:
        styles = self.array_styles()
        if position < 0:
            run = self.run
            arrays = [("x", run.x)] + ([("d", run.d)] if run.d is not None else [])
            heading = "The data this run starts from:" if run.scenario.training is None else \
                f"Iteration {run.number}'s batch:"
            text = Text(heading + "\n", style=styles.shape)
            w = label_width(arrays)
            for name, a in arrays:
                text.append_text(labelled(name, a, w, digits, width, styles=styles))
                text.append("\n")
            text.rstrip()
            return text
        step = self.run.steps[position]
        written = written_cells(step)
        # The result first, so that it is on screen however many inputs follow; then what it read.
        if step.phase == "update":
            produced = [(f"{step.name} after", step.value, written, True),
                        ("change", update_parts(step).change, written, False)]
            read = [(f"{name} before" if name == step.name else name, a) for name, a in step.inputs.items()]
        else:
            produced = [(step.name, step.value, written, True)]
            read = list(step.inputs.items())
        w = label_width([(n, a) for n, a, _, _ in produced] + read)
        text = Text()
        for name, a, cells, arrow in produced:
            text.append_text(labelled(name, a, w, digits, width, cells, arrow=arrow, styles=styles))
            text.append("\n")
        text.append(f"read {', '.join(n for n, _ in read)}:\n", style=styles.shape)
        for name, a in read:
            text.append_text(labelled(name, a, w, digits, width, styles=styles))
            text.append("\n")
        text.rstrip()
        return text
