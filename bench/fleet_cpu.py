#!/usr/bin/env python3
"""The monitor watching a fleet: its CPU and memory, and how fast a node's restart shows.

``--nodes`` simulators (``opensips-sim --rate R``, each in its own process, each on its own MI
port) feed the real ``opensips-tui --node NAME=URL ...`` running in a pseudo-terminal of each
``--sizes``, read into a terminal emulator (pyte: ``pip install '.[bench]'``), on each
``--screens`` (``fleet``: key 5, every node's statistics polled every second; ``events``: key 1,
the log of every node). The pty, the emulator and the /proc readings are bench/tui_cpu.py's.
Per run and case it prints:

- the TUI process's CPU over ``--seconds`` (every thread: UI loop, listeners, pollers), as % of
  one core, and the seconds it waited for a CPU (how busy the machine was for it);
- its resident memory (VmRSS) when the window starts and when it ends: the ring and the
  per-node state are bounded, so after the warm-up the two should stay close;
- the events/s sent to the TUI, counted by a UDP socket of this script subscribed to the same
  traffic on every simulator;
- on the fleet screen, the restart of one node: its simulator is stopped (SIGTERM), and the
  time until its row shows DOWN is taken; then a simulator is started on the same port, and the
  time until the row shows ``up`` again (the issue asks for both within 2 s).

``--runs 3`` repeats every case (cases interleaved, so a busy minute hits them all) and the
summary gives the median and the spread (min-max).

    python bench/fleet_cpu.py [--nodes 20] [--rate 200] [--sizes 120x40,80x24]
                              [--screens fleet,events] [--seconds 15] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyte

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sender import free_port, stop  # noqa: E402
from tui_cpu import (SUBSCRIBE, Tap, Terminal, cpu_seconds, py_spy, run_queue_wait, summarize_raw,  # noqa: E402
                     thread_cpu, thread_names)


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (VmRSS of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Sims:
    """``count`` simulators, one process each, named n01, n02, ... on fixed MI ports."""

    def __init__(self, count: int, rate: float) -> None:
        self.rate = rate
        self.names = [f"n{i + 1:02d}" for i in range(count)]
        self.ports = [free_port() for _ in range(count)]
        self.procs: list[subprocess.Popen | None] = [None] * count
        for i in range(count):
            self.start(i)

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}/mi"

    def start(self, i: int) -> None:
        """(Re)start simulator ``i`` on its port: a restarted OpenSIPS on the same address."""
        self.procs[i] = subprocess.Popen(
            [sys.executable, "-m", "opensips.sim", "--mi-http", f"127.0.0.1:{self.ports[i]}",
             "--rate", str(self.rate), "--seed", str(i + 1)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def stop(self, i: int, crash: bool = False) -> None:
        """Stop simulator ``i``: cleanly, or (``crash``) with SIGKILL, gone at once."""
        proc, self.procs[i] = self.procs[i], None
        if proc is not None and crash:
            proc.kill()
            proc.wait(5)
        elif proc is not None:
            stop(proc)

    def answering(self, i: int, timeout: float = 30) -> float:
        """Wait until simulator ``i`` accepts connections on its MI port; when it did (monotonic)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.ports[i]), timeout=1).close()
                return time.monotonic()
            except OSError:
                time.sleep(0.01)
        raise RuntimeError(f"simulator {self.names[i]} did not start")

    def tap(self) -> Tap:
        """One UDP socket subscribed to the traffic of every simulator (retried while they bind)."""
        deadline = time.monotonic() + 30
        while True:
            try:
                return Tap(*(self.url(i) for i in range(len(self.names))))
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the simulators did not answer") from None
                time.sleep(0.3)

    def close(self) -> None:
        for i in range(len(self.procs)):
            self.stop(i)


def node_row(screen: pyte.Screen, name: str) -> str | None:
    """The fleet table's line of node ``name`` on the emulated screen."""
    pattern = re.compile(rf"^\s*{re.escape(name)}\s")
    return next((line for line in screen.display if pattern.match(line)), None)


