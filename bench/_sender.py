"""Shared helpers for the bench scripts: notification bytes, garbage, a UDP blaster, and the
loopback bits around them (a free port, the kernel's UDP drop counter, stopping a process).

Kept free of project imports so the same sender drives our handler, a bare
socket loop and third-party receivers identically.
"""

from __future__ import annotations

import errno
import json
import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

EVENT = "E_PIKE_BLOCKED"


def notification(i: int, method: str = EVENT) -> bytes:
    """One event_datagram notification, shaped like OpenSIPS sends E_PIKE_BLOCKED."""
    return json.dumps(
        {"jsonrpc": "2.0", "method": method, "params": {"ip": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"}},
        separators=(",", ":"),
    ).encode()


def garbage(rng: random.Random) -> bytes:
    """One datagram that must not decode as a notification (many shapes of wrong)."""
    kind = rng.randrange(9)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if kind == 1:  # truncated notification
        full = notification(rng.randrange(1 << 24))
        return full[: rng.randrange(1, len(full) - 1)]
    if kind == 2:  # invalid UTF-8 and cut short (a complete frame with bad UTF-8 is still an event)
        return b'{"jsonrpc":"2.0","method":"' + EVENT.encode() + b'","params":{"ip":"\xff\xfe'
    if kind == 3:  # JSON, but not an object
        return rng.choice([b"[1,2,3]", b"42", b'"E_PIKE_BLOCKED"', b"null", b"true"])
    if kind == 4:  # object without a method
        return b'{"jsonrpc":"2.0","params":{"ip":"10.0.0.1"}}'
    if kind == 5:  # deeply nested
        depth = rng.randrange(100, 5000)
        return b"[" * depth + b"]" * depth
    if kind == 6:
        return b"400 Parse_error"
    if kind == 7:  # two objects in one datagram: not one notification
        return notification(1) + notification(2)
    return b"\x00" * rng.randrange(1, 64)


def mixed(total: int, garbage_ratio: float, seed: int = 1) -> Iterator[tuple[bool, bytes]]:
    """``total`` datagrams, ``garbage_ratio`` of them garbage, as ``(is_valid, bytes)``."""
    rng = random.Random(seed)
    n_bad = round(total * garbage_ratio)
    bad_at = set(rng.sample(range(total), n_bad))
    for i in range(total):
        yield (False, garbage(rng)) if i in bad_at else (True, notification(i))


def blast(addr: tuple[str, int] | str, datagrams: Iterable[bytes], rate: float | None = None,
          deadline: float | None = None) -> int:
    """Send every datagram to ``addr`` (UDP tuple or UNIX path); return how many went out.

    ``rate`` paces the sender (datagrams/s, checked every 100 sends); None is full
    speed. ENOBUFS/EAGAIN are retried so "sent" means the kernel took it.
    """
    family = socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sent = 0
    start = time.perf_counter()
    try:
        for data in datagrams:
            while True:
                try:
                    sock.sendto(data, addr)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.ENOBUFS, errno.EAGAIN):
                        raise
                    time.sleep(0.0005)
            sent += 1
            if sent % 100 == 0:
                now = time.perf_counter()
                if deadline is not None and now > deadline:
                    break
                if rate:
                    ahead = sent / rate - (now - start)
                    if ahead > 0:
                        time.sleep(ahead)
    finally:
        sock.close()
    return sent


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """An ephemeral loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def udp_drops(port: int) -> int | None:
    """The kernel's drop counter of the UDP socket bound to ``port`` (Linux), or None."""
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            return int(fields[-1])
    return None


def stop(proc: subprocess.Popen) -> None:
    """SIGINT (a clean shutdown), then SIGKILL after 5 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
