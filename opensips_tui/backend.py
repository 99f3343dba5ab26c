"""The app's one door to OpenSIPS: the MI client and the event handler.

Every method blocks on the network, so the app calls them from worker threads only and
gets the outcome back as a message. Notifications and state changes go to the
:class:`~opensips_tui.feed.Feed` straight from the listener threads. Errors come out as
:class:`BackendError` with a one-line reason fit for the status bar; never a traceback.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from opensips.mi import OpenSIPSMI, OpenSIPSMICommandError, OpenSIPSMIException

from .config import Settings
from .feed import Feed


class BackendError(Exception):
    """An MI or subscription failure, already worded for the operator."""


class Restarted(BackendError):
    """OpenSIPS answers, but it restarted since we last looked ("Up since" changed)."""


def reason(exc: BaseException) -> str:
    """A short operator-facing reason for ``exc`` (payload text is cleaned where shown)."""
    if isinstance(exc, OpenSIPSMICommandError):
        return f"OpenSIPS answered {exc.code} {exc.message}"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if text.strip() else type(exc).__name__


def handler_kwargs(event: dict[str, Any]) -> dict[str, Any]:
    """``OpenSIPSEventHandler`` kwargs from the settings' event table (transport, listen_ip, ...)."""
    kwargs: dict[str, Any] = {"_type": event.get("transport", "datagram")}
    for ours, theirs in (("listen_ip", "ip"), ("listen_port", "port"),
                         ("socket_path", "socket_path"), ("refresh_interval", "refresh_interval")):
        if event.get(ours) is not None:
            kwargs[theirs] = event[ours]
    return kwargs


