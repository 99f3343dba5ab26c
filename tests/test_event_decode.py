"""Notification decoding against the captured OpenSIPS bytes (datagram and TCP stream)."""

from __future__ import annotations

import json

import pytest

from opensips.event.decode import StreamBufferOverflow, StreamDecoder, decode_notification
from tests.wire import VERSIONS, cases, sample


def _captured_datagrams() -> list[tuple[str, bytes, object]]:
    out = []
    for version in VERSIONS:
        for case in cases(version, "events"):
            notes = sample(version, "events", case).get("notifications") or {}
            for kind in ("udp", "unix"):
                for i, n in enumerate(notes.get(kind) or []):
                    out.append((f"{version}/{case}/{kind}{i}", n["raw"].encode(), n["json"]))
    return out


DATAGRAMS = _captured_datagrams()


def _pairs(raw: bytes) -> list:
    """Every (key, value) as written on the wire, duplicates included."""
    return json.loads(raw, object_pairs_hook=lambda p: p)


def test_samples_found() -> None:
    assert len(DATAGRAMS) >= 30


@pytest.mark.parametrize("name,raw,captured", DATAGRAMS, ids=[d[0] for d in DATAGRAMS])
def test_every_captured_datagram_decodes(name: str, raw: bytes, captured: object) -> None:
    got = decode_notification(raw)
    assert isinstance(got, dict), name
    assert got["jsonrpc"] == "2.0" and isinstance(got["method"], str)
    if captured is None:
        # the capture tool could not parse it (OpenSIPS printed freed memory as text); we recover it
        assert got["params"]["ip"] == "10.0.0.3"
        return
    pairs = dict(_pairs(raw))
    params = pairs.get("params")
    if isinstance(params, list) and params and all(isinstance(p, tuple) and p[0] == "" for p in params):
        # OpenSIPS' array-as-empty-keys: every value kept, in order
        assert got["params"] == [v for _, v in params]
        if captured is not None and isinstance(captured.get("params"), dict):  # type: ignore[union-attr]
            assert len(got["params"]) >= len(captured["params"])  # type: ignore[index]
    else:
        assert got == captured


def test_repeated_empty_keys_become_a_list_in_every_repeat_run() -> None:
    for version in VERSIONS:
        for run in sample(version, "events", "raise_params_array_repeat")["runs"]:
            for raw in run["udp_raw"]:
                got = decode_notification(raw.encode())
                assert got is not None
                values = [v for _, v in _pairs(raw.encode())[2][1]] if isinstance(
                    _pairs(raw.encode())[2][1], list) else None
                if values is not None and all(k == "" for k, _ in _pairs(raw.encode())[2][1]):
                    assert got["params"] == values
                    assert len(values) == 2


def test_repeated_named_keys_keep_every_value() -> None:
    got = decode_notification(b'{"jsonrpc":"2.0","method":"E","params":{"attr":"a","x":1,"attr":"b"}}')
    assert got == {"jsonrpc": "2.0", "method": "E", "params": {"attr": ["a", "b"], "x": 1}}


def test_no_params_and_array_params_pass_through() -> None:
    raw = sample("4.0.1", "events", "raise_no_params")["notifications"]["udp"][0]["raw"].encode()
    got = decode_notification(raw)
    assert got is not None and "params" not in got
    raw = sample("4.0.1", "events", "raise_params_array_strings")["notifications"]["udp"][0]["raw"].encode()
    got = decode_notification(raw)
    assert got is not None and isinstance(got["params"], list)


@pytest.mark.parametrize("bad", [b"", b"   ", b"not json", b"[1,2]", b"42", b'"s"', b"{", b"\xff\xfe",
                                 b"400 Parse_error", b'{"":"a","":"b"}'])
def test_non_notifications_decode_to_none(bad: bytes) -> None:
    assert decode_notification(bad) is None


def test_invalid_utf8_and_bad_escape_recovered() -> None:
    got = decode_notification(b'{"jsonrpc":"2.0","method":"E","params":{"a":"x\xff","b":"\\q"}}')
    assert got is not None and got["params"]["a"].startswith("x") and got["params"]["b"] == "\\q"


# -- stream ------------------------------------------------------------------------

def _framing(version: str) -> tuple[bytes, list[dict]]:
    conn = sample(version, "events", "stream_framing_5_events")["tcp"][0]
    return conn["concatenated_raw"].encode(), [json.loads(c) for c in conn["chunks_raw"]]


