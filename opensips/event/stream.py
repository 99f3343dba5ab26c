"""``Stream``: 0.1.11's standalone TCP (event_stream) receiver (see ``generic_socket``).

OpenSIPS keeps one connection open and writes notifications one after the
other on it, so accepted connections stay open and every ``read()`` returns
what arrived on any of them (feed it to ``JsonBuffer`` to get the objects).
"""

from __future__ import annotations

import selectors
import socket
from typing import Any

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

    def create(self) -> str:
        sock, self.ip, self.port = bound_inet(socket.SOCK_STREAM, self.kwargs)
        sock.listen(16)
        sock.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(sock, selectors.EVENT_READ)
        self.sock = sock
        self.sock_name = f"tcp:{self.ip}:{self.port}"
        return self.sock_name

    def read(self) -> bytes | None:
        if self._sel is None:
            return None
        for key, _ in self._sel.select(READ_TIMEOUT):
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            if conn is self.sock:
                try:
                    peer, _ = conn.accept()
                except OSError:
                    continue
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
