"""The HEP decoder against every packet a real OpenSIPS 4.0.1 tracer sent (tests/fixtures/.../hep/).

Each capture file lists the packets with the capturer's own decoding
(``decoded`` for HEP3, ``decoded_v2`` for HEPv2); ``decode`` must agree with
it field by field, and TCP streams must cut into the same packets.
"""

from __future__ import annotations

import socket

import pytest

from opensips.hep import HepDecodeError, HepPacket, decode, encode
from tests.wire import WIRE, sample

HEP_CASES = sorted(p.stem for p in (WIRE / "4.0.1" / "hep").glob("*.json"))


def captured_packets() -> list[tuple[str, dict]]:
    """(case, packet record) for every UDP datagram and every packet of every TCP connection."""
    out = []
    for case in HEP_CASES:
        capture = sample("4.0.1", "hep", case)
        out += [(case, p) for p in capture.get("hep_udp_received") or []]
        for conn in capture.get("hep_tcp_received") or []:
            out += [(case, p) for p in conn["packets"]]
    return out


PACKETS = captured_packets()
V3 = [(c, p) for c, p in PACKETS if p["decoded"].get("magic") == "HEP3"]
V2 = [(c, p) for c, p in PACKETS if "decoded_v2" in p]


def test_every_capture_was_found() -> None:
    assert len(HEP_CASES) == 12
    assert len(V3) == 83 and len(V2) == 2
    assert len(V3) + len(V2) == len(PACKETS)


@pytest.mark.parametrize("case,record", V3, ids=[f"{c}-{i}" for i, (c, _) in enumerate(V3)])
def test_hep3_packet_matches_capture(case: str, record: dict) -> None:
    raw = bytes.fromhex(record["hex"])
    assert len(raw) == record["len"]
    chunks = {c["type"]: c["value"] for c in record["decoded"]["chunks"]}
    pkt = decode(raw)
    assert pkt.version == 3
    assert pkt.family == {2: socket.AF_INET, 10: socket.AF_INET6}[chunks[1]]
    assert pkt.proto == chunks[2]
    assert (pkt.src_ip, pkt.src_port, pkt.dst_ip, pkt.dst_port) == (chunks[3], chunks[7], chunks[4], chunks[8])
    assert pkt.time == pytest.approx(chunks[9] + chunks[10] / 1e6, abs=1e-6)
    assert pkt.payload_type == chunks[11] == 1
    assert pkt.capture_id == chunks[12]
    assert pkt.payload == chunks[15].encode("utf-8", "surrogateescape")
    assert pkt.correlation_id == chunks[17].encode()
    assert pkt.transport == "UDP"
    # the summary the capturer wrote names the same endpoints and first line
    assert f"{pkt.src_ip}:{pkt.src_port} -> {pkt.dst_ip}:{pkt.dst_port}" in record["summary"]
    assert pkt.payload.split(b"\r\n", 1)[0].decode() in record["summary"]
    # our encoder writes the same bytes OpenSIPS wrote
    assert encode(pkt) == raw


@pytest.mark.parametrize("case,record", V2, ids=[f"v2-{i}" for i in range(len(V2))])
def test_hep2_packet_matches_capture(case: str, record: dict) -> None:
    want = record["decoded_v2"]
    pkt = decode(bytes.fromhex(record["hex"]))
    assert pkt.version == 2 and pkt.family == socket.AF_INET and pkt.proto == want["ip_proto"]
    assert (pkt.src_ip, pkt.src_port, pkt.dst_ip, pkt.dst_port) == (
        want["src_ip"], want["src_port"], want["dst_ip"], want["dst_port"])
    assert pkt.time == pytest.approx(want["timestamp_sec_le"] + want["timestamp_usec_le"] / 1e6, abs=1e-6)
    assert pkt.capture_id == want["capture_id_le"]
    # the NUL padding after the message is not SIP
    assert pkt.payload == want["payload"].encode().rstrip(b"\0")
    assert pkt.payload.endswith(b"\r\n\r\n") and pkt.correlation_id is None


def test_tcp_streams_are_the_packets_back_to_back() -> None:
    capture = sample("4.0.1", "hep", "tcp_scope_t_register_options_call")
    (conn,) = capture["hep_tcp_received"]
    stream = bytes.fromhex(conn["stream_hex"])
    assert stream == b"".join(bytes.fromhex(p["hex"]) for p in conn["packets"])
    assert sum(conn["recv_chunk_lengths"]) == len(stream)


