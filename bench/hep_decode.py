"""HEP3 packets decoded per second by ``opensips.hep.decode``, against a struct-parsing floor.

The packets are the 83 HEP3 packets a real OpenSIPS 4.0.1 tracer sent (tests/fixtures), in a
loop. The floor walks the same chunk headers with ``struct.unpack_from`` and builds nothing: no
validation, no addresses, no dataclass. It is what any pure-Python HEP decoder costs at least,
so decode/floor says how much the checks and the ``HepPacket`` add. Each round runs both, one
after the other; the median of ``--rounds`` rounds is printed with the spread.

    python bench/hep_decode.py [--seconds 1.0] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import time
from pathlib import Path

from opensips.hep import decode

HEP = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "opensips-wire" / "4.0.1" / "hep"
_CHUNK = struct.Struct("!HHH")


def packets() -> list[bytes]:
    out = []
    for path in sorted(HEP.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        groups = [data.get("hep_udp_received") or []] + [c["packets"] for c in data.get("hep_tcp_received") or []]
        out += [bytes.fromhex(p["hex"]) for g in groups for p in g if p["hex"].startswith("48455033")]
    return out


def floor(data: bytes) -> int:
    """Walk the chunks: the least a HEP3 decoder in Python does."""
    total = struct.unpack_from("!H", data, 4)[0]
    pos, n = 6, 0
    unpack = _CHUNK.unpack_from
    while pos < total:
        _, _, length = unpack(data, pos)
        pos += length
        n += 1
    return n


def rate(fn, items: list[bytes], seconds: float) -> float:
    done, start = 0, time.perf_counter()
    end = start + seconds
    while True:
        for item in items:
            fn(item)
        done += len(items)
        now = time.perf_counter()
        if now >= end:
            return done / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement (default 1.0)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    args = parser.parse_args()
    items = packets()
    assert len(items) == 83, len(items)
    ours, base = [], []
    for _ in range(args.rounds):
        ours.append(rate(decode, items, args.seconds))
        base.append(rate(floor, items, args.seconds))
    size = sum(map(len, items)) / len(items)
    print(f"{len(items)} captured HEP3 packets, {size:.0f} bytes on average, {args.rounds} rounds of {args.seconds:g} s")
    for name, runs in (("opensips.hep.decode", ours), ("struct floor (chunk walk)", base)):
        print(f"{name:26} {statistics.median(runs):>10,.0f} packets/s  (runs {min(runs):,.0f} - {max(runs):,.0f})")
    print(f"decode / floor: {statistics.median(ours) / statistics.median(base):.2f}")


if __name__ == "__main__":
    main()
