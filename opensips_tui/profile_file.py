"""Write one key of one table back into the TOML config file, keeping everything else.

The standard library reads TOML but does not write it, and the operator's file has comments
worth keeping. So the edit is textual and checked: only the lines of that key's value are
replaced (or one line is added at the end of the table, or the table at the end of the file);
the new text is parsed again and must hold exactly the old data with only that key changed,
else nothing is written and :class:`ProfileWriteError` says why (e.g. a profile written as a
dotted key or an inline table: edit those by hand). The file is replaced atomically: written
to a temporary file beside it, flushed to disk, given the old file's mode, then renamed over
it, so a crash or a full disk leaves the old file whole. No Textual here.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


class ProfileWriteError(Exception):
    """The file could not be edited safely, or not written; the message says why."""


_HEADER = re.compile(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$")
_ARRAY_HEADER = re.compile(r"^\s*\[\[")


def _dotted(header: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in header.split("."))


def _quote_key(part: str) -> str:
    return part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part)


def toml_value(value: Any) -> str:
    """``value`` (strings, numbers, booleans, lists of them) as TOML; JSON strings are TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _table_span(lines: list[str], table: tuple[str, ...]) -> tuple[int, int] | None:
    """(header index, end index) of ``[table]``: the end is the next header or the file's end."""
    start = None
    for i, text in enumerate(lines):
        header = _HEADER.match(text)
        if header or _ARRAY_HEADER.match(text):
            if start is not None:
                return start, i
            if header and tuple(_dotted(header.group(1)).split(".")) == table:
                start = i
    return (start, len(lines)) if start is not None else None


def _value_end(lines: list[str], first: int, key: str) -> int:
    """The index after the last line of the value that starts on line ``first`` (which may
    run over several lines, e.g. a list written one item a line)."""
    for last in range(first, min(first + 500, len(lines))):
        try:
            tomllib.loads("\n".join(lines[first:last + 1]))
        except tomllib.TOMLDecodeError:
            continue
        return last + 1
    raise ProfileWriteError(f"cannot find where the value of {key} ends")


def _lookup(data: dict[str, Any], table: tuple[str, ...]) -> Any:
    for part in table:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def edit(text: str, table: tuple[str, ...], key: str, value: Any) -> str:
    """``text`` with ``table.key = value``; ProfileWriteError if that cannot be done safely."""
    try:
        before = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileWriteError(f"the file is not valid TOML: {exc}") from None
    lines = text.splitlines()
    line = f"{_quote_key(key)} = {toml_value(value)}"
    span = _table_span(lines, table)
    if span is None:
        if _lookup(before, table) is not None:
            raise ProfileWriteError(f"[{'.'.join(table)}] is not written as a table header: edit it by hand")
        tail = [""] if lines and lines[-1].strip() else []
        lines += [*tail, f"[{'.'.join(_quote_key(p) for p in table)}]", line]
    else:
        start, end = span
        pattern = re.compile(rf"""^\s*(["']?){re.escape(key)}\1\s*=""")
        at = next((i for i in range(start + 1, end) if pattern.match(lines[i])), None)
        if at is not None:
            lines[at:_value_end(lines, at, key)] = [line]
        else:
            last = end
            while last > start + 1 and not lines[last - 1].strip():
                last -= 1  # after the table's last key, before the blank lines
            lines.insert(last, line)
    result = "\n".join(lines) + "\n"
    try:
        after = tomllib.loads(result)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileWriteError(f"the edit would break the file ({exc}): edit it by hand") from None
    expected = json.loads(json.dumps(before, default=str))
    node = expected
    for part in table:
        node = node.setdefault(part, {})
    node[key] = value
    if json.loads(json.dumps(after, default=str)) != expected:
        raise ProfileWriteError("the file is laid out in a way this edit cannot follow "
                                f"(dotted keys or inline tables?): set {key} in [{'.'.join(table)}] by hand")
    return result


def write_key(path: Path, table: tuple[str, ...], key: str, value: Any) -> None:
    """Set ``table.key = value`` in the TOML file at ``path`` (created when missing), atomically."""
    path = path.resolve()  # a symlinked config: replace its target, keep the link
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        text, mode = "", 0o600
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileWriteError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    new = edit(text, table, key, value)
    directory = path.parent
    tmp = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(new)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise ProfileWriteError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