def rows_up(screen: pyte.Screen, names: list[str], sending: bool = True) -> int:
    """How many of ``names`` show ``up`` (``sending``: with events arriving, a number other
    than 0.0 in the EV/S column)."""
    header = next((line.replace("▼", "").replace("▲", "").split() for line in screen.display
                   if line.split()[:2] == ["NODE", "HEALTH"]), None)
    if header is None or "EV/S" not in header:
        return 0
    column = header.index("EV/S")
    count = 0
    for name in names:
        cells = (node_row(screen, name) or "").split()
        if len(cells) > column and cells[1] in ("up", "restarted") \
                and (not sending or cells[column] not in ("0.0", "-")):
            count += 1
    return count


def measure(sims: Sims, screen: str, size: str, args: argparse.Namespace, label: str) -> dict:
    cols, rows = (int(x) for x in size.split("x"))
    term = None
    tap = sims.tap()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows),
                       XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp)
            argv = [args.python, "-m", "opensips_tui", "--listen-ip", "127.0.0.1",
                    "--subscribe", ",".join(SUBSCRIBE)]
            for i, name in enumerate(sims.names):
                argv += ["--node", f"{name}={sims.url(i)}"]
            term = Terminal(argv, cols, rows, env, args.nice)
            term.send(b"5")
            # every node up and sending, as far as the screen holds rows (80x24 shows fewer than 20)
            visible = [n for n in sims.names[: rows - 6]]
            if not term.wait_for(lambda s: rows_up(s, visible, args.rate > 0) == len(visible), 120):
                raise RuntimeError("the nodes never all showed up with events:\n" + term.text())
            if screen == "events":
                term.send(b"1")
                time.sleep(1)
            time.sleep(args.warmup)
            spy, spy_out = None, None
            pid = term.proc.pid
            if args.py_spy:
                Path(args.py_spy).mkdir(parents=True, exist_ok=True)
                spy_out = Path(args.py_spy) / f"{label}.txt"
                spy = py_spy(pid, args.seconds, spy_out)
            rss0 = rss_kib(pid)
            n0, c0, t0, b0 = tap.count, cpu_seconds(pid), time.monotonic(), term.bytes_out
            th0, w0 = thread_cpu(pid), run_queue_wait(pid)
            time.sleep(args.seconds)
            n1, c1, t1, b1 = tap.count, cpu_seconds(pid), time.monotonic(), term.bytes_out
            th1, w1 = thread_cpu(pid), run_queue_wait(pid)
            rss1 = rss_kib(pid)
            if spy is not None:
                spy.wait(args.seconds + 30)
            names = thread_names(pid, spy_out)
            threads: Counter[str] = Counter()
            for tid, seconds in th1.items():
                threads[names.get(tid, "others")] += 100 * (seconds - th0.get(tid, 0.0)) / (t1 - t0)
            tap.close()    # not competing with the emulator below
            result = {"cpu": 100 * (c1 - c0) / (t1 - t0), "rate": (n1 - n0) / (t1 - t0),
                      "rss0": rss0, "rss1": rss1, "threads": threads, "waited": 100 * (w1 - w0) / (t1 - t0),
                      "load": os.getloadavg()[0], "written": (b1 - b0) / (t1 - t0)}
            if screen == "fleet":
                result["down"], result["up"] = restart(sims, term, min(2, len(sims.names) - 1))
            return result
    finally:
        if term is not None:
            term.close()
        tap.close()


def restart(sims: Sims, term: Terminal, i: int) -> tuple[float, float]:
    """Seconds from node ``i``'s simulator gone (killed) until the TUI wrote its row with
    DOWN, and from a new simulator accepting connections on the same port until the TUI wrote
    the row up again (``inf``: not within 30 s). Times are when the TUI's output arrived, not
    when this script's emulator got through it."""
    name = sims.names[i]
    term.text()        # the emulator catches up with what the TUI wrote so far: not timed
    sims.stop(i, crash=True)
    t0 = time.monotonic()
    shown = term.written_at(lambda s: "DOWN" in (node_row(s, name) or ""), 30)
    down = shown - t0 if shown is not None else float("inf")
    term.text()
    sims.start(i)
    t1 = sims.answering(i)
    shown = term.written_at(lambda s: re.search(r"\s(up|restarted)\s", node_row(s, name) or "") is not None, 30)
    up = shown - t1 if shown is not None else float("inf")
    return down, up


