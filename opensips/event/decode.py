"""Turn bytes from OpenSIPS into notification dicts.

Datagrams (event_datagram, UDP or UNIX) carry one JSON-RPC notification each;
event_stream (TCP) concatenates notifications with no delimiter, so the
stream side needs an incremental decoder.

Speed matters on the datagram path (OpenSIPS can raise >10k events/s), so the
common case is one plain ``json.loads`` plus two C-level byte scans. Only when
those scans say the payload may hold repeated keys -- OpenSIPS sends array
params as ``{"":"a","":"b"}`` -- is it parsed again with a hook that keeps
every value. Payloads that are not valid JSON get one lenient second try
(invalid UTF-8 and invalid escapes, both seen in real captures).
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["decode_notification", "reparse_keeping_repeats", "StreamDecoder", "StreamBufferOverflow",
           "DEFAULT_MAX_BUFFER", "RawNotification"]

DEFAULT_MAX_BUFFER = 1 << 20  # 1 MiB without one complete object: the peer is not OpenSIPS

_loads = json.loads
_raw_decode = json.JSONDecoder().raw_decode
_raw_decode_lenient = json.JSONDecoder(strict=False).raw_decode
_JSONDecodeError = json.JSONDecodeError
# a backslash not starting a valid JSON escape (OpenSIPS can emit freed memory as text)
_BAD_ESCAPE = re.compile(r'\\(?:(["\\/bfnrt]|u[0-9a-fA-F]{4})|)')
_WS = " \t\r\n"


class StreamBufferOverflow(ValueError):
    """The stream buffered more than ``max_buffer`` bytes without one complete object."""


def _repair_escape(m: re.Match) -> str:
    """Keep a valid escape; double a lone backslash so it reads as itself."""
    return m.group(0) if m.group(1) else "\\\\"


def _keep_repeated(pairs: list[tuple[str, Any]]) -> Any:
    """object_pairs_hook that never drops a value.

    An object whose keys are all "" is OpenSIPS' rendering of an array, so it
    becomes a list; any other key that repeats maps to the list of its values.
    """
    if pairs and all(k == "" for k, _ in pairs):
        return [v for _, v in pairs]
    out: dict[str, Any] = {}
    repeated: set[str] = set()
    for key, value in pairs:
        if key in out:
            if key in repeated:
                out[key].append(value)
            else:
                out[key] = [out[key], value]
                repeated.add(key)
        else:
            out[key] = value
    return out


def _key_count(obj: dict) -> int:
    """Keys json.loads kept at the top level and in ``params``; -1 when ``params`` has a ``""`` key.

    Every key in compact JSON is followed by ``":``; when the text holds a
    different number of those, something was nested deeper, inside a string,
    or collapsed -- so it is parsed again with ``_keep_repeated`` to be sure.
    An empty key in ``params`` is OpenSIPS' array rendering, which that parse
    turns into a list (-1 never equals a count, so it always re-parses).
    """
    n = len(obj)
    params = obj.get("params")
    if type(params) is dict:
        if "" in params:
            return -1
        n += len(params)
    return n


def reparse_keeping_repeats(data: bytes | bytearray | str) -> dict | None:
    """Parse JSON that json.loads accepted again, keeping repeated keys (see ``_key_count``).

    ``None`` when it is not an object (an all-"" top level becomes a list).
    """
    try:
        obj = _loads(data, object_pairs_hook=_keep_repeated)
    except (ValueError, RecursionError):  # pragma: no cover - parsed once already
        return None
    return obj if type(obj) is dict else None


class RawNotification(dict):
    """A notification whose bytes were not valid UTF-8: a plain dict to every caller, with the
    bytes as received in ``.raw`` (the strings hold U+FFFD where the bad bytes were).

    Only this rare, lenient path makes one, so the hot path keeps plain dicts; a consumer
    that must be lossless (the monitor's export) reads ``.raw``.
    """

    __slots__ = ("raw",)
    raw: bytes


def _lenient_parse(raw: bytes | bytearray | str) -> dict | None:
    """Second chance for a payload json.loads refused: bad UTF-8, bad escapes, raw control chars."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else raw
    obj = _lenient_object(text)
    if obj is not None and isinstance(raw, (bytes, bytearray)) and "\ufffd" in text:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            kept = RawNotification(obj)
            kept.raw = bytes(raw)
            return kept
    return obj


def _lenient_object(text: str) -> dict | None:
    text = text.strip(_WS)
    fixed = _BAD_ESCAPE.sub(_repair_escape, text)
    try:
        obj, end = _raw_decode_lenient(fixed)
        if end != len(fixed):
            return None
        if type(obj) is not dict:
            return None
        if fixed.count('":') != _key_count(obj):
            obj = json.JSONDecoder(strict=False, object_pairs_hook=_keep_repeated).decode(fixed)
    except (ValueError, RecursionError):
        return None
    return obj if type(obj) is dict else None


def decode_notification(data: bytes | bytearray | str) -> dict | None:
    """Decode one datagram; ``None`` when it is not a JSON object (never raises)."""
    try:
        obj = _loads(data)
    except (ValueError, RecursionError, TypeError):
        # ValueError covers JSONDecodeError and UnicodeDecodeError
        return _lenient_parse(data) if isinstance(data, (bytes, bytearray, str)) else None
    if type(obj) is not dict:
        return None
    # Fast duplicate-key check (see _key_count), inlined for the hot path.
    params = obj.get("params")
    # Any: it has data's type (str or bytes), a pairing mypy cannot express; no cast() on this path.
    colon: Any = '":' if type(data) is str else b'":'
    if type(params) is dict:
        if "" not in params and data.count(colon) == len(obj) + len(params):
            return obj
    elif data.count(colon) == len(obj):
        return obj
    return reparse_keeping_repeats(data)


class StreamDecoder:
    """Incremental decoder for one event_stream TCP connection.

    ``feed`` returns every complete object so far. Bytes that cannot start or
    belong to an object are skipped up to the next ``{`` (so garbage never
    costs a later valid notification) and counted in ``garbage``. A buffer
    that grows past ``max_buffer`` without completing an object raises
    StreamBufferOverflow; the caller drops the connection.

    Normally every read holds whole objects and is parsed once. When an
    object is split across reads, later reads only advance a cheap structural
    scan (braces and strings) and the parse is retried when the object may
    have closed, when a ``}{`` boundary shows a next object, or when the
    buffer has doubled -- so a peer trickling a never-ending object costs
    linear, not quadratic, time.
    """

    __slots__ = ("max_buffer", "_buf", "garbage", "_scan", "_scan_pos", "_tried_len")

    def __init__(self, max_buffer: int = DEFAULT_MAX_BUFFER) -> None:
        self.max_buffer = max_buffer
        self._buf = bytearray()
        self.garbage = 0  # number of skipped garbage runs since creation
        self._scan: tuple[int, bool, int] | None = None  # (depth, in_string, escaped index) of a pending object
        self._scan_pos = 0
        self._tried_len = 0

    @property
    def pending(self) -> int:
        """Bytes buffered waiting for the rest of an object."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[dict]:
        if not data:
            return []
        buf = self._buf
        old_len = len(buf)
        buf += data
        if self._scan is not None:
            state, closed = _scan(buf, self._scan_pos, self._scan)
            self._scan, self._scan_pos = state, len(buf)
            if not (closed or b"}{" in buf[max(0, old_len - 1):] or len(buf) >= 2 * self._tried_len):
                self._check_size()
                return []
        elif b"}" not in data:
            # an object can only complete at "}"; nothing to parse yet
            if b"{" not in buf:
                if bytes(buf).strip():
                    self.garbage += 1
                buf.clear()
            self._check_size()
            return []
        try:
            text = buf.decode("utf-8")
            bad_utf8 = False
        except UnicodeDecodeError:
            text = buf.decode("utf-8", "surrogateescape")
            bad_utf8 = True
        out: list[dict] = []
        pos = 0
        end_text = len(text)
        while pos < end_text:
            start = text.find("{", pos)
            if start < 0:
                if text[pos:].strip(_WS):
                    self.garbage += 1
                pos = end_text
                break
            if start > pos and text[pos:start].strip(_WS):
                self.garbage += 1
            try:
                obj, end = _raw_decode(text, start)
            except _JSONDecodeError as exc:
                if _incomplete(exc, text):
                    pos = start
                    break
                obj, end = _retry_lenient(text, start, exc)
                if end < 0:
                    pos = start
                    break
                if obj is None:
                    self.garbage += 1
                    pos = start + 1
                    continue
            except RecursionError:
                self.garbage += 1
                pos = start + 1
                continue
            pos = end
            if type(obj) is not dict:
                self.garbage += 1
                continue
            if bad_utf8 or text.count('":', start, end) != _key_count(obj):
                chunk = text[start:end]
                # bytes again when they were not UTF-8: the lenient path keeps them (.raw)
                obj = decode_notification(chunk.encode("utf-8", "surrogateescape") if bad_utf8 else chunk)
                if obj is None:
                    self.garbage += 1
                    continue
            out.append(obj)
        rest = text[pos:]
        self._buf = bytearray(rest.encode("utf-8", "surrogateescape")) if rest else bytearray()
        if self._buf:
            self._scan, _ = _scan(self._buf, 0, (0, False, -1))
            self._scan_pos = self._tried_len = len(self._buf)
        else:
            self._scan = None
        self._check_size()
        return out

    def _check_size(self) -> None:
        size = len(self._buf)
        if size > self.max_buffer:
            self._buf = bytearray()
            self._scan = None
            raise StreamBufferOverflow(
                f"{size} bytes buffered without a complete JSON object (limit {self.max_buffer})"
            )


_STRUCT_B = re.compile(rb'["\\{}\[\]]')


def _scan(buf: bytes | bytearray, pos: int, state: tuple[int, bool, int]) -> tuple[tuple[int, bool, int], bool]:
    """Advance a brace/string scan of one pending object; True when it may have closed."""
    depth, in_str, skip = state
    for m in _STRUCT_B.finditer(buf, pos):
        i = m.start()
        c = buf[i]
        if in_str:
            if i == skip:
                continue
            if c == 0x5C:  # backslash: the next byte is escaped
                skip = i + 1
            elif c == 0x22:
                in_str = False
        elif c == 0x22:
            in_str = True
        elif c == 0x7B or c == 0x5B:
            depth += 1
        else:
            depth -= 1
            if depth <= 0:
                return (depth, in_str, skip), True
    return (depth, in_str, skip), False


def _retry_lenient(text: str, start: int, exc: _JSONDecodeError) -> tuple[dict | None, int]:
    """Second try for one stream object: ``(obj, end)``, ``(None, 0)`` = garbage, ``(None, -1)`` = wait.

    Raw control characters are parsed with strict=False; invalid escapes
    (OpenSIPS printing freed memory) are repaired on the object's slice. An
    object that does not close while a later ``{"`` exists is garbage, not a
    reason to wait: its quotes may be out of step for ever.
    """
    if exc.msg.startswith("Invalid control"):
        try:
            obj, end = _raw_decode_lenient(text, start)
        except _JSONDecodeError as exc2:
            if _incomplete(exc2, text):
                return None, -1
            exc = exc2
        except RecursionError:
            return None, 0
        else:
            return (obj if type(obj) is dict else None), end
    if not exc.msg.startswith("Invalid \\escape"):
        return None, 0
    close = _object_end(text, start)
    if close is None:
        return (None, -1) if text.find('{"', start + 1) < 0 else (None, 0)
    return _lenient_parse(text[start:close]), close


_STRUCT = re.compile(r'["\\{}\[\]]')


def _object_end(text: str, start: int) -> int | None:
    """End index of the {...} starting at ``start`` by brace/string structure alone.

    Only used when a parse failed: tells "truncated, wait for more bytes"
    (None) from "closed but invalid" (an index). Jumps between structural
    characters with a regex, so it stays cheap on long strings.
    """
    depth = 0
    in_str = False
    escaped_at = -1
    for m in _STRUCT.finditer(text, start):
        i = m.start()
        c = text[i]
        if in_str:
            if i == escaped_at:
                continue
            if c == "\\":
                escaped_at = i + 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c == "{" or c == "[":
            depth += 1
        elif c == "}" or c == "]":
            depth -= 1
            if depth <= 0:
                return i + 1
    return None


def _incomplete(exc: _JSONDecodeError, text: str) -> bool:
    """Could more bytes turn this failed parse into a valid object?

    A truncated but otherwise valid object fails either inside a string that
    runs to the end, or on a token cut short at the very end (``-``, ``tru``,
    ``1e``, ``\\u00``). An error anywhere else is garbage, even when the
    braces are unbalanced -- so a truncated object followed by good ones costs
    only itself.
    """
    if exc.msg.startswith("Unterminated string"):
        return True
    rest = text[exc.pos:].strip(_WS)
    return len(rest) <= 8 and not any(c in rest for c in '{}[]",:')
