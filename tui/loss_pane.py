"""A training run's loss history as a bar plot, every iteration, the current one marked; a classifier's
batch accuracy below it; the straight run's progress while it is still being computed."""

from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text

from nnstep.engine.numbers import percent
from nnstep.engine.views import column_of, history_columns
from nnstep.tui.text_view import TextView

BARS = " ▁▂▃▄▅▆▇█"
LOSS_ROWS, ACCURACY_ROWS = 5, 2


class LossPane(TextView):
    """Per-batch loss over the iterations (log scale when it spans decades), and accuracy for classifiers.

    With more iterations than columns, a column is the mean of its iterations, and the border says so;
    the scale spans the columns drawn (the title gives the current batch's own loss).
    """

    COMPONENT_CLASSES = {"loss--loss", "loss--accuracy", "loss--current", "loss--current-column", "loss--diverged",
                         "loss--muted", "loss--pending", "loss--caption"}

    DEFAULT_CSS = """
    LossPane > .loss--loss { color: $text-primary; }
    LossPane > .loss--accuracy { color: $text-success; }
    LossPane > .loss--current { color: $text-warning; text-style: bold; }
    LossPane > .loss--current-column { color: $text-warning; text-style: bold; background: $foreground 15%; }
    LossPane > .loss--diverged { color: $text-error; }
    LossPane > .loss--muted { color: $text-muted; }
    LossPane > .loss--pending { color: $text-disabled; }
    LossPane > .loss--caption { color: $foreground 80%; }
    """

    def __init__(self, classifier: bool, **kwargs) -> None:
        super().__init__(**kwargs)
        self.classifier = classifier
        #: Fewer rows, a shorter title and no caption, for terminals under 30 rows (set by the screen).
        self.compact = False
        self._args: tuple | None = None

    def on_mount(self) -> None:
        self._fit()

    def set_compact(self, compact: bool) -> None:
        if compact != self.compact:
            self.compact = compact
            self._fit()
            if self._args is not None:
                self.plot(*self._args)

    def _fit(self) -> None:
        # Fixed: the plot rows, the accuracy rows, a caption, the border.
        loss_rows, accuracy_rows = self.rows()
        self.styles.height = loss_rows + accuracy_rows + (0 if self.compact else 1) + 2

    def rows(self) -> tuple[int, int]:
        """Rows of the loss bars and of the accuracy bars."""
        loss_rows, accuracy_rows = (2, 1) if self.compact else (LOSS_ROWS, ACCURACY_ROWS)
        return loss_rows, accuracy_rows if self.classifier else 0

    def plot(self, losses: np.ndarray, accuracies: np.ndarray | None, computed: int, iteration: int) -> None:
        """Draw the history with ``iteration`` (counted from 1) marked."""
        self._args = (losses, accuracies, computed, iteration)
        if not self.is_mounted:
            return
        width = max(1, self.scrollable_content_region.width)
        total = len(losses)
        title = self._title(losses, accuracies, computed, iteration)
        if title != self.border_title:
            self.border_title = title
        current = column_of(iteration, total, width) if iteration <= computed else -1
        # The picture changes when the run gets further or the marked column moves, not with every iteration.
        self.show_cached((computed, current, self.compact),
                         lambda width: self._picture(losses, accuracies, computed, current, width))

    def _title(self, losses, accuracies, computed: int, iteration: int) -> str:
        total = len(losses)
        title = f"Loss · {iteration}/{total}" if self.compact else f"Loss · iteration {iteration}/{total}"
        if iteration <= computed:
            title += f" · {losses[iteration - 1]:.4g}" if self.compact else \
                f" · batch loss {losses[iteration - 1]:.4g}"
            if accuracies is not None:
                title += f" · {percent(accuracies[iteration - 1])}" if self.compact else \
                    f" · accuracy {percent(accuracies[iteration - 1])}"
        return title

    def _picture(self, losses, accuracies, computed: int, current: int, width: int) -> Text:
        total = len(losses)
        text = Text()
        loss_cols, firsts = history_columns(losses, computed, width)
        seen = losses[:computed]
        scale, legend = _scale(loss_cols[np.isfinite(loss_cols)])
        sizes = np.diff(np.append(firsts, total + 1))
        few, many = int(sizes.min()), int(sizes.max())
        per = "one iteration per column" if many == 1 else \
            f"column: mean of {few} iterations" if few == many else f"column: mean of {few}–{many} iterations"
        bad = np.flatnonzero(~np.isfinite(seen))
        parts = [legend, per]
        if bad.size:
            parts.insert(0, f"✕ not finite from iteration {bad[0] + 1}")
        if self.compact and computed < total:
            parts = [f"computing {computed}/{total} {computed / total:.0%}"]
        subtitle = " · ".join(p for p in parts if p)
        if subtitle != self.border_subtitle:
            self.border_subtitle = subtitle
        loss_rows, accuracy_rows = self.rows()
        self._bars(text, [scale(v) for v in loss_cols], loss_rows, current, self.get_component_rich_style("loss--loss"))
        if accuracy_rows and accuracies is not None:
            acc_cols, _ = history_columns(accuracies, computed, width)
            self._bars(text, [v if math.isfinite(v) else None for v in acc_cols], accuracy_rows, current,
                       self.get_component_rich_style("loss--accuracy"))
        if self.compact:
            text.rstrip()
        else:
            text.append_text(self._caption(width, total, computed, current))
        return text

    def _bars(self, text: Text, heights: list[float | None], rows: int, current: int, colour: Style) -> None:
        """Rows of bar characters, drawn as runs of one style (a few segments per row, not one per cell):
        the marked column in yellow, a column that is not finite as a red ✕ at full height."""
        levels = rows * 8
        tops = [None if h is None else levels if math.isinf(h) else max(1, round(h * levels)) for h in heights]
        diverged = [h is not None and math.isinf(h) for h in heights]
        marked = self.get_component_rich_style("loss--current-column")
        bad = self.get_component_rich_style("loss--diverged")
        styles = [marked if c == current else bad if diverged[c] else colour for c in range(len(heights))]
        for r in range(rows):
            floor = (rows - 1 - r) * 8
            cells = ["✕" if diverged[c] else " " if t is None else BARS[min(8, max(0, t - floor))]
                     for c, t in enumerate(tops)]
            start = 0
            for c in range(1, len(cells) + 1):
                if c == len(cells) or styles[c] != styles[start]:
                    text.append("".join(cells[start:c]), style=styles[start])
                    start = c
            text.append("\n")

    def _caption(self, width: int, total: int, computed: int, current: int) -> Text:
        style = self.get_component_rich_style
        muted = style("loss--muted")
        if computed < total:
            label = f" computing {computed}/{total} iterations {computed / total:.0%}"
            bar = max(4, width - len(label) - 1)
            filled = round(bar * computed / total)
            return Text.assemble(("█" * filled, style("loss--accuracy")),
                                 ("·" * (bar - filled), style("loss--pending")), (label, style("loss--caption")))
        left, right = "1", str(total)
        middle = "top: batch loss · below: batch accuracy 0–100% · iterations ▸" if self.classifier \
            else "batch loss · iterations ▸"
        if len(middle) + len(left) + len(right) + 2 > width:
            middle = "iterations ▸"
        cells = list(" " * width)
        # The first and last iteration's numbers at the ends, moved in when the marker is on them.
        lo = 0 if current > len(left) else current + 2
        hi = width - len(right) if current < width - len(right) - 1 else current - 1 - len(right)
        cells[lo:lo + len(left)] = left
        cells[hi:hi + len(right)] = right
        for label in (middle, "iterations ▸"):  # the long label, or the short one where the marker leaves no room
            start = (len(cells) - len(label)) // 2
            if start - 1 <= current <= start + len(label):  # the label moves aside for the marker
                start = current + 2 if current + 2 + len(label) < hi - 1 else \
                    max(lo + len(left) + 1, current - 1 - len(label))
            if not start - 1 <= current <= start + len(label):
                break
        cells[start:start + len(label)] = label
        line = "".join(cells)[:width]
        if not 0 <= current < len(line):
            return Text(line, style=muted)
        # ▲ under the current iteration's column: the mark is not colour alone.
        return Text.assemble((line[:current], muted), ("▲", style("loss--current")), (line[current + 1:], muted))


def _scale(values: np.ndarray):
    """A function from a value to a bar height in [0, 1] (None for nothing to draw; inf stays inf), and its
    legend, for ``values``: the finite columns drawn."""
    if values.size == 0:
        # No finite column (nothing computed yet, or a run that diverged inside the first column): nothing
        # to scale, but a column that is not finite is still a ✕.
        return (lambda v: v if math.isinf(v) else None), ""
    lo, hi = float(values.min()), float(values.max())
    if lo > 0 and hi / lo > 50:
        a, b = math.log10(lo), math.log10(hi)

        def log_height(v: float):
            if math.isnan(v) or math.isinf(v):
                return None if math.isnan(v) else v
            return (math.log10(v) - a) / (b - a)

        return log_height, f"log scale {lo:.3g} … {hi:.3g}"
    base = min(lo, 0.0)
    span = hi - base or 1.0

    def linear_height(v: float):
        if math.isnan(v) or math.isinf(v):
            return None if math.isnan(v) else v
        return (v - base) / span

    return linear_height, f"{base:.3g} … {hi:.3g}"
