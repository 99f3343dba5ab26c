#!/usr/bin/env python3
"""Receiver cost of OpenSIPSEventHandler vs a bare ``recv`` + ``json.loads`` loop, same run.

A separate sender process blasts N event_datagram notifications on loopback:
real payload shapes from the wire captures (E_CORE_THRESHOLD with a whole
SIP message, E_CORE_LOG, E_PIKE_BLOCKED, E_CORE_TCP_DISCONNECT, a script
event), each with a sequence number. Two receivers take turns, alternating
``--rounds`` times:

* bare:    a thread doing ``cb(json.loads(sock.recv(65535)))`` on a blocking socket;
* handler: ``OpenSIPSEventHandler`` subscribed (over MI, to an in-process
           simulator) to every event in the mix, calling the same ``cb``.

Both sockets get the same receive buffer. For each run it prints events/s
delivered to the callback, the receiver thread's CPU microseconds per
delivered event (``pthread_getcpuclockid`` of that thread: steadier than
events/s when the sender is the bottleneck on 2 cores), and valid datagrams
received by the socket (sent minus kernel drops from /proc/net/udp) against
those delivered. The summary gives the median CPU/event ratio handler/bare.

    python bench/event_throughput.py [--count 100000] [--rounds 3] [--rate 0]
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

from opensips.event import OpenSIPSEventHandler  # noqa: E402
from opensips.event.listener import RCVBUF  # noqa: E402
from opensips.mi import OpenSIPSMI  # noqa: E402
from opensips.sim import SimulatedOpenSIPS  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from _sender import udp_drops  # noqa: E402

WIRE = ROOT / "tests" / "fixtures" / "opensips-wire" / "4.0.1" / "events"
SAMPLES = ["E_CORE_THRESHOLD_udp", "E_CORE_LOG_udp", "E_PIKE_BLOCKED_udp", "E_CORE_TCP_DISCONNECT_udp",
           "script_raise_event_E_MY_CUSTOM_via_sip"]

SENDER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from _sender import blast
templates = json.loads(sys.argv[4])
host, port, count, rate = sys.argv[2], int(sys.argv[3]), int(sys.argv[5]), float(sys.argv[6])
payloads = []
for i in range(count):
    note = dict(templates[i % len(templates)])
    note["params"] = dict(note.get("params") or {}, seq=i)
    payloads.append(json.dumps(note, separators=(",", ":")).encode())
t0 = time.perf_counter()
sent = blast((host, port), payloads, rate=rate or None)
print(json.dumps({"sent": sent, "seconds": time.perf_counter() - t0}))
"""


def templates() -> list[dict]:
    out = []
    for case in SAMPLES:
        data = json.loads((WIRE / f"{case}.json").read_text(encoding="utf-8"))
        out.append(json.loads(data["notifications"]["udp"][0]["raw"]))
    return out


def thread_cpu(thread: threading.Thread) -> float:
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


