"""Per-event counters: exact count, per-second history, rate, last payload, distinct values.

Updated on listener threads (under the feed's lock), read by the UI as immutable
:class:`StatsView` copies so widgets never iterate a structure another thread mutates.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

HISTORY_SECONDS = 60
RATE_WINDOW = 5
DISTINCT_MAX = 16      # more distinct values than this: the param is high-cardinality
DISTINCT_KEYS_MAX = 32
DISTINCT_VALUE_LEN = 80
_UNSEEN: dict[str, int] = {}  # sentinel: a param key not tracked yet


@dataclass(frozen=True)
class StatsView:
    """What the detail pane and the events list show for one event, copied out of the lock."""

    name: str
    count: int
    rate: float
    first_seen: float | None
    last_seen: float | None
    last_params: Any
    history: list[int]
    distinct: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


class EventStats:
    """Counters of one event (or of all events together, for the status bar)."""

    __slots__ = ("name", "count", "first_seen", "last_seen", "last_params", "_buckets", "_distinct")

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0
        self.first_seen: float | None = None
        self.last_seen: float | None = None
        self.last_params: Any = None
        self._buckets: deque[list[int]] = deque(maxlen=HISTORY_SECONDS)  # [second, count]
        self._distinct: dict[str, dict[str, int] | None] = {}

    def add(self, ts: float, params: Any = None, track_params: bool = True) -> None:
        self.count += 1
        if self.first_seen is None:
            self.first_seen = ts
        self.last_seen = ts
        second = int(ts)
        buckets = self._buckets
        if buckets and buckets[-1][0] == second:
            buckets[-1][1] += 1
        elif not buckets or buckets[-1][0] < second:
            buckets.append([second, 1])
        else:  # clock went backwards: count it in the newest bucket
            buckets[-1][1] += 1
        if track_params:
            self.last_params = params
            if isinstance(params, dict):
                self._track(params)

    def _track(self, params: dict[str, Any]) -> None:
        # Runs per notification under the feed's lock: one dict lookup per key, no allocation
        # once the key is known.
        distinct = self._distinct
        for key, value in params.items():
            values = distinct.get(key, _UNSEEN)
            if values is None:
                continue
            if values is _UNSEEN:
                if len(distinct) >= DISTINCT_KEYS_MAX:
                    continue
                values = distinct[key] = {}
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                distinct[key] = None
                continue
            shown = value if isinstance(value, str) else repr(value)
            if len(shown) > DISTINCT_VALUE_LEN or (shown not in values and len(values) >= DISTINCT_MAX):
                distinct[key] = None
                continue
            values[shown] = values.get(shown, 0) + 1

    def history(self, now: float, seconds: int = HISTORY_SECONDS) -> list[int]:
        """Counts per second, oldest first, ending with the current second."""
        end = int(now)
        start = end - seconds + 1
        counts = [0] * seconds
        for second, count in self._buckets:
            if start <= second <= end:
                counts[second - start] += count
        return counts

    def rate(self, now: float, window: int = RATE_WINDOW) -> float:
        """Events per second over the ``window`` seconds ending ``now``: a sliding window.

        Counting whole buckets from the current second back would divide a partial second by a
        whole one (a steady 10/s read 8.0 just after a second began, up to 20 % low). So the
        window holds the current partial second, the ``window - 1`` whole ones before it, and
        the oldest bucket weighted by the part of it still inside the window. Exact for a
        steady rate; the events list, the status bar and rate alerts all read this.
        """
        end = int(now)
        part = min(max(now - end, 0.0), 1.0)       # how far into the current second we are
        counts = self.history(now, window + 1)     # oldest first; the first is partly out
        return (sum(counts[1:]) + counts[0] * (1.0 - part)) / window

    def view(self, now: float) -> StatsView:
        tracked = [(key, values) for key, values in self._distinct.items() if values]
        tracked.sort(key=lambda kv: -len(kv[1]))  # varying params first, constants last
        distinct = {key: sorted(values.items(), key=lambda kv: (-kv[1], kv[0])) for key, values in tracked}
        return StatsView(self.name, self.count, self.rate(now), self.first_seen, self.last_seen,
                         self.last_params, self.history(now), distinct)
