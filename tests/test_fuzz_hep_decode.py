"""Fuzz the HEP decoder: a HEP port can be reached by anything, and the payload is a stranger's SIP.

Properties: ``decode`` raises nothing but ``HepDecodeError``; what it accepts
re-encodes to a packet that decodes the same; it never allocates much more
than the bytes it was given.
"""

from __future__ import annotations

import socket
import tracemalloc

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensips.hep import HepDecodeError, HepPacket, decode, encode
from tests.test_hep_decode import PACKETS

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REAL = [bytes.fromhex(p["hex"]) for _, p in PACKETS]


def decode_or_none(data: bytes) -> HepPacket | None:
    try:
        return decode(data)
    except HepDecodeError:
        return None


@st.composite
def chunk_soup(draw: st.DrawFn) -> bytes:
    """A HEP3 header over random chunks: known types with wrong sizes, vendors, lengths that lie."""
    body = b""
    for _ in range(draw(st.integers(0, 14))):
        value = draw(st.binary(max_size=24))
        length = draw(st.one_of(st.just(6 + len(value)), st.integers(0, 0xFFFF)))
        vendor = draw(st.sampled_from([0, 0, 0, 1, 0xFFFF]))
        kind = draw(st.one_of(st.integers(1, 0x11), st.integers(0, 0xFFFF)))
        body += vendor.to_bytes(2, "big") + kind.to_bytes(2, "big") + length.to_bytes(2, "big") + value
    total = draw(st.one_of(st.just(6 + len(body)), st.integers(0, 0xFFFF)))
    return b"HEP3" + (total & 0xFFFF).to_bytes(2, "big") + body


@FAST
@given(st.one_of(st.binary(max_size=2048), chunk_soup(),
                 st.builds(lambda v, h, rest: bytes((v, h)) + rest, st.integers(0, 3),
                           st.sampled_from([16, 40]), st.binary(max_size=120))))
def test_arbitrary_bytes_raise_only_hep_decode_error(data: bytes) -> None:
    got = decode_or_none(data)
    if got is not None:
        assert got.version in (2, 3) and got.family in (socket.AF_INET, socket.AF_INET6)
        assert got.payload and len(got.payload) <= len(data)


@FAST
@given(st.sampled_from(REAL), st.data())
def test_mutated_real_packets_raise_only_hep_decode_error(raw: bytes, data: st.DataObject) -> None:
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 6))):
        buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
    got = decode_or_none(bytes(buf[: data.draw(st.integers(0, len(buf)))]))
    if got is not None and got.version == 3:
        assert decode(encode(got)) == got


@FAST
@given(st.sampled_from([socket.AF_INET, socket.AF_INET6]), st.sampled_from([6, 17, 22, 50, 99]),
       st.integers(0, 65535), st.integers(0, 65535), st.integers(0, 2**32 - 1), st.integers(0, 999_999),
       st.one_of(st.none(), st.integers(0, 2**32 - 1)), st.binary(min_size=1, max_size=3000),
       st.one_of(st.none(), st.binary(max_size=80)), st.data())
def test_encoded_packets_roundtrip(family, proto, sport, dport, sec, usec, capture, payload, corr, data) -> None:
    size = 4 if family == socket.AF_INET else 16
    src = socket.inet_ntop(family, data.draw(st.binary(min_size=size, max_size=size)))
    dst = socket.inet_ntop(family, data.draw(st.binary(min_size=size, max_size=size)))
    pkt = HepPacket(version=3, family=family, proto=proto, src_ip=src, src_port=sport, dst_ip=dst,
                    dst_port=dport, time=sec + usec / 1e6, payload_type=1, capture_id=capture,
                    payload=payload, correlation_id=corr)
    got = decode(encode(pkt))
    assert got.time == pkt.time or abs(got.time - pkt.time) < 1e-6
    assert got == HepPacket(**{**{f: getattr(pkt, f) for f in pkt.__slots__}, "time": got.time})


def test_memory_stays_near_the_input_size() -> None:
    """A maximal datagram of many tiny chunks, or one huge payload, costs a few copies at most."""
    tiny = b"\x00\x01\x00\x63\x00\x06" * ((0xFFFF - 6) // 6)
    soup = b"HEP3" + (6 + len(tiny)).to_bytes(2, "big") + tiny
    big = encode(HepPacket(version=3, family=socket.AF_INET, proto=17, src_ip="1.2.3.4", src_port=1,
                           dst_ip="5.6.7.8", dst_port=2, time=0.0, payload_type=1, capture_id=None,
                           payload=b"x" * 65000, correlation_id=None))
    for data in (soup, big, b"\x02\x10\x02\x11" + bytes(65000)):
        tracemalloc.start()
        try:
            decode_or_none(data)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 4 * len(data)
