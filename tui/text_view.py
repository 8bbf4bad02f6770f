"""A scrolling view of prepared lines of text, drawn with Textual's Line API.

Showing new text repaints only the lines that changed, and never asks the screen for a layout
unless a scrollbar has to appear or go: a step that changes three lines of a pane costs three lines.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

from rich.segment import Segment
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from nnstep.tui.arrays import ArrayStyles
from nnstep.tui.theme import ThemeStyled, background


class TextView(ThemeStyled, ScrollView, can_focus=False):
    """Lines of Rich text; scrolls with the mouse (and the keys, in subclasses that take focus).

    Subclasses draw with the styles of their COMPONENT_CLASSES (theme variables in DEFAULT_CSS); a new
    theme drops the kept renderings and draws the text shown again (see :class:`ThemeStyled`)."""

    #: The panes keep their places: maximizing one would leave the others without a size to draw at.
    ALLOW_MAXIMIZE = False

    DEFAULT_CSS = """
    TextView { overflow-x: hidden; }
    """

    #: Rendered texts kept per view, so that revisiting a step skips the rendering.
    CACHE_SIZE = 256

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._lines: list[list[Segment]] = []
        self._plain = ""
        self._rendered: OrderedDict[tuple, tuple[str, list[list[Segment]]]] = OrderedDict()
        #: What is shown, to draw again with a new theme's styles: its key and the function that makes it.
        self._current: tuple[tuple, Callable[[int], Text]] | None = None

    @property
    def hidden_lines(self) -> int:
        """How many lines of the content are below the pane's height."""
        return max(0, len(self._lines) - self.scrollable_content_region.height)

    @property
    def plain(self) -> str:
        """What the view shows, as plain text."""
        return self._plain

    def show(self, text: Text) -> None:
        """Replace the content with ``text``, wrapped to the view's width, and scroll to the top."""
        self._current = None
        self._show(text, None)

    def show_cached(self, key: tuple, make: Callable[[int], Text]) -> None:
        """Show ``make(width)``, the text that ``key`` stands for; the rendering is kept for next time."""
        self._current = (key, make)
        self.drawing()
        if (key, self.scrollable_content_region.width) in self._rendered:
            self._show(None, key)
        else:
            self._show(make(self.scrollable_content_region.width or 80), key)

    def prepare(self, key: tuple, make: Callable[[int], Text]) -> None:
        """Render ``make(width)`` into the cache under ``key`` without showing it (for idle moments)."""
        width = self.scrollable_content_region.width
        if not width or (key, width) in self._rendered:
            return
        self.drawing()
        console = self.app.console
        options = console.options.update(width=width, no_wrap=False, highlight=False)
        text = make(width)
        self._rendered[(key, width)] = (text.plain, console.render_lines(text, options, pad=False, new_lines=False))
        if len(self._rendered) > self.CACHE_SIZE:
            self._rendered.popitem(last=False)

    def restyle(self) -> None:
        """The theme changed: every kept rendering has the old colours; draw what is shown again."""
        self._rendered.clear()
        if self._current is not None and self.is_mounted:
            key, make = self._current
            scrolled = self.scroll_y
            self._show(make(self.scrollable_content_region.width or 80), key)
            self.scroll_to(y=scrolled, animate=False, immediate=True)  # a new theme keeps the reader's place

    def _show(self, text: Text | None, key: tuple | None) -> None:
        old = self._lines
        viewport = self.scrollable_content_region
        cache_key = None if key is None else (key, viewport.width)
        if cache_key in self._rendered:
            self._rendered.move_to_end(cache_key)
            self._plain, self._lines = self._rendered[cache_key]
        else:
            console = self.app.console
            options = console.options.update(width=max(1, viewport.width), no_wrap=False, highlight=False)
            self._plain = text.plain
            self._lines = console.render_lines(text, options, pad=False, new_lines=False)
            if cache_key is not None:
                self._rendered[cache_key] = (self._plain, self._lines)
                if len(self._rendered) > self.CACHE_SIZE:
                    self._rendered.popitem(last=False)
        height = len(self._lines)
        scrolls_before = self.virtual_size.height > viewport.height
        scrolls_now = height > viewport.height
        if scrolls_before != scrolls_now and self.styles.overflow_y != "scroll":
            self.virtual_size = Size(viewport.width, height)  # a scrollbar comes or goes: that needs a layout
            self.scroll_to(y=0, animate=False, immediate=True)
            self.refresh()
            return
        # The scrollbar stays (or stays away): set the size without asking the screen for a layout.
        self.set_reactive(TextView.virtual_size, Size(viewport.width, height))
        if scrolls_now or scrolls_before:
            if self.show_vertical_scrollbar:
                self.vertical_scrollbar.window_virtual_size = height
            self.scroll_to(y=0, animate=False, immediate=True)
            self.refresh()
            return
        width = self.size.width
        changed = [Region(0, y, width, 1) for y in range(max(len(old), height))
                   if y >= len(old) or y >= height or old[y] != self._lines[y]]
        if changed:
            self.refresh(*changed)  # one call: each call clears the widget's caches

    def render_lines(self, crop):
        self._base_style = self.rich_style  # once per paint, not once per line
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        base = self._base_style
        if index >= len(self._lines):
            return Strip.blank(width, base)
        return Strip(self._lines[index]).crop_extend(scroll_x, scroll_x + width, base).apply_style(base)


