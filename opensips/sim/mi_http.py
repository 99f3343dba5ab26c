"""MI over HTTP like mi_http (libmicrohttpd): `POST /mi`, JSON-RPC errors with status 200.

Written on raw sockets because the real server's odd answers matter to clients: a notification
gets 202 and a chunked body that never ends, GET gets 405 the same way, a POST without
`Content-Type: application/json` is closed with no answer at all.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
from email.utils import formatdate
from typing import Callable

from .commands import Outcome

log = logging.getLogger("opensips.sim.mi_http")

MAX_HEAD = 16384
MAX_BODY = 1 << 20


class _Close(Exception):
    """Close the connection without answering."""


class HTTPEndpoint:
    def __init__(self, handle: Callable[[bytes], Outcome], host: str = "127.0.0.1",
                 port: int = 0, root: str = "mi", hang: Callable[[], bool] = lambda: False) -> None:
        self.handle = handle
        self.host, self.port = host, port
        self.root = root
        self.hang = hang
        self._lsock: socket.socket | None = None
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/{self.root}"

    def start(self) -> None:
        self._stop.clear()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(128)
        s.setblocking(False)
        self.port = s.getsockname()[1]
        self._lsock = s
        self._wake_r, self._wake_w = os.pipe()
        t = threading.Thread(target=self._accept, name="opensips-sim-http", daemon=True)
        t.start()
        self._threads = [t]

    def stop(self) -> None:
        self._stop.set()
        if self._threads:
            os.write(self._wake_w, b"x")
        for t in self._threads:
            t.join(timeout=2)
        if self._threads:
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._threads = []
        if self._lsock is not None:
            self._lsock.close()
            self._lsock = None
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    # -- connections -----------------------------------------------------------------------
    def _accept(self) -> None:
        assert self._lsock is not None
        lsock = self._lsock
        watched: list[socket.socket | int] = [lsock, self._wake_r]
        while not self._stop.is_set():
            try:
                r, _, _ = select.select(watched, [], [], 1.0)
                if lsock not in r:
                    continue
                conn, _ = lsock.accept()
            except BlockingIOError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            conn.setblocking(True)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="opensips-sim-http-conn",
                             daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while not self._stop.is_set():
                req, buf = self._read_request(conn, buf)
                if req is None:
                    return
                if not self._respond(conn, *req):
                    return
        except (_Close, OSError):
            pass
        except Exception:  # noqa: BLE001
            log.exception("http connection failed")
        finally:
            with self._lock:
                self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def _recv(self, conn: socket.socket) -> bytes:
        while not self._stop.is_set():
            r, _, _ = select.select([conn], [], [], 0.2)
            if r:
                return conn.recv(65536)
        raise _Close()

    def _read_request(self, conn: socket.socket, buf: bytes):
        while b"\r\n\r\n" not in buf:
            if len(buf) > MAX_HEAD:
                raise _Close()
            chunk = self._recv(conn)
            if not chunk:
                return None, b""
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            raise _Close()
        method, path, proto = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            k, sep, v = line.partition(":")
            if sep:
                headers[k.strip().lower()] = v.strip()
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise _Close() from None
        if length < 0 or length > MAX_BODY:
            raise _Close()
        if headers.get("expect", "").lower() == "100-continue" and len(rest) < length:
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        while len(rest) < length:
            chunk = self._recv(conn)
            if not chunk:
                return None, b""
            rest += chunk
        body, rest = rest[:length], rest[length:]
        keep = proto == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        return (method, path, headers, body, keep), rest

    def _path_ok(self, path: str) -> bool:
        path = path.split("?", 1)[0]
        root = "/" + self.root
        return path == root or path.startswith(root + "/")

    def _head(self, status: str, ctype: str, keep: bool, length: int | None) -> bytes:
        lines = [f"HTTP/1.1 {status}", f"Date: {formatdate(usegmt=True)}"]
        if not keep:
            lines.append("Connection: close")
        lines.append(f"Content-Type: {ctype}")
        lines.append(f"Content-Length: {length}" if length is not None
                     else "Transfer-Encoding: chunked")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _never_ending(self, conn: socket.socket, status: str, keep: bool) -> bool:
        """Start a chunked body that never ends; hold the connection until the peer leaves."""
        conn.sendall(self._head(status, "application/json", keep, None))
        self._park(conn)
        return False

    def _park(self, conn: socket.socket) -> None:
        while not self._stop.is_set():
            r, _, _ = select.select([conn], [], [], 0.2)
            if r:
                try:
                    if not conn.recv(65536):
                        return
                except OSError:
                    return

    def _respond(self, conn: socket.socket, method: str, path: str, headers: dict,
                 body: bytes, keep: bool) -> bool:
        """Answer one request; False closes the connection."""
        if not self._path_ok(path):
            html = b"<html><body>Unable to parse URL!</body></html>"
            conn.sendall(self._head("400 Bad Request", "text/html", False, len(html)) + html)
            return False
        if method != "POST":
            return self._never_ending(conn, "405 Method Not Allowed", keep)
        ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            return False
        if not body:
            return self._never_ending(conn, "400 Bad Request", keep)
        if self.hang():
            self._park(conn)
            return False
        out = self.handle(body)
        if out.kind == "notification":
            return self._never_ending(conn, "202 Accepted", keep)
        text = (out.text or "").encode("utf-8")
        conn.sendall(self._head("200 OK", "application/json", keep, len(text)) + text)
        return keep
