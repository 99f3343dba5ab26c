"""The connection classes of the PyPI ``opensips`` 0.1.11: ``Connection``, ``FIFO``, ``HTTP``, ``Datagram``.

0.1.11 code sometimes uses a connection without ``OpenSIPSMI``: ``FIFO(...)``
then ``execute(method, params)``, which returns the result or raises the
``jsonrpc_helper`` errors (``JSONRPCError`` for an error answer,
``JSONRPCException`` for the rest). Here each one drives this package's
transport (so the same wire handling, timeouts and fixes apply), and its
required keyword arguments are checked as 0.1.11 did, with a ``ValueError``
(an ``OpenSIPSMIConfigError``). ``opensips.mi.fifo.FIFO`` and the other
0.1.11 import paths lead here.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Any

from .datagram import DatagramTransport
from .errors import OpenSIPSMICommandError, OpenSIPSMIConfigError, OpenSIPSMIException
from .fifo import FifoTransport
from .http import HttpTransport
from .jsonrpc import build_request, parse_reply
from .jsonrpc_helper import JSONRPCError, JSONRPCException
from .options import DEFAULT_TIMEOUT, as_float
from .transport import Transport

__all__ = ["Connection", "FIFO", "HTTP", "Datagram"]


class Connection(ABC):
    """One way of running MI commands: ``execute(method, params)`` and ``valid()``."""

    @abstractmethod
    def __init__(self, **kwargs: Any) -> None:
        """Take the connection's keyword arguments."""

    @abstractmethod
    def execute(self, method: str, params: Any) -> Any:
        """Run one MI command and return its result."""

    @abstractmethod
    def valid(self) -> tuple[bool, list[str] | None]:
        """``(True, None)`` if the connection looks usable, else ``(False, reasons)``."""


class _OnTransport(Connection):
    """A ``Connection`` over one of our transports."""

    transport_class: type[Transport]
    required: tuple[str, ...] = ()

    def __init__(self, **kwargs: Any) -> None:
        missing = [key for key in self.required if key not in kwargs]
        if missing:
            raise OpenSIPSMIConfigError(f"{', '.join(missing)} required for {type(self).__name__}")
        timeout = as_float("timeout", kwargs.get("timeout"), DEFAULT_TIMEOUT)
        self.transport = self.transport_class(timeout, **{k: v for k, v in kwargs.items() if k != "timeout"})

    def execute(self, method: str, params: Any = None) -> Any:
        try:
            body, req_id = build_request(method, params)
            return parse_reply(self.transport.exchange(body, req_id), req_id)
        except OpenSIPSMICommandError as exc:
            raise JSONRPCError(exc.code, exc.message, exc.data) from None
        except (OpenSIPSMIException, OSError) as exc:
            raise JSONRPCException(str(exc)) from None

    def valid(self) -> tuple[bool, list[str] | None]:
        return self.transport.valid()

    def close(self) -> None:
        self.transport.close()


class FIFO(_OnTransport):
    """mi_fifo: ``FIFO(fifo_file=..., fifo_file_fallback=..., fifo_reply_dir=...)``, all three required."""

    transport_class = FifoTransport
    required = ("fifo_file", "fifo_file_fallback", "fifo_reply_dir")
    #: 0.1.11's reply FIFO name pattern; ours are made by the transport (see opensips.mi.fifo)
    REPLY_FIFO_FILE_TEMPLATE = "opensips_fifo_reply_{}_{}"

    def get_sticky(self, path: str) -> str | None:
        """The nearest directory from ``path`` up that has the sticky bit (Linux's fs.protected_fifos)."""
        path = os.path.abspath(path)
        while True:
            if os.stat(path).st_mode & 0o1000:
                return path
            parent = os.path.dirname(path)
            if parent == path:
                return None
            path = parent


class HTTP(_OnTransport):
    """mi_http: ``HTTP(url=...)``."""

    transport_class = HttpTransport
    required = ("url",)


class Datagram(_OnTransport):
    """mi_datagram: ``Datagram(datagram_unix_socket=...)`` or ``Datagram(datagram_ip=..., datagram_port=...)``.

    Optional ``datagram_timeout`` (seconds) and ``datagram_buffer_size``.
    """

    transport_class = DatagramTransport

    def __init__(self, **kwargs: Any) -> None:
        if "datagram_unix_socket" not in kwargs and not ("datagram_ip" in kwargs and "datagram_port" in kwargs):
            raise OpenSIPSMIConfigError(
                "either datagram_unix_socket or both datagram_ip and datagram_port are required for Datagram")
        super().__init__(**kwargs)
