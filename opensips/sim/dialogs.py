"""The dialog table of the simulated OpenSIPS: calls that follow the generated traffic.

A dialog is born with the generated ``E_DLG_STATE_CHANGED`` 0->1, moves with the later
transitions and ends at 5 (a BYE, or ``dialog:end_dlg``). Its MI view is built the way the
4.0.1 dialog module prints it (modules/dialog/dlg_hash.c, ``internal_mi_print_dlg``; shapes
checked against tests/fixtures/opensips-wire/4.0.1/ops/dialog_list*.json):

- ``ID`` is ``h_entry.h_id`` in OpenSIPS's reversed hex, ``db_id`` is ``(h_entry << 32) + h_id``;
- the table is listed by hash entry, so the order looks random, as on a real server;
- ``timestart``/``datestart`` are set when the call is confirmed (state 3), ``timeout`` is
  the default 12 h lifetime after that and 0 once deleted (``dateout`` only when non-zero);
- a deleted dialog (state 5) stays listed for :data:`DELETED_LINGER` seconds, as the real
  table keeps it until its last reference goes.

Threads: the traffic thread feeds it, MI threads read it; one lock guards the table.
"""

from __future__ import annotations

import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from .table import Table
from .traffic import USERS

HASH_SIZE = 4096          # dialog module hash_size default
LIFETIME = 43200          # default_timeout: 12 hours
DELETED_LINGER = 5.0      # seconds a deleted dialog stays listed
LIMIT = 300               # the traffic generator forgets calls beyond this many, so do we
DOMAIN = "sip.example.com"
PROXY = "udp:127.0.0.1:5060"
SDP = ("v=0\r\no=user1 53655765 2353687637 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
       "m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")

# E_DLG_STATE_CHANGED params, in the order OpenSIPS sends them (3.6.8 and 4.0.1 alike).
EVENT_KEYS = ("id", "db_id", "callid", "from_tag", "to_tag", "old_state", "new_state")


def reverse_hex(n: int) -> str:
    """OpenSIPS's int2reverse_hex: the hex digits of ``n``, least significant first."""
    digits = "0123456789abcdef"
    out = ""
    while True:
        out += digits[n & 15]
        n >>= 4
        if not n:
            return out


@dataclass
class Dialog:
    h_entry: int
    h_id: int
    callid: str
    from_tag: str
    to_tag: str
    from_uri: str
    to_uri: str
    caller_contact: str
    callee_contact: str
    caller_sdp: str
    callee_sdp: str
    state: int = 1
    start_ts: int = 0
    deleted_at: float | None = None
    balancer: int | None = None          # load_balancer destination id counting this call
    seq: int = field(default=0)          # insertion order within a hash entry

    @property
    def did(self) -> str:
        return f"{reverse_hex(self.h_entry)}.{reverse_hex(self.h_id)}"

    @property
    def db_id(self) -> str:
        return str((self.h_entry << 32) + self.h_id)

    def event(self, old: int, new: int) -> dict[str, Any]:
        return dict(zip(EVENT_KEYS, (self.did, self.db_id, self.callid, self.from_tag,
                                     self.to_tag, old, new)))


