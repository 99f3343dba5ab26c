"""MI over datagrams like mi_datagram, on UDP or a UNIX datagram socket.

One reply datagram to the sender. A request is read into a socket_buf_size buffer (a longer
one is truncated, so it fails to parse); parse errors get the plain text `400 Parse_error`,
a reply that does not fit the buffer gets `500 Internal error`.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
from typing import Callable

from .commands import Outcome

log = logging.getLogger("opensips.sim.mi_datagram")

DEFAULT_BUF_SIZE = 65457


class DatagramEndpoint:
    def __init__(self, handle: Callable[[bytes], Outcome], *, host: str = "127.0.0.1",
                 port: int = 0, unix_path: str | None = None,
                 buf_size: int = DEFAULT_BUF_SIZE, crashes_on_bad_method: bool = True,
                 on_crash: Callable[[str, bytes], None] = lambda where, raw: None,
                 hang: Callable[[], bool] = lambda: False) -> None:
        self.handle = handle
        self.host, self.port = host, port
        self.unix_path = unix_path
        self.buf_size = buf_size
        self.crashes_on_bad_method = crashes_on_bad_method
        self.on_crash = on_crash
        self.hang = hang
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int] | str:
        return self.unix_path if self.unix_path else (self.host, self.port)

    def start(self) -> None:
        self._stop.clear()
        if self.unix_path:
            if os.path.exists(self.unix_path):
                os.unlink(self.unix_path)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(self.unix_path)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((self.host, self.port))
            self.port = s.getsockname()[1]
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        except OSError:
            pass
        self._sock = s
        self._wake_r, self._wake_w = os.pipe()
        name = "opensips-sim-dgram-" + ("unix" if self.unix_path else "udp")
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            os.write(self._wake_w, b"x")
            self._thread.join(timeout=2)
            self._thread = None
            os.close(self._wake_r)
            os.close(self._wake_w)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self.unix_path:
            try:
                os.unlink(self.unix_path)
            except OSError:
                pass

    def _run(self) -> None:
        sock = self._sock
        assert sock is not None
        watched: list[socket.socket | int] = [sock, self._wake_r]
        while not self._stop.is_set():
            try:
                r, _, _ = select.select(watched, [], [], 1.0)
                if sock not in r:
                    continue
                raw, addr = sock.recvfrom(self.buf_size)
            except OSError:
                if self._stop.is_set():
                    return
                continue
            try:
                reply = self._answer(raw)
                if reply is not None and addr:
                    sock.sendto(reply, addr)
            except OSError as exc:
                log.info("mi_datagram: cannot reply to %r: %s", addr, exc)
            except Exception:  # noqa: BLE001
                log.exception("mi_datagram request failed")

    def _answer(self, raw: bytes) -> bytes | None:
        if self.hang():
            return None
        out = self.handle(raw)
        if out.kind == "parse_error":
            return b"400 Parse_error"
        if out.kind == "crash" and self.crashes_on_bad_method:
            self.on_crash("datagram", raw)
            return None
        if out.kind == "notification" or out.text is None:
            return None
        data = out.text.encode("utf-8")
        if len(data) > self.buf_size:
            return b"500 Internal error"
        return data
