"""Typed MI errors.

Callers catch ``OpenSIPSMIException`` for "anything went wrong"; the subclasses
let them tell "OpenSIPS said no" (a JSON-RPC error object) from "we could not
talk to OpenSIPS at all" (nothing listening, timeout, garbage on the wire).
"""

from __future__ import annotations

from typing import Any


class OpenSIPSMIException(Exception):
    """Base class of every error raised by ``opensips.mi``."""


class OpenSIPSMICommandError(OpenSIPSMIException):
    """OpenSIPS answered with a JSON-RPC error object (e.g. -32601 Method not found)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        self.code = code
        self.message = message
        self.data = data
        text = f"{message} ({code})"
        if data not in (None, ""):
            text += f": {data}"
        super().__init__(text)


class OpenSIPSMIConnectionError(OpenSIPSMIException):
    """The transport failed: nothing listening, FIFO missing, reply not JSON, reply too large."""


class OpenSIPSMITimeoutError(OpenSIPSMIConnectionError):
    """OpenSIPS did not answer within the timeout."""


class OpenSIPSMIRequestError(OpenSIPSMIException):
    """The request was refused before sending (bad method name, too large for the transport)."""


class OpenSIPSMIConfigError(OpenSIPSMIException, ValueError):
    """A connector argument is wrong: unknown ``conn``, a port that is not a number, ...

    Also a ``ValueError``: code written for the PyPI ``opensips`` 0.1.11 catches
    ``ValueError`` around ``OpenSIPSMI(...)``, ours catches ``OpenSIPSMIException``.
    """
