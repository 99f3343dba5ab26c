#!/usr/bin/env python3
"""What ``--record`` adds to the monitor's hot path: ``Feed.push`` with and without the recording's tap.

Every notification the TUI receives goes through ``Feed.push`` on a listener thread; with
``--record`` the feed's tap (opensips_tui.recording.RecordTap) hands it to the Recorder first.
Each round pushes ``--count`` notifications (the wire captures' payload shapes of
bench/record.py, three nodes) into a fresh Feed, without a tap and then with one writing to a
temporary file, and prints the process's CPU microseconds per push (steadier than the wall
clock on a busy machine) and the difference, per round and as median (min-max). At 2,000
events/s, every microsecond per push is 0.2 % of one core.

    python bench/feed_record.py [--count 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from record import notifications  # noqa: E402  (bench/record.py: the payload shapes)

from opensips_tui.feed import Feed  # noqa: E402
from opensips_tui.recording import RecordTap  # noqa: E402

NODES = ("edge1", "edge2", "registrar")


def pushes(feed: Feed, notes: list[dict], count: int) -> float:
    """CPU microseconds per ``Feed.push`` of ``count`` notifications."""
    push = feed.push
    cpu = time.process_time()
    for i in range(count):
        n = notes[i % len(notes)]
        push(n["method"], n, NODES[i % 3])
    return (time.process_time() - cpu) / count * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag, default in (("--count", 100_000), ("--rounds", 3)):
        ap.add_argument(flag, type=int, default=default)
    args = ap.parse_args()
    notes = notifications()
    plain: list[float] = []
    tapped: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-feed-record-") as tmp:
        for r in range(args.rounds):
            plain.append(pushes(Feed(), notes, args.count))
            feed = Feed()
            tap = feed.tap = RecordTap(Path(tmp) / f"r{r}.jsonl", 64 << 20, 4)
            tapped.append(pushes(feed, notes, args.count))
            tap.close()
            print(f"round {r + 1}: push {plain[-1]:5.1f} us, with --record's tap {tapped[-1]:5.1f} us "
                  f"(+{tapped[-1] - plain[-1]:.1f} us)")
    extra = [t - p for t, p in zip(tapped, plain)]
    print(f"Feed.push: {statistics.median(plain):.1f} us ({min(plain):.1f}-{max(plain):.1f}); with the tap "
          f"{statistics.median(tapped):.1f} us ({min(tapped):.1f}-{max(tapped):.1f}); the tap adds "
          f"{statistics.median(extra):.1f} us ({min(extra):.1f}-{max(extra):.1f}) per notification, "
          f"{statistics.median(extra) * 2000 / 1e4:.1f} % of one core at 2,000 events/s; "
          f"{args.rounds} rounds of {args.count:,}")


if __name__ == "__main__":
    main()
