"""The current operation: its formula with shapes, the numpy code that computes it, and what it means; while
the user's own arrays are compared, whether theirs matches and, where it differs, the likely mistake."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

import numpy as np

from rich.text import Text
from textual.reactive import reactive

from nnstep.engine.numbers import exact
from nnstep.engine.steps import Iteration, shape_label
from nnstep.tui.comparing import Overlay
from nnstep.tui.cursor import index_label
from nnstep.tui.text_view import ScrollingTextView, iteration_of

#: Every sentence of the explanations this pane shows (a translation replaces the templates).
TEXT = {
    "chain_heading": "The chain from the loss down to {cell}:",
    "chain_hint": "{key}: the chain from the loss down to {cell}",
    "chain_hide": "{key} or {again}: hide the chain",
    "input_read": "{cell} is one of the cells that {result} read (highlighted).",
    "input_unread": "{cell} is not one of the cells that {result} read (those are highlighted).",
    "start": "{cell} is part of the data the run starts from: it is given, not computed.",
    # The compare overlay (the user's own arrays).
    "mine_match": "✓ yours matches ({file})",
    "mine_missing": "· not in {file}: nothing to compare here",
    "mine_differs": "✗ yours differs at {cell}: ours {ours}, yours {theirs} ({count} of {size} entries differ)",
    "mine_shape": "✗ yours differs in shape: ours {ours}, yours {theirs}",
    "mine_quirk": "≈ yours is the course's own loss, not nnstep's: ours {ours}, yours {theirs}",
    "mine_quirk_after": "No later step reads the loss: the two runs do not part here.",
    "mine_first": "This is the first step that differs.",
    "likely": "likely: ",
    "mine_summary": "Comparing {file} ({source}): {counts}.",
    "mine_counts": "{match} match, {differs} {differ}, {missing} not given",
    "differ_one": "differs",
    "differ_many": "differ",
    "mine_legend": "In the Steps list: ✓ matches, ✗ differs, ≈ the course's own loss (no later step reads it), "
                   "· not given.",
    "mine_quirks": ", {quirk} the course's loss",
    "mine_first_at": " The first difference is {name}, step {step}: {key} goes there.",
    "mine_none_differs": " Everything compared matches.",
    "mine_unknown": "Not compared: {names}.",
    "mine_unknown_one": "{name} (did you mean {suggestion}?)",
    "mine_close": "{key} opens another file, or closes the comparison.",
}


@dataclass(frozen=True)
class Explained:
    """What the Operation pane shows about the cell under the cursor (the screen works it out)."""

    #: The result cell explained (``u2[3]``), and the cursor's own cell when it is on an input.
    cell: str
    #: The explanation's lines (formula, numbers plugged in, value); empty at the start.
    lines: tuple[str, ...] = ()
    #: The cursor's cell when it is not the explained one (on an input), else ""; and whether that cell was read.
    visiting: str = ""
    visiting_read: bool = False
    #: The chain's links (each as its lines), when the chain is shown; None when it is not.
    chain: tuple[tuple[str, ...], ...] | None = None
    #: Whether this step has a chain at all (a delta, a gradient, an update).
    has_chain: bool = False
    #: With the cursor on the user's own array (the compare overlay): their cell against ours, else "".
    mine: str = ""


def hanging(line: str, width: int, indent: int | None = None) -> list[str]:
    """``line`` wrapped to ``width``, its later lines indented by ``indent`` (by default past its own indent
    and its leading ``= ``, under the numbers)."""
    if len(line) <= width or width < 20:
        return [line]
    body = line.lstrip(" ")
    if indent is None:
        indent = len(line) - len(body) + (2 if body.startswith("= ") else 4)
    indent = min(indent, width // 2)
    # A short parenthesis ("(56 more terms: 0.4935)", "(i = 0…63)") stays on one line, where it fits on one.
    room = min(30, width - indent - 2)
    kept = re.sub(r"\([^()]{1,%d}\)" % max(1, room), lambda m: m.group(0).replace(" ", "\xa0"), line)
    wrapped = textwrap.wrap(kept, width, subsequent_indent=" " * indent, break_on_hyphens=False,
                            replace_whitespace=False) or [kept]
    return [part.replace("\xa0", " ") for part in wrapped]


def explanation_lines(lines, width: int) -> list[tuple[str, bool]]:
    """An explanation's lines at ``width``: the formula's wrapped under its right-hand side, where the next
    lines' ``= `` puts their numbers; in a narrow pane, where that is far to the right, every line moves left
    by the same amount, so that the ``=`` still line up. Each with whether it is (part of) the formula."""
    equals = [line for line in lines[1:] if line.lstrip(" ").startswith("= ")]
    pad = len(equals[0]) - len(equals[0].lstrip(" ")) if equals else 0
    shift = pad - 2 if pad > width // 3 else 0
    out = []
    for i, line in enumerate(lines):
        lead = len(line) - len(line.lstrip(" "))
        line = " " * max(0, lead - shift) + line.lstrip(" ")
        out += [(part, i == 0) for part in hanging(line, width, pad - shift + 2 if i == 0 and pad else None)]
    return out


class OperationPane(ScrollingTextView):
    """What the step at ``position`` does, in the seed's notation, in numpy and in words."""

    COMPONENT_CLASSES = {"operation--formula", "operation--code", "operation--label", "operation--description",
                         "operation--match", "operation--differs", "operation--quirk"}

    DEFAULT_CSS = """
    OperationPane > .operation--formula { color: $text-warning; text-style: bold; }
    OperationPane > .operation--code { color: $text-success; }
    OperationPane > .operation--label { color: $text-muted; }
    OperationPane > .operation--description { color: $foreground 80%; }
    OperationPane > .operation--match { color: $text-success; text-style: bold; }
    OperationPane > .operation--differs { color: $text-error; text-style: bold; }
    OperationPane > .operation--quirk { color: $text-warning; text-style: bold; }
    """

    #: What is explained of the cell under the cursor (None: no cursor); the screen sets it.
    explained: Explained | None = None
    #: The user's own arrays compared with this iteration (None: no comparison); set with set_overlay.
    overlay: Overlay | None = None

    position: reactive[int] = reactive(-1, repaint=False)  # the view repaints the lines that changed

    def __init__(self, run: Iteration, keys: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run = run
        #: The keys of each binding id as the user types them (after any remap), for the hints.
        self.keys = keys or {}

    def on_resize(self) -> None:
        self.watch_position()

    def set_overlay(self, overlay: Overlay | None) -> None:
        """Say how the user's arrays compare (None: no longer); what was drawn without them is dropped."""
        self.overlay = overlay
        self._rendered.clear()

    def prepare_position(self, position: int) -> None:
        """Render ``position`` ahead of time, so that stepping there only repaints."""
        if self.explained is None:
            self.prepare((iteration_of(self.run), position), lambda width: self.describe(position))

    def watch_position(self) -> None:
        if not self.is_mounted:
            return
        position, explained = self.position, self.explained
        if explained is None:
            self.show_cached((iteration_of(self.run), position), lambda width: self.describe(position))
        else:
            self.show_cached((iteration_of(self.run), position, explained),
                             lambda width: self.explain(position, explained, width))

    def explain(self, position: int, explained: Explained, width: int) -> Text:
        """The cell under the cursor: how it was computed, with its numbers (or its chain from the loss), then
        what :meth:`describe` says of the step."""
        style = self.get_component_rich_style
        formula, label = style("operation--formula"), style("operation--label")
        keys = self.keys
        text = Text()
        if explained.mine and explained.chain is None:
            text.append(explained.mine + "\n", style="bold")
        if explained.chain is not None:
            text.append(TEXT["chain_heading"].format(cell=explained.cell), style=formula)
            for link in explained.chain:
                text.append("\n")
                self._explanation_lines(text, link, width, formula)
            text.append("\n" + TEXT["chain_hide"].format(key=keys.get("hide_cell", "Escape"),
                                                          again=keys.get("show_chain", "e")), style=label)
        elif explained.lines:
            self._explanation_lines(text, explained.lines, width, formula)
            if explained.visiting and not explained.mine:
                key = "input_read" if explained.visiting_read else "input_unread"
                text.append("\n" + TEXT[key].format(cell=explained.visiting, result=explained.cell), style=label)
            if explained.has_chain:
                text.append("\n" + TEXT["chain_hint"].format(key=keys.get("show_chain", "e"), cell=explained.cell),
                            style=label)
        else:
            text.append(TEXT["start"].format(cell=explained.cell), style=label)
        if explained.chain is None:
            text.append("\n\n")
            text.append_text(self.describe(position))
        return text

    @staticmethod
    def _explanation_lines(text: Text, lines, width: int, first) -> None:
        """An explanation's lines (:func:`explanation_lines`), the formula in ``first``."""
        for i, (line, formula) in enumerate(explanation_lines(lines, width)):
            if i:
                text.append("\n")
            text.append(line, style=first if formula else "")

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
            self._mine_summary(text)
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
            self._mine_summary(text)
            if sc.description:
                text.append("\n\n" + sc.description, style=style("operation--description"))
            return text
        step = run.steps[position]
        text.append(step.formula, style=formula)
        text.append("\nshapes ", style=label)
        text.append(step.shapes)
        text.append("\nnumpy  ", style=label)
        text.append(step.code, style=code)
        self._mine_step(text, step)
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

    # --- the compare overlay ---------------------------------------------------------------------------

    def _mine_step(self, text: Text, step) -> None:
        """Whether the user's array of ``step`` matches ours; where it differs, where first, by how much, and
        the likely mistake."""
        overlay = self.overlay
        if overlay is None:
            return
        style = self.get_component_rich_style
        r = overlay.result(step)
        text.append("\n")
        if r is None or r.status == "missing":
            text.append(TEXT["mine_missing"].format(file=overlay.name), style=style("operation--label"))
            return
        if r.status == "match":
            text.append(TEXT["mine_match"].format(file=overlay.name), style=style("operation--match"))
            return
        if r.shapes is not None:
            line = TEXT["mine_shape"].format(ours=shape_label(np.empty(r.shapes[0])),
                                             theirs=shape_label(np.empty(r.shapes[1])))
        else:
            line = TEXT["mine_quirk" if r.course_quirk else "mine_differs"].format(
                cell=index_label(step.name, r.first_index), ours=exact(r.ours_at), theirs=exact(r.theirs_at),
                count=int(np.count_nonzero(r.differing)), size=r.differing.size)
        text.append(line, style=style("operation--quirk" if r.course_quirk else "operation--differs"))
        if r.cause:
            text.append("\n" + TEXT["likely"], style="bold")
            text.append(r.cause)
        if r.course_quirk:
            text.append("\n" + TEXT["mine_quirk_after"], style=style("operation--label"))
        elif step.index == overlay.first_divergence:
            text.append("\n" + TEXT["mine_first"], style="bold")

    def _mine_summary(self, text: Text) -> None:
        """At the start: which file is compared, how many steps match, where the runs part, and the names
        that were not compared."""
        overlay = self.overlay
        if overlay is None:
            return
        style = self.get_component_rich_style
        counts = overlay.counts()
        summary = TEXT["mine_counts"].format(**counts, differ=differ_word(counts["differs"]))
        if counts["quirk"]:
            summary += TEXT["mine_quirks"].format(**counts)
        text.append("\n\n")
        text.append(TEXT["mine_summary"].format(file=overlay.name, source=overlay.source,
                                                counts=summary), style="bold")
        text.append("\n" + TEXT["mine_legend"], style=style("operation--label"))
        first = overlay.first_divergence
        if first is None:
            text.append(TEXT["mine_none_differs"], style=style("operation--match"))
        else:
            text.append(TEXT["mine_first_at"].format(name=self.run.steps[first].name, step=first + 1,
                                                     key=self.keys.get("first_difference", "d")),
                        style=style("operation--differs"))
        unknown = overlay.unknown()
        if unknown:
            names = ", ".join(TEXT["mine_unknown_one"].format(name=r.name, suggestion=r.suggestion) if r.suggestion
                              else r.name for r in unknown)
            text.append("\n" + TEXT["mine_unknown"].format(names=names), style=style("operation--label"))
        for note in overlay.comparison.notes:
            text.append("\n" + note, style=style("operation--label"))
        text.append("\n" + TEXT["mine_close"].format(key=self.keys.get("open_mine", "m")),
                    style=style("operation--label"))

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


def differ_word(n: int) -> str:
    """``1 differs``, ``2 differ``."""
    return TEXT["differ_one"] if n == 1 else TEXT["differ_many"]
