"""The log's text view: a line-API widget over the notifications it shows, with a line cursor.

It keeps the notifications, not their text: a line is formatted (:meth:`Entry.line`) only when
it is drawn, and its strip is cached by notification, width and sideways scroll. At 2,000
events/s a drain brings 200 new entries while a screen shows 20 of them, so formatting
everything written (what a ``Log`` of strings needs) was most of the drain. Drawing is one
plain segment per line in the widget's style; a line on screen in two frames is the same
:class:`Strip` object both times, so Textual's own per-strip caches hold too. Nothing runs in
threads (``Log`` measured its lines' widths in a worker thread per write).

Every item written is paired with the :class:`~opensips_tui.feed.Entry` it shows (a string
for the "... N more events" line), so ``enter`` can open any line that scrolled by. The
buffer is bounded: beyond ``max_lines`` the oldest lines go.

Cursor and following: with no cursor (``cursor is None``) the view is at the tail and the
newest line is the highlighted one, so following is exactly as without a cursor. Moving the
cursor up holds the view on that line (the pane then counts new lines as unseen); ``end``
drops the cursor and follows again. Every movement jumps instead of animating: an animated
scroll towards the bottom as it was when the key was pressed lands short once lines arrive
meanwhile, and the pane never counted as following again ("paused, N new" kept growing).

Payloads are text, never markup: a line is one :class:`Segment` of already cleaned text.
"""

from __future__ import annotations

from collections import deque
from math import ceil
from typing import TYPE_CHECKING, Iterable, Sequence, Union, overload

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.actions import SkipAction
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import Reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

if TYPE_CHECKING:
    from ..feed import Entry

Item = Union["Entry", str]   # a notification, or a line of text that sums up a burst
CACHED = 1024                # strips and texts kept: a few screens of a very tall terminal


class Lines(Sequence[str]):
    """The log's lines as text, formatted on access (``len`` costs nothing)."""

    def __init__(self, view: "LogView") -> None:
        self._view = view

    def __len__(self) -> int:
        return len(self._view.items)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        items = self._view.items
        if isinstance(index, slice):
            return [self._view.text_of(item) for item in list(items)[index]]
        return self._view.text_of(items[index])


