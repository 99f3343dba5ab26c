"""Fuzz the SIP summary parser and the call store with what a hostile peer could trace.

A traced message is anyone's text: whoever sends OpenSIPS a SIP request chooses its headers.
Properties: ``summarize`` never raises, every value it keeps is bounded, it finds the fields of
a well-formed message however the headers are spelt, and a :class:`CallStore` fed anything stays
within its limits with exact counts.
"""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensips.hep.calls import CallStore
from opensips.hep.sip import MAX_VALUE, summarize
from tests.hep_wire import FULL, all_captured, packets

FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

REAL = [bytes.fromhex(p["hex"]) for p in all_captured()]
PAYLOADS = [p.payload for p in packets(FULL)]

tokens = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e, exclude_characters=";:<>@,\"="),
                 min_size=1, max_size=20)
sip_token = st.from_regex(r"[A-Za-z0-9.!%*_+`'~-]{1,20}", fullmatch=True)   # RFC 3261 token
anything = st.text(max_size=60)   # controls, bidi, surrogates-free unicode, CR/LF


def bounded(sip) -> bool:
    return all(len(getattr(sip, f.name)) <= MAX_VALUE for f in dataclasses.fields(sip)
               if isinstance(getattr(sip, f.name), str))


@FAST
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    assert bounded(summarize(data))


@FAST
@given(st.lists(st.tuples(anything, anything), max_size=12), anything)
def test_arbitrary_header_lines_never_raise(headers: list[tuple[str, str]], start: str) -> None:
    text = start + "\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n"
    assert bounded(summarize(text.encode("utf-8", "surrogatepass")))


@FAST
@given(st.sampled_from(PAYLOADS), st.data())
def test_mutated_real_messages_never_raise(raw: bytes, data: st.DataObject) -> None:
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(buf) - 1))
        buf[pos] = data.draw(st.integers(0, 255))
    assert bounded(summarize(bytes(buf[: data.draw(st.integers(0, len(buf)))])))


@FAST
@given(method=sip_token, call_id=tokens, user=tokens, tag=tokens, cseq=st.integers(0, 2**31),
       compact=st.booleans(), crlf=st.booleans(), display=st.sampled_from(["", '"A B" ', "Al "]),
       case=st.sampled_from([str, str.lower, str.upper]))
def test_well_formed_requests_are_read_however_spelt(method: str, call_id: str, user: str, tag: str, cseq: int,
                                                     compact: bool, crlf: bool, display: str, case) -> None:
    eol = "\r\n" if crlf else "\n"
    names = ("i", "f", "t") if compact else (case("Call-ID"), case("From"), case("To"))
    text = (f"{method} sip:{user}@h SIP/2.0{eol}{names[0]}: {call_id}{eol}"
            f"{names[1]}:{display}<sip:{user}@h>;tag={tag}{eol}{names[2]}: sip:{user}@h{eol}"
            f"{case('CSeq')}: {cseq} {method}{eol}{eol}")
    sip = summarize(text.encode())
    assert (sip.method, sip.call_id, sip.from_user, sip.from_tag, sip.to_user, sip.to_tag) == \
        (method.upper(), call_id, user, tag, user, "")
    assert (sip.cseq, sip.cseq_method) == (cseq, method.upper())


@FAST
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(PAYLOADS), st.binary(max_size=40)), max_size=60),
       st.integers(1, 4), st.integers(1, 10), st.integers(1, 4000))
def test_call_store_stays_within_its_limits(adds, max_calls: int, max_messages: int, max_bytes: int) -> None:
    base = packets(FULL)[0]
    store = CallStore(max_calls=max_calls, max_messages=max_messages, max_bytes=max_bytes)
    for n, (call_no, payload, junk) in enumerate(adds):
        body = payload.replace(b"Call-ID: ", b"Call-ID: %d" % call_no) + junk
        store.add(dataclasses.replace(base, payload=body, time=base.time + n % 7))
        held = [m for c in store.calls() for m in c.messages]
        assert len(store) <= max_calls and store.messages_held == len(held) <= max_messages
        assert store.bytes_held == sum(len(m.packet.payload) for m in held) and \
            (store.bytes_held <= max_bytes or len(held) == 0)
        assert store.messages_held + store.evicted_messages == n + 1
        assert sorted(m.seq for m in store.messages()) == sorted(m.seq for m in held)
        for call in store.calls():
            assert call.first_time == min(m.time for m in call.messages)


def test_real_packets_found() -> None:
    assert len(REAL) == 103 and len(PAYLOADS) == 20
