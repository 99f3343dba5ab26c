"""The operational state of the simulated OpenSIPS: dialogs, registrations, dispatcher and
load_balancer destinations, TCP connections and pike's blocked IPs, kept in step with the
generated traffic.

:meth:`Operations.account` takes one generated event and returns the events OpenSIPS would
raise for it: the same event made consistent with the tables (a dialog event carries the
dialog's real ``id``; a TCP disconnect names the connection that left ``tcp:list``), the
events the tables add (``E_UL_AOR_INSERT`` before an AOR's first contact, expiries,
E_DISPATCHER_STATUS when a destination flaps), or nothing when the event cannot happen (a
BYE for a call ended over MI). The statistics read their dialog and usrloc gauges from here,
so ``dialog:active_dialogs`` always counts what ``dialog:list`` shows.

Time comes from ``clock`` (wall time, because replies carry unix times and dates), so tests
can move it; randomness from ``seed``.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from .connections import Connections
from .destinations import Destinations
from .dialogs import DialogTable
from .location import Location

Event = tuple[str, Any]


class Operations:
    """Every operational table, fed by the traffic and read by the MI commands."""

    def __init__(self, clock: Callable[[], float] = time.time, seed: int | None = None) -> None:
        self.clock = clock
        # one seed, separate streams: reading one table never changes another's numbers
        base = seed if seed is not None else None
        self.dialogs = DialogTable(clock, None if base is None else base * 7 + 1)
        self.location = Location(clock, None if base is None else base * 7 + 2)
        self.destinations = Destinations(clock, None if base is None else base * 7 + 3)
        self.connections = Connections(clock, None if base is None else base * 7 + 4)

    def reset(self) -> None:
        """A restart: every table as a freshly started server has it."""
        self.dialogs.reset()
        self.location.reset()
        self.destinations.reset()
        self.connections.reset()

    def account(self, name: str, params: Any) -> tuple[list[Event], Event | None, list[Event]]:
        """One generated event -> (events raised before it, the event itself as a real
        server raises it, or None when it cannot happen, events raised after it)."""
        p = params if isinstance(params, dict) else {}
        before: list[Event] = self.connections.activity() + self.destinations.ping()
        after: list[Event] = []
        main: Event | None = (name, params)
        if name == "E_DLG_STATE_CHANGED":
            event, _forgotten = self.dialogs.transition(p, self.destinations.route_call)
            main = (name, event) if event is not None else None
        elif name.startswith("E_UL_CONTACT"):
            pre, main, after = self.location.apply(name, p)
            before += pre
        elif name == "E_CORE_TCP_DISCONNECT":
            main = (name, self.connections.disconnect(p))
        return before + self.location.expire(), main, after

    def tick(self) -> list[Event]:
        """What time alone brings (expiries, probe rounds): run before answering MI."""
        return self.location.expire() + self.connections.expire() + self.destinations.ping()

    def gauges(self) -> dict[str, int]:
        """The dialog and usrloc gauges of the statistics, counted from the tables."""
        active, early = self.dialogs.counts()
        aors, contacts = self.location.counts()
        return {"dialog:active_dialogs": active, "dialog:early_dialogs": early,
                "usrloc:registered_users": aors, "usrloc:location-users": aors,
                "usrloc:location-contacts": contacts}
