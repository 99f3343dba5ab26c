"""Misbehaving peers on real sockets and FIFOs, for the fuzz and fault tests.

Each peer stands where OpenSIPS would and answers whatever a test tells it to
(garbage, nothing, half a reply), so the MI transports and event listeners can
be shown to turn every such answer into a typed error or a status in time.
Every peer is a context manager: its thread stops and its files are removed.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

Responder = Callable[[bytes], "bytes | list[bytes] | None"]


class _Peer:
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=type(self).__name__)
        self.requests: list[bytes] = []

    def _run(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self):  # noqa: ANN204
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(3)
        assert not self._thread.is_alive(), f"{type(self).__name__} thread did not stop"


class UdpPeer(_Peer):
    """A UDP (or UNIX datagram) server: each request gets ``respond(request)`` back (None: silence, a list: several datagrams)."""

    def __init__(self, respond: Responder, unix_path: str | None = None) -> None:
        super().__init__()
        self.respond = respond
        family = socket.AF_UNIX if unix_path else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind(unix_path or ("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.unix_path = unix_path
        self.addr = self.sock.getsockname()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, src = self.sock.recvfrom(65535)
            except (socket.timeout, OSError):
                continue
            self.requests.append(data)
            reply = self.respond(data)
            if reply is not None and src:
                for one in reply if isinstance(reply, list) else [reply]:
                    try:
                        self.sock.sendto(one, src)
                    except OSError:
                        pass

    def close(self) -> None:
        super().close()
        self.sock.close()
        if self.unix_path and os.path.exists(self.unix_path):
            os.unlink(self.unix_path)


class TcpPeer(_Peer):
    """A TCP server; ``handle(conn)`` runs per connection on its own thread.

    Helpers below build handlers: answer one HTTP request with raw bytes, accept
    and never answer, half-close.
    """

    def __init__(self, handle: Callable[[socket.socket, threading.Event], None]) -> None:
        super().__init__()
        self.handle = handle
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.addr = self.sock.getsockname()
        self.port = self.addr[1]
        self._conns: list[tuple[socket.socket, threading.Thread]] = []

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            conn.settimeout(0.05)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._conns.append((conn, t))
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handle(conn, self._stop)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        super().close()
        for _, t in self._conns:
            t.join(3)
        self.sock.close()


def read_http_request(conn: socket.socket, stop: threading.Event) -> bytes | None:
    """Read one HTTP request (headers + Content-Length body); None if the client left."""
    buf = b""
    while not stop.is_set():
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if sep:
            m = re.search(rb"(?i)content-length:\s*(\d+)", head)
            need = int(m.group(1)) if m else 0
            if len(rest) >= need:
                return buf
        try:
            chunk = conn.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            return None
        buf += chunk
    return None


def http_answer(raw: Callable[[bytes], bytes], then_close: bool = True):  # noqa: ANN201
    """Handler: every request on the connection gets ``raw(request)`` verbatim."""

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            req = read_http_request(conn, stop)
            if req is None:
                return
            conn.sendall(raw(req))
            if then_close:
                return

    return handle


def silent(conn: socket.socket, stop: threading.Event) -> None:
    """Handler: accept, read whatever comes, never answer, keep the connection open."""
    while not stop.is_set():
        try:
            if not conn.recv(65536):
                return
        except socket.timeout:
            continue


class FifoPeer(_Peer):
    """A FIFO server like mi_fifo: reads ``:name:json`` lines, writes ``respond(json)`` to ``reply_dir/name``."""

    def __init__(self, respond: Responder) -> None:
        super().__init__()
        self.respond = respond
        self.dir = Path(tempfile.mkdtemp(prefix="faultpeer-fifo-"))
        self.fifo_path = str(self.dir / "opensips_fifo")
        self.reply_dir = str(self.dir)
        os.mkfifo(self.fifo_path, 0o600)
        # O_RDWR keeps a writer open so reads never see EOF between clients
        self._fd = os.open(self.fifo_path, os.O_RDWR | os.O_NONBLOCK)

    def _run(self) -> None:
        import select

        buf = b""
        while not self._stop.is_set():
            r, _, _ = select.select([self._fd], [], [], 0.05)
            if not r:
                continue
            try:
                buf += os.read(self._fd, 65536)
            except BlockingIOError:
                continue
            m = re.match(rb"\s*:([^:]*):", buf)
            if not m:
                continue
            # wait for the whole JSON: the client writes one request per write()
            body = buf[m.end():]
            buf = b""
            self.requests.append(body)
            reply = self.respond(body)
            if reply is None:
                continue
            self._write_reply(os.path.join(self.reply_dir, m.group(1).decode(errors="replace")), reply)

    def _write_reply(self, path: str, reply: bytes) -> None:
        import time

        end = time.monotonic() + 1.0
        while time.monotonic() < end and not self._stop.is_set():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # reader not there yet (ENXIO) or gone (ENOENT)
                time.sleep(0.005)
                continue
            try:
                os.set_blocking(fd, True)
                os.write(fd, reply)
            except OSError:
                pass
            finally:
                os.close(fd)
            return

    def close(self) -> None:
        super().close()
        os.close(self._fd)
        for p in self.dir.iterdir():
            p.unlink()
        self.dir.rmdir()


def leftovers(directory: str) -> list[str]:
    """Files a client left behind in a reply dir (FIFOs, sockets)."""
    return sorted(os.listdir(directory))


