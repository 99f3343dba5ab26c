"""Listener callbacks -> bounded ring + exact counters -> batches for the UI.

Listener threads call :meth:`Feed.push` (and :meth:`Feed.set_state`); they only append to
bounded deques and bump counters under a lock, never touch a widget and never wait for the
UI. The thread whose push makes the feed non-empty calls :attr:`Feed.wake` (the app posts
one coalescing message there); no other push does, until the UI drains. So a flood costs
one wake-up per drain, not one per event, and nothing runs in the UI when nothing arrives.
Each drain returns one :class:`Batch` holding at most ``log_batch`` new log entries, so a
burst of tens of thousands of events per second costs the screen a bounded amount of work
while the counts stay exact.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from rich.cells import cell_len, set_cell_size

from .filters import LogFilter
from .safe import clean, compact
from .stats import EventStats, StatsView

TOTAL = "*"
NOTICE_EVERY = 10.0   # seconds: one "no more notifications" notice per event at most this often
NOTICES_MAX = 50      # notices kept between two drains
NODE_WIDTH_MAX = 16   # the log's node column is never wider than this


_last_second: tuple[int, bool, str] = (0, False, "")  # the whole second format_time did last


def format_time(ts: float, utc: bool = False, millis: bool = True) -> str:
    """``HH:MM:SS.mmm``, local or UTC, milliseconds cut (not rounded) as ``%f[:3]`` cuts them.

    The log formats a line per event shown: ``strftime`` runs once per whole second (the
    last one is kept), the milliseconds are arithmetic. The microseconds are rounded the
    way ``datetime.fromtimestamp`` rounds them (half to even), so the text is the same."""
    global _last_second
    second = math.floor(ts)
    micros = round((ts - second) * 1e6)
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    last = _last_second
    if last[0] == second and last[1] is utc:
        clock = last[2]
    else:
        clock = datetime.fromtimestamp(second, timezone.utc if utc else None).strftime("%H:%M:%S")
        _last_second = (second, utc, clock)
    return f"{clock}.{micros // 1000:03d}" if millis else clock


class Entry:
    """One received notification, as kept in the ring."""

    __slots__ = ("seq", "ts", "event", "notification", "node", "_search")

    def __init__(self, seq: int, ts: float, event: str, notification: dict[str, Any],
                 node: str | None = None) -> None:
        self.seq = seq
        self.ts = ts
        self.event = event
        self.notification = notification
        self.node = node   # the OpenSIPS it came from; None in a single-node app
        self._search: str | None = None

    @property
    def params(self) -> Any:
        return self.notification.get("params")

    @property
    def search_text(self) -> str:
        """Event name and compact params: what the filter looks at (cached)."""
        if self._search is None:
            self._search = f"{clean(self.event)} {compact(self.params)}"
        return self._search

    def line(self, utc: bool = False, node_width: int = 0) -> str:
        """One log line, control characters escaped; a node column ``node_width`` cells wide
        when that is not 0 (``-`` for an entry with no node)."""
        if node_width:
            return f"{format_time(self.ts, utc)} {node_cell(self.node, node_width)} {self.search_text}"
        return f"{format_time(self.ts, utc)} {self.search_text}"


def node_cell(node: str | None, width: int) -> str:
    """``node`` cleaned (names may come from a recording or a broker: untrusted), cut with an
    ellipsis or padded to exactly ``width`` cells."""
    return set_cell_size(clean("-" if node is None else node, limit=width), width)


def node_width(names: Iterable[str | None]) -> int:
    """The node column's width for ``names``: the longest cleaned one, at most NODE_WIDTH_MAX."""
    return min(max((cell_len(clean(n)) for n in names if n is not None), default=0), NODE_WIDTH_MAX)


@dataclass
class Batch:
    """What arrived since the previous drain."""

    entries: list[Entry] = field(default_factory=list)  # newest matching entries, oldest first
    arrived: int = 0          # every notification, matching the filter or not
    matched: int = 0          # matching the filter (len(entries) + the ones not shown)
    touched: set[str] = field(default_factory=set)
    states: dict[str, str] = field(default_factory=dict)
    notices: list[tuple[str, str]] = field(default_factory=list)  # (event, what happened)
    new_nodes: list[str] = field(default_factory=list)  # nodes heard from for the first time

    @property
    def skipped(self) -> int:
        """Matching entries not given to the log this tick (burst): still in the ring."""
        return self.matched - len(self.entries)


