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

from rich.segment import Segment
from textual.actions import SkipAction
from textual.binding import Binding
from textual.message import Message
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

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.entries: deque[Entry | None] = deque(maxlen=self.max_lines)
        self.cursor: int | None = None   # absolute line number (survives pruning); None: the tail
        self._dropped = 0                # lines pruned from the top so far
        self.inspecting = False          # a line is open in the detail pane (esc closes it)

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
        strip = super().render_line(y)
        if self.has_focus and self.cursor_line == self.scroll_offset.y + y:
            # post_style: over the line's own background, which apply_style would keep
            cursor = self.get_component_rich_style("log-view--cursor")
            strip = Strip(Segment.apply_style(strip, post_style=cursor), strip.cell_length)
        return strip

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

