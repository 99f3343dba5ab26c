"""asyncio access to subscriptions: notifications in an asyncio queue, MI calls off the loop.

``await subscribe_iter(handler, event)`` gives an ``AsyncSubscription`` to
``await get()`` from or ``async for`` over. (``handler.async_subscribe(event,
callback)`` is the other asyncio style, 0.1.11's: see ``asyncevent``.)

Listener threads hand notifications over in batches: the thread appends to a
deque and schedules one drain on the loop only when none is pending, so a
burst costs one loop wake-up instead of one per event.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

from .handler import OpenSIPSEventHandler
from .subscription import OpenSIPSEvent

log = logging.getLogger("opensips.event")

_END = object()


class AsyncSubscription:
    """A subscription read with ``await ev.get()`` or ``async for note in ev``.

    Items are notification dicts, or ``None`` (10 unparsable reads in a row,
    or the end of an explicit ``expires``). Iteration ends when the
    subscription ends. When the queue is full (``maxsize``) the oldest item is
    dropped and counted in ``dropped``.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, maxsize: int = 10000) -> None:
        self._loop = loop
        self._pending: collections.deque = collections.deque()
        self._scheduled = False
        self._queue: collections.deque = collections.deque()
        self._maxsize = max(1, maxsize)
        self._ready = asyncio.Event()
        self._ended = False
        self.dropped = 0
        self.event_obj: OpenSIPSEvent | None = None

    # -- thread side -----------------------------------------------------------
    def _from_thread(self, item: Any) -> None:
        self._pending.append(item)
        if not self._scheduled:
            self._scheduled = True
            try:
                self._loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # loop closed: nobody is reading any more
                pass

    def _on_end(self, _ev: OpenSIPSEvent) -> None:
        self._from_thread(_END)

    # -- loop side -------------------------------------------------------------
    def _drain(self) -> None:
        self._scheduled = False
        pending = self._pending
        queue = self._queue
        while pending:
            queue.append(pending.popleft())
        while len(queue) > self._maxsize:
            queue.popleft()
            self.dropped += 1
        self._ready.set()

    async def get(self) -> dict | None:
        """The next notification (or None); raises EOFError once the subscription has ended."""
        while True:
            if self._queue:
                item = self._queue.popleft()
                if item is _END:
                    self._ended = True
                    self._queue.appendleft(_END)  # stay ended for later callers
                    raise EOFError(f"subscription to {self.event} ended ({self.state})")
                return item
            self._ready.clear()
            await self._ready.wait()

    def __aiter__(self) -> "AsyncSubscription":
        return self

    async def __anext__(self) -> dict | None:
        try:
            return await self.get()
        except EOFError:
            raise StopAsyncIteration from None

    # -- subscription ------------------------------------------------------------
    @property
    def event(self) -> str:
        return self.event_obj.event if self.event_obj else "?"

    @property
    def state(self) -> str:
        return self.event_obj.state if self.event_obj else "new"

    @property
    def socket(self) -> str | None:
        return self.event_obj.socket if self.event_obj else None

    async def unsubscribe(self) -> None:
        """event_subscribe with expire 0, run in a worker thread."""
        if self.event_obj is not None:
            await asyncio.to_thread(self.event_obj.unsubscribe)

    def stop(self) -> None:
        """Stop listening without telling OpenSIPS (does not block on the network)."""
        if self.event_obj is not None:
            self.event_obj.stop()

    async def __aenter__(self) -> "AsyncSubscription":
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.event_obj is not None and self.event_obj.active:
            await self.unsubscribe()

    def __repr__(self) -> str:
        return f"<AsyncSubscription {self.event} {self.socket or '-'} {self.state}>"


async def subscribe_iter(handler: OpenSIPSEventHandler, event: str, expires: int | None = None, *,
                         expire: int | None = None, maxsize: int = 10000) -> AsyncSubscription:
    """Subscribe from asyncio code; the MI call runs in a worker thread."""
    aev = AsyncSubscription(asyncio.get_running_loop(), maxsize)

    def subscribe() -> OpenSIPSEvent:
        ev = OpenSIPSEvent(handler, event, aev._from_thread, expire, expires=expires)
        return ev

    ev = await asyncio.to_thread(subscribe)
    aev.event_obj = ev
    ev._end_hooks.append(aev._on_end)
    if not ev.active:  # ended before the hook was in place
        aev._on_end(ev)
    return aev
