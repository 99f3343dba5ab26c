#!/usr/bin/env python3
"""Cost of recording: Recorder.write vs a bare ``f.write(json.dumps(...))``, same notifications.

The notifications are real payload shapes decoded from the wire captures
(E_CORE_THRESHOLD carrying a whole SIP message, E_PIKE_BLOCKED, E_MY_CUSTOM), cycled.
Each round writes ``--count`` of them to a fresh file in a temporary directory, three ways:

* bare:     ``f.write(json.dumps({"time", "node", "event", "notification"}) + "\\n")`` on a
            buffered text file (no lock, no rotation, no NaN check, no ASCII escaping);
* recorder: ``Recorder.write(notification, node)`` (lock, rotation at the default 64 MiB,
            ASCII-only strict JSON, flushed to the disk by its own writes and thread);
* read:     ``Recording`` iterating the recorder's file back (parsing every line).

Rounds alternate the writers; it prints events/s (wall clock) and the process's CPU
microseconds per event (steadier on a busy machine) per round, and the spread.

    python bench/record.py [--count 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opensips.event.decode import decode_notification  # noqa: E402
from opensips.record import Recorder, Recording  # noqa: E402

WIRE = ROOT / "tests" / "fixtures" / "opensips-wire" / "4.0.1" / "events"


def notifications() -> list[dict]:
    out = []
    for name in ("E_CORE_THRESHOLD_udp", "E_PIKE_BLOCKED_udp", "script_raise_event_E_MY_CUSTOM_via_sip"):
        capture = json.loads((WIRE / f"{name}.json").read_text())
        out += [decode_notification(n["raw"].encode()) for n in capture["notifications"]["udp"][:3]]
    return out


def timed(fn):
    """(events/s by the wall clock, CPU microseconds per event of the whole process)."""
    def run(*args, count: int) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        fn(*args, count)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return count / wall, cpu / count * 1e6
    return run


@timed
def bare(path: Path, notes: list[dict], count: int) -> None:
    dumps = json.dumps
    with open(path, "w", encoding="utf-8") as f:
        for i in range(count):
            n = notes[i % len(notes)]
            f.write(dumps({"time": time.time(), "node": "edge1", "event": n["method"],
                           "notification": n}) + "\n")


@timed
def recorder(path: Path, notes: list[dict], count: int) -> None:
    with Recorder(path) as rec:
        write = rec.write
        for i in range(count):
            write(notes[i % len(notes)], "edge1")


@timed
def read(path: Path, count: int) -> None:
    n = sum(1 for _ in Recording(path))
    assert n == count, (n, count)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    notes = notifications()
    rates: dict[str, list[float]] = {"bare": [], "recorder": [], "read": []}
    cpu: dict[str, list[float]] = {"bare": [], "recorder": [], "read": []}
    with tempfile.TemporaryDirectory(prefix="bench-record-") as tmp:
        for r in range(args.rounds):
            b = Path(tmp) / f"bare-{r}.jsonl"
            p = Path(tmp) / f"rec-{r}.jsonl"
            for name, result in (("bare", bare(b, notes, count=args.count)),
                                 ("recorder", recorder(p, notes, count=args.count)),
                                 ("read", read(p, count=args.count))):
                rates[name].append(result[0])
                cpu[name].append(result[1])
            print(f"round {r + 1}: " + "  ".join(f"{k} {rates[k][-1]:9,.0f}/s {cpu[k][-1]:5.1f} us"
                                                 for k in rates)
                  + f"  ({p.stat().st_size / args.count:.0f} bytes/record)")
            b.unlink()
            p.unlink()
    for name, values in rates.items():
        print(f"{name:9s} median {statistics.median(values):9,.0f} events/s "
              f"(min {min(values):,.0f}, max {max(values):,.0f}); CPU {statistics.median(cpu[name]):.1f} us/event "
              f"({min(cpu[name]):.1f}-{max(cpu[name]):.1f}); {args.rounds} rounds of {args.count:,}")
    ratio = [r / b for r, b in zip(cpu["recorder"], cpu["bare"])]
    print(f"CPU per event, recorder / bare: {min(ratio):.2f}-{max(ratio):.2f}")


if __name__ == "__main__":
    main()
