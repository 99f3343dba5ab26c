"""The simulator's operational commands against a real OpenSIPS 4.0.1 with sipp calls and
REGISTERs: the same keys in the same order and the same value types in every reply, the same
parameter sets in ``which``, the same error replies, and the same state changes and events
for ``dispatcher:set_state`` and ``dialog:end_dlg``. Where they disagree, the real server is
right and the simulator is what needs fixing.

Needs the real-opensips kit's exports (``eval "$(start.sh 4.0.1)"``), ``sipp`` and
``OPENSIPS_KIT`` (for its ``sipp/uac.xml``); skipped in one line otherwise. SIP is sent from
the kit's pike-exempt source ports, except the pike flood, which comes from 127.0.0.2.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opensips.mi import OpenSIPSMI, OpenSIPSMICommandError
from opensips.sim import SimulatedOpenSIPS
from tests.wire import WIRE, sample

URL = os.environ.get("OPENSIPS_MI_URL", "")
if not URL:
    pytest.skip("needs a real OpenSIPS: OPENSIPS_MI_URL not set (eval the real-opensips kit's start.sh)",
                allow_module_level=True)
if not (shutil.which("sipp") and os.environ.get("OPENSIPS_KIT")):
    pytest.skip("calls need sipp and OPENSIPS_KIT (its sipp/uac.xml)", allow_module_level=True)

HOST, _, _PORT = os.environ.get("OPENSIPS_SIP", "127.0.0.1:5060").rpartition(":")
SIP_PORT = int(_PORT)
EXEMPT = int(os.environ.get("OPENSIPS_SIP_PIKE_EXEMPT_PORTS", "5061-5099").split("-")[0])
UAS = "sip:" + os.environ.get("OPENSIPS_UAS", "127.0.0.1:5070")
WAIT = 20.0    # seconds a real server gets to show what the SIP traffic did

# keys a real server prints only when the value is set (modules/usrloc/ul_mi.c, dlg_hash.c)
OPTIONAL = {"Received", "Path", "Attr", "Ping-Latency", "SIP_instance", "datestart", "dateout",
            "caller_sdp", "callee_sdp", "profiles", "values"}
TABLES = {"Dialogs", "Domains", "AORs", "Contacts", "PARTITIONS", "SETS", "Destinations",
          "Resources", "Connections", "Processes", "IPs", "CALLEES"}


def same_shape(sim: Any, real: Any, path: str = "$") -> None:
    """The simulator's reply has the real one's keys (in order, optional ones aside) and
    value types; every item of a list is shaped like the real list's first item."""
    if isinstance(real, dict):
        assert isinstance(sim, dict), f"{path}: {sim!r}"
        assert [k for k in sim if k not in OPTIONAL] == [k for k in real if k not in OPTIONAL], path
        for key in real:
            if key in sim:
                same_shape(sim[key], real[key], f"{path}.{key}")
    elif isinstance(real, list):
        assert isinstance(sim, list), f"{path}: {sim!r}"
        if real:
            for i, item in enumerate(sim):
                same_shape(item, real[0], f"{path}[{i}]")
    else:
        assert type(sim) is type(real), f"{path}: {sim!r} (simulator) vs {real!r} (real)"


def filled(reply: Any) -> bool:
    """Every table in ``reply`` has rows (an empty one would compare nothing)."""
    if isinstance(reply, dict):
        return all((not isinstance(v, list) or v or k == "CALLEES") and filled(v) for k, v in reply.items()
                   if k in TABLES or isinstance(v, (dict, list)))
    if isinstance(reply, list):
        return all(filled(v) for v in reply)
    return True


