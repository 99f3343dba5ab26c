"""Start and stop the tracer for the trace screen, one MI step at a time, never twice at once.

The screen says what it wants (:meth:`TraceControl.want`: running with these options, or not
running) from the UI thread, which must never block on MI; a worker thread then calls
:meth:`TraceControl.converge`, which starts or stops the trace under one lock until it matches
the last wish. Wishes that change meanwhile (the operator leaves the screen while the start is
still on the wire) are honoured by the same loop, so a trace can never be left running by a
race between two workers. :meth:`TraceControl.close` is the exit path: it stops whatever runs,
synchronously, and is safe to call from any thread, any number of times.

No Textual here: ``on_state`` is a plain callback (the screen posts a message from it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Literal, Protocol

from opensips.hep import HepPacket

__all__ = ["TraceOptions", "TraceSource", "TraceControl", "TraceState", "SCOPES"]

TraceState = Literal["stopped", "starting", "running", "stopping", "failed"]

# tracer's scope: what each one traces (tests/fixtures/opensips-wire/4.0.1/hep/ README)
SCOPES = {"d": "dialogs: calls only (the tracer's default)",
          "t": "transactions: calls, REGISTER, OPTIONS",
          "m": "messages: received requests only, no replies"}


@dataclass(frozen=True, slots=True)
class TraceOptions:
    """The tracer's own filter (all given ones must match) and scope, from the start dialog."""

    caller: str = ""
    callee: str = ""
    ip: str = ""
    scope: str = "d"

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {self.scope!r}")
        for name in ("caller", "callee", "ip"):
            value = getattr(self, name)
            if any(c.isspace() or not c.isprintable() for c in value):
                raise ValueError(f"{name} must be one word of printable characters")
        if self.scope != "d" and not self.filters():
            # opensips.hep's TraceSession sends a scope only along with a filter
            raise ValueError(f"scope {self.scope} needs a filter (caller, callee or ip)")

    def filters(self) -> list[str]:
        """The tracer's ``filter`` list: ``["caller=alice", ...]`` (all must match)."""
        return [f"{n}={v}" for n, v in (("caller", self.caller), ("callee", self.callee), ("ip", self.ip)) if v]

    def describe(self) -> str:
        """``scope t, caller=alice`` (what the screen's headline shows)."""
        return ", ".join([f"scope {self.scope}", *self.filters()])


class TraceSource(Protocol):
    """What the screen needs from a trace session (opensips.hep's, or a test peer)."""

    def start(self, options: TraceOptions, on_packet: Callable[[HepPacket], None]) -> str:
        """Start tracing towards our receiver; raise on failure. Returns a one-line description
        for the headline, then any warnings for the operator, one per line."""

    def stop(self) -> str:
        """Stop for good (tracer and receiver); return "" or a warning for the operator.

        A source may also have ``close()``: called once when the screen goes, after ``stop``,
        and an ``on_failed`` attribute: the control sets it to :meth:`TraceControl.failed`,
        for a source whose running trace ends by itself (its receiver died)."""


class TraceControl:
    """See the module docstring."""

    def __init__(self, source: TraceSource, on_packet: Callable[[HepPacket], None],
                 on_state: Callable[[TraceState, str], None]) -> None:
        self.source = source
        self.on_packet = on_packet
        self.on_state = on_state
        self.state: TraceState = "stopped"
        self.options = TraceOptions()
        self._wanted: TraceOptions | None = None        # None: not running
        self._running: TraceOptions | None = None       # what the tracer runs with now
        self._lock = threading.Lock()                   # one start/stop at a time
        self._closed = False
        self._failure: str | None = None                # failed() while a start/stop held the lock
        if hasattr(source, "on_failed"):
            source.on_failed = self.failed

    def want(self, options: TraceOptions | None) -> None:
        """UI thread: run with ``options`` (or stop, for None) at the next :meth:`converge`."""
        if options is not None:
            self.options = options
        self._wanted = None if self._closed else options

    @property
    def wanted(self) -> bool:
        return self._wanted is not None

    def converge(self) -> None:
        """A worker thread: start/stop until the tracer runs as last wanted (or failed)."""
        with self._lock:
            for _ in range(4):          # a few changes of mind at most per call; a later worker does the rest
                wanted = self._wanted
                if wanted == self._running:
                    return
                if self._running is not None:
                    self._stop()
                elif wanted is not None:
                    if not self._start(wanted):
                        return

    def failed(self, reason: str) -> None:
        """Any thread: the running trace ended by itself (the source withdrew it): show "failed".

        Never waits for the lock (the source calls from its dying receiver thread): when a start
        or stop holds it, that step reports the failure when it ends."""
        if not self._lock.acquire(blocking=False):
            self._failure = reason
            return
        try:
            self._ended(reason)
        finally:
            self._lock.release()

    def _ended(self, reason: str) -> None:
        self._failure = None
        if self._running is None:
            return                     # stopped meanwhile: nothing runs, nothing to report
        self._running = None
        self._wanted = None            # not restarted behind the operator's back: `p` starts again
        self._set("failed", reason)

    def close(self) -> None:
        """Any thread, idempotent: never start again, and stop what runs now (blocks on MI)."""
        self._closed = True
        self._wanted = None
        self.converge()
        close = getattr(self.source, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - best effort on the way out (the trace is already stopped)
                pass

    def _start(self, options: TraceOptions) -> bool:
        self._failure = None
        self._set("starting", options.describe())
        try:
            detail = self.source.start(options, self.on_packet)
        except Exception as exc:  # noqa: BLE001 - any failure of MI or the receiver is shown, not raised
            self._wanted = None
            self._set("failed", f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))
            return False
        self._running = options
        self._set("running", detail)
        if self._failure is not None:   # the receiver died while we were still starting
            self._ended(self._failure)
            return False
        return True

    def _stop(self) -> None:
        self._set("stopping", "")
        try:
            warning = self.source.stop()
        except Exception as exc:  # noqa: BLE001 - shown; the session's own exit hooks stay armed
            warning = str(exc) or type(exc).__name__
        self._running = None
        self._failure = None           # a death reported while we stopped it: stopped is the news
        self._set("stopped", warning or "")

    def _set(self, state: TraceState, detail: str) -> None:
        self.state = state
        self.on_state(state, detail)
