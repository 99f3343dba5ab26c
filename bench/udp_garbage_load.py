#!/usr/bin/env python3
"""100,000 UDP notifications at full speed, 10 % garbage interleaved: is any valid event lost?

Our ``OpenSIPSEventHandler`` subscribes through MI to an in-process simulator;
a separate sender process blasts the datagrams at the advertised socket. Two
independent counts are compared:

* valid datagrams the socket received = valid datagrams sent minus those the
  kernel dropped (the socket's ``drops`` counter in /proc/net/udp; with zero
  drops the count is exact);
* notifications that reached the callback (each carries a sequence number, so
  duplicates and reordering are checked too).

    python bench/udp_garbage_load.py [--total 100000] [--garbage 0.10] [--rate N]

Exit status 0: every valid datagram the socket received reached the callback;
1: some were lost; 2: inconclusive (the kernel dropped datagrams; rerun with --rate).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _sender import EVENT, mixed, udp_drops  # noqa: E402

from opensips.event import OpenSIPSEventHandler  # noqa: E402
from opensips.event.decode import decode_notification  # noqa: E402
from opensips.mi import OpenSIPSMI  # noqa: E402
from opensips.sim import SimulatedOpenSIPS  # noqa: E402

SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux

SENDER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from _sender import blast, mixed
host, port, total, ratio = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
rate = float(sys.argv[6]) or None
items = list(mixed(total, ratio))
valid = sum(1 for ok, _ in items if ok)
t0 = time.perf_counter()
sent = blast((host, port), [d for _, d in items], rate=rate)
dt = time.perf_counter() - t0
print(json.dumps({"sent": sent, "valid": valid, "garbage": sent - valid, "seconds": dt}))
"""


def force_rcvbuf(hdl: OpenSIPSEventHandler, mb: int) -> str:
    """Give the listener socket a buffer that holds the whole burst (root only); say what it got."""
    sock = hdl.listener.sock if hdl.listener is not None else None
    if sock is None:
        return "unknown"
    if mb > 0:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, mb << 20)
        except OSError as exc:
            print(f"# cannot force the receive buffer ({exc}); kernel drops are likely at full speed",
                  file=sys.stderr)
    return f"{sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >> 20} MiB"


def check_garbage_is_garbage(total: int, ratio: float) -> None:
    """Sanity: no generated garbage datagram decodes to a routable notification."""
    for ok, data in mixed(min(total, 20_000), ratio):
        if not ok:
            msg = decode_notification(data)
            assert msg is None or msg.get("method") != EVENT, data[:80]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--total", type=int, default=100_000, help="datagrams to send (valid + garbage)")
    ap.add_argument("--garbage", type=float, default=0.10, help="fraction of garbage datagrams")
    ap.add_argument("--rate", type=float, default=0.0, help="sender pace, datagrams/s (0 = full speed)")
    ap.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    ap.add_argument("--force-rcvbuf-mb", type=int, default=256,
                    help="with CAP_NET_ADMIN (root), enlarge the listener's receive buffer past rmem_max "
                         "so a full-speed sender causes no kernel drops (0 = leave it)")
    args = ap.parse_args(argv)
    check_garbage_is_garbage(args.total, args.garbage)

    lock = threading.Lock()
    seqs: list[int] = []
    nones = 0

    def callback(msg: dict | None) -> None:
        nonlocal nones
        if msg is None:
            nones += 1
            return
        a, b, c, d = (int(x) for x in msg["params"]["ip"].split("."))
        with lock:
            seqs.append(b << 16 | c << 8 | d)

    with SimulatedOpenSIPS(fifo=False, datagram=False, datagram_unix=False, demo_events=True) as sim:
        hdl = OpenSIPSEventHandler(OpenSIPSMI("http", url=sim.http_url), "datagram", ip="127.0.0.1")
        try:
            ev = hdl.subscribe(EVENT, callback)
            _, host, port_s = ev.socket.split(":")
            port = int(port_s)
            forced = force_rcvbuf(hdl, args.force_rcvbuf_mb)
            drops0 = udp_drops(port) or 0
            cpu0 = time.process_time()
            proc = subprocess.run([sys.executable, "-c", SENDER, str(HERE), host, port_s, str(args.total),
                                   str(args.garbage), str(args.rate)],
                                  capture_output=True, text=True, timeout=args.timeout)
            if proc.returncode:
                print(proc.stderr, file=sys.stderr)
                return 1
            sent = json.loads(proc.stdout)
            # wait until the listener has drained its queue
            listener = hdl.listener
            assert listener is not None
            last, still = -1, time.monotonic()
            while time.monotonic() - still < 1.0:
                time.sleep(0.05)
                now = len(seqs) + listener.stats["received"]
                if now != last:
                    last, still = now, time.monotonic()
            cpu = time.process_time() - cpu0
            drops = (udp_drops(port) or 0) - drops0 if udp_drops(port) is not None else None
            stats = dict(listener.stats)
        finally:
            hdl.close()

    delivered = len(seqs)
    dupes = delivered - len(set(seqs))
    disorder = sum(1 for a, b in zip(seqs, seqs[1:]) if b < a)
    print(f"sent:      {sent['sent']:,} datagrams in {sent['seconds']:.2f} s "
          f"({sent['sent'] / sent['seconds']:,.0f}/s): {sent['valid']:,} valid + {sent['garbage']:,} garbage")
    print(f"socket:    {stats['received']:,} datagrams received, kernel drops: "
          f"{'n/a' if drops is None else f'{drops:,}'}")
    print(f"callback:  {delivered:,} notifications ({dupes} duplicated, {disorder} out of order), "
          f"{nones} None callbacks (10 unparsable in a row)")
    print(f"listener:  {stats}; receive buffer {forced}")
    print(f"receiver CPU (whole process, incl. simulator): {cpu:.2f} s, "
          f"{cpu / max(stats['received'], 1) * 1e6:.2f} µs per datagram")
    if drops is None:
        print("RESULT: inconclusive (no /proc/net/udp drop counter on this system)")
        return 2
    if drops == 0:
        valid_received = sent["valid"]
        garbage_received = stats["received"] - valid_received
        print(f"valid datagrams the socket received: {valid_received:,} (no drops, so all sent); "
              f"garbage received: {garbage_received:,}")
        ok = delivered == valid_received and dupes == 0 and garbage_received == sent["garbage"]
        print(f"RESULT: {'PASS' if ok else 'FAIL'}: delivered {delivered:,} == valid received {valid_received:,}")
        return 0 if ok else 1
    print(f"RESULT: inconclusive: the kernel dropped {drops:,} datagrams before our socket read them "
          f"(delivered {delivered:,} of {sent['valid']:,} valid sent); rerun with --rate")
    return 2


if __name__ == "__main__":
    sys.exit(main())
