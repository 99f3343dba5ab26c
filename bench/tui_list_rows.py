#!/usr/bin/env python3
"""Rows the events list draws per second: the monitor at 120x40 (Pilot, headless) on the
simulator at ``--rate`` events/s with the 11 subscriptions of ``bench/tui_cpu.py``.

A row is "drawn" when the compositor asks the list for that line (``render_line``). With
8 busy events a list that redraws only changed rows draws about 8 a second; one that
re-renders every visible row on each change draws all of them (about 36 at 120x40).

    python bench/tui_list_rows.py [--rate 200] [--seconds 10] [--size 120x40]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tui_cpu import SUBSCRIBE  # noqa: E402

from opensips.sim import SimulatedOpenSIPS  # noqa: E402
from opensips_tui.app import OpenSIPSTUI  # noqa: E402
from opensips_tui.config import Settings  # noqa: E402


async def measure(rate: float, seconds: float, size: tuple[int, int]) -> float:
    with SimulatedOpenSIPS(rate=rate, fifo=False, datagram_unix=False) as sim:
        settings = Settings(conn="http", mi=sim.mi_kwargs("http"), event={"listen_ip": "127.0.0.1"},
                            subscribe=list(SUBSCRIBE))
        app = OpenSIPSTUI(settings, health_every=3600)
        async with app.run_test(size=size) as pilot:
            for _ in range(400):
                if all(app.events.states.get(e) == "active" for e in SUBSCRIBE):
                    break
                await pilot.pause(0.05)
            await pilot.pause(6.0)  # every busy row has a count and a rate by now
            drawn = [0]
            line = app.events.render_line

            def counted(y: int):
                drawn[0] += 1
                return line(y)

            app.events.render_line = counted  # type: ignore[method-assign]
            start = time.monotonic()
            await pilot.pause(seconds)
            return drawn[0] / (time.monotonic() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--size", default="120x40")
    args = ap.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    per_second = asyncio.run(measure(args.rate, args.seconds, (width, height)))
    print(f"events list at {args.size}, {args.rate:g} events/s: {per_second:.1f} rows drawn per second")


if __name__ == "__main__":
    main()
