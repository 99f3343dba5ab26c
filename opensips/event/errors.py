"""Errors raised by ``opensips.event``."""

from __future__ import annotations


class OpenSIPSEventException(Exception):
    """Subscribing, unsubscribing or listening failed.

    ``cause`` holds the underlying error (an ``OpenSIPSMIException`` when
    OpenSIPS refused or could not be reached, an ``OSError`` when the
    listening socket could not be opened); it is also chained as
    ``__cause__``.
    """

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause
