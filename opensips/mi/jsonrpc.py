"""JSON-RPC 2.0 framing for MI: build one request, check one reply.

Pure functions on bytes so they can be fuzzed without sockets. Never builds a
batch and never a non-string ``method``: both crash OpenSIPS over fifo and
datagram (see tests/fixtures/opensips-wire/*/fifo/fifo_CRASH_*).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from typing import Any

from .errors import (
    OpenSIPSMICommandError,
    OpenSIPSMIConnectionError,
    OpenSIPSMIRequestError,
)

# mi commands are identifiers, optionally namespaced as module:cmd (4.x).
# ASCII only and \Z, not $ (which also matches before a final newline): a name
# that passes needs no JSON escaping at all.
_CMD_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*\Z")

# One encoder for every request: json.dumps() with non-default options builds a
# new JSONEncoder per call. ensure_ascii=False keeps non-ASCII params as UTF-8
# (shorter than \u escapes). Both are stateless, so threads can share them.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_decode = json.JSONDecoder().decode

_ids = itertools.count(1)
_ids_lock = threading.Lock()


def next_id() -> int:
    """A process-wide increasing request id (thread-safe)."""
    with _ids_lock:
        return next(_ids)


def validate_command(cmd: object) -> str:
    """Return ``cmd`` if it is a safe MI command name, else raise OpenSIPSMIRequestError."""
    if not isinstance(cmd, str) or not _CMD_RE.match(cmd):
        raise OpenSIPSMIRequestError(f"invalid MI command name: {cmd!r}")
    return cmd


def build_request(cmd: str, params: Any = None, req_id: int | str | None = None) -> tuple[bytes, int | str]:
    """Encode one request; return ``(bytes, id)``.

    ``params`` may be a dict (named) or a list/tuple (positional); ``None`` or
    an empty dict/list sends no ``params`` member at all.
    """
    validate_command(cmd)
    if req_id is None:
        req_id = next_id()
    elif not isinstance(req_id, (int, str)) or isinstance(req_id, bool):
        raise OpenSIPSMIRequestError(f"request id must be an int or a string, not {req_id!r}")
    if not params and type(req_id) is int:
        # The common call (no params, our own id) needs no encoder: the name was
        # validated to plain ASCII, so these are the bytes json would produce.
        return b'{"jsonrpc":"2.0","method":"%s","id":%d}' % (cmd.encode(), req_id), req_id
    request: dict[str, Any] = {"jsonrpc": "2.0", "method": cmd}
    if params:
        if isinstance(params, tuple):
            params = list(params)
        if not isinstance(params, (dict, list)):
            raise OpenSIPSMIRequestError(
                f"params must be a dict (named) or a list (positional), not {type(params).__name__}"
            )
        request["params"] = params
    request["id"] = req_id
    try:
        body = _encode(request).encode()
    except (TypeError, ValueError) as exc:
        raise OpenSIPSMIRequestError(f"params are not JSON-serialisable: {exc}") from exc
    return body, req_id


def parse_reply(data: bytes | str, expected_id: int | str | None) -> Any:
    """Decode one reply and return its ``result``.

    Raises OpenSIPSMICommandError for a JSON-RPC error object and
    OpenSIPSMIConnectionError for anything that is not a JSON-RPC reply to our
    request (plain-text ``400 Parse_error`` / ``500 Internal error`` from
    mi_datagram, truncated JSON, a reply to another id).
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            text = bytes(data).decode("utf-8", errors="replace")
    else:
        text = data
    try:
        # JSON allows surrounding whitespace: no need to strip a well-formed reply.
        reply = _decode(text)
    except (ValueError, RecursionError):
        reply = _parse_slow(text)
    if not isinstance(reply, dict):
        raise OpenSIPSMIConnectionError(f"reply is not a JSON-RPC object: {_preview(text.strip())}")
    if "error" in reply:
        error = reply["error"]
        if isinstance(error, dict):
            code = error.get("code")
            message = error.get("message")
            raise OpenSIPSMICommandError(
                code if isinstance(code, int) and not isinstance(code, bool) else -32603,
                message if isinstance(message, str) else str(message),
                error.get("data"),
            )
        raise OpenSIPSMICommandError(-32603, str(error))
    if "result" not in reply:
        raise OpenSIPSMIConnectionError(f"reply has neither result nor error: {_preview(text.strip())}")
    if expected_id is not None and reply.get("id") != expected_id:
        raise OpenSIPSMIConnectionError(
            f"reply id {reply.get('id')!r} does not match request id {expected_id!r}"
        )
    return reply["result"]


def _parse_slow(text: str) -> Any:
    """The reply did not parse as it came: padded with non-JSON whitespace, empty, or not JSON."""
    stripped = text.strip()
    if not stripped:
        raise OpenSIPSMIConnectionError("empty reply from OpenSIPS")
    if stripped != text:
        try:
            return _decode(stripped)
        except (ValueError, RecursionError):
            pass
    raise OpenSIPSMIConnectionError(f"reply is not JSON: {_preview(text.strip())}")


def _preview(text: str, limit: int = 80) -> str:
    text = text if len(text) <= limit else text[:limit] + "..."
    return repr(text)
