"""Keep a notification exactly through JSON: the encoding shared by exports and recordings.

Two things in a decoded notification do not survive ``json.dumps`` as they are:

- Python's parser accepts ``NaN`` and ``Infinity`` in a payload, which strict JSON has no
  words for: they are written as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``;
- a notification whose bytes were not UTF-8 was decoded with U+FFFD replacements
  (:class:`~opensips.event.decode.RawNotification`) and carries its bytes in ``.raw``:
  those are written base64-encoded as ``raw_b64`` next to it, and :func:`restore` gives
  them back.

Everything is written ASCII-escaped, so ``cat`` on the file cannot drive a terminal.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from opensips.event.decode import RawNotification

__all__ = ["finite", "encode", "dumps", "restore"]

_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}
_dumps = json.dumps


def finite(value: Any) -> Any:
    """``value`` with every NaN/Infinity float replaced by its name (a string)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return _NON_FINITE.get(value, value)
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def encode(notification: dict, out: dict[str, Any]) -> dict[str, Any]:
    """Add ``notification`` (NaN-free) and, when its bytes were not UTF-8, ``raw_b64`` to ``out``."""
    out["notification"] = finite(notification)
    raw = getattr(notification, "raw", None)
    if isinstance(raw, (bytes, bytearray)):
        out["raw_b64"] = base64.b64encode(bytes(raw)).decode("ascii")
    return out


_strict = json.JSONEncoder(ensure_ascii=True, allow_nan=False, default=str, separators=(",", ":")).encode


def dumps(record: dict[str, Any], indent: int | None = None) -> str:
    """``record`` as ASCII-only, strictly valid JSON (compact unless ``indent``).

    The fast path serialises once with an encoder built once (``json.dumps`` with options
    builds one per call); only a record holding NaN/Infinity (``allow_nan=False`` refuses
    it) pays for :func:`finite`'s walk over the whole notification.
    """
    if indent is None:
        try:
            return _strict(record)
        except ValueError:
            return _strict(finite(record))
    return _dumps(finite(record), ensure_ascii=True, allow_nan=False, default=str, indent=indent)


def restore(notification: Any, raw_b64: Any) -> Any:
    """The notification as the decoder gave it: a ``RawNotification`` again when ``raw_b64`` is set.

    A ``raw_b64`` that is not base64 is ignored (the decoded notification is still right).
    """
    if not isinstance(raw_b64, str) or type(notification) is not dict:
        return notification
    try:
        raw = base64.b64decode(raw_b64, validate=True)
    except (binascii.Error, ValueError):
        return notification
    kept = RawNotification(notification)
    kept.raw = raw
    return kept
