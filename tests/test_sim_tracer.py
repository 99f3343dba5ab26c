"""The simulator's tracer commands answer as the captured OpenSIPS 4.0.1 (ops/tracer_*, error_tracer_*)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.wire import WIRE, sample

OPS = sorted(p.stem for p in (WIRE / "4.0.1" / "ops").glob("*trac*.json")
             if "which" not in p.stem and p.stem != "tracer_stop_not_first_in_list_bug")


def post(url: str, body: str) -> dict:
    return httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=5).json()


@pytest.mark.parametrize("case", OPS)
def test_single_requests_match_the_capture(sim_factory, case) -> None:
    capture = sample("4.0.1", "ops", case)
    sim = sim_factory(sip_rate=0)
    url = sim.http_url
    request = json.loads(capture["request_body"])
    if case in ("tracer_stop", "legacy_trace_stop", "tracer_trace_list", "error_tracer_start_duplicate_id"):
        # these were captured with a trace already running: start it first
        name = {"legacy_trace_stop": "ops_t2", "error_tracer_start_duplicate_id": "dup"}.get(case, "ops_t1")
        post(url, json.dumps({"jsonrpc": "2.0", "method": "tracer:start", "id": 1,
                              "params": {"id": name, "uri": "hep:127.0.0.1:9079;transport=udp;version=3"}}))
    assert post(url, capture["request_body"]) == capture["response_body_json"], request


def test_stop_not_first_in_list_bug_sequence(sim_factory) -> None:
    sim = sim_factory(sip_rate=0)
    for step in sample("4.0.1", "ops", "tracer_stop_not_first_in_list_bug")["mi_sequence"]:
        assert post(sim.http_url, step["request"]) == json.loads(step["response"]), step["request"]


def test_bare_trace_is_ambiguous_on_4x_and_the_list_on_3x(sim_factory) -> None:
    capture = sample("4.0.1", "ops", "tracer_trace_bare_trace_ambiguous")
    assert post(sim_factory(sip_rate=0).http_url, capture["request_body"]) == capture["response_body_json"]
    got = post(sim_factory(version="3.6.8", sip_rate=0).http_url, capture["request_body"])
    assert got["result"] == {"global": "on", "trace destinations": []}


def test_hep_comes_from_the_hep_udp_socket_ps_lists(sim_factory) -> None:
    import socket

    from opensips.hep import decode

    sim = sim_factory(sip_rate=50, seed=3)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(10)
        port = rx.getsockname()[1]
        post(sim.http_url, json.dumps({"jsonrpc": "2.0", "method": "tracer:start", "id": 1, "params": {
            "id": "t", "uri": f"hep:127.0.0.1:{port};transport=udp;version=3", "filter": [], "scope": "t",
            "type": "sip"}}))
        ps = post(sim.http_url, '{"jsonrpc":"2.0","method":"ps","id":1}')["result"]["Processes"]
        data, source = rx.recvfrom(65535)
    assert f"SIP receiver hep_udp:{source[0]}:{source[1]}" in [p["Type"] for p in ps]
    packet = decode(data)
    assert packet.version == 3 and packet.payload_type == 1 and packet.capture_id == 1
    assert packet.correlation_id and packet.correlation_id.decode() in packet.payload.decode()


def test_traced_calls_are_the_dialogs_of_dialog_list(sim_factory) -> None:
    """The SIP of generated dialogs reaches the trace: same Call-IDs, users and tags as dialog:list."""
    from opensips.hep.session import TraceSession
    from opensips.hep.sip import summarize
    from opensips.mi import OpenSIPSMI

    sim = sim_factory(sip_rate=0, seed=5)
    got: list = []
    with OpenSIPSMI("http", url=sim.http_url) as mi, TraceSession(mi, got.append):
        sim.generate(300)
        dialogs = mi.execute("dialog:list")["Dialogs"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not {d["callid"] for d in dialogs} <= {
                summarize(p.payload).call_id for p in got}:
            time.sleep(0.05)
    by_call: dict[str, list] = {}
    for p in got:
        by_call.setdefault(summarize(p.payload).call_id, []).append(summarize(p.payload))
    assert dialogs and {d["callid"] for d in dialogs} <= set(by_call)
    for d in dialogs:
        msgs = by_call[d["callid"]]
        assert msgs[0].method == "INVITE" and msgs[0].from_tag == d["caller_tag"]
        assert f"sip:{msgs[0].from_user}@" in d["from_uri"] and f"sip:{msgs[0].to_user}@" in d["to_uri"]
        tagged = [m.to_tag for m in msgs if m.to_tag]
        if d["state"] >= 2:
            assert tagged and set(tagged) == {d["CALLEES"][0]["callee_tag"]}
        labels = [m.label for m in msgs]
        assert labels[:4] == ["INVITE", "100 Trying", "INVITE", "100 Trying"]
        assert ("ACK" in labels) == (d["state"] >= 4)
