#!/usr/bin/env python3
"""Soak the TUI: sustained simulator traffic (default 2,000 events/s) for N minutes.

The app runs headless in this process (Textual's Pilot, real compositor and
widgets, no terminal output); the simulator runs in its own process
(``opensips-sim --rate N``) so its memory and threads are not counted. Every
``--sample`` seconds it prints resident memory, OS thread count, events
received and the event rate, and the time the screen takes to answer a key
(``down``/``up`` moving the events list) and the worst lag of the UI event loop. At the end: first vs last
RSS and thread count, and the worst key latency.

    python bench/tui_soak.py [--minutes 10] [--rate 2000] [--sample 10] [--transport datagram]

``--tracemalloc N`` traces allocations (N frames each; slows the app down): a snapshot at the
first sample after ``--warmup`` seconds and one at the end, then the allocations that grew in
between, grouped by line and by traceback -- what to read when RSS drifts.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sender import free_port, stop  # noqa: E402

from opensips.mi import OpenSIPSMI  # noqa: E402
from opensips_tui.app import OpenSIPSTUI  # noqa: E402
from opensips_tui.backend import Backend  # noqa: E402
from opensips_tui.config import resolve  # noqa: E402
from opensips_tui.feed import TOTAL, Feed  # noqa: E402
from textual.events import Key  # noqa: E402


def proc_status() -> tuple[float, int]:
    """(RSS MiB, OS threads) of this process."""
    rss = threads = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss / 1024, threads


def start_sim(rate: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "opensips.sim", "--mi-http", f"127.0.0.1:{port}",
                             "--rate", str(rate)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/mi"
    end = time.monotonic() + 15
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"opensips-sim exited: {proc.stderr.read().decode(errors='replace')[-400:]}")
        try:
            req = urllib.request.Request(url, b'{"jsonrpc":"2.0","method":"version","id":1}',
                                         {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=1) as r:
                if b"result" in r.read():
                    return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("opensips-sim did not answer within 15 s")


async def key_latency(app: OpenSIPSTUI, key: str, timeout: float = 10.0) -> float:
    """Seconds from a key arriving (as the terminal driver delivers it) until the list moved.

    The key goes through the driver like a real keypress, not ``pilot.press``
    (which also waits for the app to go idle -- it never does under load).
    """
    events_list = app.events
    before = events_list.highlighted
    start = time.perf_counter()
    app._driver.send_message(Key(key, None))  # noqa: SLF001 - what a terminal driver does
    while events_list.highlighted == before:
        if time.perf_counter() - start > timeout:
            return float("inf")
        await asyncio.sleep(0.001)
    return time.perf_counter() - start


async def loop_lag(samples: int = 20, period: float = 0.02) -> float:
    """Worst oversleep of the UI event loop over ``samples`` short sleeps (seconds)."""
    worst = 0.0
    for _ in range(samples):
        t = time.perf_counter()
        await asyncio.sleep(period)
        worst = max(worst, time.perf_counter() - t - period)
    return worst


async def soak(args: argparse.Namespace, url: str, events: list[str]) -> list[dict]:
    cli = {"conn": "http", "url": url, "subscribe": ",".join(events), "listen_ip": "127.0.0.1",
           "transport": args.transport, "ring_size": args.ring_size}
    with tempfile.TemporaryDirectory() as tmp:
        settings = resolve(cli, Path(tmp) / "no-config.toml")
        settings.export_dir = Path(tmp)
        feed = Feed(settings.ring_size)
        backend = Backend(settings, feed)
        app = OpenSIPSTUI(settings, backend)
        rows: list[dict] = []
        w, h = (int(x) for x in args.size.split("x"))
        async with app.run_test(headless=True, size=(w, h)) as pilot:
            start = time.monotonic()
            end = start + args.minutes * 60
            last_count, last_t = 0, start
            first_snap: tracemalloc.Snapshot | None = None
            while True:
                await asyncio.sleep(min(args.sample, max(0.0, end - time.monotonic())))
                now = time.monotonic()
                count = feed.summary().get(TOTAL, (0, 0.0))[0]
                key = "down" if len(rows) % 2 == 0 else "up"
                lat = await key_latency(app, key)
                lag = await loop_lag()
                rss, threads = proc_status()
                row = {"t": now - start, "rss_mib": rss, "threads": threads, "py_threads": threading.active_count(),
                       "events": count, "rate": (count - last_count) / max(now - last_t, 1e-9),
                       "key_ms": lat * 1000, "lag_ms": lag * 1000, "log_lines": len(app.log_pane.log_widget.lines)}
                if args.tracemalloc:
                    gc.collect()  # count live objects, not cyclic garbage waiting for a full collection
                    row["traced_mib"] = tracemalloc.get_traced_memory()[0] / 2**20
                rows.append(row)
                print(f"{row['t']:7.0f}s  rss {rss:7.1f} MiB  threads {threads:3d} (py {row['py_threads']:3d})  "
                      f"events {count:>10,}  rate {row['rate']:7.0f}/s  key {row['key_ms']:6.1f} ms  "
                      f"loop lag {row['lag_ms']:6.1f} ms  "
                      f"log lines {row['log_lines']}"
                      + (f"  traced {row['traced_mib']:.2f} MiB" if args.tracemalloc else ""), flush=True)
                last_count, last_t = count, now
                if args.tracemalloc and first_snap is None and now - start >= args.warmup:
                    first_snap = take_snapshot()
                    print(f"# tracemalloc: first snapshot at {now - start:.0f} s", flush=True)
                if now >= end:
                    break
            if first_snap is not None:
                report_growth(first_snap, take_snapshot(), args.top)
            await pilot.press("q")
            await pilot.pause(0.5)
        backend.close()
        return rows


def take_snapshot() -> tracemalloc.Snapshot:
    """Live allocations (cyclic garbage collected first; tracemalloc's bookkeeping left out)."""
    gc.collect()
    return tracemalloc.take_snapshot().filter_traces([
        tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap*>")])


def report_growth(first: tracemalloc.Snapshot, last: tracemalloc.Snapshot, top: int) -> None:
    """What grew between two snapshots, by source line and by whole traceback."""
    for key in ("lineno", "traceback"):
        diffs = [d for d in last.compare_to(first, key) if d.size_diff > 0]
        total = sum(d.size_diff for d in diffs)
        print(f"# tracemalloc growth by {key}: +{total / 1024:.1f} KiB in {len(diffs)} places; top {top}:")
        for d in diffs[:top]:
            print(f"#   +{d.size_diff / 1024:8.1f} KiB  +{d.count_diff:6d} blocks  "
                  f"(now {d.size / 1024:.1f} KiB in {d.count} blocks)")
            for line in d.traceback.format() if key == "traceback" else [str(d.traceback[0])]:
                print(f"#       {line.strip()}")
    print(f"# tracemalloc traced now/peak: {tracemalloc.get_traced_memory()[0] / 2**20:.1f}/"
          f"{tracemalloc.get_traced_memory()[1] / 2**20:.1f} MiB", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="soak duration (default 10)")
    ap.add_argument("--rate", type=float, default=2000.0, help="simulator events per second (default 2000)")
    ap.add_argument("--sample", type=float, default=10.0, help="seconds between samples (default 10)")
    ap.add_argument("--transport", choices=("datagram", "stream"), default="datagram")
    ap.add_argument("--ring-size", type=int, default=10_000, help="the app's event ring (default 10000)")
    ap.add_argument("--size", default="120x40", help="terminal size WxH (default 120x40)")
    ap.add_argument("--tracemalloc", type=int, default=0, metavar="FRAMES",
                    help="trace allocations with FRAMES frames each and report what grew (default off)")
    ap.add_argument("--warmup", type=float, default=60.0,
                    help="with --tracemalloc: seconds before the first snapshot (default 60)")
    ap.add_argument("--top", type=int, default=15, help="with --tracemalloc: places to print (default 15)")
    args = ap.parse_args(argv)
    if args.tracemalloc:
        tracemalloc.start(args.tracemalloc)

    sim, url = start_sim(args.rate)
    try:
        with OpenSIPSMI("http", url=url) as mi:
            events = [e["name"] for e in mi.execute("events_list")["Events"]]
        print(f"# soak: {args.minutes:g} min, simulator at {args.rate:g} events/s over {args.transport}, "
              f"{len(events)} events subscribed, pid {os.getpid()}", flush=True)
        rows = asyncio.run(soak(args, url, events))
    finally:
        stop(sim)
    if not rows:
        return 1
    first, last = rows[0], rows[-1]
    steady = rows[len(rows) // 2:]
    print(f"# RSS first/last sample: {first['rss_mib']:.1f} -> {last['rss_mib']:.1f} MiB "
          f"(second half min/max {min(r['rss_mib'] for r in steady):.1f}/{max(r['rss_mib'] for r in steady):.1f})")
    print(f"# threads first/last: {first['threads']} -> {last['threads']} "
          f"(max {max(r['threads'] for r in rows)})")
    print(f"# events received: {last['events']:,} in {last['t']:.0f} s = {last['events'] / last['t']:,.0f}/s")
    print(f"# key latency (down/up in the events list): median "
          f"{sorted(r['key_ms'] for r in rows)[len(rows) // 2]:.1f} ms, worst {max(r['key_ms'] for r in rows):.1f} ms; "
          f"worst UI loop lag {max(r['lag_ms'] for r in rows):.1f} ms")
    print("# rows: " + json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
