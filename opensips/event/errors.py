"""Errors raised by ``opensips.event``.

Code written for the PyPI ``opensips`` 0.1.11 catches other classes than ours
for the same failures, so the errors that differ carry both: a refused
subscription is an ``OpenSIPSEventException`` and an ``OpenSIPSMIException``,
bad arguments are also a ``ValueError``, an unknown event name given to
``unsubscribe`` is also a ``KeyError``.
"""

from __future__ import annotations

from opensips.mi.errors import OpenSIPSMIException


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


class OpenSIPSEventMIError(OpenSIPSEventException, OpenSIPSMIException):
    """The MI call of a subscription failed: OpenSIPS said no, or could not be reached."""


class OpenSIPSEventArgumentError(OpenSIPSEventException, ValueError):
    """An event name, expiry, port or transport that cannot be used."""


class OpenSIPSEventNotSubscribed(OpenSIPSEventException, KeyError):
    """``unsubscribe(name)`` for an event this handler has no subscription to."""

    def __str__(self) -> str:  # KeyError would quote the message
        return Exception.__str__(self)
