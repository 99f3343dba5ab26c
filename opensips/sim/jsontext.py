"""JSON text exactly as OpenSIPS (cJSON) prints it.

`json.dumps` cannot write an object with repeated keys, which OpenSIPS sends for unnamed event
params (`{"":"a","":"b"}`), nor cJSON's pretty format (tabs, `":\\t"`), so replies and
notifications are written by this small printer.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any


_SPACE = re.compile(r"\s*")


def skip_space(text: str, pos: int) -> int:
    """Index of the first non-whitespace character at or after ``pos`` (``len(text)`` if none).

    For readers of concatenated JSON values (mi_fifo requests, event_stream replies).
    """
    return _SPACE.match(text, pos).end()  # type: ignore[union-attr]  # r"\s*" always matches


class DupKeys(list):
    """An object given as a list of (key, value) pairs; keys may repeat."""


def _string(s: str) -> str:
    # cJSON escapes quote, backslash and control characters and keeps UTF-8 as is.
    return json.dumps(s, ensure_ascii=False)


def _number(v: int | float) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if math.isnan(v) or math.isinf(v):
        return "null"
    if v == int(v) and abs(v) < 2**53:
        return str(int(v))
    return repr(v)


def dumps(obj: Any, pretty: bool = False) -> str:
    """Serialise like cJSON_PrintUnformatted, or cJSON_Print when `pretty`."""
    out: list[str] = []
    _write(obj, 0, pretty, out)
    return "".join(out)


def _items(obj: Any) -> list[tuple[str, Any]]:
    return list(obj) if isinstance(obj, DupKeys) else list(obj.items())


def _write(obj: Any, depth: int, pretty: bool, out: list[str]) -> None:
    if obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, str):
        out.append(_string(obj))
    elif isinstance(obj, (int, float)):
        out.append(_number(obj))
    elif isinstance(obj, (dict, DupKeys)):
        items = _items(obj)
        depth += 1
        if not items:
            out.append("{\n" + "\t" * (depth - 1) + "}" if pretty else "{}")
            return
        out.append("{\n" if pretty else "{")
        for i, (k, v) in enumerate(items):
            if pretty:
                out.append("\t" * depth)
            out.append(_string(str(k)))
            out.append(":\t" if pretty else ":")
            _write(v, depth, pretty, out)
            if i != len(items) - 1:
                out.append(",")
            if pretty:
                out.append("\n")
        if pretty:
            out.append("\t" * (depth - 1))
        out.append("}")
    elif isinstance(obj, (list, tuple)):
        out.append("[")
        for i, v in enumerate(obj):
            _write(v, depth + 1, pretty, out)
            if i != len(obj) - 1:
                out.append(", " if pretty else ",")
        out.append("]")
    else:
        out.append(_string(str(obj)))
