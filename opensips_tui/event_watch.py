"""One event subscription a screen holds only while it shows what that event changes. No Textual.

The console's dispatcher view subscribes ``E_DISPATCHER_STATUS`` while it is on screen, so a
destination changing state shows at once instead of at the next refresh; leaving the view or
the screen unsubscribes. The watch has its own handler (its own listening socket and MI client),
so the events screen's subscriptions and counts never see it.

Threads: :meth:`start` and :meth:`stop` block on MI (call them from workers); ``on_event`` runs
on the handler's listener thread (keep it short: post a message).
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from opensips.event import OpenSIPSEventHandler
from opensips.mi import OpenSIPSMI

from .backend import handler_kwargs


class EventWatch:
    """Subscribe ``event`` on demand; ``on_event(notification)`` for each one received."""

    def __init__(self, event: str, on_event: Callable[[Any], None], *, conn: str, mi: dict[str, Any],
                 listen: dict[str, Any]) -> None:
        self.event = event
        self.on_event = on_event
        self.conn = conn
        self.mi_kwargs = mi
        kwargs = handler_kwargs(listen)
        kwargs.pop("port", None)                 # a port of its own: the events screen may hold the fixed one
        if kwargs.get("socket_path"):
            kwargs["socket_path"] = f"{kwargs['socket_path']}.{event.lower()}"
        self.kwargs = kwargs
        self._lock = threading.Lock()
        self._handler: OpenSIPSEventHandler | None = None
        self._mi: OpenSIPSMI | None = None

    @property
    def active(self) -> bool:
        return self._handler is not None

    def start(self) -> None:
        """Subscribe (no-op when already); raises the handler's or MI's error when it cannot."""
        with self._lock:
            if self._handler is not None:
                return
            mi = OpenSIPSMI(self.conn, **self.mi_kwargs)
            handler = OpenSIPSEventHandler(mi=mi, **self.kwargs)
            try:
                handler.subscribe(self.event, self.on_event)
            except BaseException:
                handler.close()
                mi.close()
                raise
            self._handler, self._mi = handler, mi

    def stop(self) -> None:
        """Unsubscribe and close the socket (within about a second when OpenSIPS is gone)."""
        with self._lock:
            handler, mi, self._handler, self._mi = self._handler, self._mi, None, None
        if handler is not None:
            handler.close()
        if mi is not None:
            mi.close()