def spread(values: list[float], fmt: str = "{:.1f}") -> str:
    finite = [v for v in values if v != float("inf")]
    if not finite:
        return "never"
    lost = len(values) - len(finite)
    out = f"{fmt.format(statistics.median(finite))} ({fmt.format(min(finite))}-{fmt.format(max(finite))})"
    return out + (f", {lost} never" if lost else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for flag, kind, default, text in (
            ("--nodes", int, 20, "simulated nodes"), ("--rate", float, 200.0, "events/s each simulator makes"),
            ("--sizes", str, "120x40,80x24", "terminal sizes"), ("--screens", str, "fleet,events", "screens measured"),
            ("--seconds", float, 15.0, "CPU window per case"), ("--warmup", float, 5.0, "seconds before the window"),
            ("--runs", int, 3, "runs of every case"),
            ("--nice", int, 0, "niceness of the TUI alone (e.g. -10 as root: 20 simulators saturate "
                               "2 cores, and a starved TUI shows what it got, not what it asks for)")):
        ap.add_argument(flag, type=kind, default=default, help=f"{text} (default {default})")
    ap.add_argument("--python", default=sys.executable, help="the Python that runs the TUI")
    ap.add_argument("--py-spy", dest="py_spy", metavar="DIR", help="also record py-spy profiles into DIR")
    ap.add_argument("--json", action="store_true", help="print the raw results as JSON too")
    args = ap.parse_args(argv)
    cases = [(screen.strip(), size.strip()) for size in args.sizes.split(",") for screen in args.screens.split(",")]
    results: dict[tuple[str, str], list[dict]] = {case: [] for case in cases}
    print(f"# opensips-tui watching {args.nodes} simulated nodes at {args.rate:g} events/s each, "
          f"{len(SUBSCRIBE)} subscriptions per node, {args.seconds:g} s per case, {args.runs} run(s); "
          f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}", flush=True)
    sims = Sims(args.nodes, args.rate)
    try:
        for run in range(args.runs):
            for screen, size in cases:
                r = measure(sims, screen, size, args, f"{screen}-{size}-run{run + 1}")
                results[(screen, size)].append(r)
                restart_text = (f"  restart: DOWN after {r['down']:.2f} s, up after {r['up']:.2f} s"
                                if "down" in r else "")
                print(f"run {run + 1} {screen:>6} {size:>6}: {r['rate']:6.0f} ev/s  TUI CPU {r['cpu']:5.1f}% "
                      f"of one core (waited {r['waited']:.0f}%)  RSS {r['rss0'] / 1024:.0f} -> "
                      f"{r['rss1'] / 1024:.0f} MiB  drew {r['written'] / 1024:.0f} KiB/s{restart_text}  load {r['load']:.2f}  threads: "
                      + ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["threads"].items(), key=lambda kv: -kv[1])
                                  if v >= 0.5), flush=True)
    finally:
        sims.close()
    print(f"\n| screen, size | events/s sent | TUI CPU, % of one core: median (min-max) | RSS start -> end, MiB "
          "| row DOWN after, s | row up after, s | waited for a CPU, % |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (screen, size), rs in results.items():
        rss = f"{statistics.median(r['rss0'] for r in rs) / 1024:.0f} -> {statistics.median(r['rss1'] for r in rs) / 1024:.0f}"
        down = spread([r["down"] for r in rs], "{:.2f}") if screen == "fleet" else "-"
        up = spread([r["up"] for r in rs], "{:.2f}") if screen == "fleet" else "-"
        print(f"| {screen}, {size} | {statistics.median(r['rate'] for r in rs):,.0f} | {spread([r['cpu'] for r in rs])} "
              f"| {rss} | {down} | {up} | {statistics.median(r['waited'] for r in rs):.0f} |")
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.py_spy:
        for path in sorted(Path(args.py_spy).glob("*.txt")):
            print(f"\n## py-spy {path.name}\n{summarize_raw(path)}")
    if args.json:
        print(json.dumps({f"{k[0]} {k[1]}": v for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
