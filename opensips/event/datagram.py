"""``Datagram``: 0.1.11's standalone UDP / UNIX datagram receiver (see ``generic_socket``)."""

from __future__ import annotations

import os
import socket
from typing import Any

from .generic_socket import READ_TIMEOUT, GenericSocket, bound_inet

MAX_DATAGRAM = 65535


class Datagram(GenericSocket):
    """``Datagram(ip="0.0.0.0", port=0)`` for UDP, or ``Datagram(unix_path=PATH)``."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.sock = None
        self.unix_path: str | None = kwargs.get("unix_path") or kwargs.get("socket_path")
        self.ip = None if self.unix_path else str(kwargs.get("ip") or "0.0.0.0")
        self.port = None if self.unix_path else int(kwargs.get("port") or 0)
        self.sock_name = f"unix:{self.unix_path}" if self.unix_path else None

    def create(self) -> str:
        if self.unix_path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                sock.bind(self.unix_path)
            except OSError:
                sock.close()
                raise
        else:
            sock, self.ip, self.port = bound_inet(socket.SOCK_DGRAM, self.kwargs)
            self.sock_name = f"udp:{self.ip}:{self.port}"
        sock.settimeout(READ_TIMEOUT)
        self.sock = sock
        assert self.sock_name is not None
        return self.sock_name

    def read(self) -> bytes | None:
        if self.sock is None:
            return None
        try:
            return self.sock.recv(MAX_DATAGRAM)
        except socket.timeout:
            return None

    def destroy(self) -> None:
        if self.sock is None:
            return
        self.sock.close()
        self.sock = None
        if self.unix_path:
            try:
                os.unlink(self.unix_path)
            except FileNotFoundError:
                pass
