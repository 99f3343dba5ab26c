"""HEP receiver threads -> a bounded buffer -> the trace screen, one wake-up per drain.

The receiver thread calls :meth:`TraceFeed.push` for each packet: an append under a short
lock, never a widget, never a wait for the UI. The push that makes the buffer non-empty calls
:attr:`TraceFeed.wake` (the screen posts one message there); later pushes do not, until the
screen drains. When the screen falls behind (a flood, a busy machine) the buffer keeps the
newest ``size`` packets and counts the ones it dropped, so memory stays bounded and the count
is shown. No Textual here (the screen sets ``wake``).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Callable

from opensips.hep import HepPacket

__all__ = ["TraceFeed"]


class TraceFeed:
    def __init__(self, size: int = 5000) -> None:
        self.size = max(1, int(size))
        self._lock = threading.Lock()
        self._queue: deque[tuple[HepPacket, str]] = deque()
        self._signalled = False
        self.dropped = 0          # packets the buffer let go before the screen drained them
        self.wake: Callable[[], None] | None = None

    def push(self, packet: HepPacket, node: str = "") -> None:
        """A receiver thread: one decoded packet (from ``node``; "" for the only one)."""
        with self._lock:
            if len(self._queue) >= self.size:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append((packet, node))
            wake = self.wake
            # no wake-up wired yet (the screen is still mounting): the next push tries again,
            # and the screen drains what waits once it wires one
            signal = wake is not None and not self._signalled
            if signal:
                self._signalled = True
        if signal and wake is not None:
            wake()

    def drain(self, limit: int | None = None) -> list[tuple[HepPacket, str]]:
        """The UI thread: what arrived, oldest first (at most ``limit``; the rest waits)."""
        with self._lock:
            if limit is None or limit >= len(self._queue):
                out = list(self._queue)
                self._queue.clear()
                self._signalled = False      # the next push wakes the screen again
            else:
                out = [self._queue.popleft() for _ in range(limit)]
        return out

    def __len__(self) -> int:
        return len(self._queue)
