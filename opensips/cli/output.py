"""What the command-line tools print: JSON that cannot drive the terminal, and write errors as
one line.

Notifications and MI replies carry text chosen by strangers (user agents, URIs). ``json.dumps``
escapes C0 controls but leaves DEL, C1 controls (``\\x9b`` is CSI on many terminals) and bidi
overrides (U+202E reverses what the operator reads) as they are. They can only occur inside JSON
strings, where ``\\uXXXX`` is an equally valid spelling, so :func:`safe_json` escapes them and the
output stays the same JSON to any parser.
"""

from __future__ import annotations

import sys
# typing costs milliseconds at start-up (see .interrupts): annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# DEL, C1 controls, bidi marks/embeddings/overrides/isolates, zero-width characters, line and
# paragraph separators, BOM, interlinear annotations (as opensips_tui.safe).
_UNSAFE = "[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"


def _escape(match: Any) -> str:
    return f"\\u{ord(match.group()):04x}"


_unsafe_sub: Any = None  # re.compile(_UNSAFE).sub, made at first use (re is not loaded at start-up)


def safe_json(value: Any, **options: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, **options)`` with unsafe characters ``\\u``-escaped.

    Called once per notification by ``opensips-event``: the pattern is compiled once."""
    global _unsafe_sub
    import json

    if _unsafe_sub is None:
        import re

        _unsafe_sub = re.compile(_UNSAFE).sub
    return _unsafe_sub(_escape, json.dumps(value, ensure_ascii=False, **options))


def _utf16_escape(match: Any) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def ascii_json(text: str) -> str:
    """JSON text with every non-ASCII character ``\\u``-escaped (a surrogate pair above U+FFFF)."""
    import re

    return re.sub("[^\x00-\x7f]", _utf16_escape, text)


def write_stdout(text: str) -> str | None:
    """Write ``text`` and flush; ``None`` when done, else the reason it could not be written.

    BrokenPipeError (the reader went away, e.g. ``| head``) is raised after quieting stdout:
    the caller stops as if the output had ended.
    """
    from .interrupts import silence_stdout

    try:
        try:
            sys.stdout.write(text)
        except UnicodeEncodeError:  # e.g. LANG=C: the same JSON, all ASCII
            sys.stdout.write(ascii_json(text))
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        raise
    except OSError as exc:  # a full disk, /dev/full, an I/O error
        silence_stdout()  # nor a second complaint when Python flushes at exit
        return f"cannot write the output: {exc.strerror or exc}"
    return None


_C0 = "[\x00-\x08\x0a-\x1f]"
_text_sub: Any = None


def _escape_text(match: Any) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: str) -> str:
    """Plain text (a SIP line) with C0 controls but tab as ``\\xNN`` and :data:`_UNSAFE` as ``\\uXXXX``.

    For the lines ``opensips-trace`` prints: a stranger's SIP can carry escape sequences, bidi
    overrides or line breaks that would forge output lines.
    """
    global _text_sub
    if _text_sub is None:
        import re

        _text_sub = re.compile(f"{_C0}|{_UNSAFE}").sub
    return _text_sub(_escape_text, text)
