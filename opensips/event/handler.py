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

import atexit
import logging
import math
import os
import socket
import threading
import time
import weakref
from typing import Any, Callable, Iterable, Protocol

from .address import ListenAddress
from .errors import (OpenSIPSEventArgumentError, OpenSIPSEventException, OpenSIPSEventMIError,
                     OpenSIPSEventNotSubscribed)
from .listener import Listener, TCPStreamListener, UDPListener, UnixDatagramListener
from .subscription import (ACTIVE, EXPIRED, FAILED, LIVE_STATES, RETRYING, STOPPED, WANTED_STATES,
                           OpenSIPSEvent)

log = logging.getLogger("opensips.event")

DEFAULT_PERMANENT_EXPIRE = 300   # seconds asked of OpenSIPS for a "permanent" subscription
DEFAULT_REFRESH_INTERVAL = 60.0  # renew that often: five chances before it lapses
DEFAULT_WATCH_INTERVAL = 1.0     # look that often whether OpenSIPS still holds our subscriptions
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
    are kept alive), ``watch_interval`` (seconds between checks that OpenSIPS
    still lists us, so a restart is healed at once; 0 turns it off),
    ``allowed_sources`` (source IPs accepted),
    ``on_state_change`` (``callable(event, state)``), ``socket_mode`` (chmod of
    the UNIX socket file; by default OpenSIPS's user may write it, see
    ``_unix_access``) and ``max_buffer`` (TCP bytes without a complete
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
        watch = kwargs.get("watch_interval")
        self.watch_interval = float(DEFAULT_WATCH_INTERVAL if watch is None else watch)
        if not self.watch_interval >= 0:
            raise ValueError(f"watch_interval must be >= 0, not {watch!r}")
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
        self._next_watch = 0.0
        self._watch_turn = -1
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

    def check_subscriptions(self) -> None:
        """Look now (not at the next watch) whether OpenSIPS still holds our subscriptions.

        Returns at once; the refresher thread asks OpenSIPS and subscribes
        again whatever it lost. For callers that learnt of a restart
        themselves, e.g. from ``uptime``'s "Up since".
        """
        with self._lock:
            self._next_watch = 0.0
            self._watch_turn = -1
        self._wake.set()

    async def subscribe_iter(self, event: str, expires: int | None = None, *,
                             expire: int | None = None, maxsize: int = 10000) -> Any:
        """asyncio: subscribe without blocking the loop; returns an AsyncSubscription to iterate."""
        from .aio import subscribe_iter

        return await subscribe_iter(self, event, expires, expire=expire, maxsize=maxsize)

    def close(self) -> None:
        """Unsubscribe everything and stop every thread; errors are logged, not raised.

        The listening socket is closed first (at once, whatever OpenSIPS does),
        then OpenSIPS is told; one MI timeout is enough to give up on the rest.
        """
        from opensips.mi import OpenSIPSMIConnectionError

        with self._lock:
            self._closed = True
            subs = list(self._subs)
        pairs = list(dict.fromkeys((s.event, s.socket) for s in subs if s.state in WANTED_STATES))
        ended = [ev for ev in subs if self._end(ev, STOPPED)]
        self._shutdown_listener()
        for ev in ended:
            ev._announce()
        for event, sock in pairs:
            try:
                with self._mi_lock:
                    self._sync(event, sock)
            except OpenSIPSEventException as exc:
                log.warning("close: %s", exc)
                if isinstance(exc.cause, OpenSIPSMIConnectionError):
                    break  # one MI timeout is enough: don't pay it once per subscription
        self._wake.set()
        refresher = self._refresher
        if refresher is not None and refresher is not threading.current_thread():
            refresher.join(1.0)
        if self._own_mi and self._mi is not None:
            try:
                self._mi.close()
            except Exception:  # pragma: no cover - best effort
                pass

    def _release(self, timeout: float = 1.0) -> None:
        """Stop listening and remove the socket, without a word to OpenSIPS (interpreter exit)."""
        with self._lock:
            self._closed = True
            subs = list(self._subs)
        for ev in subs:
            ev._change(STOPPED)
        with self._lock:
            self._subs.clear()
            self._rebuild_routes()
        self._shutdown_listener(timeout)
        self._wake.set()

    def __enter__(self) -> "OpenSIPSEventHandler":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<OpenSIPSEventHandler {self._type} {self._socket or 'not listening'} subs={len(self._subs)}>"

    # -- subscription lifecycle (called by OpenSIPSEvent) ---------------------
    #
    # Every change follows the same two steps: change our own view first (under
    # _lock), then _sync() the (event, socket) pair it touched: one
    # event_subscribe, under _mi_lock, with the expiry that covers every
    # subscription still wanting that pair, computed when the call is made
    # (0 when none does). Whatever order racing threads run in, the last call
    # OpenSIPS gets was computed from our final view, so the two agree.

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
                changed = self._sync(ev.event, ev.socket)
        except OpenSIPSEventException:
            if not self._end(ev, STOPPED):  # never was active: nobody to tell
                ev._change(STOPPED)
            raise
        self._ensure_refresher()
        for s in changed:
            s._announce()

    def _unsubscribe(self, ev: OpenSIPSEvent) -> None:
        if not self._end(ev, STOPPED):
            return
        ev._announce()
        with self._mi_lock:
            changed = self._sync(ev.event, ev.socket)
        for s in changed:
            s._announce()

    def _resubscribe(self, ev: OpenSIPSEvent) -> None:
        """Renew ``ev`` now instead of at its next refresh (0.1.11's ``resubscribe()``).

        An explicit expiry starts again from now, as 0.1.11's new subscription did.
        """
        if ev.state not in LIVE_STATES:
            raise OpenSIPSEventException(f"the subscription to {ev.event} is {ev.state}: subscribe again")
        with self._mi_lock:
            if ev.expires is not None:
                ev._deadline = None
            changed = self._sync(ev.event, ev.socket)
        for s in changed:
            s._announce()
        self._wake.set()

    def _stop(self, ev: OpenSIPSEvent) -> None:
        """Local only: never waits for the network (a refresh in flight may still renew it once)."""
        if self._end(ev, STOPPED):
            ev._announce()

    def _end(self, ev: OpenSIPSEvent, state: str) -> bool:
        """Take ``ev`` out (closing the listener after the last one), then give it its final state.

        In that order: whoever sees the final state finds the address free
        already (a fixed port can be bound again). False when ``ev`` was no
        longer attached or already ended: someone else ended it.
        """
        with self._lock:
            if ev not in self._subs:
                return False
            self._subs.remove(ev)
            self._rebuild_routes()
            last = not self._subs
        if last:
            self._shutdown_listener()
        self._wake.set()
        return ev._change(state)

    def _fail(self, subs: list[OpenSIPSEvent], exc: BaseException) -> None:
        """A thread they depend on died: say so in their state, stop them, withdraw them in OpenSIPS."""
        pairs = set()
        for ev in subs:
            ev.last_error = exc
            if self._end(ev, FAILED):
                pairs.add((ev.event, ev.socket))
                ev._announce()
        for event, sock in sorted(pairs, key=str):
            self._sync_quietly(event, sock)

    def _listener_died(self, sock: str, exc: BaseException) -> None:
        with self._lock:
            subs = [s for s in self._subs if s.socket == sock]
        log.error("the listener on %s died: its %d subscription(s) failed", sock, len(subs))
        self._fail(subs, exc)

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
                uid, gid, mode = self._unix_access()
                listener = UnixDatagramListener(self.socket_path, mode=mode, owner=(uid, gid), **kwargs)
            else:
                listener = UDPListener(self.ip, self.port, **kwargs)
        except OSError as exc:
            where = self.socket_path or f"{self.ip}:{self.port}"
            raise OpenSIPSEventException(f"cannot listen on {where}: {exc}", exc) from exc
        if isinstance(listener, UnixDatagramListener):
            sock = ListenAddress(f"unix:{listener.path}", listener.sock)
        else:
            assert isinstance(listener, (TCPStreamListener, UDPListener))  # the only other kinds
            host, port = listener.address
            if host in _ANY:
                host = self.advertise_ip or route_ip(getattr(self.mi, "remote_host", None))
            proto = "tcp" if self._type == "stream" else "udp"
            sock = ListenAddress(f"{proto}:{host}:{port}", listener.sock, host, port)
        listener.on_death = lambda exc: self._listener_died(sock, exc)
        self._socket = sock
        self._listener = listener
        _track(self)
        listener.start()

    def _unix_access(self) -> tuple[int, int, int]:
        """(uid, gid, mode) of our UNIX socket file: OpenSIPS must be able to write it, others not.

        OpenSIPS sends as its own user, usually not ours. When MI goes through
        a file of OpenSIPS's (its FIFO, its UNIX socket), that file's owner is
        OpenSIPS's user: as root we give the socket to that user (0600); in its
        group, we share it through the group (0620); otherwise, and when MI is
        http or UDP and OpenSIPS's user is unknown, anyone may send (0622),
        no more than anyone may send to a UDP listener. ``socket_mode``
        overrides all this.
        """
        if self.socket_mode is not None:
            return -1, -1, self.socket_mode
        from opensips.mi.transport import access_for

        server = _opensips_file(self.mi)
        if server is None:
            return -1, -1, 0o622
        change = access_for(server)
        if change is None:
            return -1, -1, 0o600
        uid, gid, mode = change
        return uid, gid, 0o600 if mode is None else mode

    def _shutdown_listener(self, timeout: float = 1.0) -> None:
        with self._lock:
            listener = self._listener
            if self._subs and not self._closed:
                return
            self._listener = None
            self._socket = None
            if listener is not None:
                listener.routes.clear()
        if listener is not None:
            listener.stop(timeout)

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
    def _cover(self, subs: list[OpenSIPSEvent], now: float) -> int:
        """The expiry that covers every one of ``subs`` (0: none left, i.e. unsubscribe)."""
        if not subs:
            return 0
        left = []
        for s in subs:
            if s.expires is None:
                return self.permanent_expire
            left.append(s.expires if s._deadline is None else math.ceil(s._deadline - now))
        return max(1, *left)

    def _sync(self, event: str, sock: str | None) -> list[OpenSIPSEvent]:
        """Tell OpenSIPS what we want of ``event`` on ``sock`` now; the caller holds _mi_lock.

        Returns the subscriptions whose state changed (to announce once no lock
        is held); raises OpenSIPSEventException when OpenSIPS says no.
        """
        with self._lock:
            subs = [s for s in self._subs if s.event == event and s.socket == sock
                    and s.state in WANTED_STATES]
            expire = self._cover(subs, time.monotonic())
        try:
            self._mi_call(event, sock, expire)
        except OpenSIPSEventException as exc:
            for s in subs:
                s.last_error = exc.cause
            raise
        now, wall = time.monotonic(), time.time()
        changed = []
        for s in subs:
            s.last_subscription = wall
            if s.expires is None:
                s._next_refresh = now + (self.refresh_interval or 1.0)
                s._backoff = 0.0
            elif s._deadline is None:
                s._deadline = now + s.expires
            s.last_error = None
            if s._change(ACTIVE):
                changed.append(s)
        return changed

    def _sync_quietly(self, event: str, sock: str | None) -> None:
        """_sync() from a thread with nobody to raise to: errors are logged."""
        try:
            with self._mi_lock:
                changed = self._sync(event, sock)
        except OpenSIPSEventException as exc:
            log.warning("%s", exc)
            return
        for s in changed:
            s._announce()

    def _mi_call(self, event: str, sock: str | None, expire: int) -> None:
        """event_subscribe; every failure becomes OpenSIPSEventException with the cause."""
        from opensips.mi import OpenSIPSMICommandError

        params = {"event": event, "socket": sock, "expire": expire}
        what = "unsubscribe from" if expire == 0 else "subscribe to"
        try:
            result = self.mi.execute("event_subscribe", params)
        except Exception as exc:  # the MI client's typed errors, and anything a custom one raises
            hint = ""
            if isinstance(exc, OpenSIPSMICommandError) and exc.code == 400 and expire:
                hint = " (unknown event, or a socket OpenSIPS cannot use?)"
            raise OpenSIPSEventMIError(f"cannot {what} {event} on {sock}: {exc}{hint}", exc) from exc
        if result not in ("OK", "ok"):
            log.debug("event_subscribe %s answered %r", event, result)

    # -- refresher thread ------------------------------------------------------
    def _ensure_refresher(self) -> None:
        with self._lock:
            if self._refresher is not None:
                self._wake.set()
                return
            self._next_watch = time.monotonic() + (self.watch_interval or 0.0)
            self._refresher = threading.Thread(target=self._refresh_guarded, name="opensips-event-refresh",
                                               daemon=True)
            self._refresher.start()

    def _refresh_guarded(self) -> None:
        """The refresher's body; if it ever dies, its subscriptions say so (state ``failed``)."""
        try:
            self._refresh_loop()
        except BaseException as exc:
            log.exception("the subscription refresher died")
            with self._lock:
                if self._refresher is threading.current_thread():
                    self._refresher = None
                subs = [s for s in self._subs if s.state in WANTED_STATES]
            self._fail(subs, exc)

    def _refresh_loop(self) -> None:
        while True:
            self._wake.clear()  # before looking, so a set() from now on is never missed
            with self._lock:
                live = [s for s in self._subs if s.state in LIVE_STATES]
                if self._closed or not live:
                    if self._refresher is threading.current_thread():
                        self._refresher = None   # decided under the lock _ensure_refresher takes
                    return
            try:
                self._refresh_round(live)
            except Exception:  # a bug or a strange MI client: say so, keep refreshing
                log.exception("refreshing subscriptions failed; trying again in 1 s")
                self._wake.wait(1.0)
                continue
            now = time.monotonic()
            with self._lock:
                wakes = [s._deadline if s._deadline is not None else s._next_refresh
                         for s in self._subs if s.state in LIVE_STATES]
            if self.watch_interval:
                wakes.append(self._next_watch)
            delay = min(wakes) - now if wakes else 0.0
            self._wake.wait(max(0.0, min(delay, 5.0)))

    def _refresh_round(self, live: list[OpenSIPSEvent]) -> None:
        now = time.monotonic()
        for ev in live:
            if ev._deadline is not None and ev._deadline <= now:
                self._expire(ev)
        due = {(s.event, s.socket): None for s in live
               if s.expires is None and s.state in LIVE_STATES and s._next_refresh <= now}
        for event, sock in due:
            self._refresh(event, sock)
        if self.watch_interval and time.monotonic() >= self._next_watch:
            self._watch()
            self._next_watch = time.monotonic() + self.watch_interval

    def _refresh(self, event: str, sock: str | None) -> None:
        """Renew one (event, socket) pair; on failure its permanent subscriptions go ``retrying``."""
        from opensips.mi import OpenSIPSMIException

        changed: list[OpenSIPSEvent] = []
        with self._mi_lock:
            try:
                changed = self._sync(event, sock)
            except OpenSIPSEventException as exc:
                with self._lock:
                    subs = [s for s in self._subs if s.event == event and s.socket == sock
                            and s.expires is None and s.state in LIVE_STATES]
                now = time.monotonic()
                interval = self.refresh_interval or 1.0
                for ev in subs:
                    ev._backoff = (min(ev._backoff * 2, max(MAX_BACKOFF, interval)) if ev._backoff
                                   else min(1.0, interval))
                    ev._next_refresh = now + ev._backoff
                    if ev._change(RETRYING):
                        changed.append(ev)
                if changed:  # a traceback when it is not an MI error (a bug, or a custom connector)
                    log.warning("refreshing %s failed, retrying: %s", event, exc,
                                exc_info=None if isinstance(exc.cause, OpenSIPSMIException) else exc.cause)
        for s in changed:
            if s.state == ACTIVE:
                log.info("subscribed to %s on %s again", s.event, s.socket)
            s._announce()

    def _watch(self) -> None:
        """Is OpenSIPS still holding our subscriptions? It forgets them all when it restarts.

        One cheap ``subscribers_list`` for one (event, socket) pair, a different
        pair each time: when OpenSIPS no longer lists it (a restart, however
        short) or MI answers again after failing, every pair is subscribed
        again at once, instead of at the next refresh (up to a minute away).
        """
        from opensips.mi import OpenSIPSMICommandError

        with self._lock:
            pairs = sorted({(s.event, s.socket or "") for s in self._subs if s.state in LIVE_STATES})
            retrying = [s for s in self._subs if s.state == RETRYING]
        if not pairs:
            return
        self._watch_turn = (self._watch_turn + 1) % len(pairs)
        event, sock = pairs[self._watch_turn]
        try:
            listed = self.mi.execute("subscribers_list", {"event": event, "socket": sock})
        except OpenSIPSMICommandError as exc:
            if exc.code != 404:  # not "Subscriber does not exist" / "Event not published"
                log.info("cannot watch subscriptions (subscribers_list: %s); relying on refreshes", exc)
                self.watch_interval = 0.0
                return
            log.warning("OpenSIPS no longer lists %s on %s (restarted?): subscribing again", event, sock)
        except Exception as exc:  # unreachable: OpenSIPS is down (or restarting)
            self._unreachable(exc)
            return
        else:
            if not _withdrawn(listed) and not retrying:
                return
            if _withdrawn(listed):
                log.warning("OpenSIPS lists %s on %s as expired: subscribing again", event, sock)
        for pair in pairs:
            self._refresh(*pair)

    def _unreachable(self, exc: BaseException) -> None:
        """MI does not answer: nothing we subscribed can be counted on; say ``retrying``."""
        with self._lock:
            subs = [s for s in self._subs if s.state == ACTIVE]
        changed = []
        for s in subs:
            s.last_error = exc
            if s._change(RETRYING):
                changed.append(s)
        if changed:
            log.warning("OpenSIPS MI does not answer (%s): %d subscription(s) retrying", exc, len(changed))
        for s in changed:
            s._announce()

    def _expire(self, ev: OpenSIPSEvent) -> None:
        """An explicit ``expires`` ran out: tell the callback once, and OpenSIPS what is left."""
        if not self._end(ev, EXPIRED):
            return
        ev._notify(None)
        ev._announce()
        self._sync_quietly(ev.event, ev.socket)


class Withdrawable(Protocol):
    """What the exit hook needs: an event handler, or anything else OpenSIPS sends to (a HEP trace).

    ``close()`` withdraws from OpenSIPS and closes the socket; ``_release()``
    closes the socket without a word to OpenSIPS, once the exit budget is spent.
    """

    _closed: bool
    _listener: Any

    def close(self) -> None: ...

    def _release(self, timeout: float = 1.0) -> None: ...


_open: "weakref.WeakSet[Withdrawable]" = weakref.WeakSet()
_open_lock = threading.Lock()
EXIT_BUDGET = 1.0   # seconds a process may spend withdrawing subscriptions at exit
EXIT_NETWORK_WAIT = 0.5   # of which at most this waiting for OpenSIPS; the rest is for the interpreter


def _track(handler: Withdrawable) -> None:
    """Remember a handler (or trace) that listens, so the process withdraws it at exit."""
    with _open_lock:
        if not _open:
            atexit.unregister(_close_all_at_exit)
            atexit.register(_close_all_at_exit)
        _open.add(handler)


def _close_all_at_exit() -> None:
    """At interpreter exit: unsubscribe every handler's subscriptions, remove UNIX sockets; 1 s at most.

    The unsubscribes run in parallel threads; whatever OpenSIPS has not
    answered by the deadline is left to lapse, but the listening sockets (and
    their files) are always closed here, without waiting for the network.
    """
    deadline = time.monotonic() + EXIT_NETWORK_WAIT
    with _open_lock:
        handlers = [h for h in _open if not h._closed or h._listener is not None]
    threads = [threading.Thread(target=h.close, name="opensips-event-exit", daemon=True) for h in handlers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    for h in handlers:
        h._release(timeout=max(0.05, deadline - time.monotonic()))


def _withdrawn(listed: Any) -> bool:
    """A ``subscribers_list`` entry for our socket that no longer delivers (expire 0, ttl "expired")."""
    entry = (listed.get("Event") or {}).get("Subscriber") if isinstance(listed, dict) else None
    return isinstance(entry, dict) and (entry.get("expire") == 0 or entry.get("ttl") == "expired")


def _opensips_file(mi: Any) -> os.stat_result | None:
    """The stat of the FIFO or UNIX socket MI goes through (made by OpenSIPS, as its user), if any."""
    kind, _, path = str(getattr(mi, "target", "") or "").partition(":")
    if kind not in ("fifo", "unix") or not path:
        return None
    try:
        return os.stat(path)
    except OSError:
        return None


def _as_port(value: Any) -> int:
    try:
        port = int(value or 0)
    except (TypeError, ValueError):
        raise OpenSIPSEventArgumentError(f"port must be a number, not {value!r}") from None
    if not 0 <= port <= 65535:
        raise OpenSIPSEventArgumentError(f"port out of range: {port}")
    return port


withdraw_at_exit = _track  # the public name, for other packages whose OpenSIPS-side state must not outlive us
