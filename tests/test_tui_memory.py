"""What the TUI keeps per event, per distinct value and per notice stays at its cap.

The monitor runs for days and its listener port takes datagrams from anyone, so every
structure that grows with the input (names, param keys, param values, seconds of history,
garbage) must stop at a fixed size. Count-based checks: no timing, no RSS.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from opensips.sim import SimulatedOpenSIPS
from opensips_tui.backend import Backend
from opensips_tui.config import resolve
from opensips_tui.feed import NOTICE_EVERY, NOTICES_MAX, TOTAL, Feed
from opensips_tui.stats import DISTINCT_KEYS_MAX, DISTINCT_MAX, HISTORY_SECONDS, EventStats

N = 100_000


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def tracked_values(stats: EventStats) -> int:
    return sum(len(v) for v in stats._distinct.values() if v)  # noqa: SLF001 - the structure under test


def test_distinct_keys_values_and_history_stay_at_their_caps() -> None:
    stats = EventStats("E_X")
    for i in range(N):  # a new key, a new value and a new second every time
        stats.add(float(i), {f"k{i}": f"v{i}", "same": "x", "varying": i})
    assert len(stats._distinct) == DISTINCT_KEYS_MAX  # noqa: SLF001
    assert tracked_values(stats) <= DISTINCT_KEYS_MAX * DISTINCT_MAX
    view = stats.view(float(N))
    assert "varying" not in view.distinct and view.distinct["same"] == [("x", N)]
    assert len(stats._buckets) == HISTORY_SECONDS and len(view.history) == HISTORY_SECONDS  # noqa: SLF001
    assert view.count == N


def test_feed_keeps_a_ring_not_a_history_whatever_the_payloads() -> None:
    clock = Clock()
    feed = Feed(ring_size=1000, log_batch=50, clock=clock)
    for i in range(N):
        clock.now += 0.01
        feed.push("E_X", {"method": f"E_RANDOM_{i}", "params": {f"key{i}": "v" * (i % 300), "i": i}})
    assert len(feed.entries()) == 1000
    assert set(feed.summary()) == {"E_X", TOTAL}      # payload method names never become keys
    batch = feed.drain()
    assert len(batch.entries) == 50 and batch.arrived == N
    assert len(feed._stats["E_X"]._distinct) == DISTINCT_KEYS_MAX  # noqa: SLF001


def test_garbage_floods_give_one_notice_per_event_per_period() -> None:
    clock = Clock()
    feed = Feed(clock=clock)
    events = [f"E_{n}" for n in range(18)]
    for i in range(N):
        feed.push(events[i % len(events)], None)
    assert sorted(name for name, _ in feed.drain().notices) == sorted(events)
    clock.now += NOTICE_EVERY / 2
    for i in range(N):
        feed.push(events[i % len(events)], None)
    assert feed.drain().notices == []
    clock.now += NOTICE_EVERY
    for i in range(N):
        feed.push(events[i % len(events)], None)
    assert len(feed.drain().notices) == len(events)
    assert len(feed._noticed) == len(events)  # noqa: SLF001
    many = Feed(clock=clock)
    for n in range(1000):  # more events than a drain keeps notices for
        many.push(f"E_{n}", None)
    assert len(many.drain().notices) == NOTICES_MAX


def test_strangers_datagrams_do_not_grow_the_tui_state(sim: SimulatedOpenSIPS, tmp_path: Path) -> None:
    """Random method names and random param keys sent to the listener port over real UDP."""
    settings = resolve({"conn": "http", "url": sim.http_url, "listen_ip": "127.0.0.1"},
                       tmp_path / "no-config.toml")
    feed = Feed(ring_size=100)
    backend = Backend(settings, feed)
    try:
        event = backend.events_list()[0]
        backend.subscribe(event)
        host, port = backend.listen_address.rsplit(":", 2)[-2:]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(5000):
                s.sendto(json.dumps({"jsonrpc": "2.0", "method": f"E_STRANGER_{i}",
                                     "params": {f"k{i}": i}}).encode(), (host, int(port)))
                s.sendto(json.dumps({"jsonrpc": "2.0", "method": event,
                                     "params": {f"k{i}": f"v{i}", "i": i}}).encode(), (host, int(port)))
                if i % 200 == 0:
                    time.sleep(0.002)  # let the listener drain the socket buffer
            marker = {"jsonrpc": "2.0", "method": event, "params": {"marker": True}}
            deadline = time.monotonic() + 10
            while feed.view(event).last_params != marker["params"] and time.monotonic() < deadline:
                s.sendto(json.dumps(marker).encode(), (host, int(port)))
                time.sleep(0.05)
        assert feed.view(event).last_params == marker["params"]
        assert feed.view(event).count > 10 * DISTINCT_KEYS_MAX  # enough distinct keys arrived
        assert set(feed.summary()) == {event, TOTAL}
        assert len(feed.entries()) == 100
        assert len(feed._stats[event]._distinct) == DISTINCT_KEYS_MAX  # noqa: SLF001
    finally:
        backend.close()


def test_expiry_notice_is_never_swallowed_by_the_garbage_rate_limit() -> None:
    clock = Clock()
    feed = Feed(clock=clock)
    feed.push("E_A", None)                      # garbage: a notice, and the rate limit starts
    feed.drain()
    clock.now += 1.0
    feed.push("E_A", None)                      # an explicit expiry calls back with None ...
    feed.set_state("E_A", "expired")            # ... and then changes the state
    assert feed.drain().notices == [("E_A", "subscription expired")]
    feed.push("E_B", None)
    feed.set_state("E_B", "expired")            # same drain: one notice that says what it was
    assert feed.drain().notices == [("E_B", "subscription expired")]
