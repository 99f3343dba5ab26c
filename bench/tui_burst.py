#!/usr/bin/env python3
"""Burst the TUI: N events at full speed, then report ingest rate and key latency during it.

Two paths, both with the real app headless in this process (Textual's Pilot: real widgets,
compositor and timers, no terminal):

- ``udp``: the app subscribes E_PIKE_BLOCKED on the simulator through the real handler; a
  separate process blasts N notifications at full speed to the handler's UDP socket
  (listener thread -> decode -> callback -> feed). The kernel may drop datagrams when the
  receiver falls behind: "received" says how many made it, and every one is counted.
- ``feed``: a thread calls ``Feed.push`` N times at full speed (the callback path without
  sockets): the ceiling of what the UI side absorbs.

While the burst runs, the bench sends ``down``/``up`` to the events list every 20 ms the way a
terminal driver does and measures the time until the first screen update showing the moved
highlight. (Pilot.press is not used for this: it waits for the whole process to go idle,
which a burst prevents, so it would measure the burst, not the UI.)

    python bench/tui_burst.py [--events 50000] [--mode udp|feed|both]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from textual import events

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opensips.sim import SimulatedOpenSIPS  # noqa: E402
from opensips_tui.app import OpenSIPSTUI  # noqa: E402
from opensips_tui.config import Settings  # noqa: E402
from opensips_tui.feed import TOTAL  # noqa: E402

EVENT = "E_PIKE_BLOCKED"
SENDER = """
import sys
sys.path.insert(0, {bench!r})
from _sender import blast, notification
n = int(sys.argv[1]); port = int(sys.argv[2])
print(blast(("127.0.0.1", port), (notification(i) for i in range(n))))
"""


async def key_latencies(app: OpenSIPSTUI, running) -> list[tuple[float, float]]:
    """Press down/up while ``running()``: seconds from the key entering the app (as a terminal
    driver delivers it) to the first screen update after the highlight moved."""
    updates: list[float] = []
    display = app._display

    def recording(screen, renderable) -> None:
        if renderable is not None:
            updates.append(time.perf_counter())
        display(screen, renderable)

    app._display = recording  # type: ignore[method-assign]
    out: list[tuple[float, float]] = []  # (sent at, latency)
    while running():
        before = app.events.highlighted
        key = "down" if len(out) % 2 == 0 else "up"
        t0 = time.perf_counter()
        app._driver.send_message(events.Key(key, None))
        moved = None
        for _ in range(5000):
            if moved is None and app.events.highlighted != before:
                moved = time.perf_counter()
            if moved is not None and updates and updates[-1] >= moved:
                break
            await asyncio.sleep(0.001)
        out.append((t0, (updates[-1] if updates else time.perf_counter()) - t0))
        await asyncio.sleep(0.02)
    app._display = display  # type: ignore[method-assign]
    return out


async def run(mode: str, events: int) -> dict:
    with SimulatedOpenSIPS(fifo=False, datagram_unix=False) as sim:
        settings = Settings(conn="http", mi=sim.mi_kwargs("http"), event={"listen_ip": "127.0.0.1"},
                            subscribe=[EVENT])
        app = OpenSIPSTUI(settings)
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(200):
                if app.events.states.get(EVENT) == "active" and EVENT in app.events.names:
                    break
                await pilot.pause(0.05)
            app.events.highlighted = app.events.names.index(EVENT)
            app.events.focus()
            await pilot.press("down", "up")  # warm-up: first-use costs are not the burst's
            await pilot.pause(0.2)
            done = threading.Event()
            t_start = time.perf_counter()
            if mode == "udp":
                port = int(app.backend.listen_address.rsplit(":", 1)[1])
                proc = subprocess.Popen([sys.executable, "-c", SENDER.format(bench=str(ROOT / "bench")),
                                         str(events), str(port)], stdout=subprocess.PIPE, text=True)
                threading.Thread(target=lambda: (proc.wait(), done.set()), daemon=True).start()
            else:
                def push() -> None:
                    for i in range(events):
                        app.feed.push(EVENT, {"jsonrpc": "2.0", "method": EVENT,
                                              "params": {"ip": f"10.0.{i >> 8 & 255}.{i & 255}"}})
                    done.set()
                threading.Thread(target=push, daemon=True).start()

            count = lambda: app.feed.summary().get(TOTAL, (0, 0.0))[0]  # noqa: E731
            last = {"n": -1, "t": time.perf_counter()}

            def running() -> bool:
                now = time.perf_counter()
                n = count()
                if n != last["n"]:
                    last.update(n=n, t=now)
                # Still busy while the sender runs or events still trickle in (0.5 s quiet = over).
                return (not done.is_set() or now - last["t"] < 0.5) and now - t_start < 120

            presses = await key_latencies(app, running)
            lat = [d for t0, d in presses if t0 <= last["t"]]  # sent while events were arriving
            received = count()
            elapsed = last["t"] - t_start
            sent = int(proc.stdout.read().strip() or 0) if mode == "udp" else events
            await pilot.pause(0.3)
            lines = len(app.query_one("#log").lines)
            shown_total = app.events.counts.get(EVENT, (0, 0.0))[0]
        return {"mode": mode, "sent": sent, "received": received, "seconds": elapsed,
                "rate": received / elapsed if elapsed > 0 else 0.0, "latencies": lat,
                "log_lines": lines, "list_count": shown_total}


def report(r: dict) -> None:
    lat = sorted(r["latencies"]) or [0.0]
    p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))]
    print(f"[{r['mode']}] sent {r['sent']}, received {r['received']} "
          f"({100 * r['received'] / max(r['sent'], 1):.1f} %) in {r['seconds']:.2f} s "
          f"-> {r['rate']:,.0f} events/s ingested; events list shows {r['list_count']}, "
          f"log holds {r['log_lines']} lines")
    print(f"[{r['mode']}] key -> screen answer during the burst: {len(lat)} presses, "
          f"median {1000 * statistics.median(lat):.0f} ms, p95 {1000 * p95:.0f} ms, "
          f"max {1000 * lat[-1]:.0f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=50_000, help="events per burst (default 50000)")
    p.add_argument("--mode", choices=("udp", "feed", "both"), default="both")
    args = p.parse_args()
    for mode in (("udp", "feed") if args.mode == "both" else (args.mode,)):
        report(asyncio.run(run(mode, args.events)))


if __name__ == "__main__":
    main()
