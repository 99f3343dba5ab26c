"""The fleet screen (key 5): one row per node, its health, events/s and key statistics.

While the screen is shown, every node's statistics poller runs (one MI call per node per
second, each on the node's own thread); when another screen is shown they stop, so a hidden
fleet screen costs nothing. The rows are recomputed once a second from what the nodes, their
pollers and the feed already hold (:mod:`opensips_tui.fleet_rows`, no Textual), and the table
repaints only the rows whose text changed. A poll that changes a node's health (it stopped
answering, or answers again) refreshes at once instead: a restart shows within the poll
interval, not a refresh later.

``enter`` selects the node (2, 3 and 4 then act on it) and opens the events view filtered to
it (``node:NAME``).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static

from opensips.stats import Sample

from ..feed import TOTAL
from ..fleet_rows import SORT_KEYS, FleetRow, NodeView, SortKey, fleet_rows, sort_rows, status_line
from ..nodes import spread
from ..widgets.filter_bar import FilterBar
from ..widgets.fleet_table import FleetTable

REFRESH_EVERY = 1.0     # seconds between two refreshes of the rows (a number changes at most 1/s)


def node_filter(name: str) -> str:
    """The log filter term showing only ``name``'s events: ``node:`` takes a shell pattern, so
    pattern characters are escaped, and a space (which would split the term) matches as ``?``."""
    escaped = "".join(f"[{c}]" if c in "*?[" else "?" if c.isspace() else c for c in name)
    return f"node:{escaped}"


class FleetScreen(Screen):
    """Every node at a glance (key 5)."""

    DEFAULT_CSS = """
    FleetScreen { layout: vertical; }
    FleetScreen #fleet-status { height: 1; padding: 0 1; background: $panel; }
    FleetScreen #fleet-status.-down { color: $error; text-style: bold; }
    """
    BINDINGS = [
        Binding("enter", "open_node", "Open node", id="fleet.open"),
        Binding("s", "sort", "Sort", id="fleet.sort"),
        Binding("r", "poll_now", "Poll now", show=False, id="fleet.poll_now"),
    ]

    class HealthMoved(Message):
        """A node's poll went from answering to not answering or back (posted by its poller)."""

    def __init__(self, fleet: Any, feed: Any, *, alerts: Callable[[str | None], set[str]] | None = None,
                 wall: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fleet = fleet
        self.feed = feed
        self.alerts = alerts or (lambda node: set())
        self.wall = wall
        self.sort_key: SortKey = "order"
        self.rows: list[FleetRow] = []
        self._timer: Timer | None = None
        self._keep: str | None = None             # the node to highlight once its row exists
        self.status_text = ""                      # the status line as shown
        self._answering: dict[str, bool] = {}     # node -> its last poll answered (poller threads)
        self._listeners: dict[str, Callable[[Sample], None]] = {}

    def compose(self) -> ComposeResult:
        yield FleetTable(id="fleet-table")
        yield Static("", id="fleet-status")
        yield Footer()

    def on_mount(self) -> None:
        self.table = self.query_one(FleetTable)
        self.status = self.query_one("#fleet-status", Static)
        self._keep = self.fleet.selected
        self.table.focus()

    # -- polling follows visibility ----------------------------------------------------------
    def on_screen_resume(self) -> None:
        for node in self.fleet.nodes:
            node.start_stats(self, self._listener(node.name))
        self.refresh_rows()
        if self._timer is None:
            self._timer = self.set_interval(REFRESH_EVERY, self.refresh_rows)
        else:
            self._timer.resume()

    def on_screen_suspend(self) -> None:
        if self._timer is not None:
            self._timer.pause()
        self._stop_stats()

    def on_unmount(self) -> None:
        self._stop_stats()

    def _stop_stats(self) -> None:
        for node in self.fleet.nodes:
            node.stop_stats(self, self._listeners.pop(node.name, None))

    def _listener(self, node: str) -> Callable[[Sample], None]:
        """A poller callback for ``node`` (its poller thread): refresh at once only when the
        node's answering changed; the steady figures wait for the next second's refresh."""
        def polled(sample: Sample) -> None:
            if self._answering.get(node) != sample.up:
                self._answering[node] = sample.up
                self.post_message(self.HealthMoved())

        self._listeners[node] = polled
        return polled

    def on_fleet_screen_health_moved(self, _message: HealthMoved) -> None:
        self.refresh_rows()

    # -- rows ------------------------------------------------------------------------------------
    def views(self) -> list[NodeView]:
        """Every node as the rows see it now (UI thread). One OpenSIPS (no ``--node``) is a fleet
        of one whose notifications carry no node name: its figures are the feed's totals."""
        if not self.fleet.multi:
            node = self.fleet.nodes[0]
            return [node_view(node, self.feed.summary([]).get(TOTAL, (0, 0.0))[1], self.alerts(None))]
        rates = self.feed.node_summary()
        return [node_view(node, rates.get(node.name, (0, 0.0))[1], self.alerts(node.name))
                for node in self.fleet.nodes]

    def refresh_rows(self) -> None:
        """Recompute the rows; the table repaints the ones that changed, the status line only
        when its text changed."""
        self.rows = sort_rows(fleet_rows(self.views(), self.wall()), self.sort_key)
        self.table.show(self.rows, self.sort_key)
        if self._keep is not None and self.rows:
            self.table.select(self._keep)
            self._keep = None
        self._show_status()

    def _show_status(self) -> None:
        row = self.table.current_row
        text = status_line(row, len(self.rows))
        if text != self.status_text:
            self.status_text = text
            self.status.update(Text(text, no_wrap=True, overflow="ellipsis", end=""))  # never markup
            self.status.set_class(row is not None and row.health.tone == "down", "-down")

    def on_line_list_highlighted(self, _message: FleetTable.Highlighted) -> None:
        self._show_status()

    # -- actions ---------------------------------------------------------------------------------
    def action_sort(self) -> None:
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        self.refresh_rows()
        self.notify(f"sorted by {self.sort_key}", timeout=2, markup=False)

    def action_poll_now(self) -> None:
        self.run_worker(self._poll_all, thread=True, exclusive=True, group="fleet-poll-now")

    def _poll_all(self) -> None:
        """Poll every node now, each on its own thread (a node that hangs holds up no other)."""
        spread(self.fleet.nodes, lambda node: node.start_stats(self).poll())

    def action_open_node(self) -> None:
        if self.table.current is None:
            return
        name = str(self.table.current)
        app: Any = self.app          # OpenSIPSTUI (not imported: screens do not import the app)
        app.select_node(name)                       # 2, 3 and 4 now act on this node
        app.action_show_screen("events")
        bar = app.screen_stack[0].query_one(FilterBar)
        # its Changed message applies the filter; other terms the operator typed stay
        terms = [t for t in bar.value.split() if not t.lower().lstrip("-").startswith("node:")]
        bar.value = " ".join([*terms, node_filter(name)])


def node_view(node: Any, events_rate: float, alerts: set[str]) -> NodeView:
    """A :class:`NodeView` of one :class:`~opensips_tui.nodes.Node` (UI thread).

    Two things look at a node every second: its health thread (``uptime``) and, while this
    screen shows, its statistics poller. The newer of the two says whether it answers: a failed
    poll shows DOWN at once, a good one shows it up again before the next health check; the
    uptime comes from the poll (``core:timestamp`` is OpenSIPS's uptime in seconds).
    """
    sample: Sample | None = node.stats
    health, reason = node.health, node.reason
    up_since = node.checked_at - node.uptime if node.checked_at and node.uptime is not None else None
    if sample is not None and (node.health_at is None or sample.wall > node.health_at):
        if not sample.up:
            health, reason = "down", sample.error or "no answer"
        elif health in ("down", "connecting"):
            health, reason = "up", ""
    if sample is not None and sample.up and "core:timestamp" in sample.values:
        up_since = sample.wall - sample.values["core:timestamp"]
    # a fleet of one is pinged by the app, not by a health thread: its backend knows the version
    version = node.version or node.backend.server or ""
    return NodeView(node.name, health, reason, version, up_since, events_rate, sample, tuple(sorted(alerts)))
