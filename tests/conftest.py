"""Shared fixtures: a running simulated OpenSIPS per test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from hypothesis import settings

from opensips.mi import OpenSIPSMI
from opensips.sim import SimulatedOpenSIPS

# Hypothesis: the same examples on every run (CI must be green every time, and a failure
# must happen again when rerun), no example database carried between runs. Set
# HYPOTHESIS_PROFILE=explore to draw new examples; a failure then prints the
# @reproduce_failure(...) line that replays it.
settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture
def small_tmpfs(tmp_path) -> Iterator["os.PathLike[str]"]:
    """A 64 KiB tmpfs: a real full disk, ENOSPC (needs root and mount; skipped in one line otherwise)."""
    import subprocess
    from pathlib import Path

    mnt = Path(tmp_path) / "small"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


@pytest.fixture
def sim_factory() -> Iterator[Callable[..., SimulatedOpenSIPS]]:
    """Start simulators with any options (e.g. ``version="3.6.8"``); all stopped at teardown."""
    started: list[SimulatedOpenSIPS] = []

    def make(**kwargs) -> SimulatedOpenSIPS:
        sim = SimulatedOpenSIPS(**kwargs)
        sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(sim_factory) -> SimulatedOpenSIPS:
    """A running OpenSIPS 4.0.1 simulator with every MI endpoint on ephemeral addresses."""
    return sim_factory()


@pytest.fixture
def mi_http(sim) -> Iterator[OpenSIPSMI]:
    """An MI client over http to ``sim`` (closed at teardown)."""
    conn = OpenSIPSMI("http", **sim.mi_kwargs("http"))
    yield conn
    conn.close()


@pytest.fixture
def sim36(sim_factory) -> SimulatedOpenSIPS:
    """A running OpenSIPS 3.6.8 simulator."""
    return sim_factory(version="3.6.8")


# -- helpers for simulator tests (exposed as fixtures so any test can use them) -------------

import json
import select
import socket
import threading
import time
from typing import Any

# Values that differ from run to run in the captures: compared by type only.
VOLATILE_KEYS = {"Now", "Up since", "Up time", "PID", "pid", "ttl", "time", "core:timestamp"}
VOLATILE_PREFIXES = ("shmem:", "pkmem:", "HTTPD ")


def assert_same_shape(got: Any, want: Any, path: str = "$") -> None:
    """Equal JSON values, except volatile ones (uptime, pids, ttl, memory) compared by type."""
    key = path.rsplit(".", 1)[-1]
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{path}: {got!r} is not an object"
        assert list(got) == list(want), f"{path}: keys {list(got)} != {list(want)}"
        for k in want:
            assert_same_shape(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list), f"{path}: {got!r} is not an array"
        assert len(got) == len(want), f"{path}: {len(got)} items != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same_shape(g, w, f"{path}[{i}]")
    elif key in VOLATILE_KEYS or key.startswith(VOLATILE_PREFIXES) or (
            isinstance(want, str) and want.startswith(VOLATILE_PREFIXES)):
        assert type(got) is type(want), f"{path}: {got!r} vs {want!r}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


@pytest.fixture
def same_shape() -> Callable[[Any, Any], None]:
    return assert_same_shape


class UdpListener:
    """A UDP event listener collecting datagrams."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.socket = f"udp:127.0.0.1:{self.port}"

    def recv(self, n: int = 1, timeout: float = 2.0) -> list[bytes]:
        out: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                out.append(self.sock.recv(65535))
        return out

    def close(self) -> None:
        self.sock.close()


class UnixListener(UdpListener):
    def __init__(self, path: str) -> None:  # noqa: D107 - no super: different family
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.socket = f"unix:{path}"

    def close(self) -> None:
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


class TcpListener:
    """A TCP event listener: accepts connections, records every recv() per connection."""

    def __init__(self, port: int = 0, reply: Callable[[bytes], bytes | None] | None = None) -> None:
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.socket = f"tcp:127.0.0.1:{self.port}"
        self.reply = reply
        self.conns: list[list[bytes]] = []
        self._socks: list[socket.socket] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        watched: dict[socket.socket, list[bytes]] = {}
        while not self._stop.is_set():
            r, _, _ = select.select([self.lsock, *watched], [], [], 0.05)
            for s in r:
                if s is self.lsock:
                    c, _ = s.accept()
                    with self._lock:
                        self.conns.append([])
                        watched[c] = self.conns[-1]
                        self._socks.append(c)
                    continue
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    watched.pop(s)
                    s.close()
                    continue
                with self._lock:
                    watched[s].append(data)
                if self.reply:
                    answer = self.reply(data)
                    if answer:
                        s.sendall(answer)
        for s in watched:
            s.close()

    def data(self, conn: int = 0) -> bytes:
        with self._lock:
            return b"".join(self.conns[conn]) if conn < len(self.conns) else b""

    def wait(self, nbytes: int, conn: int = 0, timeout: float = 2.0) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self.data(conn)) < nbytes and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.data(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.lsock.close()


@pytest.fixture
def listeners(tmp_path):
    """Factory of event listeners: listeners("udp"|"unix"|"tcp", **kw); all closed at teardown."""
    made: list[Any] = []

    def make(kind: str, **kw):
        if kind == "udp":
            lst = UdpListener()
        elif kind == "unix":
            lst = UnixListener(str(tmp_path / f"ev{len(made)}.sock"))
        else:
            lst = TcpListener(**kw)
        made.append(lst)
        return lst

    yield make
    for lst in made:
        lst.close()


def mi_http_raw(url: str, body: bytes | str, timeout: float = 3.0) -> tuple[int, bytes]:
    """POST a raw JSON-RPC body to the simulator's mi_http; (status, body)."""
    import http.client
    from urllib.parse import urlsplit

    u = urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        c.request("POST", u.path, body=body.encode() if isinstance(body, str) else body,
                  headers={"Content-Type": "application/json", "Connection": "close"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


@pytest.fixture
def mi_post():
    """mi_post(sim, body) -> parsed JSON reply, via mi_http."""

    def post(sim, body: bytes | str | dict) -> Any:
        if isinstance(body, dict):
            body = json.dumps(body)
        status, data = mi_http_raw(sim.http_url, body)
        assert status == 200, (status, data)
        return json.loads(data)

    return post
