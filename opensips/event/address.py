"""``ListenAddress``: where OpenSIPS sends notifications, as the string it was told.

It is a ``str`` (``udp:10.0.0.5:40000``, ``tcp:...``, ``unix:/path``) so it
compares with what OpenSIPS lists in ``event_subscribers_list``, and it carries
the attributes of the socket objects of the PyPI ``opensips`` 0.1.11, which
code written for it reads: ``.sock`` (the bound socket, e.g. for
``getsockname()``), ``.sock_name``, ``.ip`` and ``.port``.
"""

from __future__ import annotations

import socket


class ListenAddress(str):
    """The socket string OpenSIPS was told, with the listening socket attached."""

    sock: socket.socket | None
    ip: str | None
    port: int | None

    def __new__(cls, text: str, sock: socket.socket | None = None, ip: str | None = None,
                port: int | None = None) -> "ListenAddress":
        self = super().__new__(cls, text)
        self.sock = sock
        self.ip = ip
        self.port = port
        return self

    @property
    def sock_name(self) -> str:
        """The same text as a plain ``str`` (0.1.11's name for it)."""
        return str.__str__(self)

    @property
    def transport(self) -> str:
        """``udp``, ``tcp`` or ``unix``."""
        return self.partition(":")[0]
