"""How many traffic events a second one simulator thread makes, with the tables they feed.

    python bench/sim_traffic.py                 # 3 runs of 20,000 events, median (min-max)
    python bench/sim_traffic.py --events 50000 --runs 5

Each generated event goes through what ``--rate`` runs on the traffic thread: the generator,
the operational tables (dialogs, registrations, destinations, connections), the statistics
and the event registry (no subscriber, so no delivery). That rate is the ceiling of
``opensips-sim --rate``; the MI view of the tables (``dialog:list`` and the rest) is timed too,
with the tables as full as the traffic makes them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opensips.sim import SimulatedOpenSIPS  # noqa: E402


def run(events: int, seed: int) -> tuple[float, dict[str, float]]:
    sim = SimulatedOpenSIPS(seed=seed, http=False, fifo=False, datagram=False, datagram_unix=False)
    sim.start()
    try:
        began = time.perf_counter()
        sim.generate(events)
        rate = events / (time.perf_counter() - began)
        reads = {}
        for cmd in ("dialog:list", "usrloc:dump", "dispatcher:list", "tcp:list"):
            began = time.perf_counter()
            sim.dispatcher.execute(cmd, None)
            reads[cmd] = (time.perf_counter() - began) * 1000
        return rate, reads
    finally:
        sim.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=20000)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    results = [run(args.events, seed) for seed in range(1, args.runs + 1)]
    rates = sorted(r for r, _ in results)
    print(f"events/s, one thread, {args.events:,} events: {statistics.median(rates):,.0f} "
          f"({rates[0]:,.0f}-{rates[-1]:,.0f}) over {args.runs} runs")
    for cmd in results[0][1]:
        ms = sorted(reads[cmd] for _, reads in results)
        print(f"{cmd:>16}: {statistics.median(ms):.1f} ms ({ms[0]:.1f}-{ms[-1]:.1f})")


if __name__ == "__main__":
    main()
