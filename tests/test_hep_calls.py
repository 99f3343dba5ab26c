"""The trace core over the captured HEP packets: SIP summaries, calls grouped by Call-ID with
sngrep's states, bounded memory, filters, and the ladder layout."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from opensips.hep import HepPacket
from opensips.hep.calls import CallFilter, CallStore
from opensips.hep.ladder import layout
from opensips.hep.sip import MAX_VALUE, summarize, user_of
from tests.hep_wire import FULL, FULL_TCP, all_captured, packets

CALL_ID = "1-25280@127.0.0.1"   # the sipp call in FULL
UAC, PROXY, UAS = "127.0.0.1:5063", "127.0.0.1:5060", "127.0.0.1:5070"


def with_payload(packet: HepPacket, payload: bytes) -> HepPacket:
    return dataclasses.replace(packet, payload=payload)


def test_core_imports_no_ui() -> None:
    code = ("import sys, opensips.hep.calls, opensips.hep.ladder, opensips.hep.sip; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- summaries of every captured packet --------------------------------------------------------

@pytest.mark.parametrize("captured", all_captured(), ids=lambda p: p["summary"][:60])
def test_summary_of_every_captured_packet(captured) -> None:
    from opensips.hep import decode

    packet = decode(bytes.fromhex(captured["hex"]))
    sip = summarize(packet.payload)
    start = captured["summary"].split(" | ", 1)[1]
    assert sip.first_line == start
    if start.startswith("SIP/2.0 "):
        code, _, reason = start[8:].partition(" ")
        assert (sip.status, sip.reason, sip.method) == (int(code), reason, "")
        assert sip.label == f"{code} {reason}"
    else:
        assert sip.method == start.split()[0] == sip.label and sip.uri == start.split()[1]
    if packet.correlation_id is not None:          # HEPv2 has none
        assert sip.call_id == packet.correlation_id.decode()
    assert sip.cseq >= 1 and sip.cseq_method in {"REGISTER", "OPTIONS", "INVITE", "ACK", "BYE"}
    assert sip.from_tag and sip.from_user and sip.to_uri.startswith("sip:")


def test_summary_fields_of_a_call() -> None:
    ringing = next(p for p in packets(FULL) if p.payload.startswith(b"SIP/2.0 180"))
    sip = summarize(ringing.payload)
    assert (sip.from_user, sip.to_user, sip.from_tag, sip.cseq, sip.cseq_method) == \
        ("sipp", "hepcall", "25280SIPpTag001", 1, "INVITE")
    assert sip.to_tag and sip.is_reply and not sip.is_request


def test_compact_headers_folding_and_bare_lf() -> None:
    sip = summarize(b"BYE sip:b@h SIP/2.0\ni: abc@x\nf: \"Al\" <sip:al@x;user=phone>;tag=1\n"
                    b"t: sip:bob@y\n ;tag=22\nCSeq: 7 BYE\n\nbody")
    assert (sip.method, sip.call_id, sip.from_user, sip.from_tag, sip.to_user, sip.to_tag, sip.cseq) == \
        ("BYE", "abc@x", "al", "1", "bob", "22", 7)


@pytest.mark.parametrize("payload", [
    b"", b"\x00\xff\xfe", b"SIP/2.0", b"SIP/2.0 abc OK", b"INVITE", b"GET / HTTP/1.1\r\n\r\n",
    b"INVITE sip:x SIP/2.0\r\nCall-ID\r\nFrom: <sip:\r\nCSeq: x INVITE\r\n",
    b"INVITE sip:x SIP/2.0\r\nCSeq: 99999999999999999999 INVITE\r\n",
    b"\r\n" * 10000, b"a:" * 100000, b"INVITE sip:x SIP/2.0\r\n" + b"X: y\r\n" * 100000,
])
def test_hostile_payloads_give_a_summary(payload: bytes) -> None:
    sip = summarize(payload)
    assert all(len(v) <= MAX_VALUE for v in (sip.first_line, sip.call_id, sip.from_uri, sip.to_uri, sip.uri))


def test_values_are_cut_and_the_head_is_bounded() -> None:
    sip = summarize(b"INVITE sip:x SIP/2.0\r\nCall-ID: " + b"c" * 100_000 + b"\r\n")
    assert sip.method == "INVITE" and sip.call_id == "c" * MAX_VALUE
    # a Call-ID after 16 KiB of headers is not looked for
    assert summarize(b"INVITE sip:x SIP/2.0\r\nX: " + b"y" * 20_000 + b"\r\nCall-ID: late\r\n").call_id == ""


@pytest.mark.parametrize("uri, user", [("sip:alice@h", "alice"), ("sips:a:pw@h;x", "a"), ("tel:+123;p=1", "+123"),
                                       ("sip:127.0.0.1", ""), ("", ""), ("alice@h", "alice")])
def test_user_of(uri: str, user: str) -> None:
    assert user_of(uri) == user


# -- calls ------------------------------------------------------------------------------------

def test_calls_of_the_full_capture() -> None:
    store = CallStore()
    store.add_all(packets(FULL))
    got = [(c.call_id, c.kind, c.state, len(c.messages)) for c in store.calls()]
    assert got == [("hep-reg-heptest@127.0.0.1", "REGISTER", "REGISTER", 4),
                   (got[1][0], "OPTIONS", "OPTIONS", 2),
                   (CALL_ID, "INVITE", "COMPLETED", 14)]
    call = store.get(("", CALL_ID))
    assert call is not None
    assert (call.from_uri, call.to_uri) == ("sip:sipp@127.0.0.1", "sip:hepcall@127.0.0.1")
    assert call.addresses == {UAC, PROXY, UAS} and call.methods == {"INVITE", "ACK", "BYE"}
    assert call.duration == pytest.approx(0.670553 - 0.059537, abs=1e-6)
    assert store.messages_held == 20 and store.evicted_calls == store.evicted_messages == 0
    assert [m.seq for m in store.messages()] == list(range(1, 21))


def states_after(*lines: bytes) -> list[str]:
    """The call state after each message (built on the captured INVITE's packet)."""
    invite = next(p for p in packets(FULL) if p.payload.startswith(b"INVITE"))
    store, seen = CallStore(), []
    for line in lines:
        method = line.split()[0].decode() if not line.startswith(b"SIP/") else "INVITE"
        payload = line + b"\r\nCall-ID: c1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCSeq: 1 " + \
            method.encode() + b"\r\n\r\n"
        store.add(with_payload(invite, payload))
        seen.append(store.calls()[0].state)
    return seen


@pytest.mark.parametrize("lines, states", [
    ([b"INVITE sip:b@h SIP/2.0", b"SIP/2.0 180 Ringing", b"SIP/2.0 200 OK", b"BYE sip:b@h SIP/2.0"],
     ["CALL SETUP", "CALL SETUP", "IN CALL", "COMPLETED"]),
    ([b"INVITE sip:b@h SIP/2.0", b"CANCEL sip:b@h SIP/2.0", b"SIP/2.0 487 Request Terminated"],
     ["CALL SETUP", "CANCELLED", "CANCELLED"]),
    ([b"INVITE sip:b@h SIP/2.0", b"SIP/2.0 487 Request Terminated"], ["CALL SETUP", "CANCELLED"]),
    ([b"INVITE sip:b@h SIP/2.0", b"SIP/2.0 486 Busy Here"], ["CALL SETUP", "BUSY"]),
    ([b"INVITE sip:b@h SIP/2.0", b"SIP/2.0 404 Not Found"], ["CALL SETUP", "REJECTED"]),
    ([b"INVITE sip:b@h SIP/2.0", b"SIP/2.0 302 Moved"], ["CALL SETUP", "DIVERTED"]),
    # a re-INVITE refused while the call is up leaves it up
    ([b"INVITE sip:b@h SIP/2.0", b"SIP/2.0 200 OK", b"INVITE sip:b@h SIP/2.0", b"SIP/2.0 491 Pending"],
     ["CALL SETUP", "IN CALL", "IN CALL", "IN CALL"]),
    # scope m / an evicted INVITE: the first message held is a reply to INVITE
    ([b"SIP/2.0 180 Ringing", b"SIP/2.0 200 OK"], ["CALL SETUP", "IN CALL"]),
])
def test_call_states(lines: list[bytes], states: list[str]) -> None:
    assert states_after(*lines) == states


def test_scope_m_capture_has_the_requests_only() -> None:
    store = CallStore()
    store.add_all(packets("udp_scope_m_register_options_call"))
    assert [(c.state, len(c.messages)) for c in store.calls()] == \
        [("REGISTER", 1), ("OPTIONS", 1), ("COMPLETED", 3)]


def test_same_call_id_on_two_nodes_is_two_calls() -> None:
    store = CallStore()
    store.add_all(packets(FULL), node="edge1")
    store.add_all(packets(FULL), node="edge2")
    assert len(store) == 6 and store.get(("edge2", CALL_ID)) is not store.get(("edge1", CALL_ID))
    assert {m.node for m in store.messages()} == {"edge1", "edge2"}


def test_a_message_without_call_id_uses_the_correlation_id_then_nothing() -> None:
    packet = packets(FULL)[0]
    store = CallStore()
    assert store.add(with_payload(packet, b"garbage")).call_id == "hep-reg-heptest@127.0.0.1"
    assert store.add(dataclasses.replace(packet, payload=b"x", correlation_id=None)).call_id == ""
    assert len(store) == 2


# -- limits -----------------------------------------------------------------------------------

def test_max_calls_evicts_the_oldest_call_whole() -> None:
    store = CallStore(max_calls=2)
    store.add_all(packets(FULL))
    # REGISTER was the oldest when the call came; OPTIONS when the un-REGISTER came back
    assert [c.call_id for c in store.calls()] == [CALL_ID, "hep-reg-heptest@127.0.0.1"]
    assert store.evicted_calls == 2 and store.evicted_messages == 2 + 2
    assert store.messages_held == sum(len(c.messages) for c in store.calls()) == 20 - 4
    assert all(m.call_id in {c.call_id for c in store.calls()} for m in store.messages())


def test_max_messages_evicts_calls_then_trims_the_last_one() -> None:
    store = CallStore(max_messages=5)
    store.add_all(packets(FULL)[:18])          # REGISTER, OPTIONS, then the 14 of the call
    (call,) = store.calls()
    assert call.call_id == CALL_ID and len(call.messages) == 5 == store.messages_held
    assert store.evicted_calls == 2 and store.evicted_messages == 18 - 5
    assert [m.seq for m in store.messages()] == [m.seq for m in call.messages] == [14, 15, 16, 17, 18]
    assert [m.label for m in call.messages] == ["ACK", "BYE", "BYE", "200 OK", "200 OK"]
    assert call.first_time == min(m.time for m in call.messages)


def test_max_bytes_bounds_the_payload_held() -> None:
    big = packets(FULL)[4]   # the INVITE, with SDP
    store = CallStore(max_bytes=3 * len(big.payload))
    for n in range(10):
        store.add(with_payload(big, big.payload.replace(b"1-25280@", f"{n}-x@".encode())))
    assert store.bytes_held <= 3 * len(big.payload) and len(store) == 3
    assert store.evicted_calls == 7 == store.evicted_messages


def test_dead_entries_do_not_pile_up() -> None:
    store = CallStore(max_calls=3)
    packet = packets(FULL)[2]
    for n in range(5000):
        store.add(with_payload(packet, b"OPTIONS sip:x SIP/2.0\r\nCall-ID: %d\r\n\r\n" % n))
    assert len(store._order) <= 2 * store.messages_held + 65
    assert [m.call_id for m in store.messages()] == ["4997", "4998", "4999"]
    assert [m.call_id for m in store.messages(last=2)] == ["4998", "4999"]


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        CallStore(max_calls=0)


# -- filters ----------------------------------------------------------------------------------

@pytest.fixture
def full() -> CallStore:
    store = CallStore()
    store.add_all(packets(FULL))
    return store


@pytest.mark.parametrize("text, kinds", [
    ("", ["REGISTER", "OPTIONS", "INVITE"]),
    ("method=invite", ["INVITE"]), ("method=BYE", ["INVITE"]), ("m=OPTIONS", ["OPTIONS"]),
    ("user=heptest", ["REGISTER"]), ("user=HEPCALL", ["INVITE"]), ("user=nobody", []),
    ("ip=127.0.0.1", ["REGISTER", "OPTIONS", "INVITE"]), ("ip=127.0.0.1:5070", ["INVITE"]),
    ("ip=127.0.0.10", []), ("callid=hep-opt", ["OPTIONS"]), ("cid=1-25280", ["INVITE"]),
    ("state=completed", ["INVITE"]), ("sipp", ["INVITE"]), ("hep 5081", ["REGISTER"]),
    ("method=INVITE user=heptest", []),
])
def test_filters(full: CallStore, text: str, kinds: list[str]) -> None:
    flt = CallFilter.parse(text)
    assert [c.kind for c in full.calls(flt)] == kinds
    assert {m.call_id for m in full.messages(flt)} == {c.call_id for c in full.calls(flt)}


def test_unknown_filter_key_names_it() -> None:
    with pytest.raises(ValueError, match="'colour'"):
        CallFilter.parse("colour=red")


# -- ladder -----------------------------------------------------------------------------------

def test_ladder_of_the_call() -> None:
    store = CallStore()
    store.add_all(packets(FULL))
    ladder = layout(store.get(("", CALL_ID)).messages)
    assert ladder.columns == (UAC, PROXY, UAS)
    assert [(a.src, a.dst, a.label) for a in ladder.arrows] == [
        (0, 1, "INVITE"), (1, 0, "100 Giving it a try"), (1, 2, "INVITE"), (2, 1, "100 Trying"),
        (2, 1, "180 Ringing"), (1, 0, "180 Ringing"), (2, 1, "200 OK"), (1, 0, "200 OK"),
        (0, 1, "ACK"), (1, 2, "ACK"), (0, 1, "BYE"), (1, 2, "BYE"), (2, 1, "200 OK"), (1, 0, "200 OK")]
    assert ladder.arrows[0].delta == 0.0 and all(a.delta >= 0 for a in ladder.arrows)
    assert ladder.arrows[10].delta == pytest.approx(0.5019, abs=1e-3)   # sipp's 500 ms pause
    assert ladder.span == pytest.approx(sum(a.delta for a in ladder.arrows))


def test_ladder_sorts_by_capture_time() -> None:
    """Over TCP the proxy's 200 OK to the UAC arrived after the ACKs it caused."""
    store = CallStore()
    store.add_all(packets(FULL_TCP))
    call = next(c for c in store.calls() if c.kind == "INVITE")
    arrived = [m.label for m in call.messages]
    assert arrived[6:10] == ["200 OK", "ACK", "ACK", "200 OK"]
    ladder = layout(call.messages)
    assert [a.label for a in ladder.arrows][6:10] == ["200 OK", "200 OK", "ACK", "ACK"]
    assert [a.message.time for a in ladder.arrows] == sorted(m.time for m in call.messages)


def test_ladder_of_nothing_and_of_a_loop() -> None:
    assert layout([]).columns == () and layout([]).span == 0.0
    packet = dataclasses.replace(packets(FULL)[0], dst_port=5081)
    store = CallStore()
    arrow = layout([store.add(packet)]).arrows[0]
    assert (arrow.src, arrow.dst) == (0, 0)
