"""Every step of the run as a list grouped by phase; the current step marked, breakpoints dotted."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from engine.steps import Run

CURRENT, BREAKPOINT = "▶", "●"
START_ID = "start"


def option_id(position: int) -> str:
    return START_ID if position < 0 else f"s{position}"


class StepsPane(OptionList):
    """The run's steps. Moving the highlight here browses; Enter asks to jump to the highlighted step."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="steps.down"),
        Binding("k", "cursor_up", "Up", show=False, id="steps.up"),
    ]

    class JumpRequested(Message):
        """The user chose a step to jump to."""

        def __init__(self, position: int) -> None:
            super().__init__()
            self.position = position

    def __init__(self, run: Run, **kwargs) -> None:
        self.run = run
        self.position = -1
        self.breakpoints: frozenset[int] = frozenset()
        options: list[Option | None] = [Option(self._prompt(-1), id=START_ID)]
        phase = None
        for step in run.steps:
            if step.phase != phase:
                phase = step.phase
                options.append(Option(Text(f"── {phase.capitalize()} ──", style="bold #d7af5f"), disabled=True,
                                      id=f"phase-{phase}-{step.index}"))
            options.append(Option(self._prompt(step.index), id=option_id(step.index)))
        super().__init__(*options, **kwargs)

    def _prompt(self, position: int) -> Text:
        current = position == self.position
        mark = Text(CURRENT if current else " ", style="bold #ffd75f", no_wrap=True, overflow="ellipsis")
        mark.append(BREAKPOINT if position in self.breakpoints else " ", style="bold #ff5f5f")
        if position < 0:
            mark.append("    start", style="bold" if current else "#9a9a9a")
            return mark
        step = self.run.steps[position]
        mark.append(f"{position + 1:>3} ", style="#9a9a9a")
        mark.append(step.formula, style="bold" if current else "")
        return mark

    def show(self, position: int, breakpoints: frozenset[int]) -> None:
        """Mark ``position`` as current and ``breakpoints``; the highlight follows the current step."""
        changed = {self.position, position} | (self.breakpoints ^ breakpoints)
        self.position, self.breakpoints = position, breakpoints
        for p in changed:
            self.replace_option_prompt(option_id(p), self._prompt(p))
        self.highlighted = self.get_option_index(option_id(position))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        oid = event.option.id or START_ID
        self.post_message(self.JumpRequested(-1 if oid == START_ID else int(oid[1:])))
