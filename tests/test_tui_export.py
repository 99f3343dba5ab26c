"""Exports never overwrite each other, are valid JSON, and keep bytes that were not UTF-8."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from opensips.event.decode import decode_notification
from opensips_tui.export import create, dumps, write_jsonl, write_one
from opensips_tui.feed import Feed


def _entries(*params: dict) -> list:
    feed = Feed()
    for p in params:
        feed.push("E_X", {"jsonrpc": "2.0", "method": "E_X", "params": p})
    return feed.entries()


def test_exports_in_the_same_second_never_overwrite(tmp_path) -> None:
    entries = _entries({"i": 1}, {"i": 2})
    paths = [write_jsonl(entries, tmp_path)[0] for _ in range(3)] + [write_jsonl([], tmp_path)[0]]
    assert len(set(paths)) == 4
    assert [len(p.read_text().splitlines()) for p in paths] == [2, 2, 2, 0]


def test_a_clash_gets_a_suffix_instead_of_the_old_file(tmp_path) -> None:
    moment = datetime(2026, 12, 3, 16, 0, 0, 123456)
    first, out = create(tmp_path, "events", ".jsonl", moment)
    with out:
        out.write("kept\n")
    second, out = create(tmp_path, "events", ".jsonl", moment)
    out.close()
    assert first.name == "events-20261203-160000-123456.jsonl"
    assert second.name == "events-20261203-160000-123456-2.jsonl"
    assert first.read_text() == "kept\n"


def test_non_finite_numbers_become_valid_json(tmp_path) -> None:
    feed = Feed()
    feed.push("E_X", json.loads('{"method": "E_X", "params": {"a": NaN, "b": Infinity, "c": [-Infinity, 1.5]}}'))
    text = dumps(feed.entries()[0])
    assert "NaN" not in text.replace('"NaN"', "")
    params = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))["notification"]["params"]
    assert params == {"a": "NaN", "b": "Infinity", "c": ["-Infinity", 1.5]}
    path, body = write_one(feed.entries()[0], tmp_path)
    assert json.loads(path.read_text()) == json.loads(body)


def test_exports_are_ascii(tmp_path) -> None:
    path, _ = write_jsonl(_entries({"m": "\u202eabc \x9b2J \x1b[2J"}), tmp_path)
    raw = path.read_bytes()
    assert raw.isascii() and b"\x1b" not in raw
    assert json.loads(raw)["notification"]["params"]["m"] == "\u202eabc \x9b2J \x1b[2J"


def test_bytes_that_are_not_utf8_survive_the_export(tmp_path) -> None:
    raw = b'{"jsonrpc":"2.0","method":"E_UA","params":{"ua":"caf\xe9 \xff"}}'
    feed = Feed()
    feed.push("E_UA", decode_notification(raw))
    path, _ = write_jsonl(feed.entries(), tmp_path)
    rec = json.loads(path.read_text())
    assert rec["notification"]["params"]["ua"] == "caf\ufffd \ufffd"
    assert base64.b64decode(rec["raw_b64"]) == raw
