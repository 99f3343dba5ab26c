"""The trace screen's hand-off from the receiver thread: one wake-up per drain, bounded, and no
packet stranded when it arrives before the screen wired its wake-up."""

from __future__ import annotations

import threading

from opensips_tui.trace_feed import TraceFeed
from tests.hep_wire import FULL, packets


def test_one_wake_per_drain_and_none_lost_before_the_wake_is_wired() -> None:
    feed, woken = TraceFeed(), []
    some = packets(FULL)
    feed.push(some[0])                 # the screen is still mounting: nobody to wake
    feed.wake = lambda: woken.append(1)
    feed.push(some[1])
    feed.push(some[2])
    assert woken == [1]
    assert [p for p, _ in feed.drain()] == some[:3]
    feed.push(some[3], node="edge2")
    assert woken == [1, 1] and feed.drain() == [(some[3], "edge2")]


def test_bounded_with_the_drops_counted_and_partial_drains() -> None:
    feed, woken = TraceFeed(size=5), []
    feed.wake = lambda: woken.append(1)
    some = packets(FULL)
    for packet in some[:8]:
        feed.push(packet)
    assert len(feed) == 5 and feed.dropped == 3 and woken == [1]
    assert [p for p, _ in feed.drain(limit=2)] == some[3:5]
    feed.push(some[8])                 # still signalled: the screen drains the rest on its own
    assert woken == [1] and [p for p, _ in feed.drain()] == some[5:9]


def test_pushes_from_many_threads_are_all_counted() -> None:
    feed, woken = TraceFeed(size=100_000), []
    feed.wake = lambda: woken.append(1)
    packet = packets(FULL)[0]
    threads = [threading.Thread(target=lambda: [feed.push(packet) for _ in range(2000)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(feed.drain()) == 8000 and woken == [1] and feed.dropped == 0
