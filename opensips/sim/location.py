"""The usrloc ``location`` table of the simulated OpenSIPS: registrations that come and expire.

The generated ``E_UL_CONTACT_*`` events register, refresh and remove contacts; a contact whose
``expires`` passed is removed at the next look (the usrloc timer, in effect), with the
``E_UL_CONTACT_DELETE`` / ``E_UL_AOR_DELETE`` events OpenSIPS raises then. The MI view follows
modules/usrloc/ul_mi.c (``mi_add_aor_node``) and tests/fixtures/opensips-wire/4.0.1/ops/usrloc_*.

Events come out as 4.0.1 sends them (tests/fixtures/opensips-wire/4.0.1/events/
E_UL_register_reregister_unregister_udp.json): an AOR_INSERT before the first contact of an
AOR, an AOR_DELETE after its last, and the contact params in OpenSIPS's order.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from typing import Any, Callable

from .table import Table

TABLE = "location"
HASH_SIZE = 512            # usrloc hash_size default (2^9)
LIMIT = 1000               # contacts kept; the oldest go first beyond that
ALL_METHODS = 4294967295   # no Allow header: every method

Event = tuple[str, dict]


@dataclass
class Contact:
    aor: str
    uri: str
    contact_id: int
    expires: int
    callid: str
    cseq: int
    user_agent: str = ""
    received: str = ""
    path: str = ""
    qval: int = -1
    socket: str = "udp:127.0.0.1:5060"
    bflags: int = 0
    attr: str = ""
    latency: int = 0

    def event(self) -> dict[str, Any]:
        """The contact params of E_UL_CONTACT_* as OpenSIPS orders them."""
        return {"domain": TABLE, "aor": self.aor, "uri": self.uri,
                "received": self.received or None, "path": self.path or None,
                "qval": self.qval, "user_agent": self.user_agent, "socket": self.socket,
                "bflags": self.bflags, "expires": self.expires, "callid": self.callid,
                "cseq": self.cseq, "attr": self.attr, "latency": self.latency, "shtag": ""}

    def mi(self, now: float) -> dict[str, Any]:
        item: dict[str, Any] = {"Contact": self.uri, "ContactID": str(self.contact_id),
                                "Expires": self.expires - int(now) if self.expires > now else "expired",
                                "Q": "" if self.qval < 0 else f"{self.qval / 1000:g}",
                                "Callid": self.callid, "Cseq": self.cseq}
        if self.user_agent:
            item["User-agent"] = self.user_agent
        if self.received:
            item["Received"] = self.received
        if self.path:
            item["Path"] = self.path
        item.update({"State": "CS_NEW", "Flags": 0, "Cflags": "", "Socket": self.socket,
                     "Methods": ALL_METHODS})
        if self.attr:
            item["Attr"] = self.attr
        if self.latency > 0:
            item["Ping-Latency"] = self.latency
        return item


class Location(Table):
    """AOR -> contacts, in the order usrloc's hash table lists them."""

    def __init__(self, clock: Callable[[], float] = time.time, seed: int | None = None) -> None:
        super().__init__(clock, seed)
        self._aors: dict[str, list[Contact]] = {}
        self._contacts = 0
        self._soonest = 0.0      # no contact expires before this: most events skip the scan

    def reset(self) -> None:
        with self._lock:
            self._aors.clear()
            self._contacts = 0
            self._soonest = 0.0

    # -- traffic ---------------------------------------------------------------------------
    def apply(self, name: str, params: dict) -> tuple[list[Event], Event | None, list[Event]]:
        """One generated E_UL_CONTACT_* event -> the events OpenSIPS would raise for it:
        (those before it: expiries, the AOR_INSERT of a new AOR; the contact event itself,
        or None when it cannot happen; those after it: the AOR_DELETE of an emptied AOR).

        A refresh of a contact we no longer have (it expired) registers it again; a delete
        of one we do not have raises nothing.
        """
        aor, uri = str(params.get("aor", "")), str(params.get("uri", ""))
        if not aor or not uri:
            return [], None, []
        with self._lock:
            before = self._expire(self._clock())
            contacts = self._aors.get(aor, [])
            known = next((c for c in contacts if c.uri == uri), None)
            if name.endswith("_DELETE"):
                if known is None:
                    return before, None, []
                main, *after = self._remove(known)
                return before, main, after
            if known is not None:
                self._refresh(known, params)
                return before, ("E_UL_CONTACT_UPDATE", known.event()), []
            events = self._insert(self._contact(params))
            at = next(i for i, (n, _p) in enumerate(events) if n == "E_UL_CONTACT_INSERT")
            return before + events[:at], events[at], events[at + 1:]

    def _contact(self, p: dict) -> Contact:
        def num(key: str, default: int = 0) -> int:
            v = p.get(key)
            return v if isinstance(v, int) and not isinstance(v, bool) else default

        return Contact(aor=str(p["aor"]), uri=str(p["uri"]), contact_id=self._rng.getrandbits(63),
                       expires=num("expires"), callid=str(p.get("callid", "")), cseq=num("cseq", 1),
                       user_agent=str(p.get("user_agent") or ""), received=str(p.get("received") or ""),
                       path=str(p.get("path") or ""), qval=num("qval", -1),
                       socket=str(p.get("socket") or "udp:127.0.0.1:5060"), bflags=num("bflags"),
                       attr=str(p.get("attr") or ""), latency=num("latency"))

    def _refresh(self, c: Contact, p: dict) -> None:
        for key in ("expires", "cseq"):
            v = p.get(key)
            if isinstance(v, int) and not isinstance(v, bool):
                setattr(c, key, v)
        if 0 < c.expires < self._soonest:
            self._soonest = c.expires

    def _insert(self, c: Contact) -> list[Event]:
        out: list[Event] = []
        if c.aor not in self._aors:
            self._aors[c.aor] = []
            out.append(("E_UL_AOR_INSERT", {"domain": TABLE, "aor": c.aor}))
        self._aors[c.aor].append(c)
        self._contacts += 1
        if 0 < c.expires < self._soonest:
            self._soonest = c.expires
        out.append(("E_UL_CONTACT_INSERT", c.event()))
        while self._contacts > LIMIT:
            oldest = next(iter(self._aors.values()))[0]
            out += self._remove(oldest)
        return out

    def _remove(self, c: Contact) -> list[Event]:
        contacts = self._aors[c.aor]
        contacts.remove(c)
        self._contacts -= 1
        out: list[Event] = [("E_UL_CONTACT_DELETE", c.event())]
        if not contacts:
            del self._aors[c.aor]
            out.append(("E_UL_AOR_DELETE", {"domain": TABLE, "aor": c.aor}))
        return out

    def _expire(self, now: float) -> list[Event]:
        if now < self._soonest:
            return []
        out: list[Event] = []
        for c in [c for cs in self._aors.values() for c in cs if 0 < c.expires <= now]:
            out += self._remove(c)
        self._soonest = min((c.expires for cs in self._aors.values() for c in cs if c.expires > 0),
                            default=float("inf"))
        return out

    def expire(self) -> list[Event]:
        """Remove the contacts whose time is up; the events OpenSIPS raises for them."""
        with self._lock:
            return self._expire(self._clock())

    # -- MI --------------------------------------------------------------------------------
    def _ordered(self) -> list[tuple[str, list[Contact]]]:
        slot = {aor: zlib.crc32(aor.encode()) % HASH_SIZE for aor in self._aors}
        order = {aor: i for i, aor in enumerate(self._aors)}
        return sorted(self._aors.items(), key=lambda kv: (slot[kv[0]], order[kv[0]]))

    def dump(self, brief: bool = False) -> tuple[dict, list[Event]]:
        """``usrloc:dump`` (and the expiry events that looking at the table caused)."""
        now = self._clock()
        with self._lock:
            events = self._expire(now)
            aors = []
            for aor, contacts in self._ordered():
                entry: dict[str, Any] = {"AOR": aor}
                if not brief:
                    entry["Contacts"] = [c.mi(now) for c in contacts]
                aors.append(entry)
        return {"Domains": [{"name": TABLE, "hash_size": HASH_SIZE, "AORs": aors}]}, events

    def show(self, aor: str) -> tuple[dict | None, list[Event]]:
        """``usrloc:show_contact`` of one AOR, or None when it has no contacts."""
        now = self._clock()
        with self._lock:
            events = self._expire(now)
            contacts = self._aors.get(aor)
            if not contacts:
                return None, events
            return {"AOR": aor, "Contacts": [c.mi(now) for c in contacts]}, events

    # -- figures ---------------------------------------------------------------------------
    def counts(self) -> tuple[int, int]:
        """(AORs, contacts) registered now."""
        with self._lock:
            return len(self._aors), self._contacts