class LogView(ScrollView, can_focus=True):
    """A log of notifications with a line cursor; see the module docstring."""

    COMPONENT_CLASSES = {"log-view--cursor"}
    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $text;
        overflow: scroll;
        &:focus { background-tint: $foreground 5%; }
    }
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
    # it on every write: a full layout and re-render of every pane ten times a second. Here a
    # longer log lays out nothing and repaints only what write() says; the screen is laid out
    # again only when the scrollbar appears or goes (watch_virtual_size).
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False, repaint=False)

    def __init__(self, max_lines: int = 10_000, utc: bool = False, *, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.max_lines = max(1, int(max_lines))
        self.utc = utc
        self.items: deque[Item] = deque(maxlen=self.max_lines)
        self.cursor: int | None = None   # absolute line number (survives pruning); None: the tail
        self._dropped = 0                # lines pruned from the top so far
        self._width = 0                  # the widest line drawn so far (sideways scrolling)
        self.inspecting = False          # a line is open in the detail pane (esc closes it)
        self._style: Style | None = None  # this widget's style, until styles change
        self._thumb: tuple[int, ...] | None = None  # the scrollbar's thumb as last told to it
        self._sync_pending = False
        self._texts: LRUCache[Item, str] = LRUCache(CACHED)
        self.node_width = 0              # the node column's width (0: no column, one OpenSIPS)
        self._strips: LRUCache[tuple[Item, int, int], Strip] = LRUCache(CACHED)

    @property
    def lines(self) -> Lines:
        """The lines as text (formatted when read; for tests and tools, not for drawing)."""
        return Lines(self)

    @property
    def line_count(self) -> int:
        return len(self.items)

    def watch_virtual_size(self, before: Size, after: Size) -> None:
        height = self.scrollable_content_region.height
        if (before.height > height) != (after.height > height):
            self.refresh(layout=True)  # the scrollbar shows or hides: the width of the text changes
        elif before.height != after.height and not self._sync_pending:
            # after the caller is done: a following log scrolls to its new end right after
            # writing, and the thumb should not step back and forth within one batch
            self._sync_pending = True
            self.call_later(self._sync_scrollbar)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        # ScrollView's, except for the scrollbar: see _sync_scrollbar
        self._sync_scrollbar()
        if round(old_value) != round(new_value):
            self.refresh(self.size.region)

    def _sync_scrollbar(self) -> None:
        """Tell the vertical scrollbar the log's length and position only when its thumb moves.

        A following log changes both on every batch, and the scrollbar redraws whole on each
        change: a tenth of the monitor's frame at 200 events/s, for a thumb that stays at the
        bottom, one cell high, once the log is a few screens long. The thumb's place is worked
        out as Textual's ``ScrollBarRender`` does, in eighths of a cell; were that to differ,
        the thumb would only be late by a batch or redrawn once more than needed."""
        self._sync_pending = False
        if not self.show_vertical_scrollbar:
            self._thumb = None
            return
        size = self.scrollable_content_region.height
        virtual, position = self.virtual_size.height, self.scroll_y
        thumb: tuple[int, ...] = (size, virtual)
        if size and virtual > size:
            length = max(1.0, size * size / virtual)
            start = int((size - length) * position / (virtual - size) * 8)
            thumb = (size, start, start + ceil(length * 8))
        if thumb != self._thumb:
            self._thumb = thumb
            scrollbar = self.vertical_scrollbar
            scrollbar.window_virtual_size = virtual
            scrollbar.position = position

    # -- writing ------------------------------------------------------------------------
    def write(self, items: Iterable[Item]) -> None:
        """Append ``items`` (notifications, or text already cleaned: no line breaks) and repaint
        the rows they change. The caller scrolls to the end when following."""
        items = list(items)
        if not items:
            return
        before = len(self.items)
        held = self.scroll_y < self.max_scroll_y  # not at the tail: the view stays on its lines
        self.items.extend(items)
        dropped = before + len(items) - len(self.items)
        self._dropped += dropped
        if self.cursor is not None and self.cursor < self._dropped:
            self.cursor = self._dropped  # its line was pruned: hold the oldest one kept
        self.virtual_size = Size(self._width, len(self.items))
        if dropped:
            if held and self.scroll_y:  # the lines in view moved up by `dropped`: follow them
                self.scroll_to(y=max(0, self.scroll_y - dropped), animate=False, immediate=True)
            self.refresh()
        else:  # only the new rows, if they are in view (a following log scrolls to them anyway)
            top, height = int(self.scroll_y), self.scrollable_content_region.height
            if before < top + height:
                self.refresh_lines(before, min(len(items), top + height - before))

    def clear(self) -> "LogView":
        self.items.clear()
        self._dropped = 0
        self._width = 0
        self.cursor = None
        self._texts.clear()
        self._strips.clear()
        self.virtual_size = Size(0, 0)
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()
        return self

    def set_node_width(self, width: int) -> None:
        """Show a node column ``width`` cells wide (0: none); every line is drawn again."""
        if width != self.node_width:
            self.node_width = width
            self._texts.clear()
            self._strips.clear()
            self.refresh()

    # -- drawing ------------------------------------------------------------------------
    def text_of(self, item: Item) -> str:
        """The line showing ``item`` (formatted once while it is in the cache)."""
        if isinstance(item, str):
            return item
        text = self._texts.get(item)
        if text is None:
            text = item.line(self.utc, self.node_width)
            self._texts.set(item, text)
        return text

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        style = self._style
        if style is None:
            style = self._style = self.rich_style
        index = scroll_y + y
        items = self.items
        if index >= len(items):
            return Strip.blank(width, style)
        item = items[index]
        key = (item, scroll_x, width)
        strip = self._strips.get(key)
        if strip is None:
            text = self.text_of(item)
            length = cell_len(text)
            if length > self._width:  # the widest line so far: sideways scrolling reaches it
                self._width = length
                self.set_reactive(LogView.virtual_size, Size(length, len(items)))
            if scroll_x == 0:
                strip = Strip([Segment(set_cell_size(text, width), style)], width)
            else:
                strip = Strip([Segment(text, style)], length).crop_extend(scroll_x, scroll_x + width, style)
            self._strips.set(key, strip)
        if self.has_focus and self.cursor_line == index:
            # post_style: over the line's own background, which apply_style would keep
            cursor = self.get_component_rich_style("log-view--cursor")
            strip = Strip(Segment.apply_style(strip, post_style=cursor), strip.cell_length)
        return strip

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style = None
        self._strips.clear()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- the cursor ---------------------------------------------------------------------
    @property
    def cursor_line(self) -> int | None:
        """The cursor's index into the lines (the last line at the tail); None when empty."""
        count = len(self.items)
        if not count:
            return None
        if self.cursor is None:
            return count - 1
        return min(max(self.cursor - self._dropped, 0), count - 1)

    @property
    def current(self) -> "Entry | None":
        """The notification under the cursor (None for a burst's summary line, or no line)."""
        line = self.cursor_line
        item = self.items[line] if line is not None else None
        return None if item is None or isinstance(item, str) else item

    def _move_to(self, line: int) -> None:
        count = len(self.items)
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
        elif self.items:
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

