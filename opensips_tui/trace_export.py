"""Export traced messages as a pcap (Wireshark, tshark, sngrep) and as JSON Lines. No Textual here.

Both files share one new name under the export directory (``trace-call-YYYYmmdd-HHMMSS-micro``
plus ``.pcap`` and ``.jsonl``), created exclusively so nothing is ever overwritten; the
writers are ``opensips.hep``'s (:func:`~opensips.hep.pcap.write_pcap` synthesizes the IP and
UDP/TCP headers from the HEP addresses; :func:`~opensips.hep.jsonl.write_jsonl` is lossless and
ASCII-only). Messages are written in capture-time order, as a capture tool would have seen them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from opensips.hep.calls import TraceMessage
from opensips.hep.jsonl import write_jsonl
from opensips.hep.pcap import write_pcap

from .export import create

__all__ = ["export_messages"]


def export_messages(messages: Iterable[TraceMessage], directory: Path, stem: str) -> tuple[Path, Path, int]:
    """Write ``messages`` to ``stem-<time>.pcap`` and ``stem-<time>.jsonl``; returns both paths and the count."""
    packets = [m.packet for m in sorted(messages, key=lambda m: (m.time, m.seq))]
    jsonl_path, out = create(directory, stem, ".jsonl")
    with out:
        count = write_jsonl(packets, out)
    pcap_path = jsonl_path.with_suffix(".pcap")
    with pcap_path.open("xb") as binary:
        write_pcap(packets, binary)
    return pcap_path, jsonl_path, count