@pytest.mark.parametrize("version", VERSIONS)
def test_stream_framing_split_at_every_byte_offset(version: str) -> None:
    raw, expected = _framing(version)
    assert len(expected) == 5
    for cut in range(len(raw) + 1):
        dec = StreamDecoder()
        got = dec.feed(raw[:cut]) + dec.feed(raw[cut:])
        assert got == expected, cut
        assert dec.pending == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_stream_framing_one_byte_at_a_time(version: str) -> None:
    raw, expected = _framing(version)
    dec = StreamDecoder()
    got: list[dict] = []
    for i in range(len(raw)):
        got += dec.feed(raw[i:i + 1])
    assert got == expected


def test_stream_every_captured_connection_any_two_way_split() -> None:
    streams = []
    for version in VERSIONS:
        for case in cases(version, "events"):
            data = sample(version, "events", case)
            conns = (data.get("notifications") or {}).get("tcp") or data.get("tcp") or []
            streams += [(c["concatenated_raw"].encode(), c["chunks_raw"]) for c in conns]
    assert len(streams) >= 10
    for raw, chunks in streams:
        whole = StreamDecoder().feed(raw)
        assert len(whole) == len(chunks)
        for cut in range(0, len(raw) + 1, 3):
            dec = StreamDecoder()
            assert dec.feed(raw[:cut]) + dec.feed(raw[cut:]) == whole


def test_stream_reliable_mode_notifications_carry_ids() -> None:
    data = sample("4.0.1", "variant_event_stream_reliable", "event_stream_reliable_mode")
    for name, case in data["cases"].items():
        for conn in case["connections"]:
            raw = "".join(conn["chunks_raw"]).encode()
            got = StreamDecoder().feed(raw)
            assert len(got) == len(conn["chunks_raw"]), name
            for g in got:
                assert isinstance(g["id"], int)
                p = g["params"]  # event_param adds the name: a key, or the first array element
                assert (p["event_name"] if isinstance(p, dict) else p[0]) == g["method"]


def test_stream_method_override_keeps_method() -> None:
    raw = sample("4.0.1", "events", "stream_method_override")["tcp"][0]["concatenated_raw"].encode()
    assert StreamDecoder().feed(raw)[0]["method"] == "my_rpc_method"


def test_stream_garbage_between_objects_loses_nothing() -> None:
    raw, expected = _framing("4.0.1")
    objs = [json.dumps(e, separators=(",", ":")).encode() for e in expected]
    junk = [b"garbage", b'{"broken":', b"\xff\xfe", b"}}}", b'{"a":"\x01\\q']
    stream = b"".join(j + o for j, o in zip(junk, objs))
    for cut in range(len(stream) + 1):
        dec = StreamDecoder()
        got = dec.feed(stream[:cut]) + dec.feed(stream[cut:])
        assert [g for g in got if g.get("method") == "E_MY_CUSTOM"] == expected, cut
        assert dec.garbage >= 1


def test_stream_overflow_without_complete_object() -> None:
    dec = StreamDecoder(max_buffer=1000)
    dec.feed(b'{"jsonrpc":"2.0","params":"')
    with pytest.raises(StreamBufferOverflow):
        for _ in range(100):
            dec.feed(b"x" * 50)
    assert dec.pending == 0
    # the decoder is usable again afterwards (the listener drops the connection anyway)
    raw, expected = _framing("4.0.1")
    assert dec.feed(raw) == expected


BAD_UTF8 = b'{"jsonrpc":"2.0","method":"E_UA","params":{"ua":"caf\xe9 \xff\xfe","ip":"192.0.2.1"}}'


def test_bytes_that_are_not_utf8_are_kept_next_to_the_decoded_text() -> None:
    msg = decode_notification(BAD_UTF8)
    assert msg == {"jsonrpc": "2.0", "method": "E_UA", "params": {"ua": "caf\ufffd \ufffd\ufffd", "ip": "192.0.2.1"}}
    assert isinstance(msg, dict) and msg.raw == BAD_UTF8
    assert json.loads(json.dumps(msg)) == msg            # still a plain dict to json and to 0.1.11 code
    assert not hasattr(decode_notification(BAD_UTF8.replace(b"\xe9 \xff\xfe", b"ok")), "raw")
    ok, bad = StreamDecoder().feed(b'{"method":"E_OK","params":{"a":"\xc3\xa9"}}' + BAD_UTF8)
    assert ok == {"method": "E_OK", "params": {"a": "\xe9"}} and not hasattr(ok, "raw")
    assert bad == msg and bad.raw == BAD_UTF8