class Counter:
    """The callback both receivers call: as cheap as a callback can be."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, msg: object) -> None:
        self.n += 1


def wait_quiet(counter: Counter, sender: subprocess.Popen, quiet: float = 0.4) -> tuple[float, float]:
    """Wait for the sender to finish and deliveries to stop; return (first, last) delivery times."""
    first = last = None
    seen = 0
    while True:
        now = time.perf_counter()
        n = counter.n
        if n and first is None:
            first = now
        if n != seen:
            seen, last = n, now
        if sender.poll() is not None and last is not None and now - last > quiet:
            break
        if sender.poll() is not None and last is None and now > 30:
            break
        time.sleep(0.002)
    return first or 0.0, last or 0.0


def run_sender(port: int, tmpl: list[dict], count: int, rate: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SENDER, str(ROOT / "bench"), "127.0.0.1", str(port),
                             json.dumps(tmpl), str(count), str(rate)], stdout=subprocess.PIPE, text=True)


def bare_run(tmpl: list[dict], count: int, rate: float) -> dict:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    counter = Counter()

    def loop() -> None:
        recv, loads, cb = sock.recv, json.loads, counter
        while True:
            data = recv(65535)
            if not data:
                break
            cb(loads(data))

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    cpu0 = thread_cpu(thread)
    sender = run_sender(port, tmpl, count, rate)
    first, last = wait_quiet(counter, sender)
    cpu = thread_cpu(thread) - cpu0
    drops = udp_drops(port) or 0
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"", ("127.0.0.1", port))
    thread.join(2)
    sock.close()
    return _result("bare", sender, counter, cpu, first, last, drops)


def handler_run(sim: SimulatedOpenSIPS, mi: OpenSIPSMI, tmpl: list[dict], count: int, rate: float) -> dict:
    counter = Counter()
    hdl = OpenSIPSEventHandler(mi, "datagram", ip="127.0.0.1")
    try:
        for name in dict.fromkeys(t["method"] for t in tmpl):
            hdl.subscribe(name, counter)
        listener = hdl.listener
        assert listener is not None and listener._thread is not None
        port = listener.address[1]
        cpu0 = thread_cpu(listener._thread)
        sender = run_sender(port, tmpl, count, rate)
        first, last = wait_quiet(counter, sender)
        cpu = thread_cpu(listener._thread) - cpu0
        drops = udp_drops(port) or 0
    finally:
        hdl.close()
    return _result("handler", sender, counter, cpu, first, last, drops)


def _result(name: str, sender: subprocess.Popen, counter: Counter, cpu: float, first: float, last: float,
            drops: int) -> dict:
    out, _ = sender.communicate(timeout=30)
    info = json.loads(out)
    delivered = counter.n
    span = max(last - first, 1e-9)
    return {
        "receiver": name,
        "sent": info["sent"],
        "valid_received": info["sent"] - drops,
        "delivered": delivered,
        "events_per_s": delivered / span if delivered > 1 else 0.0,
        "cpu_us_per_event": cpu / delivered * 1e6 if delivered else float("nan"),
        "sender_s": info["seconds"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=100_000, help="notifications per run (default 100000)")
    ap.add_argument("--rounds", type=int, default=3, help="bare/handler pairs (default 3)")
    ap.add_argument("--rate", type=float, default=0.0, help="sender pace in datagrams/s (0 = full speed)")
    opts = ap.parse_args()
    tmpl = templates()
    sizes = [len(json.dumps(t, separators=(",", ":"))) for t in tmpl]
    print(f"payloads: {len(tmpl)} shapes, {min(sizes)}-{max(sizes)} bytes; {opts.count} per run, "
          f"{opts.rounds} rounds, rate {'full speed' if not opts.rate else opts.rate}; cpus {os.cpu_count()}")
    print(f"{'receiver':8} {'sent':>8} {'valid rcvd':>10} {'delivered':>9} {'events/s':>9} {'CPU us/ev':>9}")
    results: list[dict] = []
    t_start = time.perf_counter()
    with SimulatedOpenSIPS(fifo=False, datagram=False, datagram_unix=False) as sim, \
            OpenSIPSMI("http", url=sim.http_url) as mi:
        for _ in range(opts.rounds):
            for run in (lambda: bare_run(tmpl, opts.count, opts.rate),
                        lambda: handler_run(sim, mi, tmpl, opts.count, opts.rate)):
                r = run()
                results.append(r)
                print(f"{r['receiver']:8} {r['sent']:>8} {r['valid_received']:>10} {r['delivered']:>9} "
                      f"{r['events_per_s']:>9.0f} {r['cpu_us_per_event']:>9.2f}", flush=True)
    bare = [r for r in results if r["receiver"] == "bare"]
    ours = [r for r in results if r["receiver"] == "handler"]
    ratios = [o["cpu_us_per_event"] / b["cpu_us_per_event"] for b, o in zip(bare, ours)]
    lost = sum(r["valid_received"] - r["delivered"] for r in ours)
    print(f"median CPU us/event: bare {statistics.median(r['cpu_us_per_event'] for r in bare):.2f}, "
          f"handler {statistics.median(r['cpu_us_per_event'] for r in ours):.2f}; "
          f"ratio handler/bare median {statistics.median(ratios):.3f} (per round: "
          f"{', '.join(f'{x:.3f}' for x in ratios)})")
    print(f"median events/s: bare {statistics.median(r['events_per_s'] for r in bare):.0f}, "
          f"handler {statistics.median(r['events_per_s'] for r in ours):.0f}")
    print(f"handler: valid datagrams received but not delivered: {lost}; total time "
          f"{time.perf_counter() - t_start:.1f}s")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
