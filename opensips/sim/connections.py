"""TCP connections and pike's blocked IPs of the simulated OpenSIPS.

Connections open with the traffic (clients registering and calling over TCP, TLS or WS) and
close when a generated ``E_CORE_TCP_DISCONNECT`` says so, or when they sat idle for the
connection lifetime; either way the disconnect event names the connection that left
``tcp:list``. The view follows net/net_tcp.c ``mi_tcp_list_conns`` and
tests/fixtures/opensips-wire/4.0.1/ops/tcp_list.json.

Pike lists an IP from the E_PIKE_BLOCKED that blocked it until it stays quiet for
:data:`PIKE_REMOVE_LATENCY` seconds (pike's remove_latency), as ``{"IPs": ["a.b.c.d", ...]}``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from .table import Table

LIFETIME = 120               # tcp_connection_lifetime default, seconds
OPEN_CHANCE = 0.1            # chance that a generated event opens a connection (disconnects: 2 in 31)
LIMIT = 60                   # open connections at most
LOCAL = ("127.0.0.1", 5060)
PROTOS = ("tcp", "tcp", "tcp", "tls", "ws")
# parse_proto() names tcp:list accepts as its "proto" filter ("any" means no filter)
KNOWN_PROTOS = {"any", "udp", "tcp", "tls", "sctp", "ws", "wss", "bin", "bins", "hep_udp",
                "hep_tcp", "smpp", "msrp", "msrps", "ipsec"}
PIKE_REMOVE_LATENCY = 120.0  # pike remove_latency default, seconds
PIKE_LIMIT = 50

Event = tuple[str, dict]


@dataclass
class Connection:
    id: int
    proto: str
    remote: tuple[str, int]
    last_used: float

    def mi(self) -> dict[str, Any]:
        lifetime = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.last_used + LIFETIME))
        return {"ID": self.id, "Type": self.proto, "State": 0,
                "Remote": f"{self.remote[0]}:{self.remote[1]}", "Local": f"{LOCAL[0]}:{LOCAL[1]}",
                "Lifetime": lifetime, "Alias port": self.remote[1]}

    def disconnect(self) -> dict[str, Any]:
        return {"src_ip": self.remote[0], "src_port": self.remote[1], "dst_ip": LOCAL[0],
                "dst_port": LOCAL[1], "proto": self.proto}


class Connections(Table):
    """Open TCP connections and the pike blocked list."""

    def __init__(self, clock: Callable[[], float] = time.time, seed: int | None = None) -> None:
        super().__init__(clock, seed)
        self._conns: dict[int, Connection] = {}
        self._blocked: dict[str, float] = {}
        self._next_scan = 0.0    # idle connections are looked for once a second

    def reset(self) -> None:
        with self._lock:
            self._conns.clear()
            self._blocked.clear()
            self._next_scan = 0.0

    # -- traffic ---------------------------------------------------------------------------
    def activity(self) -> list[Event]:
        """One generated event's worth of traffic: maybe a new connection, maybe some reused."""
        r = self._rng
        with self._lock:
            now = self._clock()
            out = self._expire(now)
            if r.random() < OPEN_CHANCE and len(self._conns) < LIMIT:
                conn = Connection(r.getrandbits(31), r.choice(PROTOS),
                                  (f"10.{r.randrange(0, 4)}.{r.randrange(0, 256)}.{r.randrange(1, 255)}",
                                   r.randrange(20000, 60000)), now)
                self._conns[conn.id] = conn
            if self._conns and r.random() < 0.5:
                self._conns[r.choice(list(self._conns))].last_used = now
            return out

    def disconnect(self, params: dict) -> dict:
        """A generated E_CORE_TCP_DISCONNECT: the params of the connection it closes (the
        generator's own when none is open: one opened and closed between two looks)."""
        with self._lock:
            if not self._conns:
                return params
            conn = self._conns.pop(self._rng.choice(list(self._conns)))
            return conn.disconnect()

    def _expire(self, now: float) -> list[Event]:
        if now < self._next_scan:
            return []
        self._next_scan = now + 1.0
        gone = [c for c in self._conns.values() if now - c.last_used >= LIFETIME]
        for c in gone:
            del self._conns[c.id]
        return [("E_CORE_TCP_DISCONNECT", c.disconnect()) for c in gone]

    def expire(self) -> list[Event]:
        with self._lock:
            return self._expire(self._clock())

    def listing(self, proto: str | None = None) -> dict:
        with self._lock:
            conns = sorted(self._conns.values(), key=lambda c: c.id)
        if proto is not None and proto.lower() != "any":
            conns = [c for c in conns if c.proto == proto.lower()]
        return {"Connections": [c.mi() for c in conns]}

    # -- pike ------------------------------------------------------------------------------
    def block(self, ip: str) -> None:
        with self._lock:
            self._blocked.pop(ip, None)
            self._blocked[ip] = self._clock()
            while len(self._blocked) > PIKE_LIMIT:
                self._blocked.pop(next(iter(self._blocked)))

    def blocked(self) -> list[str]:
        with self._lock:
            now = self._clock()
            for ip in [ip for ip, at in self._blocked.items() if now - at >= PIKE_REMOVE_LATENCY]:
                del self._blocked[ip]
            return list(self._blocked)
