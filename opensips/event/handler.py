"""``OpenSIPSEventHandler``: subscriptions of one MI connection, one listening socket.

The handler opens the listener on the first subscription and closes it when
the last one ends, so several events (also on a fixed ``port``) share one
socket and one thread; notifications are routed by ``method``. A refresher
thread keeps permanent subscriptions alive: OpenSIPS has no "forever", so we
subscribe with a finite expiry and renew it every ``refresh_interval``; when a
renewal fails (OpenSIPS restarted or unreachable) the subscription goes
``retrying`` and is resubscribed with backoff until OpenSIPS answers again.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from typing import Any, Callable, Iterable

from .address import ListenAddress
from .errors import (OpenSIPSEventArgumentError, OpenSIPSEventException, OpenSIPSEventMIError,
                     OpenSIPSEventNotSubscribed)
from .listener import Listener, TCPStreamListener, UDPListener, UnixDatagramListener
from .subscription import ACTIVE, EXPIRED, LIVE_STATES, RETRYING, STOPPED, OpenSIPSEvent

log = logging.getLogger("opensips.event")

DEFAULT_PERMANENT_EXPIRE = 300   # seconds asked of OpenSIPS for a "permanent" subscription
DEFAULT_REFRESH_INTERVAL = 60.0  # renew that often: five chances before it lapses
MAX_BACKOFF = 30.0
_ANY = ("", "0.0.0.0")

StateCallback = Callable[[OpenSIPSEvent, str], None]


def route_ip(remote_host: str | None) -> str:
    """The local IPv4 address that routes to ``remote_host`` (loopback when MI is local).

    A connected UDP socket sends nothing; the kernel just picks the source
    address. Never a lookup of our own hostname, which often resolves to
    127.0.1.1 or to the wrong interface.
    """
    if not remote_host or remote_host in ("localhost",) or remote_host.startswith("127."):
        return "127.0.0.1"
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((remote_host.strip("[]"), 9))
        return probe.getsockname()[0]
    except OSError as exc:
        log.warning("cannot find the local address routing to %s (%s); advertising 127.0.0.1",
                    remote_host, exc)
        return "127.0.0.1"
    finally:
        probe.close()


class OpenSIPSEventHandler:
    """Subscribes to OpenSIPS events over one MI connector and listens for them.

    ``_type`` is ``"datagram"`` (UDP, or UNIX datagram when ``socket_path`` is
    given) or ``"stream"`` (TCP, event_stream). Keyword options: ``ip``
    (default ``"0.0.0.0"``), ``port`` (0 = any free port), ``socket_path``
    (alias ``unix_path``), ``advertise_ip`` (what OpenSIPS is told when bound to
    0.0.0.0; default: the local address routing to the MI host),
    ``refresh_interval`` and ``permanent_expire`` (how permanent subscriptions
    are kept alive), ``allowed_sources`` (source IPs accepted),
    ``on_state_change`` (``callable(event, state)``), ``socket_mode`` (chmod of
    the UNIX socket file) and ``max_buffer`` (TCP bytes without a complete
    object before the connection is dropped).
    """

    def __init__(self, mi: Any = None, _type: str = "datagram", **kwargs: Any) -> None:
        kind = (_type or "datagram").strip().lower() if isinstance(_type, str) else _type
        if kind not in ("datagram", "stream"):
            raise OpenSIPSEventArgumentError(f"unknown event transport {_type!r}: use 'datagram' or 'stream'")
        self._type = kind
        self.kwargs = dict(kwargs)  # as given (0.1.11 kept them under this name)
        self._mi = mi
        self._own_mi = mi is None
        self.ip = str(kwargs.get("ip") or "0.0.0.0")
        self.port = _as_port(kwargs.get("port", 0))
        self.socket_path: str | None = kwargs.get("socket_path") or kwargs.get("unix_path") or None
        if self.socket_path is not None and kind == "stream":
            raise OpenSIPSEventArgumentError("socket_path is for the datagram transport; stream is TCP only")
        self.advertise_ip: str | None = kwargs.get("advertise_ip") or None
        refresh = kwargs.get("refresh_interval")
        permanent = kwargs.get("permanent_expire")
        self.refresh_interval = float(refresh) if refresh is not None else None
        if self.refresh_interval is not None and not self.refresh_interval > 0:
            raise ValueError(f"refresh_interval must be > 0, not {refresh!r}")
        if permanent is not None:
            self.permanent_expire = int(permanent)
        elif self.refresh_interval is not None:
            self.permanent_expire = max(2, math.ceil(3 * self.refresh_interval))
        else:
            self.permanent_expire = DEFAULT_PERMANENT_EXPIRE
        if self.refresh_interval is None:
            self.refresh_interval = min(DEFAULT_REFRESH_INTERVAL, self.permanent_expire / 3)
        if self.permanent_expire < 1 or self.refresh_interval >= self.permanent_expire:
            raise ValueError(f"refresh_interval ({self.refresh_interval}s) must be shorter than "
                             f"permanent_expire ({self.permanent_expire}s)")
        allowed: Iterable[str] | None = kwargs.get("allowed_sources")
        if isinstance(allowed, str):
            allowed = [allowed]
        self.allowed_sources = frozenset(allowed) if allowed else None
        self._on_state_change: StateCallback | None = kwargs.get("on_state_change")
        self.socket_mode: int | None = kwargs.get("socket_mode")
        self.max_buffer = int(kwargs.get("max_buffer") or (1 << 20))

        self._lock = threading.RLock()      # subscriptions, routes, listener
        self._mi_lock = threading.Lock()    # serialises MI calls: an unsubscribe is never overtaken by a refresh
        self._subs: list[OpenSIPSEvent] = []
        self._listener: Listener | None = None
        self._socket: ListenAddress | None = None
        self._refresher: threading.Thread | None = None
        self._wake = threading.Event()
        self._closed = False

    # -- public API ----------------------------------------------------------
    @property
    def mi(self) -> Any:
        """The MI connector (a fifo ``OpenSIPSMI`` created on first use when none was given)."""
        if self._mi is None:
            from opensips.mi import OpenSIPSMI

            self._mi = OpenSIPSMI("fifo")
        return self._mi

    @property
    def transport(self) -> str:
        return self._type

    @property
    def listen_address(self) -> str | None:
        """The socket string OpenSIPS was told (``udp:IP:PORT``, ``unix:/path``, ``tcp:IP:PORT``)."""
        return self._socket

    @property
    def subscriptions(self) -> list[OpenSIPSEvent]:
        with self._lock:
            return list(self._subs)

    @property
    def listener(self) -> Listener | None:
        return self._listener

    @property
    def events(self) -> dict[str, Any]:
        """Event name -> its latest live subscription (a snapshot, as 0.1.11's ``events``)."""
        with self._lock:
            return {s.event: s.wrapper or s for s in self._subs if s.state in LIVE_STATES}

    def subscribe(self, event_name: str | None = None, callback: Callable[[Any], None] | None = None,
                  expire: int | None = None, *, expires: int | None = None,
                  event: str | None = None) -> OpenSIPSEvent:
        """Subscribe ``callback`` to an event; raises OpenSIPSEventException if OpenSIPS says no.

        ``expire`` (0.1.11's name) and ``expires`` are the same: seconds, or
        None for a permanent subscription that the handler keeps renewing.
        """
        return OpenSIPSEvent(self, event_name, callback, expire, expires=expires, event=event)

    def async_subscribe(self, event_name: str, callback: Callable[[Any], Any], expire: int | None = None,
                        *, expires: int | None = None) -> Any:
        """asyncio, as in 0.1.11: a plain call inside a running loop; ``callback`` runs on the loop.

        Returns an ``AsyncOpenSIPSEvent``. For ``await``/``async for`` access
        use ``await subscribe_iter(...)``.
        """
        from .asyncevent import AsyncOpenSIPSEvent

        return AsyncOpenSIPSEvent(self, event_name, callback, expire, expires=expires)

    def unsubscribe(self, event: str) -> None:
        """Unsubscribe every subscription of ``event`` made through this handler.

        An event with no subscription raises ``OpenSIPSEventNotSubscribed``
        (an ``OpenSIPSEventException`` and a ``KeyError``, which 0.1.11 raised).
        """
        with self._lock:
            mine = [s for s in self._subs if s.event == event]
        if not mine:
            raise OpenSIPSEventNotSubscribed(f"not subscribed to {event}")
        errors = []
        for ev in mine:
            try:
                self._unsubscribe(ev)
            except OpenSIPSEventException as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    async def subscribe_iter(self, event: str, expires: int | None = None, *,
                             expire: int | None = None, maxsize: int = 10000) -> Any:
        """asyncio: subscribe without blocking the loop; returns an AsyncSubscription to iterate."""
        from .aio import subscribe_iter

        return await subscribe_iter(self, event, expires, expire=expire, maxsize=maxsize)

    def close(self) -> None:
        """Unsubscribe everything and stop every thread; errors are logged, not raised."""
        with self._lock:
            self._closed = True
            subs = list(self._subs)
        from opensips.mi import OpenSIPSMIConnectionError

        unreachable = False
        for ev in subs:
            if unreachable:  # one MI timeout is enough: don't pay it once per subscription
                self._stop(ev)
                continue
            try:
                self._unsubscribe(ev)
            except OpenSIPSEventException as exc:
                log.warning("close: %s", exc)
                unreachable = isinstance(exc.cause, OpenSIPSMIConnectionError)
        self._shutdown_listener()
        self._wake.set()
        refresher = self._refresher
        if refresher is not None and refresher is not threading.current_thread():
            refresher.join(1.0)
        if self._own_mi and self._mi is not None:
            try:
                self._mi.close()
            except Exception:  # pragma: no cover - best effort
                pass

    def __enter__(self) -> "OpenSIPSEventHandler":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<OpenSIPSEventHandler {self._type} {self._socket or 'not listening'} subs={len(self._subs)}>"

    # -- subscription lifecycle (called by OpenSIPSEvent) ---------------------
    def _attach(self, ev: OpenSIPSEvent) -> None:
        with self._lock:
            if self._closed:
                raise OpenSIPSEventException("handler is closed")
            self._ensure_listener()
            ev.socket = self._socket
            self._subs.append(ev)
            self._rebuild_routes()
        try:
            with self._mi_lock:
                self._mi_call(ev, self._expire_for(ev))
        except OpenSIPSEventException:
            ev.state = STOPPED  # never was active: nobody to tell
            self._detach(ev)
            raise
        now = time.monotonic()
        ev._next_refresh = now + (self.refresh_interval or 0)
        if ev.expires is not None:
            ev._deadline = now + ev.expires
        ev._set_state(ACTIVE)
        self._ensure_refresher()

    def _unsubscribe(self, ev: OpenSIPSEvent) -> None:
        error: BaseException | None = None
        changed = False
        with self._mi_lock:
            with self._lock:
                attached = ev in self._subs
                others = [s for s in self._subs if s is not ev and s.event == ev.event
                          and s.state in LIVE_STATES]
            if attached:
                changed = ev._change(STOPPED)
                if changed and not others:
                    try:
                        self._mi_call(ev, 0)
                    except OpenSIPSEventException as exc:
                        error = exc
        if attached:
            self._detach(ev)
        if changed:
            ev._announce(STOPPED)
        if error is not None:
            raise error

    def _resubscribe(self, ev: OpenSIPSEvent) -> None:
        """Renew ``ev`` now instead of at its next refresh (0.1.11's ``resubscribe()``)."""
        with self._mi_lock:
            if ev.state not in LIVE_STATES:
                raise OpenSIPSEventException(f"the subscription to {ev.event} is {ev.state}: subscribe again")
            self._mi_call(ev, self._expire_for(ev))
            now = time.monotonic()
            ev._backoff = 0.0
            ev._next_refresh = now + (self.refresh_interval or 1.0)
            if ev.expires is not None:
                ev._deadline = now + ev.expires
            changed = ev._change(ACTIVE)
        if changed:
            ev._announce(ACTIVE)
        self._wake.set()

    def _stop(self, ev: OpenSIPSEvent) -> None:
        with self._mi_lock:  # wait for an in-flight refresh so it cannot resubscribe after us
            changed = ev._change(STOPPED)
        self._detach(ev)
        if changed:
            ev._announce(STOPPED)

    def _detach(self, ev: OpenSIPSEvent) -> None:
        with self._lock:
            if ev in self._subs:
                self._subs.remove(ev)
            self._rebuild_routes()
            last = not self._subs
        if last:
            self._shutdown_listener()
        self._wake.set()

    # -- listener --------------------------------------------------------------
    def _ensure_listener(self) -> None:
        if self._listener is not None and self._listener.running:
            return
        kwargs = {"on_garbage": self._on_garbage, "allowed_sources": self.allowed_sources}
        try:
            if self._type == "stream":
                listener: Listener = TCPStreamListener(self.ip, self.port, max_buffer=self.max_buffer,
                                                       **kwargs)
            elif self.socket_path:
                listener = UnixDatagramListener(self.socket_path, mode=self.socket_mode, **kwargs)
            else:
                listener = UDPListener(self.ip, self.port, **kwargs)
        except OSError as exc:
            where = self.socket_path or f"{self.ip}:{self.port}"
            raise OpenSIPSEventException(f"cannot listen on {where}: {exc}", exc) from exc
        if isinstance(listener, UnixDatagramListener):
            self._socket = ListenAddress(f"unix:{listener.path}", listener.sock)
        else:
            assert isinstance(listener, (TCPStreamListener, UDPListener))  # the only other kinds
            host, port = listener.address
            if host in _ANY:
                host = self.advertise_ip or route_ip(getattr(self.mi, "remote_host", None))
            proto = "tcp" if self._type == "stream" else "udp"
            self._socket = ListenAddress(f"{proto}:{host}:{port}", listener.sock, host, port)
        self._listener = listener
        listener.start()

    def _shutdown_listener(self) -> None:
        with self._lock:
            listener = self._listener
            if self._subs and not self._closed:
                return
            self._listener = None
            self._socket = None
            if listener is not None:
                listener.routes.clear()
        if listener is not None:
            listener.stop()

    def _rebuild_routes(self) -> None:
        """The listener thread reads ``routes`` without a lock; single-key updates are atomic."""
        routes: dict[str, tuple] = {}
        for s in self._subs:
            routes[s.event] = routes.get(s.event, ()) + (s.callback,)
        if self._listener is not None:
            live = self._listener.routes  # the listener holds this very dict: update it key by key
            for event, callbacks in routes.items():
                if live.get(event) != callbacks:
                    live[event] = callbacks
            for event in [e for e in live if e not in routes]:
                live.pop(event, None)

    def _on_garbage(self) -> None:
        with self._lock:
            subs = [s for s in self._subs if s.state in LIVE_STATES]
        for s in subs:
            s._notify(None)

    # -- MI --------------------------------------------------------------------
    def _expire_for(self, ev: OpenSIPSEvent) -> int:
        """The expiry to ask for: a permanent subscription of the same event on our socket wins."""
        with self._lock:
            if ev.expires is None or any(s.expires is None and s.event == ev.event and s is not ev
                                         and s.state in LIVE_STATES for s in self._subs):
                return self.permanent_expire
        return ev.expires

    def _mi_call(self, ev: OpenSIPSEvent, expire: int) -> None:
        """event_subscribe; every failure becomes OpenSIPSEventException with the cause."""
        from opensips.mi import OpenSIPSMICommandError, OpenSIPSMIException

        params = {"event": ev.event, "socket": ev.socket, "expire": expire}
        what = "unsubscribe from" if expire == 0 else "subscribe to"
        try:
            result = self.mi.execute("event_subscribe", params)
        except OpenSIPSMIException as exc:
            hint = ""
            if isinstance(exc, OpenSIPSMICommandError) and exc.code == 400 and expire:
                hint = " (unknown event, or a socket OpenSIPS cannot use?)"
            ev.last_error = exc
            raise OpenSIPSEventMIError(f"cannot {what} {ev.event} on {ev.socket}: {exc}{hint}",
                                       exc) from exc
        if expire:
            ev.last_subscription = time.time()
        if result not in ("OK", "ok"):
            log.debug("event_subscribe %s answered %r", ev.event, result)

    # -- refresher thread ------------------------------------------------------
    def _ensure_refresher(self) -> None:
        with self._lock:
            if self._refresher is not None and self._refresher.is_alive():
                self._wake.set()
                return
            self._refresher = threading.Thread(target=self._refresh_loop, name="opensips-event-refresh",
                                               daemon=True)
            self._refresher.start()

    def _refresh_loop(self) -> None:
        while True:
            self._wake.clear()  # before looking, so a set() from now on is never missed
            with self._lock:
                subs = [s for s in self._subs if s.state in LIVE_STATES]
                if self._closed or not subs:
                    if self._refresher is threading.current_thread():
                        self._refresher = None
                    return
            now = time.monotonic()
            for ev in subs:
                if ev._deadline is not None and ev._deadline <= now:
                    self._expire(ev)
                elif ev._deadline is None and ev._next_refresh <= now:
                    self._refresh(ev)
            now = time.monotonic()
            with self._lock:
                wakes = [s._deadline if s._deadline is not None else s._next_refresh
                         for s in self._subs if s.state in LIVE_STATES]
            delay = min(wakes) - now if wakes else 0.0
            self._wake.wait(max(0.0, min(delay, 5.0)))

    def _refresh(self, ev: OpenSIPSEvent) -> None:
        """Renew one permanent subscription; on failure go ``retrying`` with backoff."""
        with self._mi_lock:
            if ev.state not in LIVE_STATES:
                return
            try:
                self._mi_call(ev, self._expire_for(ev))
            except OpenSIPSEventException as exc:
                interval = self.refresh_interval or 1.0
                ev._backoff = (min(ev._backoff * 2, max(MAX_BACKOFF, interval)) if ev._backoff
                               else min(1.0, interval))
                ev._next_refresh = time.monotonic() + ev._backoff
                if ev.state == ACTIVE:
                    log.warning("refreshing %s failed, retrying: %s", ev.event, exc)
                changed_to = RETRYING
            else:
                ev._backoff = 0.0
                ev._next_refresh = time.monotonic() + (self.refresh_interval or 1.0)
                ev.last_error = None
                if ev.state == RETRYING:
                    log.info("resubscribed to %s on %s", ev.event, ev.socket)
                changed_to = ACTIVE
            changed = ev._change(changed_to)
        if changed:
            ev._announce(changed_to)

    def _expire(self, ev: OpenSIPSEvent) -> None:
        """An explicit ``expires`` ran out: OpenSIPS drops it too; tell the callback once."""
        with self._mi_lock:
            changed = ev._change(EXPIRED)
        if changed:
            self._detach(ev)
            ev._notify(None)
            ev._announce(EXPIRED)


def _as_port(value: Any) -> int:
    try:
        port = int(value or 0)
    except (TypeError, ValueError):
        raise OpenSIPSEventArgumentError(f"port must be a number, not {value!r}") from None
    if not 0 <= port <= 65535:
        raise OpenSIPSEventArgumentError(f"port out of range: {port}")
    return port
