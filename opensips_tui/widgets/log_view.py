"""The log's text view: Textual's ``Log`` plus a line cursor that knows each line's notification.

Every line written through :meth:`LogView.write_entries` is paired with the
:class:`~opensips_tui.feed.Entry` it shows (``None`` for the "... N more events" line), so
``enter`` can open any line that scrolled by, not only the last payload.

Cursor and following: with no cursor (``cursor is None``) the view is at the tail and the
newest line is the highlighted one, so following is exactly as without a cursor. Moving the
cursor up holds the view on that line (the pane then counts new lines as unseen); ``end``
drops the cursor and follows again. Every movement jumps instead of animating: an animated
scroll towards the bottom as it was when the key was pressed lands short once lines arrive
meanwhile, and the pane never counted as following again ("paused, N new" kept growing).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.actions import SkipAction
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import Reactive
from textual.strip import Strip
from textual.widgets import Log

if TYPE_CHECKING:
    from ..feed import Entry


class LogView(Log):
    """A ``Log`` with a line cursor over the notifications it shows."""

    COMPONENT_CLASSES = {"log-view--cursor"}
    DEFAULT_CSS = """
    LogView > .log-view--cursor { background: $accent 45%; }
    """
    BINDINGS = [
        Binding("up", "cursor(-1)", "Line up", show=False),
        Binding("down", "cursor(1)", "Line down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First line", show=False),
        Binding("end", "follow", "Follow", id="follow"),
        Binding("enter", "inspect", "Inspect line", id="inspect"),
        Binding("y", "save_line", "Save line", id="save_line"),
        Binding("escape", "uninspect", "Back to the event's stats", show=False, id="uninspect"),
    ]

    class CursorMoved(Message):
        """The cursor moved, left the tail or came back to it (following may change)."""

    class Inspect(Message):
        """Show this line's notification in full (``save``: write it to a file and copy it)."""

        def __init__(self, entry: "Entry | None", save: bool = False) -> None:
            super().__init__()
            self.entry = entry
            self.save = save

    # Widget.virtual_size lays out the whole screen when it changes, and a log that grows changes
    # it on every write: a full layout and re-render of every pane ten times a second (most of
    # the monitor's CPU in py-spy). Here a longer log repaints only itself; the screen is laid out
    # again only when the scrollbar appears or goes (watch_virtual_size).
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False, repaint=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.entries: deque[Entry | None] = deque(maxlen=self.max_lines)
        self.cursor: int | None = None   # absolute line number (survives pruning); None: the tail
        self._dropped = 0                # lines pruned from the top so far
        self.inspecting = False          # a line is open in the detail pane (esc closes it)
        self._style: Style | None = None  # this widget's style, until styles change
        self._strips: LRUCache[str, Strip] = LRUCache(1024)  # line text -> its rendered strip

    def watch_virtual_size(self, before: Size, after: Size) -> None:
        height = self.scrollable_content_region.height
        if (before.height > height) != (after.height > height):
            self.refresh(layout=True)  # the scrollbar shows or hides: the width of the text changes
        elif self.show_vertical_scrollbar:
            self.vertical_scrollbar.window_virtual_size = after.height  # the thumb shrinks

    # -- writing ------------------------------------------------------------------------
    def write_entries(self, lines: Sequence[str], entries: Sequence["Entry | None"]) -> None:
        """Write ``lines`` (one per entry, already cleaned: no line breaks)."""
        before = len(self.entries) + len(lines)
        self.entries.extend(entries)
        self._dropped += before - len(self.entries)
        self.write_lines(lines, scroll_end=False)
        if self.cursor is not None and self.cursor < self._dropped:
            self.cursor = self._dropped  # its line was pruned: hold the oldest one kept

    def clear(self) -> "LogView":
        super().clear()
        self.entries.clear()
        self._dropped = 0
        self.cursor = None
        return self

    # -- the cursor ---------------------------------------------------------------------
    @property
    def cursor_line(self) -> int | None:
        """The cursor's index into ``lines`` (the last line at the tail); None when empty."""
        count = len(self.entries)
        if not count:
            return None
        if self.cursor is None:
            return count - 1
        return min(max(self.cursor - self._dropped, 0), count - 1)

    @property
    def current(self) -> "Entry | None":
        line = self.cursor_line
        return self.entries[line] if line is not None else None

    def _move_to(self, line: int) -> None:
        count = len(self.entries)
        if not count:
            return
        line = min(max(line, 0), count - 1)
        was = self.cursor
        self.cursor = None if line == count - 1 else line + self._dropped
        height = self.scrollable_content_region.height
        if self.cursor is None:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif line < self.scroll_y:
            self.scroll_to(y=line, animate=False, immediate=True)
        elif line >= self.scroll_y + height:
            self.scroll_to(y=line - height + 1, animate=False, immediate=True)
        self.refresh()
        if was != self.cursor:
            self.post_message(self.CursorMoved())

    def action_cursor(self, delta: int) -> None:
        line = self.cursor_line
        if line is not None:
            self._move_to(line + delta)

    def action_page(self, direction: int) -> None:
        line = self.cursor_line
        if line is not None:
            self._move_to(line + direction * max(self.scrollable_content_region.height - 1, 1))

    def action_first(self) -> None:
        self._move_to(0)

    def action_follow(self) -> None:
        was, self.cursor = self.cursor, None
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()
        if was is not None:
            self.post_message(self.CursorMoved())

    def action_inspect(self) -> None:
        if self.current is not None:
            self.inspecting = True
            self.post_message(self.Inspect(self.current))
        elif self.entries:
            self.notify("That line sums up a burst; its events are in the export (e).", markup=False)

    def action_save_line(self) -> None:
        if self.current is not None:
            self.inspecting = True
            self.post_message(self.Inspect(self.current, save=True))

    def action_uninspect(self) -> None:
        if not self.inspecting:
            raise SkipAction()  # let esc do its usual work (e.g. leave a zoomed pane)
        self.inspecting = False
        self.post_message(self.Inspect(None))

    def render_line(self, y: int) -> Strip:
        strip = self._plain_line(y) if self.text_selection is None else super().render_line(y)
        if self.has_focus and self.cursor_line == self.scroll_offset.y + y:
            # post_style: over the line's own background, which apply_style would keep
            cursor = self.get_component_rich_style("log-view--cursor")
            strip = Strip(Segment.apply_style(strip, post_style=cursor), strip.cell_length)
        return strip

    def _plain_line(self, y: int) -> Strip:
        """What ``Log.render_line`` draws, without its cost per line and frame: ``Log`` looks up
        the widget's style for every line and renders a line's text again whenever the log
        scrolls (it caches strips only while text is selected), so a following log re-rendered
        every visible line ten times a second. Lines come cleaned (no tabs, no escapes)."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        style = self._style
        if style is None:
            style = self._style = self.rich_style
        lines = self.lines
        index = scroll_y + y
        if index >= len(lines):
            return Strip.blank(width, style)
        line = lines[index]
        strip = self._strips.get(line)
        if strip is None:  # plain text in one style: one segment (what Text would render, cheaper)
            strip = Strip([Segment(line, style)] if line else [], cell_len(line))
            self._strips.set(line, strip)
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_offsets(scroll_x, index)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style = None
        self._strips.clear()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

