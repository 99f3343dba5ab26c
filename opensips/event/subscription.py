"""One subscription to one OpenSIPS event: its state and what ends it.

States: ``new`` (being subscribed), ``active`` (OpenSIPS knows our socket),
``retrying`` (OpenSIPS is unreachable or lost the subscription, e.g. it
restarted; the handler resubscribes with backoff), and the final ones:
``expired`` (an explicit ``expires`` ran out), ``stopped`` (unsubscribed,
stopped or the handler closed) and ``failed`` (the listener or the refresher
died; ``last_error`` holds why, and the log has the traceback). The handler
owns sockets, threads and the MI connection; this object only holds the
per-subscription facts and forwards the user's calls.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Callable

from .errors import OpenSIPSEventArgumentError

if TYPE_CHECKING:  # pragma: no cover
    from .address import ListenAddress
    from .handler import OpenSIPSEventHandler

log = logging.getLogger("opensips.event")

NEW = "new"
ACTIVE = "active"
RETRYING = "retrying"
EXPIRED = "expired"
STOPPED = "stopped"
FAILED = "failed"
LIVE_STATES = (ACTIVE, RETRYING)
WANTED_STATES = (NEW, ACTIVE, RETRYING)   # what OpenSIPS should hold for us
FINAL_STATES = (EXPIRED, STOPPED, FAILED)

EventCallback = Callable[[Any], None]


def _parse_expires(expires: Any) -> int | None:
    """None = permanent; otherwise a positive whole number of seconds (strings of digits accepted)."""
    if expires is None:
        return None
    if isinstance(expires, bool):
        raise OpenSIPSEventArgumentError(f"expires must be a number of seconds, not {expires!r}")
    try:
        value = float(expires)
    except (TypeError, ValueError):
        raise OpenSIPSEventArgumentError(f"expires must be a number of seconds, not {expires!r}") from None
    if value != value or value < 1:
        raise OpenSIPSEventArgumentError(f"expires must be at least 1 second (use unsubscribe() to end), not {expires!r}")
    return int(round(value))


class OpenSIPSEvent:
    """A subscription: creating it subscribes (through ``handler``), as ``handler.subscribe`` does.

    ``callback(notification)`` runs on the listener thread with the whole
    notification dict, or with ``None`` once when an explicit ``expires``
    ends and after 10 unparsable reads in a row.

    The arguments keep the names of both APIs: ``name`` or ``event``,
    ``expire`` or ``expires`` (0.1.11 wrote ``OpenSIPSEvent(handler, name,
    callback, expire=None)``).
    """

    def __init__(self, handler: "OpenSIPSEventHandler", name: str | None = None,
                 callback: EventCallback | None = None, expire: int | None = None, *,
                 expires: int | None = None, event: str | None = None) -> None:
        if event is not None and name is not None and event != name:
            raise OpenSIPSEventArgumentError("give name or its alias event, not both")
        name = name if name is not None else event
        if not isinstance(name, str) or not name.strip():
            raise OpenSIPSEventArgumentError(f"event must be a non-empty event name, not {name!r}")
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {callback!r}")
        if expires is not None and expire is not None and expires != expire:
            raise OpenSIPSEventArgumentError("give expires or its alias expire, not both")
        self.handler = handler
        self.event = name.strip()
        self.callback = callback
        self.expires = _parse_expires(expires if expires is not None else expire)
        self.state = NEW
        # what OpenSIPS was told, e.g. "udp:127.0.0.1:40000"; also .sock, .sock_name, .ip, .port
        self.socket: ListenAddress | None = None
        self.last_error: BaseException | None = None
        self.last_subscription: float | None = None  # time.time() of the last accepted event_subscribe
        self.wrapper: Any = None  # the AsyncOpenSIPSEvent this one serves, if any
        # scheduling, owned by the handler (monotonic seconds)
        self._next_refresh = 0.0
        self._deadline: float | None = None
        self._backoff = 0.0
        self._end_hooks: list[Callable[["OpenSIPSEvent"], None]] = []
        self._state_lock = threading.Lock()
        self._announce_lock = threading.RLock()   # reentrant: a state callback may unsubscribe
        self._announced = NEW
        handler._attach(self)

    @property
    def permanent(self) -> bool:
        return self.expires is None

    @property
    def active(self) -> bool:
        return self.state in LIVE_STATES

    # -- the names of the PyPI opensips 0.1.11 ---------------------------------
    @property
    def name(self) -> str:
        """The event name (0.1.11's name for ``event``)."""
        return self.event

    @property
    def expire(self) -> int:
        """Seconds asked of OpenSIPS: ``expires``, or for a permanent subscription its renewal expiry."""
        return self.expires if self.expires is not None else self.handler.permanent_expire

    @property
    def reregister(self) -> bool:
        """True for a permanent subscription (renewed until unsubscribed)."""
        return self.expires is None

    @property
    def thread(self) -> threading.Thread | None:
        """The listener thread that calls ``callback`` (shared by the handler's subscriptions)."""
        listener = self.handler.listener
        return listener.thread if listener is not None and self.active else None

    def resubscribe(self) -> None:
        """Renew now (event_subscribe again; an explicit ``expires`` starts over). Raises OpenSIPSEventException."""
        self.handler._resubscribe(self)

    def check_subscription(self) -> None:
        """Have the handler's refresher look now: renew if due, end it if its ``expires`` ran out."""
        self.handler._wake.set()

    def unsubscribe(self) -> None:
        """Tell OpenSIPS (event_subscribe with expire 0), then stop listening. Raises OpenSIPSEventException."""
        self.handler._unsubscribe(self)

    def stop(self) -> None:
        """Stop listening without talking to OpenSIPS (it stops sending when the subscription lapses)."""
        self.handler._stop(self)

    def __enter__(self) -> "OpenSIPSEvent":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.active:
            self.unsubscribe()

    def __repr__(self) -> str:
        exp = "permanent" if self.expires is None else f"expires={self.expires}"
        return f"<OpenSIPSEvent {self.event} {self.socket or '-'} {exp} {self.state}>"

    # -- called by the handler ----------------------------------------------
    def _change(self, state: str) -> bool:
        """Change state without telling anyone (callers may hold locks); final states stay final."""
        with self._state_lock:
            if self.state == state or self.state in FINAL_STATES:
                return False
            self.state = state
            return True

    def _announce(self) -> None:
        """Tell on_state_change (and the end hooks) the current state; called with no handler lock held.

        Threads that changed the state announce it afterwards, possibly out of
        order; each announcement reads the state under a lock and skips what
        was already told, so the last state told is always the current one.
        """
        with self._announce_lock:
            state = self.state
            if state == self._announced:
                return
            self._announced = state
            notify = self.handler._on_state_change
            if notify is not None:
                try:
                    notify(self, state)
                except Exception:
                    log.exception("on_state_change callback raised")
            if state in FINAL_STATES:
                for hook in list(self._end_hooks):
                    try:
                        hook(self)
                    except Exception:  # pragma: no cover - internal hooks
                        log.exception("end hook raised")

    def _set_state(self, state: str) -> bool:
        changed = self._change(state)
        if changed:
            self._announce()
        return changed

    def _notify(self, value: Any) -> None:
        try:
            self.callback(value)
        except Exception:
            log.exception("event callback for %s raised", self.event)
