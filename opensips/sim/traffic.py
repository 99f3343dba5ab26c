"""Synthetic but realistic event traffic for the demo and load tests.

Events have the parameter shapes real OpenSIPS modules send (pike, core thresholds, usrloc,
dialog, core log, tcp disconnect). A seed makes the stream reproducible; `hostile=True` mixes in
values that are legal on the wire but nasty for a UI (markup-like brackets, control characters,
very long strings, RTL text).
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any, Callable

PIKE_IPS = ["203.0.113.7", "198.51.100.23", "192.0.2.44", "185.243.115.84", "45.134.26.17",
            "103.145.13.90"]
DOMAIN = "sip.example.com"
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter"]
AGENTS = ["Linphone/5.2.5 (belle-sip/5.2.4)", "Zoiper rv2.10.20.2", "MicroSIP/3.21.3",
          "Yealink SIP-T46S 66.86.0.15", "PolycomVVX-VVX_411-UA/6.4.3.5018", "Grandstream GXP2170 1.0.11.3",
          "Bria 6 release 6.7.3", "Asterisk PBX 20.5.0", "FreeSWITCH-mod_sofia/1.10.11"]
HOSTILE_AGENTS = ["Evil[bold]Phone[/bold] 1.0", "[red]x[/red]\x1b[31mANSI\x1b[0m", "\u202eenohP",
                  "A" * 600, "tab\there\nnewline", "emoji \U0001F4DE phone", "<script>alert(1)</script>"]
DLG_STATES = [1, 2, 3, 4, 5]      # unconfirmed, early, confirmed (not acked), confirmed, deleted
LOG_LINES = [
    ("ERROR", "tm", "t_should_relay_response", "response to a local CANCEL (expected)"),
    ("ERROR", "core", "tcp_connect_blocking_timeout", "connect timed out"),
    ("WARNING", "usrloc", "insert_ucontact", "max contacts reached for aor"),
    ("ERROR", "auth_db", "get_ha1", "credentials for user not found"),
    ("CRITICAL", "core", "receive_msg", "message too big"),
    ("ERROR", "dialog", "dlg_onroute", "unable to find dialog for BYE"),
]
METHODS = ["INVITE", "REGISTER", "OPTIONS", "BYE", "SUBSCRIBE", "MESSAGE"]

TRAFFIC_EVENTS = ["E_PIKE_BLOCKED", "E_CORE_THRESHOLD", "E_UL_CONTACT_INSERT",
                  "E_UL_CONTACT_DELETE", "E_UL_CONTACT_UPDATE", "E_DLG_STATE_CHANGED",
                  "E_CORE_LOG", "E_CORE_TCP_DISCONNECT"]
WEIGHTS = [1, 6, 5, 3, 4, 8, 2, 2]


class TrafficGenerator:
    """Makes events; `run` them at a rate through `emit(name, params)` on its own thread."""

    def __init__(self, emit: Callable[[str, Any], None], rate: float = 0.0,
                 seed: int | None = None, hostile: bool = False,
                 events: list[str] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.emit = emit
        self.clock = clock        # wall time of the contacts' expiry
        self.rate = float(rate)
        self.hostile = hostile
        self.rng = random.Random(seed)
        self.events = [e for e in TRAFFIC_EVENTS if events is None or e in events]
        self.generated = 0
        self._contacts: list[dict] = []
        self._dialogs: dict[str, dict] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    # -- thread ----------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="opensips-sim-traffic",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def set_rate(self, rate: float) -> None:
        self.rate = max(0.0, float(rate))
        self._wake.set()

    def _run(self) -> None:
        tick = 0.02
        owed = 0.0
        last = time.monotonic()
        while not self._stop.is_set():
            if self.rate <= 0:
                self._wake.wait(0.5)
                self._wake.clear()
                last = time.monotonic()
                owed = 0.0
                continue
            self._stop.wait(tick)
            now = time.monotonic()
            owed += (now - last) * self.rate
            last = now
            n = int(owed)
            owed -= n
            for _ in range(min(n, int(self.rate) + 1)):
                name, params = self.next_event()
                try:
                    self.emit(name, params)
                except Exception:  # noqa: BLE001 - keep generating
                    pass

    # -- events ----------------------------------------------------------------------------
    def next_event(self) -> tuple[str, dict]:
        name = self.rng.choices(self.events, [WEIGHTS[TRAFFIC_EVENTS.index(e)]
                                              for e in self.events])[0]
        self.generated += 1
        return name, getattr(self, "_" + name.lower())()

    def _hostile(self) -> bool:
        return self.hostile and self.rng.random() < 0.15

    def _ip(self) -> str:
        r = self.rng
        return f"10.{r.randrange(0, 4)}.{r.randrange(0, 256)}.{r.randrange(1, 255)}"

    def _user(self) -> str:
        if self._hostile():
            return self.rng.choice(["[b]root[/b]", "adm\u202ein", "user;tag=x", "a" * 300])
        return self.rng.choice(USERS) + str(self.rng.randrange(100, 130))

    def _callid(self) -> str:
        return f"{self.rng.getrandbits(64):016x}@{self._ip()}"

    def _e_pike_blocked(self) -> dict:
        return {"ip": self.rng.choice(PIKE_IPS)}

    def _e_core_threshold(self) -> dict:
        method = self.rng.choice(METHODS)
        user = self._user()
        src = self._ip()
        callid = self._callid()
        msg = (f"{method} sip:{user}@{DOMAIN} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {src}:5060;branch=z9hG4bK{self.rng.getrandbits(32):08x}\r\n"
               f"Max-Forwards: 69\r\nFrom: <sip:{self._user()}@{DOMAIN}>;tag={self.rng.getrandbits(32):x}\r\n"
               f"To: <sip:{user}@{DOMAIN}>\r\nCall-ID: {callid}\r\nCSeq: 1 {method}\r\n"
               f"Content-Length: 0\r\n\r\n")
        return {"source": self.rng.choice(["msg processing", "msg processing", "dns", "sql query"]),
                "time": self.rng.randrange(50_000, 3_000_000), "extra": msg}

    def _contact(self) -> dict:
        user = self._user()
        ip = self._ip()
        port = self.rng.choice([5060, 5060, 5062, self.rng.randrange(20000, 60000)])
        agent = self.rng.choice(HOSTILE_AGENTS) if self._hostile() else self.rng.choice(AGENTS)
        return {
            "aor": f"{user}@{DOMAIN}",
            "uri": f"sip:{user}@{ip}:{port};transport=udp",
            "received": f"sip:{ip}:{port}",
            "path": "",
            "qval": -1,
            "socket": "udp:127.0.0.1:5060",
            "bflags": 0,
            "expires": int(self.clock()) + self.rng.choice([60, 300, 600, 3600]),
            "callid": self._callid(),
            "cseq": self.rng.randrange(1, 5000),
            "attr": "",
            "latency": self.rng.randrange(0, 250),
            "user_agent": agent,
        }

    def _e_ul_contact_insert(self) -> dict:
        c = self._contact()
        self._contacts.append(c)
        del self._contacts[:-200]
        return c

    def _e_ul_contact_update(self) -> dict:
        if not self._contacts:
            return self._e_ul_contact_insert()
        c = dict(self.rng.choice(self._contacts))
        c["cseq"] += 1
        c["expires"] = int(self.clock()) + 3600
        return c

    def _e_ul_contact_delete(self) -> dict:
        if not self._contacts:
            return self._contact()
        return self._contacts.pop(self.rng.randrange(len(self._contacts)))

    def _e_dlg_state_changed(self) -> dict:
        if self._dialogs and self.rng.random() < 0.7:
            callid = self.rng.choice(list(self._dialogs))
            d = self._dialogs[callid]
            old = d["new_state"]
            new = min(5, old + self.rng.choice([1, 1, 2]))
            d = {**d, "old_state": old, "new_state": new}
            if new == 5:
                del self._dialogs[callid]
            else:
                self._dialogs[callid] = d
            return d
        callid = self._callid()
        d = {"hash_entry": self.rng.randrange(0, 4096), "hash_id": self.rng.getrandbits(31),
             "callid": callid, "from_tag": f"{self.rng.getrandbits(32):x}", "to_tag": "",
             "old_state": 0, "new_state": 1}
        self._dialogs[callid] = {**d, "to_tag": f"{self.rng.getrandbits(32):x}"}
        if len(self._dialogs) > 300:
            self._dialogs.pop(next(iter(self._dialogs)))
        return d

    def _e_core_log(self) -> dict:
        level, module, function, message = self.rng.choice(LOG_LINES)
        if self._hostile():
            message = self.rng.choice(HOSTILE_AGENTS)
        return {"time": time.strftime("%b %d %H:%M:%S"), "pid": self.rng.randrange(1000, 30000),
                "level": level, "module": module, "function": function, "message": message}

    def _e_core_tcp_disconnect(self) -> dict:
        return {"src_ip": self._ip(), "src_port": self.rng.randrange(20000, 60000),
                "dst_ip": "127.0.0.1", "dst_port": 5060, "proto": self.rng.choice(["tcp", "tls", "ws"])}
