"""A light list with a title line and a cursor: the base of the trace screen's lists and ladder.

Line API (like :class:`~opensips_tui.widgets.stats_table.StatsTable`): only the lines on screen
are rendered, each cached until what it shows changes, so a list of thousands of calls costs
the lines in view. Rows are ``(key, cells)`` pairs; ``cells`` is a tuple of plain values the
subclass turns into a line (:meth:`LineList.row_text`), and is what the cache compares. Every
string in a row must already be escaped (:func:`opensips_tui.safe.clean`): the text is drawn
as it is, never parsed as markup.
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

Row = tuple[Hashable, tuple[Any, ...]]


class LineList(ScrollView, can_focus=True):
    """Rows under a fixed title line; up/down/page/home/end move a cursor, enter selects."""

    COMPONENT_CLASSES = {"line-list--cursor", "line-list--title"}
    DEFAULT_CSS = """
    LineList { height: 1fr; background: $surface; overflow-x: hidden; }
    LineList > .line-list--cursor { background: $primary 30%; }
    LineList:focus > .line-list--cursor { background: $primary 65%; }
    LineList > .line-list--title { background: $panel; text-style: bold; }
    """
    _MOVES = (("up", "move(-1)", "Previous line"), ("down", "move(1)", "Next line"),
              ("pageup", "page(-1)", "Page up"), ("pagedown", "page(1)", "Page down"),
              ("home", "move(-1000000)", "First line"), ("end", "move(1000000)", "Last line"))
    BINDINGS = [Binding(key, action, text, show=False) for key, action, text in _MOVES]

    class Highlighted(Message):
        """The cursor moved to the row with ``key`` (None: the list is empty)."""

        def __init__(self, sender: LineList, key: Hashable | None) -> None:
            super().__init__()
            self.list = sender
            self.key = key

        @property
        def control(self) -> LineList:
            return self.list

    def __init__(self, *, follow: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows: list[Row] = []
        self._index: dict[Hashable, int] = {}
        self._strips: dict[int, tuple[tuple, Strip]] = {}
        self.cursor = 0
        self.follow = follow         # keep the cursor on the last row while it is there

    # -- what subclasses draw ----------------------------------------------------------------
    def title_text(self, width: int) -> Text:
        return Text("", no_wrap=True, end="")

    def row_text(self, row: int, width: int) -> Text:
        return Text("  ".join(str(c) for c in self.rows[row][1]), no_wrap=True, end="")

    def plain(self, row: int, width: int = 120) -> str:
        """Row ``row`` as plain text (tests read the list through it)."""
        return self.row_text(row, width).plain

    # -- data --------------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[Row], keep: Hashable | None = None) -> None:
        """Show ``rows``; the cursor stays on ``keep`` (default: the current key) if still there."""
        current = self.current if keep is None else keep
        at_end = self.follow and (not self.rows or self.cursor >= len(self.rows) - 1)
        rows = list(rows)
        if rows == self.rows:
            if keep is not None:
                self.select(keep)
            return
        self.rows = rows
        self._index = {key: n for n, (key, _) in enumerate(rows)}
        self.virtual_size = Size(self.line_width, len(rows) + 1)
        if at_end and rows:
            target = len(rows) - 1
        else:
            target = self._index.get(current, min(self.cursor, max(0, len(rows) - 1)))
        self._set_cursor(target, force=True)
        self.refresh()

    @property
    def current(self) -> Hashable | None:
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor][0]
        return None

    def select(self, key: Hashable) -> None:
        if key in self._index:
            self._set_cursor(self._index[key])

    # -- drawing -----------------------------------------------------------------------------
    @property
    def line_width(self) -> int:
        """Cells a line has (without the scrollbar)."""
        return self.scrollable_content_region.width

    def render_line(self, y: int) -> Strip:
        width = self.line_width
        base = self.rich_style
        if y == 0:
            title = self.title_text(width)
            style = base + self.get_component_rich_style("line-list--title", partial=True)
            return self._strip(title, width, style)
        row = self.scroll_offset.y + y - 1
        if row >= len(self.rows):
            return Strip.blank(width, base)
        is_cursor = row == self.cursor
        key = (width, is_cursor, self.has_focus, self.rows[row])
        cached = self._strips.get(row)
        if cached is not None and cached[0] == key:
            return cached[1]
        style = base
        if is_cursor:
            style = base + self.get_component_rich_style("line-list--cursor", partial=True)
        strip = self._strip(self.row_text(row, width), width, style)
        self._strips[row] = (key, strip)
        return strip

    def _strip(self, text: Text, width: int, style: Style) -> Strip:
        text.truncate(width, overflow="ellipsis")
        return Strip(list(text.render(self.app.console)), text.cell_len).adjust_cell_length(width) \
            .apply_style(style)

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(self.line_width, len(self.rows) + 1)
        self._strips.clear()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- cursor ------------------------------------------------------------------------------
    def _set_cursor(self, row: int, force: bool = False) -> None:
        row = max(0, min(row, len(self.rows) - 1))
        old, self.cursor = self.cursor, row
        if old != row:
            self.refresh_line(old + 1)      # virtual line r + 1 is row r (line 0: the title)
            self.refresh_line(row + 1)
        self._scroll_to_cursor()
        self.call_after_refresh(self._scroll_to_cursor)   # a first build has no size yet
        if old != row or force:
            self.post_message(self.Highlighted(self, self.current))

    def _scroll_to_cursor(self) -> None:
        # the title covers the top line: row r is on screen when scroll_y is in [r - h + 2, r]
        self.scroll_to_region(Region(0, self.cursor, 1, 2), animate=False, immediate=True)

    def action_move(self, delta: int) -> None:
        if self.rows:
            self._set_cursor(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self.action_move(direction * max(1, self.size.height - 2))

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self.action_move(self.scroll_offset.y + event.y - 1 - self.cursor)
