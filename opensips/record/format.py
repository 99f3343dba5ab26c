"""The recording format, version 1 (docs/recording-format.md is its description for people).

A recording is JSON Lines, ASCII only. Every file (the current one and each rotated one)
starts with a header line, then one line per notification::

    {"format":"opensips-recording","version":1,"created":1764790000.25,"producer":"opensips 0.9.0"}
    {"time":1764790000.5,"node":"edge1","event":"E_PIKE_BLOCKED","notification":{...}}
    {"gap":12,"time":1764790003.0,"error":"[Errno 28] No space left on device"}

The notification is encoded as the monitor's export encodes it (:mod:`.lossless`), so a
line of an export (``time``, ``event``, ``notification``, ``raw_b64``, no ``node``) is also a
valid record: an export can be replayed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from .errors import RecordingFormatError
from .lossless import restore

FORMAT = "opensips-recording"
VERSION = 1   # readers read every version up to theirs; see the compatibility rule in the doc


@dataclass(slots=True)
class Record:
    """One recorded notification, as played back."""

    index: int             # position among the recording's records (0-based; gaps and garbage not counted)
    time: float            # receive time, seconds since the epoch
    node: str | None       # the OpenSIPS it came from (None: a single-node recording, or an export)
    event: str             # the event name (the notification's ``method``)
    notification: dict     # as the decoder gave it (a RawNotification when ``raw_b64`` was set)


class Header(NamedTuple):
    """A header line: format version, when the file was started and by what."""

    version: int
    created: float | None
    producer: str | None
    extra: dict[str, Any]   # fields a later version added (kept, not interpreted)


class Gap(NamedTuple):
    """Records the writer lost (a full disk): how many, when it noticed, and why."""

    lost: int
    time: float | None
    error: str | None


def header_fields(created: float, producer: str) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "created": created, "producer": producer}


def parse_line(line: bytes) -> Record | Header | Gap | str:
    """One line: a Record (index -1, the reader numbers it), a Header, a Gap, or why it is garbage.

    A header of a newer version raises RecordingFormatError: its records may mean
    something this reader cannot know.
    """
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return "not JSON"
    if type(obj) is not dict:
        return "not a JSON object"
    if "notification" in obj:
        return _record(obj)
    if obj.get("format") == FORMAT:
        return _header(obj)
    if "gap" in obj:
        count = obj.get("gap")
        if type(count) is not int or count < 0:
            return "gap without a count"
        when = obj.get("time")
        error = obj.get("error")
        return Gap(count, _time(when), error if isinstance(error, str) else None)
    return "neither a record, a header nor a gap"


def _time(value: Any) -> float | None:
    if type(value) in (int, float) and math.isfinite(value):
        return float(value)
    return None


def _record(obj: dict) -> Record | str:
    notification = obj["notification"]
    if type(notification) is not dict:
        return "notification is not an object"
    when = _time(obj.get("time"))
    if when is None:
        return "no valid time"
    node = obj.get("node")
    if node is not None and not isinstance(node, str):
        return "node is not a string"
    event = obj.get("event")
    if not isinstance(event, str):
        method = notification.get("method")
        event = method if isinstance(method, str) else ""
    return Record(-1, when, node, event, restore(notification, obj.get("raw_b64")))


def _header(obj: dict) -> Header:
    version = obj.get("version")
    if type(version) is not int or version < 1:
        raise RecordingFormatError(f"recording header has no valid version ({version!r})")
    if version > VERSION:
        raise RecordingFormatError(
            f"recording format version {version} is newer than this reader (version {VERSION}): "
            "upgrade opensips to replay it")
    created = _time(obj.get("created"))
    producer = obj.get("producer")
    extra = {k: v for k, v in obj.items() if k not in ("format", "version", "created", "producer")}
    return Header(version, created, producer if isinstance(producer, str) else None, extra)
