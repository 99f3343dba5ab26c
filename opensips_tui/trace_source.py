"""The trace screen's source of packets: :class:`opensips.hep.session.TraceSession`.

A session starts once, so each start of the screen's trace is a new session on the same MI
client. The session owns the receiver (bound no wider than OpenSIPS needs, fed only by it) and
every exit path of the tracer, including interpreter exit; this adapter only maps the start
dialog's options onto it and hands its warnings to the screen.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from opensips.hep import HepPacket
from opensips.hep.session import TraceSession

from .trace_control import TraceOptions

__all__ = ["SessionSource"]


class SessionSource:
    """:class:`~opensips_tui.trace_control.TraceSource` over ``TraceSession`` (UDP HEP)."""

    def __init__(self, mi: Any, **session: Any) -> None:
        self.mi = mi
        self.session_kwargs = session          # e.g. listen_ip, transport (tests, fleets)
        self.session: TraceSession | None = None
        self._lock = threading.Lock()
        # Set by TraceControl: called (any thread) with a one-line reason when a running
        # session's receiver died and the session withdrew the trace by itself.
        self.on_failed: Callable[[str], None] | None = None

    def start(self, options: TraceOptions, on_packet: Callable[[HepPacket], None]) -> str:
        """Raises ``opensips.hep.session.TraceError`` (shown by the screen) when it cannot start."""
        filters = options.filters()
        session = TraceSession(self.mi, on_packet, filters=filters,
                               scope=options.scope if filters else None, **self.session_kwargs)
        session.on_failed = lambda exc: self._failed(session, exc)
        session.start()
        with self._lock:
            self.session = session
        detail = f"{session.uri.split(';')[0]} · {options.describe()}"
        return "\n".join([detail, *session.warnings])

    def _failed(self, session: TraceSession, exc: BaseException) -> None:
        with self._lock:
            if self.session is not session:
                return                     # an old session, already stopped by us
            self.session = None
        on_failed = self.on_failed
        if on_failed is not None:
            why = str(exc) or type(exc).__name__
            tail = f"; {session.warnings[-1]}" if session.left_running and session.warnings else ""
            on_failed(f"the HEP receiver stopped ({why}); the trace was withdrawn{tail}")

    def stop(self) -> str:
        with self._lock:
            session, self.session = self.session, None
        if session is None:
            return ""
        session.close()
        return "\n".join(session.warnings[-2:])

    def close(self) -> None:
        """The screen is gone: stop any trace and close the MI client."""
        self.stop()
        close = getattr(self.mi, "close", None)
        if close is not None:
            close()
