"""``AsyncOpenSIPSEvent``: the asyncio subscription of the PyPI ``opensips`` 0.1.11.

``handler.async_subscribe(name, callback)`` is a plain call made inside a
running event loop; it returns at once with the listening socket bound
(``ev.socket.sock.getsockname()`` works, as the OpenSIPS AI voice connector
expects) and ``callback`` then runs on that loop for every notification. It
rides on an ordinary ``OpenSIPSEvent``: the handler's listener thread hands
each notification to the loop with ``call_soon_threadsafe``, and the handler's
refresher keeps a permanent subscription alive.

The first ``event_subscribe`` is made during the call (0.1.11 made it in a
task a moment later, on the loop as well), so a refusal raises right there,
where callers already catch ``OpenSIPSEventException``. A callback that is a
coroutine function is scheduled as a task.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import TYPE_CHECKING, Any, Callable

from .subscription import OpenSIPSEvent

if TYPE_CHECKING:  # pragma: no cover
    from .handler import OpenSIPSEventHandler

log = logging.getLogger("opensips.event")

# read from the OpenSIPSEvent underneath
_SHARED = frozenset({"handler", "name", "event", "expire", "expires", "reregister", "socket", "state",
                     "active", "last_subscription", "last_error"})


class AsyncOpenSIPSEvent:
    """A subscription whose ``callback(notification)`` runs on the asyncio loop it was made on.

    ``callback`` gets the whole notification dict, or ``None`` when an
    explicit ``expire`` ends or after 10 unparsable reads in a row. Outside a
    running loop the constructor raises ``RuntimeError``, as 0.1.11 did.
    """

    def __init__(self, handler: "OpenSIPSEventHandler", name: str | None = None,
                 callback: Callable[[Any], Any] | None = None, expire: int | None = None, *,
                 expires: int | None = None, event: str | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {callback!r}")
        self.callback = callback
        self._tasks: set[asyncio.Future] = set()
        self._sub = OpenSIPSEvent(handler, name, self._from_thread, expire, expires=expires, event=event)
        self._sub.wrapper = self

    # -- listener thread -> loop -------------------------------------------------
    def _from_thread(self, note: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._deliver, note)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            pass

    def _deliver(self, note: Any) -> None:
        try:
            result = self.callback(note)
        except Exception:
            log.exception("event callback for %s raised", self.name)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)  # keep a reference until it is done
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("event callback for %s raised", self.name, exc_info=task.exception())

    # -- the subscription ------------------------------------------------------------
    def __getattr__(self, attr: str) -> Any:
        """``name``, ``expire``, ``socket`` (``.sock`` is the bound socket), ``state``...: the subscription's."""
        if attr in _SHARED:
            return getattr(self._sub, attr)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")

    def unsubscribe(self) -> None:
        """event_subscribe with expire 0, then stop listening; raises OpenSIPSEventException.

        A plain call, as in 0.1.11: it waits for the MI answer.
        """
        self._sub.unsubscribe()

    def stop(self) -> None:
        """Stop listening without telling OpenSIPS."""
        self._sub.stop()

    async def resubscribe(self) -> None:
        """Renew now, the MI call in a worker thread; raises OpenSIPSEventException."""
        await asyncio.to_thread(self._sub.resubscribe)

    def __repr__(self) -> str:
        return f"<AsyncOpenSIPSEvent {self.name} {self.socket or '-'} {self.state}>"
