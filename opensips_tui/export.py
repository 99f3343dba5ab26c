"""Exports: the log as JSON Lines, or one notification as a JSON file. No Textual here.

Three promises, each broken once by a quick ``e``, ``c``, ``e`` or a hostile payload:

- a file is never overwritten: names carry microseconds and are opened with ``"x"``
  (exclusive create), with ``-2``, ``-3``... on a clash;
- the output is valid JSON and bytes that were not UTF-8 are kept: the encoding of
  :mod:`opensips.record.lossless` (NaN/Infinity as strings, ``raw_b64``), which recordings
  share.

Everything is ASCII-escaped JSON, so ``cat`` on an export cannot drive the terminal.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

# The lossless encoding lives in the library, shared with recordings (opensips.record).
from opensips.record.lossless import encode, finite

if TYPE_CHECKING:
    from .feed import Entry

__all__ = ["finite", "record", "dumps", "pretty", "create", "write_jsonl", "write_one"]


def record(entry: "Entry") -> dict[str, Any]:
    """One export record: time, node (when the entry has one: a fleet), event, the notification,
    and ``raw_b64`` when it was not UTF-8 (the fields of a recording, opensips.record.format)."""
    fields: dict[str, Any] = {"time": entry.ts, "event": entry.event} if entry.node is None \
        else {"time": entry.ts, "node": entry.node, "event": entry.event}
    return encode(entry.notification, fields)


def dumps(entry: "Entry", indent: int | None = None) -> str:
    """The record as ASCII-only, strictly valid JSON (``allow_nan=False`` cannot fire)."""
    return json.dumps(record(entry), ensure_ascii=True, allow_nan=False, default=str, indent=indent)


def pretty(entry: "Entry") -> str:
    """The notification as indented JSON for reading (not ASCII-escaped: shown through clean())."""
    return json.dumps(finite(entry.notification), ensure_ascii=False, indent=2, default=str)


def create(directory: Path, stem: str, suffix: str, now: datetime | None = None) -> tuple[Path, Any]:
    """A new file ``stem-YYYYmmdd-HHMMSS-micro[-N]suffix`` in ``directory``, open for writing.

    Exclusive creation: two exports in the same microsecond (or clock steps back) get ``-2``...
    """
    directory.mkdir(parents=True, exist_ok=True)
    base = f"{stem}-{(now or datetime.now()).strftime('%Y%m%d-%H%M%S-%f')}"
    for n in range(1, 1000):
        path = directory / f"{base}{'' if n == 1 else f'-{n}'}{suffix}"
        try:
            return path, path.open("x", encoding="utf-8")
        except FileExistsError:
            continue
    raise FileExistsError(f"{directory}: too many exports named {base}*")


def write_jsonl(entries: Iterable["Entry"], directory: Path) -> tuple[Path, int]:
    """Write ``entries`` as JSON Lines to a new file; returns its path and the count."""
    path, out = create(directory, "events", ".jsonl")
    count = 0
    with out:
        for entry in entries:
            out.write(dumps(entry) + "\n")
            count += 1
    return path, count


def write_one(entry: "Entry", directory: Path) -> tuple[Path, str]:
    """Write one notification as pretty JSON to a new file; returns its path and the text."""
    text = dumps(entry, indent=2)
    path, out = create(directory, f"event-{entry.seq}", ".json")
    with out:
        out.write(text + "\n")
    return path, text