class Backend:
    """Owns one MI client for its own calls and one event handler (with its own MI client)."""

    def __init__(self, settings: Settings, feed: Feed, owned: list[Any] | None = None,
                 node: str | None = None,
                 on_state: Callable[[str, str], None] | None = None) -> None:
        self.settings = settings
        self.feed = feed
        self.node = node               # pushed with every notification (None: one OpenSIPS)
        self.on_state = on_state       # (event, state); default: straight to the feed
        self.uptime: dict[str, Any] = {}   # the last ping's uptime answer (Up since, Up time)
        self._owned = owned or []      # e.g. the demo simulator, stopped at close()
        self._lock = threading.Lock()  # one MI call at a time on our client
        self._mi: OpenSIPSMI | None = None
        self._handler: Any = None  # OpenSIPSEventHandler, created at the first subscribe
        self._subs: dict[str, Any] = {}
        self._closed = False
        self._up_since: str | None = None   # uptime's "Up since" at the last ping
        self._server: str | None = None     # version's "Server", asked again after a restart
        self._sub_lock = threading.Lock()  # one subscribe/unsubscribe at a time
        self._lock_close = threading.Lock()
        self._closer: threading.Thread | None = None
        self.target = self._describe_target()

    def current_target(self) -> str:
        """Where calls go now (a FIFO connector says which of its two FIFOs exists)."""
        self.target = self._describe_target()
        return self.target

    def _describe_target(self) -> str:
        try:
            return self._client().target
        except (OpenSIPSMIException, OSError, ValueError, TypeError) as exc:
            return f"{self.settings.conn} ({reason(exc)})"

    def _client(self) -> OpenSIPSMI:
        if self._mi is None:
            self._mi = OpenSIPSMI(self.settings.conn, **self.settings.mi)
        return self._mi

    def _call(self, cmd: str, params: Any = None) -> Any:
        with self._lock:
            if self._closed:
                raise BackendError("closing")
            try:
                return self._client().execute(cmd, params)
            except (OpenSIPSMIException, OSError, ValueError, TypeError) as exc:
                raise BackendError(reason(exc)) from None

    # -- MI --------------------------------------------------------------------------
    def ping(self) -> str:
        """The server string of ``version``; raises BackendError when unreachable.

        Each ping asks ``uptime``: when its "Up since" changed, OpenSIPS restarted
        in between, however briefly, and lost every subscription: Restarted is
        raised (once), and the event handler is told to look at once.
        """
        up = self._call("uptime")
        self.uptime = dict(up) if isinstance(up, dict) else {}
        since = str(up.get("Up since", "")) if isinstance(up, dict) else ""
        was, self._up_since = self._up_since, since
        restarted = was is not None and since != was
        if self._server is None or restarted:
            result = self._call("version")
            self._server = str(result.get("Server", "")) if isinstance(result, dict) else str(result)
        if restarted:
            handler = self._handler
            if handler is not None:
                handler.check_subscriptions()
            raise Restarted(f"OpenSIPS restarted (up since {since})")
        return self._server

    @property
    def server(self) -> str | None:
        """``version``'s "Server" as of the last ping (None before the first good one)."""
        return self._server

    def events_list(self) -> list[str]:
        result = self._call("events_list")
        events = result.get("Events") if isinstance(result, dict) else None
        if not isinstance(events, list):
            raise BackendError("events_list: unexpected answer")
        return [str(e["name"]) for e in events if isinstance(e, dict) and "name" in e]

    # -- subscriptions -----------------------------------------------------------------
    def _ensure_handler(self) -> Any:
        if self._handler is None:
            from opensips.event import OpenSIPSEventHandler

            mi = OpenSIPSMI(self.settings.conn, **self.settings.mi)
            self._owned.insert(0, mi)
            self._handler = OpenSIPSEventHandler(mi=mi, on_state_change=self._state_changed,
                                                 **handler_kwargs(self.settings.event))
        return self._handler

    def _state_changed(self, ev: Any, state: str) -> None:
        if self.on_state is not None:
            self.on_state(getattr(ev, "event", "?"), state)
        else:
            self.feed.set_state(getattr(ev, "event", "?"), state)

    def subscribe(self, event: str) -> str:
        """Subscribe ``event``; returns its state (``active``, or ``retrying`` when pending)."""
        with self._sub_lock:
            if self._closed:
                raise BackendError("closing")
            try:
                handler = self._ensure_handler()
                node, push = self.node, self.feed.push
                sub = handler.subscribe(event, lambda notification: push(event, notification, node))
            except Exception as exc:  # the handler's typed errors and socket errors alike
                raise BackendError(reason(exc)) from None
            self._subs[event] = sub
        return str(getattr(sub, "state", "active"))

    def unsubscribe(self, event: str) -> None:
        with self._sub_lock:
            sub = self._subs.pop(event, None)
            if sub is None or self._handler is None:
                return
            try:
                self._handler.unsubscribe(event)
            except Exception as exc:
                raise BackendError(reason(exc)) from None

    def states(self) -> dict[str, str]:
        return {name: str(getattr(sub, "state", "?")) for name, sub in list(self._subs.items())}

    @property
    def listen_address(self) -> str | None:
        handler = self._handler
        if handler is None:
            return None
        try:
            address = handler.listen_address
        except Exception:
            return None
        return str(address) if address else None

    def close(self, timeout: float = 2.0) -> None:
        """Unsubscribe everything, stop listeners, close clients, stop owned services.

        Runs on its own thread and waits at most ``timeout`` seconds, so quitting stays quick
        when OpenSIPS does not answer (the unsubscribes then time out in the background).
        """
        with self._lock_close:
            if self._closer is None:
                self._closed = True
                self._closer = threading.Thread(target=self._close_all, name="opensips-tui-close",
                                                daemon=True)
                self._closer.start()
        self._closer.join(timeout)

    def _close_all(self) -> None:
        handler, self._handler = self._handler, None
        if handler is not None:
            try:
                handler.close()
            except Exception:
                pass
        self._subs.clear()
        mi, self._mi = self._mi, None
        for thing in [mi, *self._owned]:
            if thing is None:
                continue
            try:
                (getattr(thing, "close", None) or thing.stop)()
            except Exception:
                pass
        self._owned = []
