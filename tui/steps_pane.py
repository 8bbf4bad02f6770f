"""Every step of the run as a list grouped by phase; the current step marked, breakpoints dotted, and, while
the user's own arrays are compared, whether theirs matches (✓), differs (✗) or was not given (·).

Drawn with the Line API from a cache of rendered rows: a step changes two rows' marks, so moving the
cursor repaints from the cache instead of re-rendering the whole list.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from nnstep.engine.steps import Iteration
from nnstep.tui.theme import foreground

CURRENT, BREAKPOINT = "▶", "●"
#: A step's mark while the user's arrays are compared (:data:`nnstep.tui.comparing.Mark`): "quirk" is a loss
#: that differs only as the course's own cross_entropy_error makes it.
MARKS = {"match": "✓", "differs": "✗", "quirk": "≈", "missing": "·"}
START_ROW = 0


class StepsPane(ScrollView, can_focus=True):
    """The run's steps. Moving the highlight here browses; Enter (or a click) jumps to a step."""

    BINDINGS = [
        Binding("down,j", "cursor_down", "Down", show=False, tooltip="Steps list: highlight the next step",
                id="steps.down"),
        Binding("up,k", "cursor_up", "Up", show=False, tooltip="Steps list: highlight the previous step",
                id="steps.up"),
        Binding("pagedown", "page_down", "Page down", show=False, tooltip="Steps list: a page down",
                id="steps.page_down"),
        Binding("pageup", "page_up", "Page up", show=False, tooltip="Steps list: a page up", id="steps.page_up"),
        Binding("enter", "select", "Jump here", show=False, tooltip="Steps list: jump to the highlighted step",
                id="steps.select"),
    ]

    COMPONENT_CLASSES = {"steps--cursor", "steps--phase", "steps--current", "steps--breakpoint", "steps--muted",
                         "steps--match", "steps--differs", "steps--quirk", "steps--missing"}
    ALLOW_MAXIMIZE = False

    DEFAULT_CSS = """
    StepsPane > .steps--cursor { background: $block-cursor-blurred-background; }
    StepsPane:focus > .steps--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    StepsPane > .steps--phase { color: $text-accent; text-style: bold; }
    StepsPane > .steps--current { color: $text-warning; text-style: bold; }
    StepsPane > .steps--breakpoint { color: $text-error; text-style: bold; }
    StepsPane > .steps--muted { color: $text-muted; }
    StepsPane > .steps--match { color: $text-success; text-style: bold; }
    StepsPane > .steps--differs { color: $text-error; text-style: bold; }
    StepsPane > .steps--quirk { color: $text-warning; text-style: bold; }
    StepsPane > .steps--missing { color: $text-muted; }
    """

    class JumpRequested(Message):
        """The user chose a step to jump to."""

        def __init__(self, position: int) -> None:
            super().__init__()
            self.position = position

    def __init__(self, run: Iteration, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run = run
        self.position = -1
        self.breakpoints: frozenset[int] = frozenset()
        #: Each step's mark while the user's arrays are compared (None: no comparison); set with set_marks.
        self.marks: dict[int, str] | None = None
        #: One entry per row: the position it stands for (−1 the start), or a phase's name for a heading.
        self.rows: list[int | str] = [-1]
        phase = None
        for step in run.steps:
            if step.phase != phase:
                phase = step.phase
                self.rows.append(phase)
            self.rows.append(step.index)
        self._row_of = {p: r for r, p in enumerate(self.rows) if isinstance(p, int)}
        #: The highlighted row (the browsing cursor; Enter jumps to it).
        self.highlighted = START_ROW
        self._cache: dict[tuple, Strip] = {}

    def on_mount(self) -> None:
        self.virtual_size = Size(0, len(self.rows))

    def set_run(self, run: Iteration) -> None:
        """Another iteration of the same training run: the same operations, so the same rows (nothing
        to repaint but the marks, which :meth:`show` moves)."""
        self.run = run

    # --- what the list says ---------------------------------------------------------------------------

    def row_of(self, position: int) -> int:
        """The row showing ``position``."""
        return self._row_of[position]

    def row_text(self, row: int) -> Text:
        """A row's text: ``▶● 12 W1 = W1 − learning_rate·grad_W1``, or a phase heading."""
        item = self.rows[row]
        if isinstance(item, str):
            return Text(f"── {item.capitalize()} ──")
        current = item == self.position
        muted = self._colour("steps--muted")
        text = Text()
        text.append(CURRENT if current else " ", style=self._colour("steps--current"))
        text.append(BREAKPOINT if item in self.breakpoints else " ", style=self._colour("steps--breakpoint"))
        if item < 0:
            text.append("    start", style="bold" if current else muted)
            return text
        text.append(f"{item + 1:>3} ", style=muted)
        if self.marks is not None:
            mark = self.marks.get(item, "missing")
            text.append(MARKS[mark] + " ", style=self._colour(f"steps--{mark}"))
        text.append(self.run.steps[item].formula, style="bold" if current else "")
        return text

    def _colour(self, name: str) -> Style:
        """Component ``name``'s colour and text style from the theme, without its background: a row's
        background (the cursor's or the pane's) is laid under it in render_line."""
        return foreground(self.get_component_rich_style(name))

    def show(self, position: int, breakpoints: frozenset[int]) -> None:
        """Mark ``position`` as current and ``breakpoints``; the highlight follows the current step."""
        changed = {self.row_of(self.position), self.row_of(position), self.highlighted}
        changed |= {self.row_of(p) for p in self.breakpoints ^ breakpoints}
        self.position, self.breakpoints = position, breakpoints
        self.move_highlight(self.row_of(position), changed, follow=True)

    def set_marks(self, marks: dict[int, str] | None) -> None:
        """Mark each step as the comparison found it (None: no comparison), and repaint."""
        if marks != self.marks:
            self.marks = marks
            self._cache.clear()
            self.refresh()

    def _refresh_rows(self, rows) -> None:
        scroll_y, width = self.scroll_offset.y, self.size.width
        self.refresh(*(Region(0, row - scroll_y, width, 1) for row in rows))

    # --- drawing --------------------------------------------------------------------------------------

    def render_lines(self, crop):
        self._base_style = self.rich_style  # once per paint, not once per line
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width
        base = self._base_style
        if row >= len(self.rows):
            return Strip.blank(width, base)
        item = self.rows[row]
        highlighted = row == self.highlighted
        key = (row, width, highlighted, self.has_focus, item == self.position, item in self.breakpoints)
        strip = self._cache.get(key)
        if strip is None:
            text = self.row_text(row)
            if isinstance(item, str):
                text.stylize(self._colour("steps--phase"))
            text.truncate(width, overflow="ellipsis", pad=True)
            if highlighted:
                cursor = self.get_component_rich_style("steps--cursor")
                text.stylize_before(base + cursor)
                if self.has_focus:
                    # On the focused cursor's solid background only its own colour reads in every theme:
                    # the marks keep their shapes (▶ ●), not their colours.
                    text.stylize(foreground(cursor))
            else:
                text.stylize_before(base)
            strip = Strip(list(text.render(self.app.console)), width).crop_extend(0, width, base)
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = strip
        return strip

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()  # the rows were drawn with the old theme's styles (as DataTable does)
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # --- browsing -------------------------------------------------------------------------------------

    def move_highlight(self, row: int, changed: set[int] | None = None, follow: bool = False) -> None:
        """Highlight ``row``, scroll it into view, and repaint the rows that changed.

        Following the current step, the scroll is a function of the row alone (the row sits no lower
        than the second-last line), so that stepping back shows exactly the list it showed before.
        """
        changed = (changed or set()) | {self.highlighted}
        self.highlighted = max(0, min(len(self.rows) - 1, row))
        changed.add(self.highlighted)
        before = self.scroll_offset.y
        width = self.scrollable_content_region.width
        if follow:
            height = self.scrollable_content_region.height
            target = max(0, min(self.highlighted - max(0, height - 2), len(self.rows) - height))
            self.scroll_to(y=target, animate=False, immediate=True)
        else:
            self.scroll_to_region(Region(0, self.highlighted, max(1, width), 1), animate=False, immediate=True)
        if self.scroll_offset.y != before:
            self.refresh()
        else:
            self._refresh_rows(changed)

    def _step_rows(self, start: int, direction: int) -> int:
        """The next row from ``start`` in ``direction`` that is a step (headings are skipped)."""
        row = start + direction
        while 0 <= row < len(self.rows) and isinstance(self.rows[row], str):
            row += direction
        return row if 0 <= row < len(self.rows) else start

    def action_cursor_down(self) -> None:
        self.move_highlight(self._step_rows(self.highlighted, 1))

    def action_cursor_up(self) -> None:
        self.move_highlight(self._step_rows(self.highlighted, -1))

    def action_page_down(self) -> None:
        row = min(len(self.rows) - 1, self.highlighted + max(1, self.scrollable_content_region.height - 1))
        self.move_highlight(row if isinstance(self.rows[row], int) else self._step_rows(row, 1))

    def action_page_up(self) -> None:
        row = max(0, self.highlighted - max(1, self.scrollable_content_region.height - 1))
        self.move_highlight(row if isinstance(self.rows[row], int) else self._step_rows(row, -1))

    def action_select(self) -> None:
        item = self.rows[self.highlighted]
        if isinstance(item, int):
            self.post_message(self.JumpRequested(item))

    def on_click(self, event: events.Click) -> None:
        row = event.y + self.scroll_offset.y
        if 0 <= row < len(self.rows) and isinstance(self.rows[row], int):
            self.highlighted = row
            self.post_message(self.JumpRequested(self.rows[row]))