def iteration_of(run) -> int:
    """Which iteration is shown (1 for a one-iteration scenario): part of every rendering's cache key."""
    return run.number


def more_lines(hidden: int) -> str:
    """``↓ 3 more lines: Tab, j/k``, or nothing when everything is in view."""
    return f"↓ {hidden} more line{'s' if hidden > 1 else ''}: Tab, j/k" if hidden > 0 else ""


class ScrollingTextView(TextView, can_focus=True):
    """A TextView that takes focus, to be scrolled from the keyboard; its border says when more is below."""

    BINDINGS = [
        Binding("j", "scroll_down", "Scroll down", show=False),
        Binding("k", "scroll_up", "Scroll up", show=False),
    ]

    #: Said in the border's subtitle after the "more lines" hint (the Operation pane's replay status).
    status = ""

    def _show(self, text: Text | None, key: tuple | None) -> None:
        super()._show(text, key)
        self.update_subtitle()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self.update_subtitle()

    def update_subtitle(self) -> None:
        """``↓ 5 more lines: Tab, j/k`` while there is more below, then the status, if any."""
        above = round(self.scroll_y)
        below = max(0, self.hidden_lines - above)
        # The status first: it is what an instructor looks for (playing or not), and a narrow border cuts the end.
        subtitle = " · ".join(part for part in (self.status, f"↑ {above} above" if above else "", more_lines(below))
                              if part)
        if subtitle != self.border_subtitle:  # setting it, even to the same text, repaints the border
            self.border_subtitle = subtitle


class StepView(ScrollingTextView):
    """A pane that shows a run at a position with some number of decimals (the Values and Parameters
    panes): subclasses say what with :meth:`render_at`; this keeps the renderings and redraws."""

    COMPONENT_CLASSES = {"array--positive", "array--negative", "array--zero", "array--written", "array--muted"}

    DEFAULT_CSS = """
    StepView > .array--positive { color: $text-primary; }
    StepView > .array--negative { color: $text-error; }
    StepView > .array--zero { color: $text-muted; }
    StepView > .array--written { background: $foreground 20%; text-style: bold; }
    StepView > .array--muted { color: $text-muted; }
    """

    def array_styles(self) -> ArrayStyles:
        """How arrays are drawn in this theme: signs coloured, written cells on a background of their own."""
        style = self.get_component_rich_style
        return ArrayStyles(positive=style("array--positive"), negative=style("array--negative"),
                           zero=style("array--zero"), written=background(style("array--written")),
                           shape=style("array--muted"))

    #: The position in the run (−1 before the first step); the view repaints the lines that changed.
    position: reactive[int] = reactive(-1, repaint=False)
    #: Decimals shown (4 or 8).
    digits: reactive[int] = reactive(4, repaint=False)

    def __init__(self, run, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run = run
        self._drawn_width = 0

    def render_at(self, position: int, digits: int, width: int) -> Text:
        raise NotImplementedError

    def on_resize(self) -> None:
        # Resize also arrives when only the scrolled content's size changed: redraw on a new width only.
        if self.scrollable_content_region.width != self._drawn_width:
            self.redraw()

    def prepare_position(self, position: int) -> None:
        """Render ``position`` ahead of time, so that stepping there only repaints."""
        digits = self.digits
        self.prepare((iteration_of(self.run), position, digits), lambda width: self.render_at(position, digits, width))

    def watch_position(self) -> None:
        self.redraw()

    def watch_digits(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        if not self.is_mounted:
            return
        self._drawn_width = self.scrollable_content_region.width
        position, digits = self.position, self.digits
        self.show_cached((iteration_of(self.run), position, digits), lambda width: self.render_at(position, digits, width))
