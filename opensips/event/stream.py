"""``Stream``: 0.1.11's standalone TCP (event_stream) receiver (see ``generic_socket``).

OpenSIPS keeps one connection open and writes notifications one after the
other on it, so accepted connections stay open and every ``read()`` returns
what arrived on any of them (feed it to ``JsonBuffer`` to get the objects).
"""

from __future__ import annotations

import selectors
import socket
from typing import Any

from .backoff import AcceptBackoff
from .generic_socket import READ_TIMEOUT, GenericSocket, bound_inet

MAX_CONNECTIONS = 64


class Stream(GenericSocket):
    """``Stream(ip="0.0.0.0", port=0)``."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.ip = str(kwargs.get("ip") or "0.0.0.0")
        self.port = int(kwargs.get("port") or 0)
        self.sock = None
        self.sock_name = None
        self._sel: selectors.BaseSelector | None = None
        self._backoff = AcceptBackoff()
        self._listening = False   # the listening socket is in the selector (out while fds run short)

    def create(self) -> str:
        sock, self.ip, self.port = bound_inet(socket.SOCK_STREAM, self.kwargs)
        sock.listen(16)
        sock.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(sock, selectors.EVENT_READ)
        self.sock = sock
        self._listening = True
        self.sock_name = f"tcp:{self.ip}:{self.port}"
        return self.sock_name

    @property
    def accept_failed(self) -> int:
        """accept() calls that failed for lack of descriptors (each pauses accepting)."""
        return self._backoff.failures

    def read(self) -> bytes | None:
        if self._sel is None:
            return None
        if not self._listening and not self._backoff.paused and self.sock is not None:
            self._sel.register(self.sock, selectors.EVENT_READ)
            self._listening = True
        for key, _ in self._sel.select(READ_TIMEOUT):
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            if conn is self.sock:
                try:
                    peer, _ = conn.accept()
                except OSError as exc:
                    if AcceptBackoff.is_shortage(exc):   # out of fds: see opensips.event.backoff
                        self._backoff.failed()
                        self._sel.unregister(conn)
                        self._listening = False
                    continue
                self._backoff.succeeded()
                if len(self._sel.get_map()) > MAX_CONNECTIONS:
                    peer.close()
                    continue
                peer.setblocking(False)
                self._sel.register(peer, selectors.EVENT_READ)
                continue
            try:
                data = conn.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                return data
            self._sel.unregister(conn)
            conn.close()
        return None

    def destroy(self) -> None:
        if self._sel is not None:
            for key in list(self._sel.get_map().values()):
                key.fileobj.close()  # type: ignore[union-attr]
            self._sel.close()
            self._sel = None
        self.sock = None
