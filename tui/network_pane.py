"""The network as columns of nodes, x on the left and y on the right, with the current operation lit."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from nnstep.engine import names
from nnstep.engine.ops import ACTIVATIONS
from nnstep.engine.steps import Iteration
from nnstep.tui.text_view import TextView, iteration_of

NODE, EDGE_FORWARD, EDGE_BACKWARD = "●", "──▶", "◀──"


class NetworkPane(TextView):
    """Layers as columns (2 → 3 → 4) with activations and the loss; forward lights left to right,
    backward right to left, an update lights the weights between two columns."""

    COMPONENT_CLASSES = {"network--lit", "network--done", "network--todo", "network--activation", "network--muted",
                         "network--caption"}

    DEFAULT_CSS = """
    NetworkPane { height: 14; }
    NetworkPane > .network--lit { color: $text-warning; text-style: bold; }
    NetworkPane > .network--done { color: $text-primary; }
    NetworkPane > .network--todo { color: $text-disabled; }
    NetworkPane > .network--activation { color: $text-muted; text-style: italic; }
    NetworkPane > .network--muted { color: $text-muted; }
    NetworkPane > .network--caption { color: $foreground 80%; }
    """

    #: Node rows drawn at most; a bigger layer shows ⋮ and its size.
    MAX_NODES = 9

    #: The position in the run (−1 before the first step).
    position: reactive[int] = reactive(-1, repaint=False)  # the view repaints the lines that changed

    def __init__(self, run: Iteration, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run = run
        sc = run.scenario
        self.columns = ["x"] + [names.z(l, len(sc.layers)) for l in range(1, len(sc.layers) + 1)]
        self.units = [sc.x.shape[-1]] + [layer.W.shape[1] for layer in sc.layers]
        self.acts = [""] + [layer.activation for layer in sc.layers]
        if sc.training is not None:
            self.MAX_NODES = 5  # a training run's loss plot and inputs need the rows

    def on_mount(self) -> None:
        # A fixed height (names, activations, nodes, a blank, loss, caption), so a step redraws without layout.
        self.styles.height = min(max(self.units), self.MAX_NODES) + 5 + 2

    def on_resize(self) -> None:
        self.refresh_network()

    def prepare_position(self, position: int) -> None:
        """Render ``position`` ahead of time, so that stepping there only repaints."""
        self.prepare((iteration_of(self.run), position), lambda width: self.render_network(width, self.MAX_NODES, position))

    def watch_position(self) -> None:
        self.refresh_network()

    def refresh_network(self) -> None:
        if self.is_mounted:
            self.show_cached((iteration_of(self.run), self.position), lambda width: self.render_network(width, self.MAX_NODES))

    def render_network(self, width: int, max_nodes: int, position: int | None = None) -> Text:
        run = self.run
        pos = self.position if position is None else position
        step = run.steps[pos] if pos >= 0 else None
        n_cols = len(self.columns)
        gap = 4 if n_cols < 4 else 3
        col = max(4, min(9, (width - gap * (n_cols - 1)) // n_cols))
        narrow = col < 8
        #: The columns computed so far: x (0) and every layer whose output is.
        computed = {0} | {s.layer for s in run.steps[: pos + 1] if s.kind == "activation"}

        def lit_column(i: int) -> bool:
            if step is None:
                return False
            if step.phase == "forward":
                return i == step.layer
            if step.phase == "loss":
                return i == n_cols - 1
            if step.phase == "backward":
                return i == step.layer and step.kind == "delta"
            return False

        def lit_gap(i: int) -> str | None:
            """The edge between columns i−1 and i (the weights W{i}) when this step uses it."""
            if step is None:
                return None
            if step.kind == "affine" and step.layer == i:
                return EDGE_FORWARD
            if step.kind in ("grad_W", "grad_b") and step.layer == i or step.kind == "delta" and step.layer == i - 1:
                return EDGE_BACKWARD
            if step.phase == "update" and step.layer == i:
                return f"═{step.param}═"
            return None

        style_of = self.get_component_rich_style
        lit, done, todo = style_of("network--lit"), style_of("network--done"), style_of("network--todo")
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, name in enumerate(self.columns):
            if i:
                text.append(" " * gap)
            text.append(name.center(col)[:col], style=lit if lit_column(i) else "bold")
        text.append("\n")
        for i, act in enumerate(self.acts):
            if i:
                text.append(" " * gap)
            label = (ACTIVATIONS[act].short or act) if act and narrow else act
            text.append(label[:col].center(col), style=style_of("network--activation"))
        rows = min(max(self.units), max_nodes)
        for r in range(rows):
            text.append("\n")
            for i, (name, n) in enumerate(zip(self.columns, self.units)):
                if i:
                    edge = lit_gap(i)
                    if r == 0 and edge:
                        text.append((f" {edge}" if gap > len(edge) else edge)[:gap].ljust(gap), style=lit)
                    else:
                        text.append(" " * gap)
                if r < n and not (n > max_nodes and r == max_nodes - 1):
                    known = i in computed
                    style = lit if lit_column(i) else (done if known else todo)
                    text.append(NODE.center(col), style=style)
                elif n > max_nodes and r == max_nodes - 1:
                    label = f"⋮ of {n}" if len(f"⋮ of {n}") <= col else f"⋮{n}"
                    text.append(label.center(col)[:col], style=style_of("network--muted"))
                else:
                    text.append(" " * col)
        loss = run.scenario.loss
        text.append("\n\n")
        text.append("loss ", style="bold")
        text.append(loss or "none (forward only)", style=lit if step is not None and step.phase == "loss" else "")
        text.append("\n")
        text.append(self.caption(pos), style=style_of("network--caption"))
        return text

    def caption(self, pos: int) -> str:
        if pos < 0:
            if self.run.scenario.training is not None and iteration_of(self.run) > 1:
                return f"start of iteration {iteration_of(self.run)}: its forward pass is next"
            return "start: nothing computed yet"
        step = self.run.steps[pos]
        where = f"layer {step.layer}" if step.layer is not None else "output"
        direction = {"forward": "forward, left to right", "backward": "backward, right to left",
                     "loss": "the loss, at the output", "update": "update of the parameters"}[step.phase]
        return f"{direction} · {where}" if step.phase in ("forward", "backward") else direction
