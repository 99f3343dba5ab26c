"""pcap and JSONL exports of HEP packets: every captured packet, IPv4/IPv6, UDP/TCP/TLS/WS.

The pcap is read back twice: by a small reader here (always), and by tshark
when it is installed (the Debian package), which must find the addresses,
ports, good checksums and the SIP of every packet.
"""

from __future__ import annotations

import io
import shutil
import socket
import struct
import subprocess

import pytest

from opensips.hep import HepPacket, decode
from opensips.hep.jsonl import dumps, loads, read_jsonl, write_jsonl
from opensips.hep.pcap import write_pcap
from opensips.hep.sip import summarize
from tests.test_hep_decode import PACKETS

REAL = [decode(bytes.fromhex(p["hex"])) for _, p in PACKETS]
SIP = b"OPTIONS sip:x@example.com SIP/2.0\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"


def made(family: int, proto: int, n: int) -> HepPacket:
    v6 = family == socket.AF_INET6
    return HepPacket(version=3, family=family, proto=proto, src_ip="2001:db8::5" if v6 else "192.0.2.5",
                     src_port=5060 + n, dst_ip="::1" if v6 else "198.51.100.7", dst_port=5080,
                     time=1796309586.25 + n, payload_type=1, capture_id=None,
                     payload=SIP % f"mix-{n}".encode(), correlation_id=None)


MIXED = [made(f, p, i) for i, (f, p) in enumerate((f, p) for f in (socket.AF_INET, socket.AF_INET6)
                                                   for p in (17, 6, 22, 50))]


def read_pcap(data: bytes) -> list[tuple[float, bytes]]:
    magic, major, minor, _, _, _, link = struct.unpack_from("<IHHiIII", data)
    assert (magic, major, minor, link) == (0xA1B2C3D4, 2, 4, 1)
    out, pos = [], 24
    while pos < len(data):
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, pos)
        assert incl == orig
        out.append((sec + usec / 1e6, data[pos + 16:pos + 16 + incl]))
        pos += 16 + incl
    return out


def test_pcap_records_carry_the_payload_at_the_right_offset() -> None:
    buf = io.BytesIO()
    assert write_pcap(REAL + MIXED, buf) == len(REAL) + len(MIXED)
    records = read_pcap(buf.getvalue())
    for (when, frame), packet in zip(records, REAL + MIXED):
        v6 = packet.family == socket.AF_INET6
        assert frame[12:14] == (b"\x86\xdd" if v6 else b"\x08\x00")
        ip = 14 + (40 if v6 else 20)
        l4 = 8 if packet.proto == 17 else 20
        assert frame[ip + l4:] == packet.payload
        assert frame[ip:ip + 4] == struct.pack("!HH", packet.src_port, packet.dst_port)
        assert abs(when - packet.time) < 1e-6


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (apt-get install tshark)")
def test_tshark_reads_addresses_checksums_and_sip(tmp_path) -> None:
    path = tmp_path / "trace.pcap"
    with path.open("wb") as f:
        write_pcap(REAL + MIXED, f)
    fields = ["ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "udp.srcport", "tcp.srcport", "udp.dstport",
              "tcp.dstport", "sip.Call-ID", "_ws.expert.message"]
    out = subprocess.run(["tshark", "-r", str(path), "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
                          "-o", "tcp.check_checksum:TRUE", "-d", "tcp.port==5061,sip", "-d", "tcp.port==5062,sip",
                          "-d", "tcp.port==5063,sip", "-d", "tcp.port==5065,sip", "-d", "tcp.port==5066,sip",
                          "-d", "tcp.port==5067,sip", "-T", "fields", "-E", "separator=|",
                          *[a for f in fields for a in ("-e", f)]],
                         capture_output=True, text=True, timeout=120, check=True).stdout.splitlines()
    assert len(out) == len(REAL) + len(MIXED)
    for row, packet in zip(out, REAL + MIXED):
        src4, src6, dst4, dst6, usport, tsport, udport, tdport, call_id, expert = row.split("|")
        assert (src4 or src6, dst4 or dst6) == (packet.src_ip, packet.dst_ip)
        assert int(usport or tsport) == packet.src_port and int(udport or tdport) == packet.dst_port
        assert call_id == summarize(packet.payload).call_id != ""
        assert "checksum" not in expert.lower() and "malformed" not in expert.lower(), row


def test_jsonl_is_lossless_and_ascii() -> None:
    odd = HepPacket(version=3, family=socket.AF_INET, proto=17, src_ip="1.2.3.4", src_port=1, dst_ip="5.6.7.8",
                    dst_port=2, time=1.5, payload_type=1, capture_id=7,
                    payload=b"INVITE sip:\xff\xfe@x SIP/2.0\r\nUser-Agent: \x1b[31m\xe2\x80\xae\r\n\r\n",
                    correlation_id=b"\xc3(")
    buf = io.StringIO()
    write_jsonl(REAL + MIXED + [odd], buf)
    text = buf.getvalue()
    assert text.isascii() and "\x1b" not in text
    assert list(read_jsonl(io.StringIO(text))) == REAL + MIXED + [odd]
    assert loads(dumps(odd)).payload == odd.payload
    with pytest.raises(ValueError):
        loads('{"time": 1}')
