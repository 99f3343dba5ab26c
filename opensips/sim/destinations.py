"""Dispatcher sets and load_balancer destinations of the simulated OpenSIPS, and the gateways
behind them: one of them is flaky, so its state flaps and the status events fire.

The state rules are those of OpenSIPS 4.0.1, not a guess (modules/dispatcher/dispatch.c
``_ds_set_state``, ``ds_options_callback``, ``ds_check_timer``; dispatcher.c ``ds_mi_set``;
load_balancer.c ``mi_lb_status_1``):

- a destination is Active, Probing or Inactive (flags INACTIVE and PROBING; Inactive wins);
- ``set_state p`` and a negative probe reply only count a failure until ``ds_probing_threshold``
  (3) failures, then set Probing; the count is reset only by a 200 probe reply;
- the pinger probes, every :data:`PING_INTERVAL` seconds, the destinations that are not
  Inactive and are Probing or always probed; a 200 makes them Active again;
- every flag change raises E_DISPATCHER_STATUS with ``status`` "inactive" when a flag was set
  (Probing too) and "active" when one was cleared, and the ``reason``;
- load_balancer destinations are enabled or disabled; a failed probe disables one, a good
  probe enables it again unless it was disabled by MI (auto-reenable off).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from .table import Table

INACTIVE, PROBING, RESET_FAIL = 1, 2, 4
PROBING_THRESHOLD = 3        # ds_probing_threshold default
PING_INTERVAL = 5.0          # ds_ping_interval / lb probing_interval, seconds
MAX_CATCH_UP = 3             # probe rounds run at once after a long pause
FLAP = 0.15                  # chance per probe round that the flaky gateway changes its mind

Event = tuple[str, dict]


@dataclass
class Gateway:
    """A SIP peer behind the proxy: does it answer OPTIONS?"""

    host: str
    description: str
    answers: bool = True
    flaky: bool = False


# The simulated network: two gateways (the second flaps), voicemail, and a host nobody runs.
GATEWAYS = [
    Gateway("10.0.0.11:5060", "gateway A"),
    Gateway("10.0.0.12:5060", "gateway B (flaky)", flaky=True),
    Gateway("10.0.1.21:5060", "voicemail"),
    Gateway("10.0.1.22:5060", "backup voicemail (nothing listens)", answers=False),
]


@dataclass
class DsDestination:
    gateway: Gateway
    always_probe: bool = False
    flags: int = 0
    failures: int = 0
    first_hits: int = 0

    @property
    def uri(self) -> str:
        return "sip:" + self.gateway.host

    @property
    def state(self) -> str:
        if self.flags & INACTIVE:
            return "Inactive"
        return "Probing" if self.flags & PROBING else "Active"


@dataclass
class LbDestination:
    id: int
    group: int
    gateway: Gateway
    max_calls: int = 100
    probed: bool = False
    disabled: bool = False
    no_reenable: bool = False

    @property
    def uri(self) -> str:
        return "sip:" + self.gateway.host


class Destinations(Table):
    """The dispatcher partition ``default`` and the load_balancer table, with their pinger."""

    def __init__(self, clock: Callable[[], float] = time.time, seed: int | None = None) -> None:
        super().__init__(clock, seed)
        self.sets: dict[int, list[DsDestination]] = {}
        self.balancers: list[LbDestination] = []
        self.reset()

    def reset(self) -> None:
        """A restart: the tables as loaded from the database, the dead host already probing."""
        a, b, vm, dead = (Gateway(g.host, g.description, g.answers, g.flaky) for g in GATEWAYS)
        with self._lock:
            self._gateways = [a, b, vm, dead]
            self.sets = {1: [DsDestination(a), DsDestination(b, always_probe=True)],
                         2: [DsDestination(vm), DsDestination(dead, always_probe=True,
                                                              flags=PROBING, failures=PROBING_THRESHOLD)]}
            self.balancers = [LbDestination(1, 1, a), LbDestination(2, 1, b, probed=True),
                              LbDestination(3, 2, vm), LbDestination(4, 2, dead, probed=True,
                                                                    disabled=True)]
            self._next_ping = self._clock() + PING_INTERVAL
            self._turn = 0

    # -- dispatcher state (modules/dispatcher/dispatch.c) ----------------------------------
    def _set(self, group: int, dst: DsDestination, address: str, state: int, on: bool,
             count: bool, reason: str) -> list[Event]:
        """``_ds_set_state``: returns the E_DISPATCHER_STATUS it raises (none or one)."""
        if state == PROBING and on:
            if dst.flags & INACTIVE:
                return []            # "already inactive": probing ignored
            if count:
                dst.failures += 1
                if dst.failures < PROBING_THRESHOLD:
                    return []
                dst.failures = PROBING_THRESHOLD
        if state & RESET_FAIL:
            dst.failures = 0
            state &= ~RESET_FAIL
        old = dst.flags
        dst.flags = dst.flags | state if on else dst.flags & ~state
        if dst.flags == old:
            return []
        return [("E_DISPATCHER_STATUS", {"group": group, "address": address,
                                         "status": "inactive" if on else "active",
                                         "reason": reason})]

    def _find(self, group: int, address: str) -> DsDestination | None:
        for dst in self.sets.get(group, []):
            if dst.uri.lower() == address.lower():
                return dst
        return None

    def set_state(self, state: str, group: int, address: str) -> list[Event] | None:
        """``dispatcher:set_state`` once its params are checked: None when not found."""
        with self._lock:
            dst = self._find(group, address)
            if dst is None:
                return None
            why = "MI command"
            if state == "a":
                return self._set(group, dst, address, INACTIVE | PROBING, False, True, why)
            if state == "p":
                return (self._set(group, dst, address, PROBING, True, True, why)
                        + self._set(group, dst, address, INACTIVE, False, True, why))
            return (self._set(group, dst, address, INACTIVE, True, True, why)
                    + self._set(group, dst, address, PROBING, False, True, why))

    def ds_listing(self, full: bool) -> dict:
        with self._lock:
            sets = []
            for group, dsts in self.sets.items():
                items = []
                for d in dsts:
                    item: dict[str, Any] = {"URI": d.uri, "state": d.state,
                                            "first_hit_counter": d.first_hits}
                    if full:
                        item.update({"weight": 1, "priority": 0,
                                     "description": d.gateway.description})
                    item["resolved_addresses"] = [d.gateway.host]
                    items.append(item)
                sets.append({"id": group, "Destinations": items})
        return {"PARTITIONS": [{"name": "default", "SETS": sets}]}

    # -- load_balancer (modules/load_balancer/load_balancer.c) -----------------------------
    def lb_find(self, dst_id: int) -> LbDestination | None:
        return next((d for d in self.balancers if d.id == dst_id), None)

    def lb_status(self, dst_id: int, enable: bool | None) -> tuple[bool, list[Event]] | None:
        """``load_balancer:status``: (enabled now, events), None for an unknown id."""
        with self._lock:
            dst = self.lb_find(dst_id)
            if dst is None:
                return None
            if enable is None:
                return not dst.disabled, []
            old = (dst.disabled, dst.no_reenable)
            dst.disabled = dst.no_reenable = not enable
            return enable, ([self._lb_event(dst)] if old != (dst.disabled, dst.no_reenable) else [])

    @staticmethod
    def _lb_event(dst: LbDestination) -> Event:
        return ("E_LOAD_BALANCER_STATUS", {"group": dst.group, "uri": dst.uri,
                                           "status": "disabled" if dst.disabled else "enabled"})

    def lb_listing(self, load: dict[int, int]) -> dict:
        with self._lock:
            return {"Destinations": [
                {"uri": d.uri, "id": d.id, "group": d.group,
                 "enabled": "no" if d.disabled else "yes",
                 "auto-reenable": "off" if d.no_reenable else "on",
                 "Resources": [{"name": "calls", "max": d.max_calls, "load": load.get(d.id, 0)}]}
                for d in self.balancers]}

    # -- calls and the pinger --------------------------------------------------------------
    def route_call(self, load: dict[int, int]) -> int | None:
        """A new call: ds_select_dst over set 1 (round robin over the Active ones, counted in
        first_hit_counter), then lb_count_call on the load_balancer destination of the same
        gateway when it is enabled and has room. Returns that destination's id, or None."""
        with self._lock:
            active = [d for d in self.sets[1] if not d.flags]
            if not active:
                return None
            chosen = active[self._turn % len(active)]
            self._turn += 1
            chosen.first_hits += 1
            lb = next((b for b in self.balancers if b.gateway is chosen.gateway), None)
            if lb is None or lb.disabled or load.get(lb.id, 0) >= lb.max_calls:
                return None
            return lb.id

    def ping(self) -> list[Event]:
        """Probe rounds due by now (ds_check_timer and the lb prober); their status events."""
        out: list[Event] = []
        with self._lock:
            now = self._clock()
            rounds = 0
            while now >= self._next_ping:
                self._next_ping += PING_INTERVAL
                out += self._probe_round()
                rounds += 1
                if rounds == MAX_CATCH_UP:       # long idle: skip the rounds nobody saw
                    self._next_ping = max(self._next_ping, now + PING_INTERVAL)
        return out

    def _probe_round(self) -> list[Event]:
        for gw in self._gateways:
            if gw.flaky and self._rng.random() < FLAP:
                gw.answers = not gw.answers
        out: list[Event] = []
        for group, dsts in self.sets.items():
            for d in dsts:
                if d.flags & INACTIVE or not (d.flags & PROBING or d.always_probe):
                    continue
                if d.gateway.answers:
                    out += self._set(group, d, d.uri, INACTIVE | PROBING | RESET_FAIL, False, True,
                                     "200 OK probing reply")
                elif d.always_probe:
                    out += self._set(group, d, d.uri, PROBING, True, True, "negative probing reply")
        for b in self.balancers:
            if not b.probed:
                continue
            if b.gateway.answers and b.disabled and not b.no_reenable:
                b.disabled = False
                out.append(self._lb_event(b))
            elif not b.gateway.answers and not b.disabled:
                b.disabled = True
                out.append(self._lb_event(b))
        return out