def register(user: str, offset: int, expires: int = 300, tcp: bool = False) -> socket.socket:
    """REGISTER ``user``@127.0.0.1 from a pike-exempt port; returns the socket (keep it open
    for TCP: the connection is what tcp:list shows)."""
    port = EXEMPT + offset
    kind = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
    sock = socket.socket(socket.AF_INET, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.settimeout(5)
    if tcp:
        sock.connect((HOST, SIP_PORT))
    cid = uuid.uuid4().hex
    msg = (f"REGISTER sip:{HOST} SIP/2.0\r\n"
           f"Via: SIP/2.0/{'TCP' if tcp else 'UDP'} 127.0.0.1:{port};branch=z9hG4bK{cid[:10]}\r\n"
           f"Max-Forwards: 70\r\nFrom: <sip:{user}@127.0.0.1>;tag={cid[:6]}\r\n"
           f"To: <sip:{user}@127.0.0.1>\r\nCall-ID: {cid}\r\nCSeq: 1 REGISTER\r\n"
           f"Contact: <sip:{user}@127.0.0.1:{port}>\r\nExpires: {expires}\r\n"
           f"User-Agent: it-ua/1.0\r\nContent-Length: 0\r\n\r\n").encode()
    if tcp:
        sock.sendall(msg)
    else:
        sock.sendto(msg, (HOST, SIP_PORT))
    assert sock.recv(65535).startswith(b"SIP/2.0 200"), user
    return sock


def flood_from_127_0_0_2(count: int = 30) -> None:
    """OPTIONS faster than pike allows, from an address pike watches."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.2", 0))
    try:
        for i in range(count):
            sock.sendto((f"OPTIONS sip:{HOST}:{SIP_PORT} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:"
                         f"{sock.getsockname()[1]};branch=z9hG4bKpike{i}\r\nMax-Forwards: 70\r\n"
                         f"From: <sip:flood@127.0.0.2>;tag={i}\r\nTo: <sip:{HOST}>\r\n"
                         f"Call-ID: pike-{i}@127.0.0.2\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode(),
                        (HOST, SIP_PORT))
    finally:
        sock.close()


def until(what: str, pred, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"the real server never showed {what}")
        time.sleep(0.2)


class Listener:
    """A UDP event subscriber (on the real server or the simulator)."""

    def __init__(self, mi: OpenSIPSMI, *events: str) -> None:
        self.mi, self.events = mi, events
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = f"udp:127.0.0.1:{self.sock.getsockname()[1]}"
        for event in events:
            mi.execute("event_subscribe", {"event": event, "socket": self.address, "expire": 120})

    def take(self, n: int, timeout: float = 5.0) -> list[dict]:
        out: list[dict] = []
        deadline = time.monotonic() + timeout
        while len(out) < n and select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))[0]:
            out.append(json.loads(self.sock.recv(65535)))
        return out

    def close(self) -> None:
        for event in self.events:
            self.mi.execute("event_subscribe", {"event": event, "socket": self.address, "expire": 0})
        self.sock.close()


@pytest.fixture(scope="module")
def real() -> Iterator[OpenSIPSMI]:
    """The real server with calls up, three registrations (one over TCP) and a blocked IP."""
    uac = Path(os.environ["OPENSIPS_KIT"]) / "sipp" / "uac.xml"
    calls = subprocess.Popen(["sipp", "-sf", str(uac), "-s", "longcall", "-i", "127.0.0.1",
                              "-p", str(EXEMPT + 30), "-m", "4", "-r", "4", "-d", "120000",
                              "-nostdin", "-timeout", "150", f"{HOST}:{SIP_PORT}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socks = [register("alice", 31), register("bob", 32), register("carol", 33, tcp=True)]
    with OpenSIPSMI("http", url=URL, timeout=5) as mi:
        try:
            until("4 confirmed calls", lambda: len([d for d in mi.execute("dialog:list")["Dialogs"]
                                                    if d["state"] == 4]) >= 4)
            yield mi
        finally:
            calls.terminate()
            calls.wait(timeout=10)
            for s in socks:
                s.close()


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatedOpenSIPS]:
    with SimulatedOpenSIPS(seed=4) as s:
        s.generate(600)
        s.raise_event("E_PIKE_BLOCKED", {"ip": "192.0.2.1"})
        yield s


@pytest.fixture(scope="module")
def simmi(sim) -> Iterator[OpenSIPSMI]:
    with OpenSIPSMI("http", **sim.mi_kwargs("http"), timeout=5) as mi:
        yield mi


READS = [
    ("dialog:list", None), ("dlg_list", None), ("dialog:list", {"index": 0, "counter": 2}),
    ("dialog:list_ctx", None), ("dlg_list_ctx", {"index": 1, "counter": 2}),
    ("usrloc:dump", None), ("ul_dump", {"brief": 1}),
    ("dispatcher:list", None), ("ds_list", {"full": 1}),
    ("load_balancer:list", None), ("lb_status", {"destination_id": 1}),
    ("tcp:list", None), ("list_tcp_conns", {"proto": "tcp"}),
    ("core:ps", None), ("ps", None), ("core:uptime", None), ("core:log_level", None), ("log_level", None),
]


@pytest.mark.parametrize(("cmd", "params"), READS, ids=[f"{c}-{p}" for c, p in READS])
def test_replies_have_the_real_shape(real, simmi, cmd, params):
    theirs = real.execute(cmd, params)
    assert filled(theirs), theirs
    ours = simmi.execute(cmd, params)
    assert filled(ours), ours
    same_shape(ours, theirs)


def test_single_dialogs_contacts_and_blocked_ips(real, simmi):
    real_dlg = real.execute("dialog:list")["Dialogs"][0]
    sim_dlg = next(d for d in simmi.execute("dialog:list")["Dialogs"] if d["state"] == 4)
    for with_tag in (False, True):
        def by_callid(d: dict) -> dict:
            return {"callid": d["callid"], **({"from_tag": d["caller_tag"]} if with_tag else {})}
        same_shape(simmi.execute("dialog:list", by_callid(sim_dlg)),
                   real.execute("dialog:list", by_callid(real_dlg)))
    real_aor = real.execute("usrloc:dump")["Domains"][0]["AORs"][0]["AOR"]
    sim_aor = simmi.execute("usrloc:dump")["Domains"][0]["AORs"][0]["AOR"]
    same_shape(simmi.execute("usrloc:show_contact", {"table_name": "location", "aor": sim_aor}),
               real.execute("ul_show_contact", {"table_name": "location", "aor": real_aor}))
    flood_from_127_0_0_2()
    blocked = until("127.0.0.2 blocked", lambda: real.execute("pike:list")["IPs"])
    assert "127.0.0.2" in blocked
    same_shape(simmi.execute("pike:list"), {"IPs": blocked})


WHICH = ["dialog:list", "dialog:list_ctx", "dialog:end_dlg", "dlg_list", "usrloc:dump",
         "usrloc:show_contact", "ul_dump", "dispatcher:list", "dispatcher:set_state", "ds_set_state",
         "load_balancer:list", "load_balancer:status", "lb_status", "tcp:list", "list_tcp_conns",
         "pike:list", "core:ps", "ps", "core:uptime", "core:log_level", "log_level", "core:which",
         "dialog:", "usrloc:", "dispatcher:", "load_balancer:", "pike_list", "no_such_cmd"]


def test_which_agrees_on_every_name_and_parameter_set(real, simmi):
    assert simmi.execute("which") == [n for n in real.execute("which") if n in simmi.execute("which")]
    for name in WHICH:
        answers = []
        for mi in (real, simmi):
            try:
                answers.append(mi.execute("which", {"command": name}))
            except OpenSIPSMICommandError as exc:
                answers.append((exc.code, exc.message))
        assert answers[1] == answers[0], name


ERRORS = sorted(p.stem for p in (WIRE / "4.0.1" / "ops").glob("error_*.json")
                if not p.stem.startswith(("error_tracer", "error_statistics")))


@pytest.mark.parametrize("case", ERRORS)
def test_error_replies_agree(real, simmi, case):
    request = json.loads(sample("4.0.1", "ops", case)["request_body"])
    answers = []
    for mi in (real, simmi):
        with pytest.raises(OpenSIPSMICommandError) as info:
            mi.execute(request["method"], request.get("params"))
        answers.append((info.value.code, info.value.message, info.value.data))
    assert answers[1] == answers[0]


def test_group_name_statistics_are_not_looked_up(real, simmi):
    """The capture error_statistics_get_canonical_name_in_list: {} on both, not an error."""
    request = json.loads(sample("4.0.1", "ops", "error_statistics_get_canonical_name_in_list")["request_body"])
    assert [mi.execute(request["method"], request["params"]) for mi in (real, simmi)] == [{}, {}]


def test_more_error_replies_agree(real, simmi):
    for cmd, params in [("usrloc:show_contact", {"table_name": "location", "aor": "alice"}),
                        ("dispatcher:set_state", {"state": "a", "group": "x", "address": UAS}),
                        ("tcp:list", {"proto": "pigeon"}),
                        ("dialog:list", {"callid": "no-such-call", "from_tag": "x"}),
                        ("dialog:list_ctx", ["x"]), ("dlg_end_dlg", {"dialog_id": "no-such-call"}),
                        ("lb_status", {"destination_id": 1, "new_status": "x"})]:
        answers = []
        for mi in (real, simmi):
            with pytest.raises(OpenSIPSMICommandError) as info:
                mi.execute(cmd, params)
            answers.append((info.value.code, info.value.message, info.value.data))
        assert answers[1] == answers[0], cmd


def test_set_state_changes_the_same_way(real, simmi):
    """'i' and 'a' act at once on both (a Probing destination is re-probed by the real
    pinger, so 'p' is left to the simulator's tests), raising the same events."""
    sim_dst = "sip:10.0.0.11:5060"
    runs = []
    for mi, address in ((real, UAS), (simmi, sim_dst)):
        events = Listener(mi, "E_DISPATCHER_STATUS")
        steps = []
        try:
            for state in ("i", "a", "0", "1", "I", "A"):
                assert mi.execute("dispatcher:set_state", {"state": state, "group": "1", "address": address}) == "OK"
                sets = mi.execute("dispatcher:list")["PARTITIONS"][0]["SETS"]
                now = next(d["state"] for d in sets[0]["Destinations"] if d["URI"] == address)
                raised = events.take(2, timeout=1.0)
                steps.append((now, [(list(n["params"]), n["params"]["status"], n["params"]["reason"])
                                    for n in raised]))
        finally:
            events.close()
        runs.append(steps)
    assert runs[1] == runs[0]


def test_end_dlg_ends_a_call_the_same_way(real, simmi):
    runs = []
    for mi in (real, simmi):
        events = Listener(mi, "E_DLG_STATE_CHANGED")
        try:
            call = next(d for d in mi.execute("dialog:list")["Dialogs"] if d["state"] == 4)
            assert mi.execute("dialog:end_dlg", {"dialog_id": call["ID"]}) == "OK"
            raised = [n["params"] for n in events.take(1)]
            after = next((d for d in mi.execute("dialog:list")["Dialogs"] if d["ID"] == call["ID"]), None)
            with pytest.raises(OpenSIPSMICommandError) as again:
                mi.execute("dialog:end_dlg", {"dialog_id": call["ID"]})
        finally:
            events.close()
        runs.append(([(list(p), p["id"] == call["ID"], p["old_state"], p["new_state"]) for p in raised],
                     after and (after["state"], after["timeout"]), again.value.code))
    assert runs[1] == runs[0]


def test_registration_events_carry_the_real_params(real, simmi, sim):
    names = ("E_UL_AOR_INSERT", "E_UL_CONTACT_INSERT", "E_UL_CONTACT_DELETE", "E_UL_AOR_DELETE")
    theirs = Listener(real, *names)
    ours = Listener(simmi, *names)
    try:
        register("dave", 34).close()
        register("dave", 34, expires=0).close()
        real_first = {}
        for note in theirs.take(4):
            real_first.setdefault(note["method"], note["params"])
        assert set(real_first) == set(names)
        sim.generate(1500)
        sim_first: dict[str, Any] = {}
        for note in ours.take(100, timeout=2.0):
            sim_first.setdefault(note["method"], note["params"])
        assert set(sim_first) == set(names)
        for name in names:
            assert list(sim_first[name]) == list(real_first[name]), name
            for key, value in real_first[name].items():
                assert value is None or type(sim_first[name][key]) is type(value), (name, key)
    finally:
        theirs.close()
        ours.close()
