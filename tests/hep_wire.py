"""The HEP packets OpenSIPS 4.0.1's tracer sent, from tests/fixtures/opensips-wire/4.0.1/hep/.

Each capture lists what the HEP receivers got: UDP datagrams, and per TCP connection the
packets cut from the stream. Every one carries ``hex`` (the bytes) and a one-line ``summary``.
"""

from __future__ import annotations

from typing import Any

from opensips.hep import HepPacket, decode
from tests.wire import cases, sample


def captured(case: str) -> list[dict[str, Any]]:
    """Every received packet of one capture (``hex``, ``summary``, ``decoded``), in arrival order."""
    data = sample("4.0.1", "hep", case)
    out: list[dict[str, Any]] = []
    for key, value in data.items():
        if "received" not in key or not isinstance(value, list):
            continue
        for item in value:
            out += item["packets"] if "packets" in item else [item]
    return out


def packets(case: str) -> list[HepPacket]:
    return [decode(bytes.fromhex(p["hex"])) for p in captured(case)]


def all_captured() -> list[dict[str, Any]]:
    return [p for case in cases("4.0.1", "hep") for p in captured(case)]


# The capture with everything: REGISTER+200, OPTIONS+200, a whole call through OpenSIPS
# (INVITE .. BYE/200 on both legs), an un-REGISTER: 20 packets.
FULL = "udp_scope_t_register_options_call"
# The same over TCP, where two packets arrived out of capture-time order.
FULL_TCP = "tcp_scope_t_register_options_call"
