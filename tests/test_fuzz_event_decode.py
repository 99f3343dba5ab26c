"""Fuzz the notification decoders: datagram ``decode_notification`` and the TCP ``StreamDecoder``.

Event payloads carry data chosen by strangers (SIP headers, log lines), and a
listener port can be reached by anything. Properties: never an exception,
never a lost valid notification next to garbage, and a stream that never
completes an object is cut at ``max_buffer`` instead of growing without end.
"""

from __future__ import annotations

import json
import tracemalloc

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from opensips.event.decode import StreamBufferOverflow, StreamDecoder, decode_notification
from tests.wire import VERSIONS, cases, sample

FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies ----------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4)),
    max_leaves=15,
)
# keys never empty: an all-"" object is OpenSIPS' way of writing an array and decodes as a list
params = st.one_of(st.none(), st.dictionaries(st.text(min_size=1, max_size=10), values, max_size=6),
                   st.lists(values, max_size=4))
methods = st.text(min_size=1, max_size=30)


@st.composite
def notifications(draw: st.DrawFn) -> dict:
    note: dict = {"jsonrpc": "2.0", "method": draw(methods)}
    p = draw(params)
    if p is not None:
        note["params"] = p
    if draw(st.booleans()):  # event_stream reliable mode adds an id
        note = {"id": draw(st.integers(0, 2**31)), **note}
    return note


def encode(note: dict, pretty: bool, ascii_only: bool) -> bytes:
    if pretty:
        return json.dumps(note, indent="\t", ensure_ascii=ascii_only).encode()
    return json.dumps(note, separators=(",", ":"), ensure_ascii=ascii_only).encode()


garbage = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"[1,2,3]", b"42", b"null", b'"str"', b"}", b"]]]", b"\xff\xfe\xfd", b"\x00\x00",
                     b'{"a":', b'{"a":"unterminated', b'{"a":"x\\', b"{{{{", b"[[[[", b"400 Parse_error",
                     b"\xed\xa0\x80", b"\\", b'"', b"{\"a\":1,}", b"tru", b"-", b"1e"]),
    st.builds(lambda d: b"[" * d, st.integers(1, 3000)),
)


def real_notifications() -> list[bytes]:
    """Every captured datagram notification and every TCP stream, both versions."""
    out: list[bytes] = []
    for version in VERSIONS:
        for case in cases(version, "events"):
            notes = sample(version, "events", case).get("notifications") or {}
            for kind in ("udp", "unix"):
                out += [n["raw"].encode("utf-8", "surrogateescape") for n in notes.get(kind) or []]
            for conn in notes.get("tcp") or []:
                out.append(conn["concatenated_raw"].encode("utf-8", "surrogateescape"))
    return [o for o in out if o]


REAL = real_notifications()


# -- decode_notification ----------------------------------------------------------

@FAST
@given(st.one_of(st.binary(max_size=4096), st.text(max_size=1024)))
def test_datagram_arbitrary_input_never_raises(data: bytes | str) -> None:
    got = decode_notification(data)
    assert got is None or isinstance(got, dict)


@FAST
@given(notifications(), st.booleans(), st.booleans())
def test_datagram_valid_notification_roundtrips(note: dict, pretty: bool, ascii_only: bool) -> None:
    assert decode_notification(encode(note, pretty, ascii_only)) == note


@FAST
@given(st.sampled_from(REAL or [b"{}"]), st.data())
def test_datagram_mutated_real_notifications_never_raise(raw: bytes, data: st.DataObject) -> None:
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 6))):
        if not buf:
            break
        pos = data.draw(st.integers(0, len(buf) - 1))
        buf[pos] = data.draw(st.integers(0, 255))
    got = decode_notification(bytes(buf[: data.draw(st.integers(0, len(buf)))]))
    assert got is None or isinstance(got, dict)


def test_real_captures_found() -> None:
    assert len(REAL) > 20


@pytest.mark.parametrize("depth", [100, 990, 1000, 5000, 100_000])
def test_datagram_deep_nesting(depth: int) -> None:
    for body in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth,
                 b'{"jsonrpc":"2.0","method":"E","params":' + b"[" * depth + b"]" * depth + b"}"):
        got = decode_notification(body)
        assert got is None or isinstance(got, dict)


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc":"2.0","method":"E","params":{"n":' + b"9" * 5000 + b"}}",
        b'{"jsonrpc":"2.0","method":"E","params":{"n":1e999999}}',
        b'{"jsonrpc":"2.0","method":"E","params":{"n":-1e-999999}}',
        b'{"jsonrpc":"2.0","method":"E","params":{"n":NaN,"m":-Infinity}}',
    ],
)
def test_datagram_huge_numbers(body: bytes) -> None:
    got = decode_notification(body)
    assert got is None or isinstance(got, dict)


def test_datagram_repeated_keys_keep_every_value() -> None:
    got = decode_notification(b'{"jsonrpc":"2.0","method":"E","params":{"a":1,"a":2,"b":3}}')
    assert got is not None and got["params"]["a"] == [1, 2] and got["params"]["b"] == 3
    got = decode_notification(b'{"jsonrpc":"2.0","method":"E","params":{"":"x","":"y"}}')
    assert got is not None and got["params"] == ["x", "y"]


# -- StreamDecoder -----------------------------------------------------------------

def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points + [len(data)]:
        out.append(data[last:p])
        last = p
    return out


@FAST
@given(st.binary(max_size=4096), st.lists(st.integers(0, 10_000), max_size=20))
def test_stream_arbitrary_bytes_any_chunks(data: bytes, cuts: list[int]) -> None:
    dec = StreamDecoder(max_buffer=1 << 16)
    for chunk in chunked(data, cuts):
        try:
            for obj in dec.feed(chunk):
                assert isinstance(obj, dict)
        except StreamBufferOverflow:
            dec = StreamDecoder(max_buffer=1 << 16)  # the listener drops the connection


