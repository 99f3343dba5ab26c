"""One subscription to one OpenSIPS event: its state and what ends it.

States: ``active`` (OpenSIPS knows our socket), ``retrying`` (a refresh
failed, e.g. OpenSIPS restarted or is unreachable; the handler resubscribes
with backoff), ``expired`` (an explicit ``expires`` ran out) and ``stopped``
(unsubscribed, stopped or the handler closed). The handler owns sockets,
threads and the MI connection; this object only holds the per-subscription
facts and forwards the user's calls.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover
    from .handler import OpenSIPSEventHandler

log = logging.getLogger("opensips.event")

ACTIVE = "active"
RETRYING = "retrying"
EXPIRED = "expired"
STOPPED = "stopped"
LIVE_STATES = (ACTIVE, RETRYING)

EventCallback = Callable[[Any], None]


def _parse_expires(expires: Any) -> int | None:
    """None = permanent; otherwise a positive whole number of seconds (strings of digits accepted)."""
    if expires is None:
        return None
    if isinstance(expires, bool):
        raise ValueError(f"expires must be a number of seconds, not {expires!r}")
    try:
        value = float(expires)
    except (TypeError, ValueError):
        raise ValueError(f"expires must be a number of seconds, not {expires!r}") from None
    if value != value or value < 1:
        raise ValueError(f"expires must be at least 1 second (use unsubscribe() to end), not {expires!r}")
    return int(round(value))


class OpenSIPSEvent:
    """A subscription: creating it subscribes (through ``handler``), as ``handler.subscribe`` does.

    ``callback(notification)`` runs on the listener thread with the whole
    notification dict, or with ``None`` once when an explicit ``expires``
    ends and after 10 unparsable reads in a row.
    """

    def __init__(self, handler: "OpenSIPSEventHandler", event: str, callback: EventCallback,
                 expires: int | None = None, *, expire: int | None = None) -> None:
        if not isinstance(event, str) or not event.strip():
            raise ValueError(f"event must be a non-empty event name, not {event!r}")
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {callback!r}")
        if expires is not None and expire is not None and expires != expire:
            raise ValueError("give expires or its alias expire, not both")
        self.handler = handler
        self.event = event.strip()
        self.callback = callback
        self.expires = _parse_expires(expires if expires is not None else expire)
        self.state = "new"
        self.socket: str | None = None       # what OpenSIPS was told, e.g. "udp:127.0.0.1:40000"
        self.last_error: BaseException | None = None
        # scheduling, owned by the handler (monotonic seconds)
        self._next_refresh = 0.0
        self._deadline: float | None = None
        self._backoff = 0.0
        self._end_hooks: list[Callable[["OpenSIPSEvent"], None]] = []
        self._state_lock = threading.Lock()
        handler._attach(self)

    @property
    def permanent(self) -> bool:
        return self.expires is None

    @property
    def active(self) -> bool:
        return self.state in LIVE_STATES

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
            if self.state == state or self.state in (EXPIRED, STOPPED):
                return False
            self.state = state
            return True

    def _announce(self, state: str) -> None:
        """Tell on_state_change and the end hooks; called with no handler lock held."""
        notify = self.handler._on_state_change
        if notify is not None:
            try:
                notify(self, state)
            except Exception:
                log.exception("on_state_change callback raised")
        if state in (EXPIRED, STOPPED):
            for hook in list(self._end_hooks):
                try:
                    hook(self)
                except Exception:  # pragma: no cover - internal hooks
                    log.exception("end hook raised")

    def _set_state(self, state: str) -> bool:
        changed = self._change(state)
        if changed:
            self._announce(state)
        return changed

    def _notify(self, value: Any) -> None:
        try:
            self.callback(value)
        except Exception:
            log.exception("event callback for %s raised", self.event)
