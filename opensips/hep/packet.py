"""One HEP packet: what OpenSIPS's tracer mirrors for each SIP message it handles.

HEP (Homer Encapsulation Protocol) wraps a SIP message with the addresses,
transport and time it was seen at. OpenSIPS sends HEPv3 by default: a
``HEP3`` magic, a 16-bit total length, then type-length-value chunks. With
``version=2`` in the trace URI it sends the older fixed binary header instead.

Everything here is untrusted input from the network: ``decode`` checks every
length against the bytes it has and raises ``HepDecodeError`` (a
``ValueError``) for anything else, never another exception. The payload is
kept as raw bytes; parsing SIP is the caller's business.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

__all__ = ["HepPacket", "HepDecodeError", "decode", "encode", "HEP3_MAGIC", "MAX_PACKET",
           "PROTO_UDP", "PROTO_TCP", "PROTO_TLS", "PROTO_WS", "PAYLOAD_SIP"]

HEP3_MAGIC = b"HEP3"
MAX_PACKET = 0xFFFF  # the HEP3 length field is 16 bits: no packet is longer

# chunk 0x02 values: the IP protocol, plus the numbers OpenSIPS's tracer uses for TLS and WS/WSS
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_TLS = 22
PROTO_WS = 50
PAYLOAD_SIP = 1

_TRANSPORTS = {PROTO_UDP: "UDP", PROTO_TCP: "TCP", PROTO_TLS: "TLS", PROTO_WS: "WS"}
# HEP writes the Linux address family numbers; map them to this platform's constants
_FAMILIES = {2: socket.AF_INET, 10: socket.AF_INET6}
_HEP_FAMILY: dict[int, int] = {socket.AF_INET: 2, socket.AF_INET6: 10}


class HepDecodeError(ValueError):
    """The bytes are not a well-formed HEPv2/HEPv3 packet carrying a message."""


@dataclass(frozen=True, slots=True)
class HepPacket:
    """One mirrored message. Field names are the interface the trace screen codes against."""

    version: int            # 2 or 3
    family: int             # socket.AF_INET or socket.AF_INET6
    proto: int              # chunk 0x02: 17 UDP, 6 TCP, 22 TLS (tracer), 50 WS/WSS (tracer)
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    time: float             # chunk 0x09 seconds + 0x0a microseconds / 1e6
    payload_type: int       # 1 = SIP
    capture_id: int | None
    payload: bytes          # raw SIP bytes, never decoded here
    correlation_id: bytes | None  # chunk 0x11 (the Call-ID for SIP)

    @property
    def transport(self) -> str:
        """``UDP``, ``TCP``, ``TLS``, ``WS`` (WS and WSS alike), or ``proto N`` for anything else."""
        return _TRANSPORTS.get(self.proto) or f"proto {self.proto}"


_U16 = struct.Struct("!H")
_ntop = socket.inet_ntop
_CHUNK = struct.Struct("!HHH")  # vendor, type, length (the length counts these 6 bytes)
_V2_HEAD = struct.Struct("!BBBBHH")  # version, header length, family, proto, src port, dst port
_V2_TIME = struct.Struct("<IIH2x")  # seconds, microseconds, capture id: host order, as OpenSIPS writes it

# The first ten chunks exactly as OpenSIPS writes them for IPv4 (type, value format), in its order.
_OPENSIPS_CHUNKS = ((0x01, "B"), (0x02, "B"), (0x07, "H"), (0x08, "H"), (0x09, "I"), (0x0A, "I"),
                    (0x0B, "B"), (0x0C, "I"), (0x03, "4s"), (0x04, "4s"))
_OPENSIPS_HEADERS = struct.Struct("!6x" + "".join(f"HHH{struct.calcsize(f)}x" for _, f in _OPENSIPS_CHUNKS))
_OPENSIPS_VALUES = struct.Struct("!6x" + "".join(f"6x{f}" for _, f in _OPENSIPS_CHUNKS))
_OPENSIPS_LAYOUT = tuple(v for k, f in _OPENSIPS_CHUNKS for v in (0, k, 6 + struct.calcsize(f)))
_OPENSIPS_END = _OPENSIPS_VALUES.size

# fixed value sizes of the vendor-0 chunks we read (type -> value bytes)
_FIXED = {0x01: 1, 0x02: 1, 0x03: 4, 0x04: 4, 0x05: 16, 0x06: 16, 0x07: 2, 0x08: 2,
          0x09: 4, 0x0A: 4, 0x0B: 1}


def decode(data: bytes) -> HepPacket:
    """Decode one whole HEP packet (one UDP datagram, or one frame cut from a TCP stream).

    Raises ``HepDecodeError`` when the bytes are not HEP, are truncated, carry
    inconsistent lengths, or lack the addresses, time or payload of a message.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise HepDecodeError(f"HEP data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if data[:4] == HEP3_MAGIC:
        return _decode_v3(data)
    if len(data) >= 2 and data[0] in (1, 2) and data[1] in (16, 40):
        return _decode_v2(data)
    raise HepDecodeError(f"not a HEP packet (starts with {data[:4]!r})")


def _decode_v3(data: bytes) -> HepPacket:
    # One pass over the chunks with the common ones handled inline: this runs once per SIP
    # message OpenSIPS handles (bench/hep_decode.py), so no per-chunk dict or helper calls.
    size = len(data)
    if size < 6:
        raise HepDecodeError(f"HEP3 packet of {size} bytes is shorter than its 6-byte header")
    total = data[4] << 8 | data[5]
    if total != size:
        raise HepDecodeError(f"HEP3 length field says {total} bytes, got {size}")
    family_no = proto = sport = dport = seconds = src = dst = payload = capture = corr = None
    micro, ptype, src6, dst6 = 0, PAYLOAD_SIP, None, None
    pos = 6
    if size >= _OPENSIPS_END and _OPENSIPS_HEADERS.unpack_from(data) == _OPENSIPS_LAYOUT:
        # OpenSIPS's own IPv4 layout: ten fixed chunks read at once, the loop reads the rest
        family_no, proto, sport, dport, seconds, micro, ptype, capture, src, dst = _OPENSIPS_VALUES.unpack_from(data)
        pos = _OPENSIPS_END
    unpack = _CHUNK.unpack_from
    fixed = _FIXED
    while pos < total:
        if total - pos < 6:
            raise HepDecodeError(f"HEP3 chunk header cut short at byte {pos}")
        vendor, kind, length = unpack(data, pos)
        end = pos + length
        if length < 6 or end > total:
            raise HepDecodeError(f"HEP3 chunk 0x{kind:02x} at byte {pos} has bad length {length}")
        if vendor == 0:
            v = pos + 6
            if kind == 0x0F:
                payload = data[v:end]
            elif kind == 0x11:
                corr = data[v:end]
            elif kind == 0x0C:
                if length not in (8, 10):
                    raise HepDecodeError(f"HEP3 capture id holds {length - 6} bytes, expected 2 or 4")
                capture = int.from_bytes(data[v:end], "big")
            elif kind in fixed:
                if length - 6 != fixed[kind] and not (kind == 0x0B and length == 8):
                    raise HepDecodeError(f"HEP3 chunk 0x{kind:02x} holds {length - 6} bytes, "
                                         f"expected {fixed[kind]}")
                if kind == 0x01:
                    family_no = data[v]
                elif kind == 0x02:
                    proto = data[v]
                elif kind == 0x07:
                    sport = data[v] << 8 | data[v + 1]
                elif kind == 0x08:
                    dport = data[v] << 8 | data[v + 1]
                elif kind == 0x09:
                    seconds = int.from_bytes(data[v:end], "big")
                elif kind == 0x0A:
                    micro = int.from_bytes(data[v:end], "big")
                elif kind == 0x03:
                    src = data[v:end]
                elif kind == 0x04:
                    dst = data[v:end]
                elif kind == 0x05:
                    src6 = data[v:end]
                elif kind == 0x06:
                    dst6 = data[v:end]
                else:  # 0x0B
                    ptype = int.from_bytes(data[v:end], "big")
        pos = end

    if family_no is None:
        raise HepDecodeError("HEP3 packet has no address family (chunk 0x01)")
    family = _FAMILIES.get(family_no)
    if family is None:
        raise HepDecodeError(f"HEP3 address family {family_no} is neither IPv4 (2) nor IPv6 (10)")
    if family != socket.AF_INET:
        src, dst = src6, dst6
    for value, kind, what in ((src, 0x03 if family == socket.AF_INET else 0x05, "source address"),
                              (dst, 0x04 if family == socket.AF_INET else 0x06, "destination address"),
                              (seconds, 0x09, "timestamp"), (payload, 0x0F, "payload"),
                              (proto, 0x02, "IP protocol"), (sport, 0x07, "source port"),
                              (dport, 0x08, "destination port")):
        if value is None:
            raise HepDecodeError(f"HEP3 packet has no {what} (chunk 0x{kind:02x})")
    if not payload:
        raise HepDecodeError("HEP3 payload chunk is empty")
    return HepPacket(3, family, proto, _ntop(family, src), sport, _ntop(family, dst), dport,  # type: ignore[arg-type]
                     seconds + micro / 1e6, ptype, capture, payload, corr)  # type: ignore[operator]


def _decode_v2(data: bytes) -> HepPacket:
    """HEPv2: a HEPv1 header (network order) then a time block in OpenSIPS's host order.

    There is no payload length: the payload is the rest of the datagram, with
    the NUL padding OpenSIPS leaves after the message removed.
    """
    version, head, family_no, proto, sport, dport = _V2_HEAD.unpack_from(data) if len(data) >= 8 else \
        (0, 0, 0, 0, 0, 0)
    if version != 2:
        raise HepDecodeError(f"HEPv{version or 1} packets carry no timestamp; only HEPv2 and HEPv3 are read")
    family = _FAMILIES.get(family_no)
    addr = 4 if head == 16 else 16
    if family is None or (family == socket.AF_INET) != (addr == 4):
        raise HepDecodeError(f"HEPv2 header of {head} bytes does not fit address family {family_no}")
    if len(data) < head + _V2_TIME.size:
        raise HepDecodeError(f"HEPv2 packet of {len(data)} bytes is shorter than its {head + 12}-byte header")
    seconds, micro, capture = _V2_TIME.unpack_from(data, head)
    payload = data[head + _V2_TIME.size:].rstrip(b"\0")
    if not payload:
        raise HepDecodeError("HEPv2 packet has no payload")
    return HepPacket(
        version=2, family=family, proto=proto,
        src_ip=socket.inet_ntop(family, data[8:8 + addr]), src_port=sport,
        dst_ip=socket.inet_ntop(family, data[8 + addr:8 + 2 * addr]), dst_port=dport,
        time=seconds + micro / 1e6, payload_type=PAYLOAD_SIP, capture_id=capture,
        payload=payload, correlation_id=None,
    )


def _chunk(kind: int, value: bytes) -> bytes:
    return _CHUNK.pack(0, kind, 6 + len(value)) + value


def encode(packet: HepPacket) -> bytes:
    """The HEPv3 bytes OpenSIPS would send for ``packet`` (same chunk order).

    Used by the simulator and by tests; raises ``ValueError`` when the packet
    does not fit in one HEP3 frame.
    """
    family = _HEP_FAMILY.get(packet.family)
    if family is None:
        raise ValueError(f"unknown address family {packet.family}")
    seconds = int(packet.time)
    micro = min(int(round((packet.time - seconds) * 1e6)), 999_999)
    src_kind, dst_kind = (0x03, 0x04) if packet.family == socket.AF_INET else (0x05, 0x06)
    body = b"".join((
        _chunk(0x01, bytes((family,))), _chunk(0x02, bytes((packet.proto,))),
        _chunk(0x07, packet.src_port.to_bytes(2, "big")), _chunk(0x08, packet.dst_port.to_bytes(2, "big")),
        _chunk(0x09, seconds.to_bytes(4, "big")), _chunk(0x0A, micro.to_bytes(4, "big")),
        _chunk(0x0B, bytes((packet.payload_type,))),
        _chunk(0x0C, packet.capture_id.to_bytes(4, "big")) if packet.capture_id is not None else b"",
        _chunk(src_kind, socket.inet_pton(packet.family, packet.src_ip)),
        _chunk(dst_kind, socket.inet_pton(packet.family, packet.dst_ip)),
        _chunk(0x0F, packet.payload),
        _chunk(0x11, packet.correlation_id) if packet.correlation_id is not None else b"",
    ))
    total = 6 + len(body)
    if total > MAX_PACKET:
        raise ValueError(f"HEP3 packet of {total} bytes exceeds the 65535-byte length field")
    return HEP3_MAGIC + _U16.pack(total) + body