@FAST
@given(st.lists(notifications(), min_size=1, max_size=8), st.booleans(), st.lists(st.integers(0, 100_000), max_size=30))
def test_stream_valid_notifications_any_split(notes: list[dict], pretty: bool, cuts: list[int]) -> None:
    data = b"".join(encode(n, pretty, False) for n in notes)
    dec = StreamDecoder()
    got: list[dict] = []
    for chunk in chunked(data, cuts):
        got += dec.feed(chunk)
    assert got == notes
    assert dec.pending == 0


def wraps(garbages: list[bytes | None]) -> bool:
    """Could these garbage runs form valid JSON *around* the notifications between them?

    ``{"":`` + notification + ``}`` is one well-formed object that holds the
    notification as a value: a stream decoder rightly returns that outer
    object, so the notification is consumed, not lost to a bug. That needs an
    opener left open by one run and a closer in a later run.
    """
    open_before = False
    for g in garbages:
        if not g:
            continue
        if open_before and (b"}" in g or b"]" in g):
            return True
        if g.count(b"{") + g.count(b"[") > g.count(b"}") + g.count(b"]"):
            open_before = True
    return False


@FAST
@given(
    st.lists(st.tuples(st.one_of(st.none(), garbage), notifications()), min_size=1, max_size=6),
    st.lists(st.integers(0, 100_000), max_size=20),
)
def test_stream_garbage_interleaved_loses_no_valid_event(pairs: list[tuple[bytes | None, dict]], cuts: list[int]) -> None:
    """Garbage before a notification may delay it at most until the next one arrives, never drop it
    (unless the garbage around it makes one well-formed JSON value of it, see ``wraps``).

    A trailing sentinel notification is the "next one"; everything before it
    must come out, in order.
    """
    assume(not wraps([g for g, _ in pairs]))
    sentinel = {"jsonrpc": "2.0", "method": "SENTINEL"}
    data = b"".join((g or b"") + encode(n, False, False) for g, n in pairs) + encode(sentinel, False, False)
    dec = StreamDecoder()
    got: list[dict] = []
    for chunk in chunked(data, cuts):
        got += dec.feed(chunk)
    expected = [n for _, n in pairs]
    # every valid notification, in order (garbage may decode as extra objects)
    it = iter(got)
    assert all(any(g == n for g in it) for n in expected), (expected, got)


@FAST
@given(st.sampled_from(REAL or [b"{}"]), st.lists(st.integers(0, 100_000), max_size=40))
def test_stream_real_captures_any_split(raw: bytes, cuts: list[int]) -> None:
    whole = StreamDecoder().feed(raw)
    dec = StreamDecoder()
    got: list[dict] = []
    for chunk in chunked(raw, cuts):
        got += dec.feed(chunk)
    assert got == whole


@pytest.mark.parametrize(
    "filler",
    [b"[", b"x", b"\xff", b'{"a":"' + b"x" * 62, b"[" * 63 + b"}", b'{"a":[' + b"1," * 29, b"{" * 64],
    ids=["brackets", "no-brace", "bad-utf8", "long-string", "brackets-closing-brace", "open-array", "braces"],
)
def test_stream_megabytes_without_object_overflow_and_memory_flat(filler: bytes) -> None:
    """4 MB that never completes an object: the buffer never exceeds the limit, memory stays flat."""
    limit = 256 * 1024
    dec = StreamDecoder(max_buffer=limit)
    chunk = (filler * (65536 // len(filler) + 1))[:65536]
    overflows = 0
    tracemalloc.start()
    try:
        for _ in range(64):  # 4 MiB
            try:
                dec.feed(chunk)
            except StreamBufferOverflow:
                overflows += 1
            assert dec.pending <= limit
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # either cut at the limit, or recognised as garbage and dropped at once
    assert overflows >= 1 or dec.pending == 0
    assert peak < 16 * limit  # a few copies of the buffer while parsing, not the whole 4 MB stream


@pytest.mark.timeout(30)
def test_stream_trickled_unfinished_object_is_cut_without_quadratic_reparse() -> None:
    """A peer trickling an object that never closes, in small reads that each contain "}".

    Each read re-parsing the whole buffer makes 1 MiB of such input cost
    minutes of listener CPU (a peer can starve the listener thread). The
    decoder must reach its max_buffer and raise StreamBufferOverflow well
    within the test's timeout.
    """
    dec = StreamDecoder()  # default 1 MiB
    dec.feed(b'{"a":[')
    with pytest.raises(StreamBufferOverflow):
        for _ in range(1 << 20):
            dec.feed(b'{"b":1},' * 4)


@pytest.mark.parametrize("junk", [b'{"\x00', b'{"a":"x\\', b'{"a":"\x01\\q'],
                         ids=["raw-control-char", "trailing-backslash", "control-and-bad-escape"])
def test_stream_unclosable_lenient_garbage_does_not_swallow_later_events(junk: bytes) -> None:
    """A few bytes of broken object (bad escape / raw control character, never closed) before good ones.

    The lenient retry must not wait for that object to "close": the quote
    parity it counts is off, so it would never close and every later
    notification on the connection would be buffered away until max_buffer.
    """
    notes = [{"jsonrpc": "2.0", "method": f"E{i}", "params": {"i": i}} for i in range(3)]
    data = junk + b"".join(json.dumps(n).encode() for n in notes)
    dec = StreamDecoder()
    got = dec.feed(data)
    assert [g for g in got if str(g.get("method", "")).startswith("E")] == notes
