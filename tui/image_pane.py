"""The current batch's inputs drawn as small grey-scale heatmaps (for image data: ``[data] image``), each
with its label and, once the forward pass has produced y, the network's guess."""

from __future__ import annotations

import numpy as np
from rich.text import Text

from nnstep.engine.steps import Iteration
from nnstep.engine.views import classes
from nnstep.tui.text_view import TextView

def _grey(v: float) -> str:
    """A pixel's grey level: data, not a theme colour (0 is black and 1 white in every theme)."""
    level = int(round(max(0.0, min(1.0, v)) * 255))
    return f"#{level:02x}{level:02x}{level:02x}"


class ImagePane(TextView):
    """As many of the batch's images as fit, two pixel rows per line (▀ with a top and bottom colour)."""

    COMPONENT_CLASSES = {"image--label", "image--right", "image--wrong"}

    DEFAULT_CSS = """
    ImagePane > .image--label { color: $foreground 80%; }
    ImagePane > .image--right { color: $text-success; }
    ImagePane > .image--wrong { color: $text-error; }
    """

    def __init__(self, run: Iteration, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run = run
        self.image = run.scenario.image
        data = run.scenario.x  # the file's whole data set, not this iteration's batch
        #: Grey levels span the whole training set's range, so that images compare across batches.
        self.low, self.high = float(np.min(data)), float(np.max(data))

    def on_mount(self) -> None:
        height, _ = self.image
        self.styles.height = (height + 1) // 2 + 1 + 2  # pixel rows, the labels, the border

    def on_resize(self) -> None:
        if hasattr(self, "_position"):
            self.show_batch(self.run, self._position)

    def show_batch(self, run: Iteration, position: int) -> None:
        """Show ``run``'s batch; its guesses once the step at ``position`` has computed y."""
        if not self.is_mounted:
            return
        self.run, self._position = run, position
        y_step = run.output.index
        knows_y = position >= y_step
        key = (run.steps[0].iteration, knows_y)
        self.show_cached(key, lambda width: self.render_batch(width, run.steps[y_step].value if knows_y else None))
        batch = len(np.atleast_2d(run.x))
        count = self.fits(self.scrollable_content_region.width, batch)
        if batch == 1:
            self.border_title = "Input x · image"
        elif self.size.width >= 36:
            self.border_title = f"Input x · first {count} of {batch} images"
        else:
            self.border_title = f"x: {count} of {batch} images"

    def fits(self, width: int, batch: int) -> int:
        """How many images fit in ``width`` columns."""
        return max(1, min(batch, width // self.cell))

    @property
    def cell(self) -> int:
        """Columns per image: its width, or room for its labels, and a gap."""
        return max(self.image[1], 7) + 1

    def render_batch(self, width: int, y: np.ndarray | None) -> Text:
        sc = self.run.scenario
        height, img_width = self.image
        x = np.atleast_2d(self.run.x)
        labels = classes(np.atleast_2d(self.run.d), sc.loss) if self.run.d is not None else None
        guesses = classes(np.atleast_2d(y), sc.loss) if y is not None else None
        cell = self.cell
        count = self.fits(width, len(x))
        span = (self.high - self.low) or 1.0
        pictures = [(x[k].reshape(height, img_width) - self.low) / span for k in range(count)]
        style = self.get_component_rich_style
        text = Text()
        for r in range(0, height, 2):
            for pic in pictures:
                for c in range(img_width):
                    top = pic[r, c]
                    bottom = pic[r + 1, c] if r + 1 < height else 0.0
                    text.append("▀", style=f"{_grey(top)} on {_grey(bottom)}")
                text.append(" " * (cell - img_width))
            text.append("\n")
        for k in range(count):
            label = "" if labels is None else f"d={labels[k]}"
            if guesses is not None and labels is not None:
                mark = f" y={guesses[k]}"
                text.append(label, style=style("image--label"))
                text.append(mark, style=style("image--right" if guesses[k] == labels[k] else "image--wrong"))
                text.append(" " * max(1, cell - len(label) - len(mark)))
            else:
                text.append(f"{label:<{cell}}", style=style("image--label"))
        return text
