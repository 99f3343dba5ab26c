"""``GenericSocket``: the receiving-socket interface of the PyPI ``opensips`` 0.1.11.

Its ``Datagram`` and ``Stream`` classes (``opensips.event.datagram``,
``opensips.event.stream``) are standalone receivers for code that reads
notifications itself: ``create()`` binds and returns the socket string to give
OpenSIPS, ``read()`` returns the bytes that arrived (or ``None`` after 0.1 s
of silence), ``destroy()`` closes. ``OpenSIPSEventHandler`` does not use them:
its listener thread does this work.
"""

from __future__ import annotations

import socket
from abc import ABC, abstractmethod
from typing import Any

READ_TIMEOUT = 0.1  # seconds read() waits, as in 0.1.11


class GenericSocket(ABC):
    """A socket OpenSIPS sends notifications to."""

    sock: socket.socket | None
    sock_name: str | None
    ip: str | None
    port: int | None

    @abstractmethod
    def __init__(self, **kwargs: Any) -> None:
        """``ip`` / ``port`` (or, for a UNIX datagram socket, ``unix_path``)."""

    @abstractmethod
    def create(self) -> str:
        """Bind; return what OpenSIPS is told (``udp:IP:PORT``, ``tcp:IP:PORT``, ``unix:/path``)."""

    @abstractmethod
    def read(self) -> bytes | None:
        """The next bytes received, or None when nothing came within READ_TIMEOUT."""

    @abstractmethod
    def destroy(self) -> None:
        """Close the socket (and remove a UNIX socket file)."""


def bound_inet(kind: int, kwargs: dict[str, Any]) -> tuple[socket.socket, str, int]:
    """An AF_INET socket bound to ``ip``/``port``; the address to advertise and the port.

    Bound to 0.0.0.0, the advertised address is the one that routes to
    ``advertise_to`` (the MI host; loopback when not given), never a lookup
    of our own hostname (often 127.0.1.1 or the wrong interface).
    """
    from .handler import _as_port, route_ip

    ip = str(kwargs.get("ip") or "0.0.0.0")
    sock = socket.socket(socket.AF_INET, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, _as_port(kwargs.get("port", 0))))
    except OSError:
        sock.close()
        raise
    host, port = sock.getsockname()[:2]
    if host in ("", "0.0.0.0"):
        host = kwargs.get("advertise_ip") or route_ip(kwargs.get("advertise_to"))
    return sock, host, port