def _date(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


class DialogTable(Table):
    """Dialogs by Call-ID, fed by :meth:`transition`, read by the MI commands."""

    def __init__(self, clock: Callable[[], float] = time.time, seed: int | None = None) -> None:
        super().__init__(clock, seed)
        self._dialogs: dict[str, Dialog] = {}
        self._seq = 0
        self._deleted: deque[Dialog] = deque()   # state 5, in the order they ended
        self._load: dict[int, int] = {}          # live calls per load_balancer destination

    def reset(self) -> None:
        with self._lock:
            self._dialogs.clear()
            self._deleted.clear()
            self._load.clear()

    # -- traffic ---------------------------------------------------------------------------
    def transition(self, params: dict, pick_balancer: Callable[[dict[int, int]], int | None] | None = None
                   ) -> tuple[dict | None, list[Dialog]]:
        """Apply one generated state change; returns (the event as OpenSIPS sends it, or
        None when it cannot happen (the call is already gone), dialogs forgotten to make room).
        """
        callid = str(params.get("callid", ""))
        old, new = params.get("old_state"), params.get("new_state")
        if not callid or not isinstance(new, int):
            return None, []
        now = self._clock()
        forgotten: list[Dialog] = []
        with self._lock:
            self._purge(now)
            dlg = self._dialogs.get(callid)
            if dlg is None or dlg.state == 5:
                if old not in (0, None) or new != 1:
                    return None, []          # a transition of a call we no longer have
                dlg = self._new(callid, params)
                if pick_balancer is not None:
                    dlg.balancer = pick_balancer(self._load)
                    if dlg.balancer is not None:
                        self._load[dlg.balancer] = self._load.get(dlg.balancer, 0) + 1
                self._dialogs.pop(callid, None)
                self._dialogs[callid] = dlg
                if len(self._dialogs) - len(self._deleted) > LIMIT:
                    gone = next(d for d in self._dialogs.values() if d.state < 5)
                    del self._dialogs[gone.callid]
                    self._unload(gone)
                    forgotten.append(gone)
                return dlg.event(0, 1), forgotten
            old = dlg.state
            if new <= old:
                return None, []
            self._move(dlg, new, now)
            return dlg.event(old, new), forgotten

    def _new(self, callid: str, params: dict) -> Dialog:
        r = self._rng
        caller, callee = self._user(), self._user()
        ip_a, ip_b = self._ip(), self._ip()
        h_entry = params.get("hash_entry")
        h_id = params.get("hash_id")
        self._seq += 1
        return Dialog(
            h_entry=h_entry if isinstance(h_entry, int) else zlib.crc32(callid.encode()) % HASH_SIZE,
            h_id=h_id if isinstance(h_id, int) else r.getrandbits(31),
            callid=callid, from_tag=str(params.get("from_tag") or f"{r.getrandbits(32):x}"),
            to_tag=str(params.get("to_tag") or ""),
            from_uri=f"sip:{caller}@{DOMAIN}", to_uri=f"sip:{callee}@{DOMAIN}",
            caller_contact=f"sip:{caller}@{ip_a}:{r.choice((5060, 5062, r.randrange(20000, 60000)))}",
            callee_contact=f"sip:{callee}@{ip_b}:5060;transport=UDP",
            caller_sdp=SDP.format(ip=ip_a, port=2 * r.randrange(5000, 15000)),
            callee_sdp=SDP.format(ip=ip_b, port=2 * r.randrange(5000, 15000)),
            seq=self._seq)

    def _user(self) -> str:
        return self._rng.choice(USERS) + str(self._rng.randrange(100, 130))

    def _ip(self) -> str:
        r = self._rng
        return f"10.{r.randrange(0, 4)}.{r.randrange(0, 256)}.{r.randrange(1, 255)}"

    def _move(self, dlg: Dialog, new: int, now: float) -> None:
        if new >= 2 and not dlg.to_tag:
            dlg.to_tag = f"{self._rng.getrandbits(32):x}"
        if new >= 3 and not dlg.start_ts:
            dlg.start_ts = int(now)
        dlg.state = new
        if new == 5:
            dlg.deleted_at = now
            self._deleted.append(dlg)
            self._unload(dlg)

    def _unload(self, dlg: Dialog) -> None:
        if dlg.balancer is not None:
            self._load[dlg.balancer] -= 1

    def _purge(self, now: float) -> None:
        while self._deleted and now - (self._deleted[0].deleted_at or 0.0) >= DELETED_LINGER:
            gone = self._deleted.popleft()
            if self._dialogs.get(gone.callid) is gone:
                del self._dialogs[gone.callid]

    # -- MI --------------------------------------------------------------------------------
    def end(self, dialog_id: str) -> tuple[Dialog, dict] | None:
        """``dialog:end_dlg``: by ID (``h_entry.h_id``) or Call-ID; (dialog, its 4->5 event)."""
        now = self._clock()
        with self._lock:
            self._purge(now)
            dlg = self._by_did(dialog_id) or self._dialogs.get(dialog_id)
            if dlg is None or dlg.state == 5:
                return None
            old = dlg.state
            self._move(dlg, 5, now)
            return dlg, dlg.event(old, 5)

    def _by_did(self, did: str) -> Dialog | None:
        for d in self._dialogs.values():
            if d.did == did:
                return d
        return None

    def listing(self, context: bool = False, index: int = 0, counter: int = 0) -> dict:
        """``dialog:list`` / ``list_ctx`` (with ``count`` when paged by index/counter)."""
        now = self._clock()
        with self._lock:
            self._purge(now)
            ordered = sorted(self._dialogs.values(), key=lambda d: (d.h_entry, d.seq))
            out: dict[str, Any] = {}
            if counter:
                out["count"] = len(ordered)
                # index and counter are unsigned in OpenSIPS: a negative one lists nothing
                ordered = ordered[index:index + counter] if index >= 0 and counter > 0 else []
            out["Dialogs"] = [self._mi(d, context, now) for d in ordered]
        return out

    def get(self, callid: str) -> Dialog | None:
        """The dialog of ``callid`` (deleted ones too, while listed); the tracer builds its SIP from it."""
        with self._lock:
            return self._dialogs.get(callid)

    def one(self, callid: str, from_tag: str | None = None, context: bool = False) -> dict | None:
        now = self._clock()
        with self._lock:
            self._purge(now)
            d = self._dialogs.get(callid)
            if d is None or d.state == 5 or (from_tag is not None and d.from_tag != from_tag):
                return None
            return {"Dialog": self._mi(d, context, now)}

    @staticmethod
    def _mi(d: Dialog, context: bool, now: float) -> dict:
        item: dict[str, Any] = {"ID": d.did, "db_id": d.db_id, "state": d.state, "user_flags": "",
                                "timestart": d.start_ts}
        if d.start_ts:
            item["datestart"] = _date(d.start_ts)
        timeout = d.start_ts + LIFETIME if d.start_ts and d.state < 5 else 0
        item["timeout"] = timeout
        if timeout:
            item["dateout"] = _date(timeout)
        item.update({
            "callid": d.callid, "from_uri": d.from_uri, "to_uri": d.to_uri,
            "caller_tag": d.from_tag, "caller_contact": d.caller_contact, "callee_cseq": "0",
            "caller_route_set": "", "caller_bind_addr": PROXY, "caller_sdp": d.caller_sdp,
        })
        callees = []
        if d.state >= 2:        # the callee leg exists once a reply brought its To tag
            callees.append({"callee_tag": d.to_tag, "callee_contact": d.callee_contact,
                            "caller_cseq": "1", "callee_route_set": "", "callee_bind_addr": PROXY,
                            "callee_sdp": d.callee_sdp})
        item["CALLEES"] = callees
        if context:
            ctx: dict[str, Any] = {}
            if d.balancer is not None and d.state < 5:
                ctx["profiles"] = [{"lbXcalls": str(d.balancer)}]
            item["context"] = ctx
        return item

    # -- figures ---------------------------------------------------------------------------
    def counts(self) -> tuple[int, int]:
        """(active, early): confirmed calls (states 3-4) and calls still ringing (1-2)."""
        with self._lock:
            self._purge(self._clock())
            states = [d.state for d in self._dialogs.values()]
        return sum(1 for s in states if s in (3, 4)), sum(1 for s in states if s in (1, 2))

    def load(self) -> dict[int, int]:
        """Calls per load_balancer destination (the lbXcalls profile of the live dialogs)."""
        with self._lock:
            return {k: v for k, v in self._load.items() if v}
