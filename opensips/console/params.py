"""One typed console line -> ``(command, params)`` for ``OpenSIPSMI.execute``.

Accepted forms (the first word is the command)::

    dialog:list                                  no params
    dialog:list callid=3-18911@127.0.0.1         key=value words: the value is a string
    statistics:get statistics:='["load:"]'       key:=JSON: the value is JSON (array, number, ...)
    log_level level:=2 pid=15593                 forms mix freely inside the named words
    dialog:list 3-18911@127.0.0.1                positional words: a list of strings
    statistics:get {"statistics": ["all"]}       the rest of the line as JSON: an object (named)
    get_statistics [["all"]]                     ... or an array (positional)

Strings are what OpenSIPS expects for almost every parameter (it also parses numbers
given as strings, e.g. ``expire="30"``, ``group="1"``: tests/fixtures/opensips-wire/4.0.1/ops/
dispatcher_set_state.json), so ``key=value`` never guesses a type; ``:=`` is explicit.
Strict: invalid JSON, NaN/Infinity, an unclosed quote, a repeated key or named and
positional words together are a :class:`ParamsError` saying which, never a guess.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from opensips.mi import OpenSIPSMIRequestError
from opensips.mi.jsonrpc import build_request, validate_command

from .errors import ParamsError

__all__ = ["parse_line", "parse_params", "request_text"]


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_decoder = json.JSONDecoder(parse_constant=_no_constants)


def _json(text: str, what: str) -> Any:
    """Strict JSON (the whole text, no NaN/Infinity) or a ParamsError naming ``what``."""
    try:
        value, end = _decoder.raw_decode(text)
    except json.JSONDecodeError as exc:
        raise ParamsError(f"{what}: invalid JSON at column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:
        raise ParamsError(f"{what}: {exc}") from None
    if text[end:].strip():
        raise ParamsError(f"{what}: unexpected text after the JSON at column {end + 1}")
    return value


def parse_params(text: str) -> dict[str, Any] | list[Any] | None:
    """The params part of a line (everything after the command); ``None`` when empty."""
    text = text.strip()
    if not text:
        return None
    if text[0] in "{[":
        value = _json(text, "params")
        if not isinstance(value, (dict, list)):
            raise ParamsError("params: JSON params must be an object or an array")
        return value or None
    try:
        words = shlex.split(text, posix=True)
    except ValueError as exc:   # "No closing quotation", "No escaped character"
        raise ParamsError(f"params: {str(exc).lower()}") from None
    named: dict[str, Any] = {}
    positional: list[Any] = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            positional.append(word)
            continue
        is_json = key.endswith(":")
        key = key[:-1] if is_json else key
        if not key:
            raise ParamsError(f"params: {word!r} has no name before '='")
        if key in named:
            raise ParamsError(f"params: {key!r} given twice")
        named[key] = _json(value, key) if is_json else value
    if named and positional:
        raise ParamsError(f"params: named (key=value) and positional words together ({positional[0]!r}); "
                          "use one form")
    return named or positional or None


def parse_line(line: str) -> tuple[str, dict[str, Any] | list[Any] | None]:
    """``"dialog:list callid=x"`` -> ``("dialog:list", {"callid": "x"})``."""
    stripped = line.strip()
    if not stripped:
        raise ParamsError("type an MI command, e.g. which")
    command, _, rest = stripped.partition(" ")
    if command[0] in "{[":
        raise ParamsError("the line starts with the command name, then its params")
    try:
        validate_command(command)
    except OpenSIPSMIRequestError:
        raise ParamsError(f"{command!r} is not an MI command name "
                          "(letters, digits, _ . - and module:cmd)") from None
    return command, parse_params(rest)


def request_text(command: str, params: dict[str, Any] | list[Any] | None, req_id: int | str = 1) -> str:
    """The JSON-RPC request as ``opensips.mi`` encodes it (its id is the client's own when sent)."""
    body, _ = build_request(command, params, req_id)
    return body.decode("utf-8")
