#!/usr/bin/env python3
"""What one listener thread per node costs: the same datagrams read by N threads or by one.

A sender process spreads ``--rate`` event_datagram notifications a second over ``--sockets``
UDP sockets (a fleet: one listener socket per node). They are read either by one thread per
socket (blocking ``recv``, as the monitor's per-node event handlers do) or by one thread
waiting on all the sockets with a selector; both decode each one and push it into the
monitor's :class:`~opensips_tui.feed.Feed` with its node's name. Prints the receiving
process's CPU (% of one core, ``/proc``) and CPU per event for each, ``--runs`` times
interleaved. The difference is the threads' wake-ups and GIL hand-offs, not the work.

    python bench/listener_threads.py [--sockets 20] [--rate 4000] [--seconds 8] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import subprocess
import sys
import threading
import time

from opensips_tui.feed import TOTAL, Feed

TICKS = os.sysconf("SC_CLK_TCK")
SENDER = """
import socket, sys, time
ports, rate = [int(p) for p in sys.argv[1].split(",")], float(sys.argv[2])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
body = b'{"jsonrpc":"2.0","method":"E_PIKE_BLOCKED","params":{"ip":"10.0.0.1","n":1}}'
step, at = len(ports) / rate, time.monotonic()
while True:
    at += step
    for port in ports:
        sock.sendto(body, ("127.0.0.1", port))
    pause = at - time.monotonic()
    if pause > 0:
        time.sleep(pause)
"""


def cpu_seconds() -> float:
    fields = open(f"/proc/{os.getpid()}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def receive(mode: str, args: argparse.Namespace) -> tuple[float, float]:
    """(events/s pushed, % of one core) with ``mode`` "threads" or "selector"."""
    feed = Feed()
    socks = []
    for _ in range(args.sockets):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind(("127.0.0.1", 0))
        socks.append(sock)
    stop = threading.Event()

    def one(sock: socket.socket, node: str) -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                data = sock.recv(65535)
            except socket.timeout:
                continue
            msg = json.loads(data)
            feed.push(msg["method"], msg, node)

    def all_of_them() -> None:
        selector = selectors.DefaultSelector()
        for n, sock in enumerate(socks):
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, f"n{n}")
        while not stop.is_set():
            for key, _ in selector.select(0.2):
                while True:
                    try:
                        data = key.fileobj.recv(65535)  # type: ignore[union-attr]
                    except BlockingIOError:
                        break
                    msg = json.loads(data)
                    feed.push(msg["method"], msg, key.data)

    threads = ([threading.Thread(target=one, args=(s, f"n{n}"), daemon=True) for n, s in enumerate(socks)]
               if mode == "threads" else [threading.Thread(target=all_of_them, daemon=True)])
    for thread in threads:
        thread.start()
    ports = ",".join(str(s.getsockname()[1]) for s in socks)
    sender = subprocess.Popen([sys.executable, "-c", SENDER, ports, str(args.rate)])
    try:
        time.sleep(2)
        c0, n0, t0 = cpu_seconds(), feed.summary([])[TOTAL][0], time.monotonic()
        time.sleep(args.seconds)
        c1, n1, t1 = cpu_seconds(), feed.summary([])[TOTAL][0], time.monotonic()
    finally:
        sender.kill()
        sender.wait()
        stop.set()
        for thread in threads:
            thread.join(1)
        for sock in socks:
            sock.close()
    return (n1 - n0) / (t1 - t0), 100 * (c1 - c0) / (t1 - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sockets", type=int, default=20, help="listener sockets, one per node (default 20)")
    ap.add_argument("--rate", type=float, default=4000, help="notifications per second in all (default 4000)")
    ap.add_argument("--seconds", type=float, default=8.0, help="CPU window (default 8)")
    ap.add_argument("--runs", type=int, default=2, help="rounds of both (default 2)")
    args = ap.parse_args()
    print(f"# {args.sockets} sockets, {args.rate:g} notifications/s in all; machine: {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")
    for run in range(args.runs):
        for mode in ("threads", "selector"):
            rate, cpu = receive(mode, args)
            print(f"run {run + 1} {mode:8}: {rate:6.0f} events/s  {cpu:5.1f}% of one core  "
                  f"{10_000 * cpu / rate:5.1f} µs per event  load {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
