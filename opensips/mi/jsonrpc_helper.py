"""The JSON-RPC helpers of the PyPI ``opensips`` 0.1.11, on top of ``jsonrpc``.

Code written for 0.1.11 imports ``JSONRPCError`` / ``JSONRPCException`` from
here (0.1.11 chained them as the ``__cause__`` of ``OpenSIPSMIException``) and
sometimes builds or reads MI messages with ``get_command`` / ``get_reply``.
Our own code uses ``jsonrpc`` and the typed ``OpenSIPSMIException`` classes.
"""

from __future__ import annotations

from json import JSONDecodeError
from typing import Any

from .errors import OpenSIPSMICommandError, OpenSIPSMIException
from .jsonrpc import build_request, parse_reply

__all__ = ["JSONRPCException", "JSONRPCError", "JSONDecodeError", "get_command", "get_reply"]


class JSONRPCException(OpenSIPSMIException):
    """A JSON-RPC exchange failed (not an answer from OpenSIPS: transport, garbage)."""


class JSONRPCError(JSONRPCException, OpenSIPSMICommandError):
    """OpenSIPS answered with a JSON-RPC error object: ``code``, ``message``, ``data``."""

    def get_data(self) -> Any:
        return self.data

    def __str__(self) -> str:  # 0.1.11's wording
        text = f"{self.code}: {self.message}"
        return f"{text} ({self.data})" if self.data else text


def get_command(method: str, params: Any = None) -> str:
    """The JSON-RPC request text for ``method`` with ``params`` (a dict, a list or None)."""
    try:
        body, _ = build_request(method, params)
    except OpenSIPSMIException as exc:
        raise JSONRPCException(str(exc)) from exc
    return body.decode("utf-8")


def get_reply(cmd: str | bytes) -> Any:
    """The ``result`` of a JSON-RPC reply; ``JSONRPCError`` for an error object, else ``JSONRPCException``."""
    try:
        return parse_reply(cmd, None)
    except OpenSIPSMICommandError as exc:
        raise JSONRPCError(exc.code, exc.message, exc.data) from None
    except OpenSIPSMIException as exc:
        raise JSONRPCException(str(exc)) from None