class Feed:
    """Thread-safe sink for notifications; see the module docstring."""

    def __init__(self, ring_size: int = 10_000, log_batch: int = 500,
                 clock: Callable[[], float] = time.time) -> None:
        self.ring_size = max(1, int(ring_size))
        self.clock = clock
        self._lock = threading.Lock()
        self._ring: deque[Entry] = deque(maxlen=self.ring_size)
        self._pending: deque[Entry] = deque(maxlen=max(1, log_batch))
        self._arrived = 0
        self._matched = 0
        self._touched: set[str] = set()
        self._states: dict[str, str] = {}
        self._notices: list[tuple[str, str]] = []
        # When each event last gave a notice. Keyed, like _stats, by subscription names (the
        # backend's callbacks), never by payload text, so it is as small as the events list.
        self._noticed: dict[str, float] = {}
        self._stats: dict[str, EventStats] = {TOTAL: EventStats(TOTAL)}
        self._nodes: dict[str, EventStats] = {}   # per node: every event (count and rate)
        # per node and event (count and rate, no params): rate alerts judge each node's own rate
        self._node_events: dict[tuple[str, str], EventStats] = {}
        self._new_nodes: list[str] = []
        self._seq = 0
        self._filter = LogFilter()
        # Called (on the pushing thread, outside the lock) when the feed goes from drained to
        # holding something; set by the UI. _signalled: a wake-up is out and not drained yet.
        self.wake: Callable[[], None] | None = None
        self._signalled = False
        # Called on the pushing thread with (notification or None, node, receive time) before
        # each push is counted: --record's tap (opensips_tui.recording), None when not recording.
        self.tap: Callable[[dict[str, Any] | None, str | None, float], None] | None = None

    # -- listener side ---------------------------------------------------------------
    def push(self, event: str, notification: dict[str, Any] | None, node: str | None = None) -> None:
        """A subscription callback: one notification, or ``None`` for a listener notice;
        ``node``: the OpenSIPS it came from (None in a single-node app)."""
        ts = self.clock()
        if self.tap is not None:
            self.tap(notification, node, ts)
        with self._lock:
            if not isinstance(notification, dict):
                if not self._notice(event, ts):
                    return
            else:
                self._seq += 1
                entry = Entry(self._seq, ts, event, notification, node)
                self._ring.append(entry)
                stats = self._stats.get(event)
                if stats is None:
                    stats = self._stats[event] = EventStats(event)
                stats.add(ts, notification.get("params"))
                self._stats[TOTAL].add(ts, track_params=False)
                if node is not None:
                    per_node = self._nodes.get(node)
                    if per_node is None:
                        per_node = self._nodes[node] = EventStats(node)
                        self._new_nodes.append(node)
                    per_node.add(ts, track_params=False)
                    key = (node, event)
                    of_node = self._node_events.get(key)
                    if of_node is None:
                        of_node = self._node_events[key] = EventStats(event)
                    of_node.add(ts, track_params=False)
                self._arrived += 1
                self._touched.add(event)
                log_filter = self._filter
                if not log_filter.active or log_filter.matches(entry.search_text, entry.params, node):
                    self._matched += 1
                    self._pending.append(entry)
            signal, self._signalled = not self._signalled, True
        if signal and self.wake is not None:  # the empty -> non-empty edge only
            self.wake()

    def _notice(self, event: str, ts: float) -> bool:
        """A listener notice (``None``) for ``event``: queue it unless rate-limited (lock held)."""
        # A stranger spraying garbage at the listener makes one None per live
        # subscription every 10 bad datagrams: one toast per event per NOTICE_EVERY
        # seconds, not hundreds a second (each toast is a widget living for seconds).
        last = self._noticed.get(event)
        if last is not None and 0 <= ts - last < NOTICE_EVERY:
            return False
        self._noticed[event] = ts
        self._notices.append((event, "no more notifications (unreadable data or expired)"))
        del self._notices[:-NOTICES_MAX]
        return True

    def notice(self, event: str, what: str) -> None:
        """Tell the operator ``what`` happened to ``event`` (a toast at the next drain), e.g.
        a fleet subscription that failed on some nodes."""
        with self._lock:
            self._notices.append((event, what))
            del self._notices[:-NOTICES_MAX]
            signal, self._signalled = not self._signalled, True
        if signal and self.wake is not None:
            self.wake()

    def set_state(self, event: str, state: str) -> None:
        """A subscription changed state (active / retrying / expired / stopped)."""
        with self._lock:
            self._states[event] = state
            if state == "expired":
                # An explicit expiry also calls back with None just before: say what it was,
                # and never let the garbage rate limit swallow it.
                self._notices = [n for n in self._notices if n[0] != event]
                self._notices.append((event, "subscription expired"))
                del self._notices[:-NOTICES_MAX]
            signal, self._signalled = not self._signalled, True
        if signal and self.wake is not None:
            self.wake()

    # -- UI side ----------------------------------------------------------------------
    def drain(self) -> Batch:
        with self._lock:
            batch = Batch(list(self._pending), self._arrived, self._matched, self._touched,
                          self._states, self._notices, self._new_nodes)
            self._pending.clear()
            self._arrived = self._matched = 0
            self._touched, self._states, self._notices, self._new_nodes = set(), {}, [], []
            self._signalled = False  # the next push wakes the UI again
        return batch

    def set_filter(self, log_filter: LogFilter) -> list[Entry]:
        """Use ``log_filter`` from now on; returns the ring's entries matching it (oldest first)."""
        with self._lock:
            self._filter = log_filter
            self._pending.clear()
            self._matched = 0
            ring = list(self._ring)
        if not log_filter.active:
            return ring
        return [e for e in ring if log_filter.matches(e.search_text, e.params, e.node)]

    @property
    def filter(self) -> LogFilter:
        return self._filter

    def entries(self, since_seq: int = 0) -> list[Entry]:
        """The ring's entries matching the current filter with ``seq > since_seq``."""
        with self._lock:
            ring = [e for e in self._ring if e.seq > since_seq]
        if not self._filter.active:
            return ring
        return [e for e in ring if self._filter.matches(e.search_text, e.params, e.node)]

    def clear(self) -> None:
        """Forget the ring (the log and the export start empty); counters stay."""
        with self._lock:
            self._ring.clear()
            self._pending.clear()
            self._matched = 0

    def reset(self) -> None:
        """Forget every notification, counters and rates too (a replay playing again from its
        start); the filter, the tap and the wake-up stay, and ``seq`` keeps growing."""
        with self._lock:
            self._ring.clear()
            self._pending.clear()
            self._arrived = self._matched = 0
            self._touched, self._notices, self._noticed = set(), [], {}
            self._stats = {TOTAL: EventStats(TOTAL)}
            self._nodes, self._new_nodes, self._node_events = {}, [], {}

    def view(self, event: str) -> StatsView:
        now = self.clock()
        with self._lock:
            stats = self._stats.get(event)
            return stats.view(now) if stats else EventStats(event).view(now)

    def summary(self, events: Iterable[str] | None = None) -> dict[str, tuple[int, float]]:
        """``{event: (count, rate)}`` for the events list; ``TOTAL`` holds every event."""
        now = self.clock()
        with self._lock:
            names = list(self._stats) if events is None else [*events, TOTAL]
            return {n: (s.count, s.rate(now)) for n in names if (s := self._stats.get(n))}

    def node_summary(self) -> dict[str, tuple[int, float]]:
        """``{node: (count, rate)}``: every notification each node sent (exact), in the order
        the nodes were first heard from; empty in a single-node app."""
        now = self.clock()
        with self._lock:
            return {n: (s.count, s.rate(now)) for n, s in self._nodes.items()}

    def node_event_rates(self) -> dict[str, dict[str, float]]:
        """``{node: {event: events/s}}`` (the same window as :meth:`summary`); empty in a
        single-node app. Rate alerts judge each node's rates (a rule is about one server)."""
        now = self.clock()
        out: dict[str, dict[str, float]] = {}
        with self._lock:
            for (node, event), stats in self._node_events.items():
                out.setdefault(node, {})[event] = stats.rate(now)
        return out

    def nodes(self) -> list[str]:
        """The nodes heard from so far, in the order they were first heard from."""
        with self._lock:
            return list(self._nodes)
