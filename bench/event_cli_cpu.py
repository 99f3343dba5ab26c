#!/usr/bin/env python3
"""CPU per event of ``opensips-event`` and of a bare handler, against blocking ``recv`` loops.

Four receivers, each its own process, take turns (interleaved, ``--rounds`` times, default 5) on
the same N notifications (the captured payload shapes of ``event_throughput.py``) blasted on
loopback by a sender process:

* ``bare``: ``json.loads(sock.recv(65535))`` in a loop, the floor for any receiver;
* ``handler``: ``OpenSIPSEventHandler`` subscribed through MI, a callback that counts;
* ``bare-print``: ``bare`` plus what a printing tool must do, one JSON line per event written
  and flushed (``json.dumps``) -- the floor for ``opensips-event``;
* ``cli``: ``opensips-event`` itself (subscribes through MI, prints one JSON line per event).

CPU is the receiver process's ``utime + stime`` (``/proc``) from before the first datagram to
after the last delivery, divided by the events delivered. It prints the median of the rounds and
the ratios handler/bare and cli/bare-print (per round, and their median).

    python bench/event_cli_cpu.py [--count 30000] [--rounds 5] [--rate 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _sender import free_port, stop, udp_drops  # noqa: E402
from event_throughput import SENDER, templates  # noqa: E402

from opensips.sim import SimulatedOpenSIPS  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
RCVBUF = 8 << 20

# Receivers that are not our code: a socket, a loop, and (bare-print) the output a tool owes.
BARE = r"""
import json, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, {rcvbuf})
s.bind(("127.0.0.1", int(sys.argv[1])))
print("ready", flush=True)
recv, loads, n = s.recv, json.loads, 0
PRINT = {print_}
if PRINT:
    dumps, write, flush = json.dumps, sys.stdout.write, sys.stdout.flush
    while True:
        data = recv(65535)
        if not data:
            break
        write(dumps(loads(data), ensure_ascii=False, separators=(", ", ": ")) + "\n")
        flush()
else:
    while True:
        data = recv(65535)
        if not data:
            break
        loads(data)
        n += 1
    print(n, flush=True)
"""

HANDLER = r"""
import sys, threading
from opensips.event import OpenSIPSEventHandler
from opensips.mi import OpenSIPSMI
url, port, events = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
count = [0]
def cb(msg):
    count[0] += 1
with OpenSIPSMI("http", url=url) as mi:
    hdl = OpenSIPSEventHandler(mi, "datagram", ip="127.0.0.1", port=port)
    for name in events:
        hdl.subscribe(name, cb)
    print("ready", flush=True)
    sys.stdin.readline()  # the bench says when it is over
    print(count[0], flush=True)
    hdl.close()
"""


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Lines:
    """Counts the lines a receiver prints (in this process: not the receiver's CPU)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.n = 0
        self.last = ""
        self.proc = proc
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.n += 1
            self.last = line


def wait_line(lines: Lines, n: int, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while lines.n < n:
        if time.monotonic() > end or lines.proc.poll() is not None:
            raise RuntimeError(f"receiver {lines.proc.args!r} did not start")
        time.sleep(0.01)


def run_one(kind: str, sim: SimulatedOpenSIPS, tmpl: list[dict], count: int, rate: float) -> dict:
    port = free_port(2)  # SOCK_DGRAM
    events = list(dict.fromkeys(t["method"] for t in tmpl))
    if kind in ("bare", "bare-print"):
        code = BARE.format(rcvbuf=RCVBUF, print_=kind == "bare-print")
        argv = [sys.executable, "-c", code, str(port)]
    elif kind == "handler":
        argv = [sys.executable, "-c", HANDLER, sim.http_url, str(port), *events]
    else:
        argv = [sys.executable, "-m", "opensips.cli.event", "-t", "http", "--url", sim.http_url,
                "-li", "127.0.0.1", "-lp", str(port), *events]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    lines = Lines(proc)
    printing = kind in ("bare-print", "cli")
    try:
        if kind == "cli":  # it prints nothing before the first event: wait for its subscriptions
            end = time.monotonic() + 30
            while sum(1 for s in sim.subscribers() if s.get("event") in events
                      and str(port) in str(s.get("socket"))) < len(events):
                if time.monotonic() > end or proc.poll() is not None:
                    raise RuntimeError("opensips-event did not subscribe")
                time.sleep(0.02)
        else:
            wait_line(lines, 1)
        time.sleep(0.2)
        base = lines.n
        cpu0 = proc_cpu(proc.pid)
        sender = subprocess.Popen([sys.executable, "-c", SENDER, str(ROOT / "bench"), "127.0.0.1", str(port),
                                   json.dumps(tmpl), str(count), str(rate)], stdout=subprocess.PIPE, text=True)
        sent = json.loads(sender.communicate(timeout=120)[0])["sent"]
        if printing:  # deliveries stop: no new line for 0.5 s
            seen, quiet = -1, time.monotonic()
            while time.monotonic() - quiet < 0.5:
                if lines.n != seen:
                    seen, quiet = lines.n, time.monotonic()
                time.sleep(0.02)
            delivered = lines.n - base
            cpu = proc_cpu(proc.pid) - cpu0
        else:
            time.sleep(0.5)  # the receiver drains its socket
            cpu = proc_cpu(proc.pid) - cpu0
            if kind == "bare":
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"", ("127.0.0.1", port))
            else:
                assert proc.stdin is not None
                proc.stdin.write("\n")
                proc.stdin.flush()
            wait_line(lines, base + 1)
            delivered = int(lines.last)
        drops = udp_drops(port) or 0
    finally:
        stop(proc)
    return {"kind": kind, "sent": sent, "dropped": drops, "delivered": delivered,
            "us": cpu / delivered * 1e6 if delivered else float("nan")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=30_000, help="notifications per run (default 30000)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--rate", type=float, default=10_000,
                    help="sender pace, datagrams/s (default 10000: every receiver keeps up; 0 = full speed)")
    args = ap.parse_args()
    tmpl = templates()
    kinds = ("bare", "handler", "bare-print", "cli")
    results: dict[str, list[dict]] = {k: [] for k in kinds}
    print(f"# {args.count} notifications per run at {args.rate:g}/s, {args.rounds} rounds, cpus {os.cpu_count()}, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    with SimulatedOpenSIPS(fifo=False, datagram=False, datagram_unix=False) as sim:
        for n in range(args.rounds):
            for kind in kinds:
                r = run_one(kind, sim, tmpl, args.count, args.rate)
                results[kind].append(r)
                print(f"round {n + 1} {kind:10} sent {r['sent']:>7} dropped {r['dropped']:>6} "
                      f"delivered {r['delivered']:>7}  CPU {r['us']:6.2f} us/event", flush=True)
    med = {k: statistics.median(r["us"] for r in v) for k, v in results.items()}
    for ours, floor in (("handler", "bare"), ("cli", "bare-print")):
        ratios = [o["us"] / b["us"] for o, b in zip(results[ours], results[floor])]
        print(f"{ours} {med[ours]:.2f} us/event vs {floor} {med[floor]:.2f}: ratio median "
              f"{statistics.median(ratios):.3f} (rounds: {', '.join(f'{x:.3f}' for x in ratios)})")
    print(f"cli vs bare (no output at all): {med['cli'] / med['bare']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
