"""Published events and their subscribers, with OpenSIPS's expiry rules.

A subscription lives `expire` seconds; `expire=0` is the unsubscribe: the entry is still listed
(ttl "expired") and still receives events for about one second, then it is removed lazily on
the next raise or list, like evi does.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass, field

DEFAULT_EXPIRE = 3600

_HOSTPORT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9.\-]*):(\d+)$")


class BadSocket(ValueError):
    """The subscription socket string is not one OpenSIPS accepts."""


@dataclass(frozen=True)
class Target:
    """Where notifications for one subscription go."""

    proto: str                      # "udp" | "unix" | "tcp"
    host: str = ""
    port: int = 0
    path: str = ""
    method: str | None = None       # tcp:HOST:PORT/method overrides the JSON-RPC method

    @property
    def address(self) -> tuple[str, int] | str:
        return self.path if self.proto == "unix" else (self.host, self.port)


def parse_socket(sock: str) -> Target:
    """Parse `udp:IP:PORT`, `unix:/path` or `tcp:IP:PORT[/method]` (case sensitive, IPv4)."""
    proto, sep, rest = sock.partition(":")
    if not sep or proto not in ("udp", "unix", "tcp") or not rest:
        raise BadSocket(sock)
    if proto == "unix":
        return Target("unix", path=rest)
    method = None
    if proto == "tcp" and "/" in rest:
        rest, _, method = rest.partition("/")
        if not method:
            method = None
    m = _HOSTPORT.match(rest)
    if not m:
        raise BadSocket(sock)
    port = int(m.group(2))
    if not 0 < port < 65536:
        raise BadSocket(sock)
    host = m.group(1)
    try:
        ip = socket.gethostbyname(host)
    except OSError as exc:
        raise BadSocket(sock) from exc
    return Target(proto, host=ip, port=port, method=method)


@dataclass
class Subscriber:
    event: str
    socket: str
    target: Target
    expire: int
    since: float = field(default_factory=time.monotonic)

    def ttl(self, now: float) -> int | str:
        if self.expire == 0:
            return "expired"
        return max(0, self.expire - int(now - self.since))

    def gone(self, now: float) -> bool:
        """Lazily removable: one second past its expiry (evi works in whole seconds)."""
        return now - self.since >= self.expire + 1

    def as_dict(self, now: float) -> dict:
        return {"socket": self.socket, "expire": self.expire, "ttl": self.ttl(now)}


class Registry:
    """Events (name -> id) and subscribers, newest subscriber first as evi lists them."""

    def __init__(self, events: list[str]) -> None:
        self.events: dict[str, int] = {name: i for i, name in enumerate(events)}
        self._subs: dict[str, list[Subscriber]] = {}
        self._lock = threading.Lock()

    def publish(self, name: str) -> int:
        with self._lock:
            if name not in self.events:
                self.events[name] = len(self.events)
            return self.events[name]

    def event_list(self) -> list[tuple[str, int]]:
        """(name, id) of every published event, by id."""
        with self._lock:
            return sorted(self.events.items(), key=lambda kv: kv[1])

    def clear(self) -> None:
        with self._lock:
            self._subs.clear()

    def subscribe(self, event: str, sock: str, expire: int = DEFAULT_EXPIRE) -> Subscriber:
        """Add or update (same event and socket string) a subscription."""
        if event not in self.events:
            raise KeyError(event)
        target = parse_socket(sock)
        now = time.monotonic()
        with self._lock:
            subs = self._subs.setdefault(event, [])
            self._purge(subs, now)
            for sub in subs:
                if sub.socket == sock:
                    sub.expire, sub.since, sub.target = expire, now, target
                    return sub
            sub = Subscriber(event, sock, target, expire, now)
            subs.insert(0, sub)
            return sub

    @staticmethod
    def _purge(subs: list[Subscriber], now: float) -> None:
        subs[:] = [s for s in subs if not s.gone(now)]

    def active(self, event: str) -> list[Subscriber]:
        """Subscribers that would receive `event` now (after lazy removal)."""
        now = time.monotonic()
        with self._lock:
            subs = self._subs.get(event)
            if not subs:
                return []
            self._purge(subs, now)
            return list(subs)

    def listing(self) -> list[tuple[str, int, list[dict]]]:
        """(event, id, subscriber dicts) for every event that has subscribers, in event id order."""
        now = time.monotonic()
        out = []
        with self._lock:
            for name, eid in sorted(self.events.items(), key=lambda kv: kv[1]):  # under the lock
                subs = self._subs.get(name)
                if subs:
                    self._purge(subs, now)
                if subs:
                    out.append((name, eid, [s.as_dict(now) for s in subs]))
        return out

    def of_event(self, event: str) -> list[dict]:
        now = time.monotonic()
        with self._lock:
            subs = self._subs.get(event) or []
            self._purge(subs, now)
            return [s.as_dict(now) for s in subs]

    def flat(self) -> list[dict]:
        """Every subscriber as one dict (Python API)."""
        out = []
        for name, eid, subs in self.listing():
            for s in subs:
                out.append({"event": name, "id": eid, **s})
        return out
