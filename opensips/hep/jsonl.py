"""HEP packets as JSON Lines, lossless: the payload's bytes are kept next to its text.

Each line is one ASCII-only JSON object: the ``HepPacket`` fields, ``transport``,
``payload`` (the SIP text, invalid UTF-8 shown as U+FFFD) and ``payload_b64``
(the exact bytes), ``correlation_id`` likewise. ASCII-escaped, so ``cat`` on
the file cannot drive a terminal; ``read_jsonl`` gives back equal packets.
"""

from __future__ import annotations

import base64
import json
import socket
from typing import Any, Iterable, Iterator, TextIO

from .packet import HepPacket

__all__ = ["record", "dumps", "loads", "write_jsonl", "read_jsonl"]


def record(packet: HepPacket) -> dict[str, Any]:
    corr = packet.correlation_id
    return {
        "time": packet.time, "transport": packet.transport, "proto": packet.proto,
        "src_ip": packet.src_ip, "src_port": packet.src_port, "dst_ip": packet.dst_ip, "dst_port": packet.dst_port,
        "family": 6 if packet.family == socket.AF_INET6 else 4, "version": packet.version,
        "payload_type": packet.payload_type, "capture_id": packet.capture_id,
        "correlation_id": corr.decode("utf-8", "replace") if corr is not None else None,
        "correlation_id_b64": base64.b64encode(corr).decode("ascii") if corr is not None else None,
        "payload": packet.payload.decode("utf-8", "replace"),
        "payload_b64": base64.b64encode(packet.payload).decode("ascii"),
    }


def dumps(packet: HepPacket) -> str:
    """One line (no newline), ASCII only."""
    return json.dumps(record(packet), ensure_ascii=True, separators=(",", ":"))


def loads(line: str) -> HepPacket:
    """A packet back from its line (``ValueError`` when it is not one of ours)."""
    try:
        r = json.loads(line)
        corr = r.get("correlation_id_b64")
        return HepPacket(
            version=int(r["version"]), family=socket.AF_INET6 if r["family"] == 6 else socket.AF_INET,
            proto=int(r["proto"]), src_ip=str(r["src_ip"]), src_port=int(r["src_port"]), dst_ip=str(r["dst_ip"]),
            dst_port=int(r["dst_port"]), time=float(r["time"]), payload_type=int(r["payload_type"]),
            capture_id=None if r["capture_id"] is None else int(r["capture_id"]),
            payload=base64.b64decode(r["payload_b64"], validate=True),
            correlation_id=None if corr is None else base64.b64decode(corr, validate=True))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a HEP JSONL record: {exc!r}") from None


def write_jsonl(packets: Iterable[HepPacket], out: TextIO) -> int:
    n = 0
    for packet in packets:
        out.write(dumps(packet) + "\n")
        n += 1
    return n


def read_jsonl(lines: Iterable[str]) -> Iterator[HepPacket]:
    for line in lines:
        if line.strip():
            yield loads(line)
