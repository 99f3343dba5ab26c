"""``OpenSIPSMI``: the one object callers use to run MI commands.

It picks a transport from ``conn``, frames each call with ``jsonrpc`` and turns
every failure into an ``OpenSIPSMIException`` subclass. Keyword arguments are
the ones opensips-cli passes (its whole config), so unknown ones are ignored.
"""

from __future__ import annotations

from typing import Any

from .datagram import DatagramTransport
from .errors import OpenSIPSMICommandError, OpenSIPSMIConfigError, OpenSIPSMIConnectionError, OpenSIPSMIException
from .fifo import FifoTransport
from .http import HttpTransport
from .jsonrpc import build_request, parse_reply
from .jsonrpc_helper import JSONRPCError
from .options import DEFAULT_TIMEOUT, as_float
from .transport import Transport

TRANSPORTS: dict[str, type[Transport]] = {
    "fifo": FifoTransport,
    "http": HttpTransport,
    "datagram": DatagramTransport,
}


class OpenSIPSMI:
    """An MI connector; safe to share between threads.

    >>> with OpenSIPSMI("http", url="http://127.0.0.1:8888/mi") as mi:   # doctest: +SKIP
    ...     mi.execute("version")
    {'Server': 'OpenSIPS (4.0.1 (x86_64/linux))'}
    """

    def __init__(self, conn: str = "fifo", **kwargs: Any) -> None:
        if not isinstance(conn, str) or conn.strip().lower() not in TRANSPORTS:
            raise OpenSIPSMIConfigError(f"unknown MI connector {conn!r}: use one of {', '.join(TRANSPORTS)}")
        self.conn = conn.strip().lower()
        timeout = as_float("timeout", kwargs.get("timeout"), DEFAULT_TIMEOUT)
        options = {k: v for k, v in kwargs.items() if k != "timeout"}
        self._transport = TRANSPORTS[self.conn](timeout, **options)
        self.validated: tuple[bool, list[str] | None] | None = None  # the last valid() answer

    # -- description -------------------------------------------------------

    @property
    def target(self) -> str:
        """Where calls go, e.g. ``fifo:/tmp/opensips_fifo`` or ``udp:127.0.0.1:8080``."""
        return self._transport.target

    @property
    def remote_host(self) -> str | None:
        """Host the MI interface lives on; ``None`` when local-only (fifo, unix)."""
        return self._transport.remote_host

    @property
    def timeout(self) -> float:
        """Seconds one call may take at most."""
        return self._transport.timeout

    def valid(self) -> tuple[bool, list[str] | None]:
        """``(True, None)`` if the transport looks usable, else ``(False, reasons)``.

        Only cheap local checks (paths, permissions, a FIFO reader): it sends
        no MI command.
        """
        self.validated = self._transport.valid()
        return self.validated

    # -- calls -------------------------------------------------------------

    def execute(self, cmd: str, params: dict[str, Any] | list[Any] | None = None) -> Any:
        """Run one MI command and return its JSON-RPC ``result`` unchanged.

        Raises OpenSIPSMIRequestError before sending anything unsafe,
        OpenSIPSMICommandError when OpenSIPS answers with an error object and
        OpenSIPSMIConnectionError (OpenSIPSMITimeoutError) when it cannot be
        reached in time.
        """
        body, req_id = build_request(cmd, params)
        try:
            raw = self._transport.exchange(body, req_id)
        except OpenSIPSMIException:
            raise
        except OSError as exc:  # anything a transport did not classify
            raise OpenSIPSMIConnectionError(f"{self.target}: {exc}") from None
        try:
            return parse_reply(raw, req_id)
        except OpenSIPSMICommandError as exc:  # 0.1.11 code may read the JSONRPCError it chained
            raise exc from JSONRPCError(exc.code, exc.message, exc.data)
        except OpenSIPSMIConnectionError as exc:  # say which endpoint sent the garbage
            raise type(exc)(f"{self.target}: {exc}: is this the OpenSIPS MI endpoint?") from None

    def close(self) -> None:
        """Release sockets and HTTP connections; calls fail afterwards."""
        self._transport.close()

    def __enter__(self) -> OpenSIPSMI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenSIPSMI({self.conn!r}, target={self.target!r})"