def test_transport_names() -> None:
    base = decode(bytes.fromhex(V3[0][1]["hex"]))
    names = {p: HepPacket(**{**{f: getattr(base, f) for f in base.__slots__}, "proto": p}).transport
             for p in (17, 6, 22, 50, 132)}
    assert names == {17: "UDP", 6: "TCP", 22: "TLS", 50: "WS", 132: "proto 132"}


def test_ipv6_roundtrip() -> None:
    pkt = HepPacket(version=3, family=socket.AF_INET6, proto=22, src_ip="2001:db8::1", src_port=5061,
                    dst_ip="::1", dst_port=5061, time=1796309586.5, payload_type=1, capture_id=None,
                    payload=b"OPTIONS sip:a SIP/2.0\r\n\r\n", correlation_id=None)
    assert decode(encode(pkt)) == pkt
    assert decode(encode(pkt)).transport == "TLS"


GOOD = bytes.fromhex(V3[0][1]["hex"])


@pytest.mark.parametrize("data,why", [
    (b"", "not a HEP packet"),
    (b"HEP", "not a HEP packet"),
    (b"HEP3", "shorter than its 6-byte header"),
    (GOOD[:-1], "length field says"),
    (GOOD + b"x", "length field says"),
    (b"HEP3\x00\x06", "no address family"),
    (b"HEP3\x00\x0a\x00\x00\x00\x01", "chunk header cut short"),
    (b"HEP3\x00\x0c\x00\x00\x00\x01\x00\x05", "bad length 5"),
    (b"HEP3\x00\x0c\x00\x00\x00\x01\x00\x07", "bad length 7"),
    (b"HEP3\x00\x0e\x00\x00\x00\x01\x00\x08\x00\x02", "holds 2 bytes, expected 1"),
    (b"\x01\x10\x02\x11" + bytes(30), "HEPv1 packets carry no timestamp"),
    (b"\x02\x10\x0a\x11" + bytes(30), "does not fit address family 10"),
    (b"\x02\x10\x02\x11" + bytes(20), "shorter than its 28-byte header"),
    (b"\x02\x10\x02\x11" + bytes(40), "HEPv2 packet has no payload"),
    ("HEP3", "must be bytes"),
])
def test_malformed_packets_raise_hep_decode_error(data: bytes, why: str) -> None:
    with pytest.raises(HepDecodeError, match=why) as info:
        decode(data)
    assert isinstance(info.value, ValueError)


def test_every_missing_required_chunk_is_named() -> None:
    raw = bytearray(GOOD)
    pos, kept = 6, []
    while pos < len(raw):
        length = int.from_bytes(raw[pos + 4:pos + 6], "big")
        kept.append(bytes(raw[pos:pos + length]))
        pos += length
    for i, chunk in enumerate(kept):
        kind = int.from_bytes(chunk[2:4], "big")
        rest = b"".join(kept[:i] + kept[i + 1:])
        data = b"HEP3" + (6 + len(rest)).to_bytes(2, "big") + rest
        if kind in (0x0A, 0x0B, 0x0C, 0x11):  # optional: defaults
            decode(data)
        else:
            with pytest.raises(HepDecodeError, match=f"chunk 0x{kind:02x}"):
                decode(data)


def test_vendor_chunks_are_skipped() -> None:
    extra = b"\x00\x01\x00\x0f\x00\x08ab"  # vendor 1, type 0x0f: not our payload
    data = GOOD[:4] + (len(GOOD) + len(extra)).to_bytes(2, "big") + GOOD[6:] + extra
    assert decode(data) == decode(GOOD)


@pytest.mark.parametrize("case,record", V3[::7], ids=[f"{c}-{i}" for i, (c, _) in enumerate(V3[::7])])
def test_chunk_order_does_not_matter(case: str, record: dict) -> None:
    """OpenSIPS's own layout is read at once; any other order goes chunk by chunk, to the same packet."""
    raw = bytes.fromhex(record["hex"])
    chunks, pos = [], 6
    while pos < len(raw):
        length = int.from_bytes(raw[pos + 4:pos + 6], "big")
        chunks.append(raw[pos:pos + length])
        pos += length
    for order in (chunks[::-1], chunks[1:] + chunks[:1]):
        assert decode(raw[:6] + b"".join(order)) == decode(raw)
