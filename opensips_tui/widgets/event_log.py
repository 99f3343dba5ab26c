"""The event log: one plain-text line per notification, written in batches.

Follows the tail while scrolled to the bottom; when the operator scrolls up, or pauses, a
marker says so and counts what arrived meanwhile. The marker's count is a number like the
others: the app redraws it with them (:meth:`EventLog.show_marker`), not on every batch. The
:class:`LogView` formats a line (:meth:`Entry.line`, cleaned of control characters) only when
it draws it.
"""

from __future__ import annotations

from typing import Callable, Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from ..feed import Batch, Entry, node_width
from ..safe import clean
from .filter_bar import FilterBar
from .log_view import LogView
from .pane import Pane


class EventLog(Pane):
    """The :class:`LogView`, its filter input and its "paused, N new" marker; owns pause state."""

    DEFAULT_CSS = """
    EventLog { height: 1fr; }
    EventLog > LogView { height: 1fr; overflow-y: auto; scrollbar-size-vertical: 1; scrollbar-size-horizontal: 0; }
    EventLog > #marker {
        dock: bottom; height: 1; display: none;
        background: $warning; color: $text; text-style: bold;
    }
    EventLog > #marker.shown { display: block; }
    """

    def __init__(self, max_lines: int, utc: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_lines = max_lines
        self.utc = utc
        self.paused = False
        self.unseen = 0          # matching events not on screen (paused / scrolled up)
        self.last_seq = 0        # newest entry written to the log
        self.following = True    # at the bottom: new lines scroll into view
        self.behind = 0          # matching events held (not written) while the screen was covered
        self._marker_text: str | None = None  # what the marker shows (None: hidden)
        self._node_names: set[str] = set()  # node names the node column makes room for
        self.border_title = "Log"

    def compose(self) -> ComposeResult:
        yield FilterBar()
        yield LogView(max_lines=self.max_lines, utc=self.utc, id="log")
        yield Static(id="marker")

    def on_mount(self) -> None:
        # Kept as attributes: queries fail while the app shuts down, these objects do not.
        self._log = self.query_one("#log", LogView)
        self._marker = self.query_one("#marker", Static)
        self.watch(self._log, "scroll_y", self._scrolled, init=False)
        self.watch(self._log, "show_vertical_scrollbar", self._scrollbar_shown, init=False)

    def _scrollbar_shown(self, shown: bool) -> None:
        """The log overflowed (laid out with a scrollbar): now it can scroll to its tail."""
        if shown and self.showing_new and self._log.cursor is None:  # (a cursor just moved up)
            self._log.scroll_end(animate=False, immediate=True, x_axis=False)

    def _scrolled(self, scroll_y: float) -> None:
        """The operator (or our own scroll_end) moved the log: follow only at the bottom."""
        log = self.log_widget
        self.following = scroll_y >= log.max_scroll_y - 1 and log.cursor is None
        if self.following and not self.paused:
            self.unseen = 0
        self.show_marker()

    def on_log_view_cursor_moved(self, event: LogView.CursorMoved) -> None:
        """A cursor on an older line holds the view there; back at the tail it follows."""
        event.stop()
        self._scrolled(self.log_widget.scroll_y)

    @property
    def log_widget(self) -> LogView:
        return self._log

    @property
    def showing_new(self) -> bool:
        """New lines appear on screen as they arrive (not paused, at the bottom)."""
        return self.following and not self.paused

    def set_filter_title(self, text: str) -> None:
        self.border_subtitle = Text(f"filter: {clean(text, limit=60)}") if text else ""

    def show_nodes(self, names: Iterable[str]) -> None:
        """Make room in the node column for ``names`` (the column appears with the first name:
        a fleet, or entries that carry their node, as a multi-node recording's do)."""
        self._node_names.update(names)
        self.log_widget.set_node_width(node_width(self._node_names))

    # -- writing ------------------------------------------------------------------------
    def add(self, batch: Batch) -> None:
        """Write one drained batch (or count it while paused)."""
        if batch.new_nodes:
            self.show_nodes(batch.new_nodes)
        if not batch.matched:
            return  # nothing for the log in this batch (a state change, or filtered out)
        log = self.log_widget
        if self.paused:
            self.unseen += batch.matched  # shown by the next show_marker()
            return
        if batch.matched:
            items: list[Entry | str] = []
            if batch.skipped:
                items.append(f"... {batch.skipped} more events in this burst "
                             "(counted, kept for export; not shown)")
            items.extend(batch.entries)
            log.write(items)
            if batch.entries:
                self.last_seq = batch.entries[-1].seq
            if self.following:
                # Now, not after the next frame: one frame per batch, not a frame that draws the
                # new lines below the bottom and another that scrolls to them (LogView's virtual
                # size is already the new one). The batch that first overflows the log cannot
                # scroll yet: _scrollbar_shown scrolls once the layout has added the scrollbar.
                log.scroll_end(animate=False, immediate=True, x_axis=False)
            else:
                self.unseen += batch.matched  # shown by the next show_marker()

    def hold(self, batch: Batch) -> None:
        """Count a batch without drawing it: another screen covers this one (see the app)."""
        if batch.new_nodes:  # the column is made room for now (once per node), drawn later
            self.show_nodes(batch.new_nodes)
        if self.paused:
            self.unseen += batch.matched
        else:
            self.behind += batch.matched

    def catch_up(self, entries: Callable[[int], list[Entry]]) -> None:
        """Write what :meth:`hold` counted, from the ring: ``entries(since_seq)`` gives the
        matching entries newer than ``since_seq``. A following log shows the ring's tail (as on
        resume); one scrolled up keeps its place and counts them as unseen."""
        behind, self.behind = self.behind, 0
        if behind:
            if self.following:
                self.reload(entries(0))
                return
            missed = entries(self.last_seq)[-self.max_lines:]
            if missed:
                self.log_widget.write(missed)
                self.last_seq = missed[-1].seq
            self.unseen += behind
        self.show_marker()

    def reload(self, entries: Iterable[Entry]) -> None:
        """Show exactly ``entries`` (the newest ``max_lines`` of them): filter change / resume."""
        entries = list(entries)[-self.max_lines:]
        log = self.log_widget
        log.clear()
        log.write(entries)
        self.following = True
        log.scroll_end(animate=False, x_axis=False)
        self.last_seq = entries[-1].seq if entries else self.last_seq
        self.unseen = self.behind = 0
        self.show_marker()

    def clear(self) -> None:
        self.log_widget.clear()
        self.unseen = self.behind = 0
        self.following = True
        self.show_marker()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if paused:
            self.unseen = 0
        self.show_marker()

    def show_marker(self) -> None:
        """Show the "paused, N new" marker as the state says; redraws only if its text changed."""
        if self.paused:
            text: str | None = f" paused, {self.unseen} new  (p: resume)"
        elif not self.following and self.unseen:
            text = f" paused (scrolled up), {self.unseen} new  (end: follow)"
        else:
            text = None
        if text == self._marker_text:
            return
        self._marker_text = text
        marker = self._marker
        if text is None:
            marker.remove_class("shown")
            return
        marker.update(Text(text), layout=False)  # one docked row: its size never changes
        marker.add_class("shown")
