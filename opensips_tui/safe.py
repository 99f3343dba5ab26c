"""The one place where untrusted payload text becomes display text.

Event names, params and MI error messages come from the network. Shown as-is they could
carry Rich/Textual markup (``[bold red]x[/]``, ``[link=...]``), terminal escapes
(``\\x1b[2J``, OSC ``\\x1b]8;;...``), bidi overrides that reorder what the operator reads,
or line breaks that forge extra log lines. Everything a widget shows from a payload goes
through :func:`clean` (plain strings, e.g. ``Log`` lines) or :func:`text` (a
``rich.text.Text``, which Textual never parses as markup).
"""

from __future__ import annotations

import json
import re
from typing import Any

from rich.text import Text

__all__ = ["clean", "text", "compact", "ELLIPSIS"]

ELLIPSIS = "…"

# json.dumps with options builds a new encoder per call; this runs per value of every log line.
_to_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# C0 controls, DEL, C1 controls, bidi embeddings/overrides/isolates and marks,
# zero-width characters, line/paragraph separators, BOM, interlinear annotations.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"
)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _plain(value: Any) -> str:
    """A string as it is; anything else as compact JSON (or ``repr`` when not serialisable)."""
    if isinstance(value, str):
        return value
    if type(value) is int:  # most params; what JSON writes, without the encoder's machinery
        return repr(value)
    try:
        return _to_json(value)
    except (TypeError, ValueError):
        return repr(value)


def clean(value: Any, limit: int | None = None) -> str:
    """``value`` as one line of literal text: control/bidi characters become visible escapes.

    Non-strings are shown as compact JSON (or ``repr`` when not serialisable).
    ``limit`` cuts the result to that many characters, ending with an ellipsis.
    """
    result = _UNSAFE.sub(_escape, _plain(value))
    if limit is not None and len(result) > limit:
        result = result[: max(limit - 1, 0)] + ELLIPSIS
    return result


def text(value: Any, limit: int | None = None, style: str = "") -> Text:
    """A ``Text`` holding ``clean(value)`` literally: never parsed as markup."""
    return Text(clean(value, limit), style=style, no_wrap=True, end="")


def compact(params: Any, limit: int | None = None) -> str:
    """Params of one notification on one line: ``k=v k2=v2`` for objects, ``a, b`` for arrays."""
    if params is None:
        return ""
    # Built from unescaped parts and escaped once, at the end.
    if isinstance(params, dict):
        out = " ".join(f"{key}={_plain(value)}" if key != "" else _plain(value) for key, value in params.items())
    elif isinstance(params, list):
        out = ", ".join(_plain(v) for v in params)
    else:
        out = _plain(params)
    return clean(out, limit)
