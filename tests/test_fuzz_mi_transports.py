"""Fuzz each MI transport's reply handling through a real peer answering random bytes.

``parse_reply`` alone is fuzzed in test_fuzz_mi_reply.py; here the bytes travel
over a real UDP socket, HTTP connection or FIFO, so the transports' own reply
handling (stray-reply skipping, plain-text errors, HTTP framing, FIFO EOF) is in
the path too. Property: ``execute`` returns or raises an ``OpenSIPSMIException``
subclass, within its timeout, and leaves no reply FIFO behind.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensips.mi import OpenSIPSMI, OpenSIPSMIException
from tests.faultpeers import FifoPeer, TcpPeer, UdpPeer, http_answer, leftovers

TIMEOUT = 0.3
# a hang check, not a speed check: a call may never outlive its timeout by much
HANG = TIMEOUT + 2.0
FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def request_id(request: bytes) -> object:
    m = re.search(rb'"id"\s*:\s*("[^"]*"|-?\d+)', request)
    return json.loads(m.group(1)) if m else 1


def mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    buf = bytearray(data)
    for pos, val in edits:
        if not buf:
            break
        buf[pos % len(buf)] = val
    return bytes(buf)


# A reply is either raw bytes, or a JSON-RPC reply echoing our id (so it gets
# past id matching) with a random result and some bytes overwritten.
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=10,
)
edits = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4)
replies = st.one_of(
    st.tuples(st.just("raw"), st.binary(max_size=2048), st.none(), st.just([])),
    st.tuples(st.just("echo"), st.just(b""), json_values, edits),
    st.tuples(st.just("nested"), st.sampled_from([b"[", b'{"a":']), st.integers(10, 20_000), st.just([])),
)


def render(kind: str, raw: bytes, value: object, ed: list, request: bytes) -> bytes:
    if kind == "raw":
        return raw
    if kind == "nested":
        depth = int(value)  # type: ignore[arg-type]
        close = b"]" if raw == b"[" else b"}"
        body = raw * depth + (b"1" if raw != b"[" else b"") + close * depth
        return b'{"jsonrpc":"2.0","result":' + body + b',"id":' + json.dumps(request_id(request)).encode() + b"}"
    reply = json.dumps({"jsonrpc": "2.0", "result": value, "id": request_id(request)}).encode()
    return mutate(reply, ed)


def call(mi: OpenSIPSMI) -> None:
    start = time.monotonic()
    try:
        mi.execute("version")
    except OpenSIPSMIException:
        pass
    assert time.monotonic() - start < HANG


# -- datagram ----------------------------------------------------------------

@pytest.fixture
def dgram() -> Iterator[tuple[dict, OpenSIPSMI]]:
    slot: dict = {}
    with UdpPeer(lambda req: render(*slot["reply"], req)[:65000]) as peer:
        mi = OpenSIPSMI("datagram", datagram_ip="127.0.0.1", datagram_port=peer.addr[1], datagram_timeout=TIMEOUT)
        yield slot, mi
        mi.close()


@FUZZ
@given(replies)
def test_datagram_reply_fuzz(dgram: tuple[dict, OpenSIPSMI], reply: tuple) -> None:
    slot, mi = dgram
    slot["reply"] = reply
    call(mi)


@pytest.mark.parametrize("depth", [2000, 5000, 10_000])
def test_datagram_deeply_nested_reply_is_typed(dgram: tuple[dict, OpenSIPSMI], depth: int) -> None:
    # A reply starting with "{" is first checked for a foreign id; a deep one
    # must not escape that check as RecursionError.
    slot, mi = dgram
    slot["reply"] = ("nested", b'{"a":', depth, [])
    with pytest.raises(OpenSIPSMIException):
        mi.execute("version")


# -- http --------------------------------------------------------------------

http_shapes = st.sampled_from(["raw", "length", "chunked", "close", "status"])


def http_response(shape: str, body: bytes, status: int) -> bytes:
    if shape == "raw":
        return body
    if shape == "length":
        return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    if shape == "chunked":
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
                if body else b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    if shape == "close":  # body ended by closing the connection
        return b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body
    return b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body)


@pytest.fixture
def http() -> Iterator[tuple[dict, OpenSIPSMI]]:
    slot: dict = {}

    def answer(req: bytes) -> bytes:
        shape, reply, status = slot["reply"]
        return http_response(shape, render(*reply, req), status)

    with TcpPeer(http_answer(answer)) as peer:
        mi = OpenSIPSMI("http", url=f"http://127.0.0.1:{peer.port}/mi", timeout=TIMEOUT)
        yield slot, mi
        mi.close()


@FUZZ
@given(http_shapes, replies, st.integers(100, 599))
def test_http_reply_fuzz(http: tuple[dict, OpenSIPSMI], shape: str, reply: tuple, status: int) -> None:
    slot, mi = http
    slot["reply"] = (shape, reply, status)
    call(mi)


# -- fifo --------------------------------------------------------------------

@pytest.fixture
def fifo() -> Iterator[tuple[dict, OpenSIPSMI, FifoPeer]]:
    slot: dict = {}
    with FifoPeer(lambda req: render(*slot["reply"], req)) as peer:
        mi = OpenSIPSMI("fifo", fifo_file=peer.fifo_path, fifo_reply_dir=peer.reply_dir, timeout=TIMEOUT)
        yield slot, mi, peer
        mi.close()


@FUZZ
@given(replies)
def test_fifo_reply_fuzz(fifo: tuple[dict, OpenSIPSMI, FifoPeer], reply: tuple) -> None:
    slot, mi, peer = fifo
    slot["reply"] = reply
    call(mi)
    # no reply FIFO left behind, whatever came back
    deadline = time.monotonic() + 1.0
    while leftovers(peer.reply_dir) != ["opensips_fifo"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert leftovers(peer.reply_dir) == ["opensips_fifo"]
