"""HEP packets as a pcap file that Wireshark, tshark and sngrep open.

HEP carries the addresses, ports, transport and time of each SIP message but
not the IP packet it came in, so the packet is synthesized: an Ethernet
frame (zero MACs), an IPv4 or IPv6 header, then UDP, or TCP for TCP, TLS and
WS (OpenSIPS hands the tracer the decrypted, unframed SIP, so the payload is
plain SIP whatever the transport). TCP sequence numbers run per direction so
a reader can follow the stream. Checksums are real. Standard library only.

Wireshark dissects TCP port 5061 as TLS: read TLS messages with
``-d tcp.port==5061,sip`` (or Decode As... SIP).
"""

from __future__ import annotations

import socket
import struct
from typing import BinaryIO, Iterable

from .packet import PROTO_UDP, HepPacket

__all__ = ["PcapWriter", "write_pcap", "frame"]

LINKTYPE_ETHERNET = 1
SNAPLEN = 262144
_GLOBAL = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)
_RECORD = struct.Struct("<IIII")
_MAX_PAYLOAD = 65535 - 40 - 20  # what fits in one IPv6 + TCP packet (IPv4 allows a little more)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def frame(packet: HepPacket, seq: int = 1) -> bytes:
    """One Ethernet frame carrying ``packet``'s payload between its HEP addresses.

    ``seq`` is the TCP sequence number (ignored for UDP). A payload longer
    than one IP packet can carry is cut (the pcap record says so by its length).
    """
    payload = packet.payload[:_MAX_PAYLOAD]
    v6 = packet.family == socket.AF_INET6
    src = socket.inet_pton(packet.family, packet.src_ip)
    dst = socket.inet_pton(packet.family, packet.dst_ip)
    udp = packet.proto == PROTO_UDP
    ip_proto = 17 if udp else 6
    if udp:
        l4 = struct.pack("!HHHH", packet.src_port, packet.dst_port, 8 + len(payload), 0) + payload
    else:  # TCP, TLS, WS: PSH+ACK, a fixed window
        l4 = struct.pack("!HHIIBBHHH", packet.src_port, packet.dst_port, seq & 0xFFFFFFFF, 1, 5 << 4, 0x18,
                         65535, 0, 0) + payload
    if v6:
        pseudo = src + dst + struct.pack("!IxxxB", len(l4), ip_proto)
    else:
        pseudo = src + dst + struct.pack("!xBH", ip_proto, len(l4))
    check = _checksum(pseudo + l4) or 0xFFFF
    at = 6 if udp else 16
    l4 = l4[:at] + struct.pack("!H", check) + l4[at + 2:]
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, len(l4), ip_proto, 64) + src + dst
        ethertype = 0x86DD
    else:
        head = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(l4), 0, 0x4000, 64, ip_proto, 0) + src + dst
        ip = head[:10] + struct.pack("!H", _checksum(head)) + head[12:]
        ethertype = 0x0800
    return bytes(12) + struct.pack("!H", ethertype) + ip + l4


class PcapWriter:
    """Writes the pcap header, then one record per ``write(packet)``; keeps TCP sequence numbers."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.count = 0
        self._seq: dict[tuple, int] = {}
        out.write(_GLOBAL)

    def write(self, packet: HepPacket) -> None:
        key = (packet.src_ip, packet.src_port, packet.dst_ip, packet.dst_port)
        seq = self._seq.get(key, 1)
        data = frame(packet, seq)
        if packet.proto != PROTO_UDP:
            self._seq[key] = seq + min(len(packet.payload), _MAX_PAYLOAD)
        seconds = int(packet.time)
        micro = min(int(round((packet.time - seconds) * 1e6)), 999_999)
        self.out.write(_RECORD.pack(seconds & 0xFFFFFFFF, micro, len(data), len(data)) + data)
        self.count += 1


def write_pcap(packets: Iterable[HepPacket], out: BinaryIO) -> int:
    """Write every packet to ``out`` (a binary file); returns how many."""
    writer = PcapWriter(out)
    for packet in packets:
        writer.write(packet)
    return writer.count
