"""MI calls per second per transport against the simulator, next to a bare round trip.

    python bench/mi_calls.py                   # ~20 s: 4 transports x (OpenSIPSMI, bare)
    python bench/mi_calls.py --datagram-modes  # also: pool vs one socket per call vs one locked socket
    python bench/mi_calls.py --seconds 1       # shorter runs

"bare" is the least code that does the same exchange on the same simulator endpoint
(one raw socket / one bare httpx.Client / a hand-made reply FIFO), so the gap between
the two columns is what opensips.mi itself costs. The simulator runs in this process,
so both columns share the CPU with it; compare columns, not machines.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from opensips.mi import OpenSIPSMI  # noqa: E402
from opensips.sim import SimulatedOpenSIPS  # noqa: E402

REQUEST = b'{"jsonrpc":"2.0","method":"version","id":1}'


def rate(call: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``call`` run back to back for about ``seconds``."""
    call()  # warm up (connections, pools)
    count = 0
    start = time.perf_counter()
    end = start + seconds
    while True:
        for _ in range(20):
            call()
        count += 20
        now = time.perf_counter()
        if now >= end:
            return count / (now - start)


def threaded_rate(call: Callable[[], object], seconds: float, threads: int) -> float:
    """Total calls per second of ``threads`` threads calling ``call`` for about ``seconds``."""
    counts = [0] * threads
    stop = threading.Event()

    def worker(i: int) -> None:
        while not stop.is_set():
            call()
            counts[i] += 1

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join(10)
    return sum(counts) / (time.perf_counter() - start)


# -- bare round trips ---------------------------------------------------------------


def bare_datagram(address: tuple[str, int] | str) -> Callable[[], object]:
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_UNIX:
        path = f"/tmp/bench_bare_{secrets.token_hex(6)}.sock"
        sock.bind(path)
        import atexit

        atexit.register(lambda: os.path.exists(path) and os.unlink(path))
    sock.connect(address)
    sock.settimeout(5)

    def call() -> object:
        sock.send(REQUEST)
        return json.loads(sock.recv(65536))["result"]

    return call


def bare_http(url: str) -> Callable[[], object]:
    client = httpx.Client(timeout=5)

    def call() -> object:
        return client.post(url, content=REQUEST, headers={"Content-Type": "application/json"}).json()["result"]

    return call


def bare_fifo(fifo: str, reply_dir: str) -> Callable[[], object]:
    def call() -> object:
        name = "bench_" + secrets.token_hex(8)
        path = os.path.join(reply_dir, name)
        os.mkfifo(path, 0o600)
        try:
            reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            writer = os.open(fifo, os.O_WRONLY)
            os.write(writer, b":" + name.encode() + b":" + REQUEST + b"\n")
            os.close(writer)
            data = b""
            while True:
                select.select([reader], [], [], 5)
                chunk = os.read(reader, 65536)
                if not chunk:
                    break
                data += chunk
            os.close(reader)
            return json.loads(data)["result"]
        finally:
            os.unlink(path)

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each measurement")
    parser.add_argument("--datagram-modes", action="store_true", help="compare datagram socket strategies")
    args = parser.parse_args()

    with SimulatedOpenSIPS() as sim:
        rows: list[tuple[str, float, float]] = []
        plans = [
            ("fifo", dict(sim.mi_kwargs("fifo")), bare_fifo(sim.fifo_path, sim.fifo_reply_dir)),
            ("http", dict(sim.mi_kwargs("http")), bare_http(sim.http_url)),
            ("datagram udp", dict(datagram_ip=sim.datagram_addr[0], datagram_port=sim.datagram_addr[1]),
             bare_datagram(sim.datagram_addr)),
            ("datagram unix", dict(datagram_unix_socket=sim.datagram_unix_path),
             bare_datagram(sim.datagram_unix_path)),
        ]
        for label, kwargs, bare in plans:
            conn = label.split()[0]
            with OpenSIPSMI(conn, **kwargs) as mi:
                ours = rate(lambda: mi.execute("version"), args.seconds)
            rows.append((label, ours, rate(bare, args.seconds)))

        print(f"MI 'version' calls/s against opensips.sim ({os.cpu_count()} CPUs, one thread, "
              f"{args.seconds:g} s each)")
        print(f"{'transport':<15}{'OpenSIPSMI':>12}{'bare':>12}{'ratio':>8}")
        for label, ours, bare in rows:
            print(f"{label:<15}{ours:>12.0f}{bare:>12.0f}{ours / bare:>8.2f}")

        if args.datagram_modes:
            print("\ndatagram socket strategy (calls/s; 1 thread / 8 threads / 50 threads)")
            for where, kwargs in (
                ("udp", dict(datagram_ip=sim.datagram_addr[0], datagram_port=sim.datagram_addr[1])),
                ("unix", dict(datagram_unix_socket=sim.datagram_unix_path)),
            ):
                for mode in ("pool", "percall", "shared"):
                    with OpenSIPSMI("datagram", datagram_socket_mode=mode, **kwargs) as mi:
                        call = lambda: mi.execute("version")  # noqa: E731
                        one = rate(call, args.seconds)
                        eight = threaded_rate(call, args.seconds, 8)
                        fifty = threaded_rate(call, args.seconds, 50)
                    print(f"{where:<5}{mode:<9}{one:>10.0f}{eight:>10.0f}{fifty:>10.0f}")


if __name__ == "__main__":
    main()
