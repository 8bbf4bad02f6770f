"""Colours from the theme: widgets that draw text ahead of time read their styles from component classes
(styled in CSS with theme variables such as ``$text-primary``) and draw again when a theme changes them.

Textual calls ``notify_style_update`` on a theme change, but also on every focus or hover change; a pane's
renderings are dropped only when the styles they were drawn with are not the ones the theme gives now.
"""

from __future__ import annotations

from rich.style import Style


def foreground(style: Style) -> Style:
    """``style`` without its background: for text laid over a background drawn separately (a cursor)."""
    return Style(color=style.color, bold=style.bold, dim=style.dim, italic=style.italic,
                 underline=style.underline, strike=style.strike, reverse=style.reverse)


def background(style: Style) -> Style:
    """``style`` without its colour: a mark (a background, bold) laid over text keeps that text's colour."""
    return Style(bgcolor=style.bgcolor, bold=style.bold, italic=style.italic, underline=style.underline,
                 reverse=style.reverse)


class ThemeStyled:
    """Mixin for a widget that keeps text drawn with its component classes' styles: after a style update
    that changed those styles, :meth:`restyle` draws it again (a focus or hover change costs a compare)."""

    #: The component styles the kept text was drawn with (None: nothing drawn yet).
    _drawn_with: tuple[Style, ...] | None = None

    def component_styles(self) -> tuple[Style, ...]:
        """The styles of every component class of this widget, as the theme gives them now."""
        names = sorted(set().union(*(vars(cls).get("COMPONENT_CLASSES", ()) for cls in type(self).__mro__)))
        return tuple(self.get_component_rich_style(name) for name in names)  # type: ignore[attr-defined]

    def drawing(self) -> None:
        """Call when drawing text to keep: records the styles it is drawn with."""
        if self._drawn_with is None:
            self._drawn_with = self.component_styles()

    def notify_style_update(self) -> None:
        super().notify_style_update()  # type: ignore[misc]
        if self.is_mounted:  # type: ignore[attr-defined]
            # Component classes are styled after this call returns: compare once the update is done.
            self.call_later(self._compare_styles)  # type: ignore[attr-defined]

    def _compare_styles(self) -> None:
        if self._drawn_with is None:
            return
        now = self.component_styles()
        if now != self._drawn_with:
            self._drawn_with = now
            self.restyle()

    def restyle(self) -> None:
        """Drop what was drawn with the old styles and draw what is shown with the new ones."""
        raise NotImplementedError
