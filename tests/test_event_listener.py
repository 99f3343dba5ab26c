"""Listeners over real sockets, fed by raw sender sockets (no OpenSIPS, no simulator)."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time

import pytest

from opensips.event.listener import (MAX_CONNECTIONS, MAX_GARBAGE, TCPStreamListener, UDPListener,
                                     UnixDatagramListener)
from tests.waiting import Sink, wait_until
from tests.wire import sample

NOTE = sample("4.0.1", "events", "E_PIKE_BLOCKED_udp")["notifications"]["udp"][0]["raw"].encode()
FRAMING = sample("4.0.1", "events", "stream_framing_5_events")["tcp"][0]


def _note(method: str, **params: object) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": params}, separators=(",", ":")).encode()


def _stopped_cleanly(listener, seconds: float = 1.0) -> None:
    t0 = time.monotonic()
    listener.stop()
    assert time.monotonic() - t0 < seconds
    assert not listener.running
    assert listener.sock.fileno() == -1
    assert listener._thread not in threading.enumerate()


@pytest.fixture
def udp():
    sink = Sink()
    garbage = Sink()
    lst = UDPListener("127.0.0.1", 0, on_garbage=lambda: garbage(None))
    lst.routes = {"E_PIKE_BLOCKED": (sink,), "E_A": (sink,)}
    lst.start()
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    yield lst, sink, garbage, lambda data: sender.sendto(data, lst.address)
    sender.close()
    lst.stop()


def test_udp_delivers_captured_notification(udp) -> None:
    lst, sink, _, send = udp
    send(NOTE)
    assert sink.take(1) == [json.loads(NOTE)]
    _stopped_cleanly(lst)


def test_udp_routes_by_method_and_drops_unknown(udp) -> None:
    lst, sink, _, send = udp
    send(_note("E_OTHER", n=1))
    send(_note("E_A", n=2))
    got = sink.take(1)
    assert got[0]["params"] == {"n": 2}
    assert sink.empty_for(0.2)


def test_udp_garbage_interleaved_loses_no_valid_event_and_ten_bad_give_none(udp) -> None:
    lst, sink, garbage, send = udp
    junk = [b"", b"x", b"{", b"\xff\xfe", b"[1]", b"400 Parse_error", b'{"a":', b"}", b"null"]
    for i in range(30):
        send(junk[i % len(junk)])
        send(_note("E_A", i=i))
    got = sink.take(30)
    assert [g["params"]["i"] for g in got] == list(range(30))
    assert garbage.empty_for(0.1)  # never 10 bad reads in a row
    for i in range(MAX_GARBAGE * 2 + 3):
        send(b"garbage %d" % i)
    assert garbage.take(2) == [None, None]  # once per 10, count restarts
    assert garbage.empty_for(0.2)
    send(_note("E_A", i=99))
    assert sink.take(1)[0]["params"] == {"i": 99}  # listening goes on
    lst.stop()  # publishes the loop's counters
    bad = sum(1 for i in range(30) if junk[i % len(junk)]) + MAX_GARBAGE * 2 + 3  # b"" is stop()'s wake-up
    assert lst.stats["garbage"] == bad  # every unparsable read, not only full runs of ten
    assert lst.stats["delivered"] == 31 and lst.stats["received"] == 31 + bad


def test_callback_exception_is_logged_and_listener_continues(caplog) -> None:
    sink = Sink()
    calls = []

    def bad(msg: dict) -> None:
        calls.append(msg)
        raise RuntimeError("user bug")

    lst = UDPListener("127.0.0.1", 0)
    lst.routes = {"E_A": (bad, sink)}
    lst.start()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(_note("E_A", i=1), lst.address)
        s.sendto(_note("E_A", i=2), lst.address)
        assert [m["params"]["i"] for m in sink.take(2)] == [1, 2]
        assert len(calls) == 2 and lst.running
        assert "user bug" in caplog.text
    finally:
        s.close()
        _stopped_cleanly(lst)


def test_udp_allowed_sources() -> None:
    sink = Sink()
    lst = UDPListener("127.0.0.1", 0, allowed_sources=["127.0.0.2"])
    lst.routes = {"E_A": (sink,)}
    lst.start()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(_note("E_A", src=1), lst.address)   # from 127.0.0.1: refused
        s2.bind(("127.0.0.2", 0))
        s2.sendto(_note("E_A", src=2), lst.address)
        assert sink.take(1)[0]["params"] == {"src": 2}
        assert sink.empty_for(0.2)
        assert lst.stats["refused"] == 1
    finally:
        s.close()
        s2.close()
        _stopped_cleanly(lst)


def test_unix_datagram_delivers_and_removes_socket_file() -> None:
    d = tempfile.mkdtemp()
    path = os.path.join(d, "ev.sock")
    sink = Sink()
    lst = UnixDatagramListener(path)
    lst.routes = {"E_PIKE_BLOCKED": (sink,)}
    lst.start()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.sendto(NOTE, path)
        assert sink.take(1) == [json.loads(NOTE)]
    finally:
        s.close()
        _stopped_cleanly(lst)
    assert not os.path.exists(path)
    os.rmdir(d)


def test_unix_stale_socket_file_is_replaced_live_one_refused() -> None:
    d = tempfile.mkdtemp()
    path = os.path.join(d, "ev.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(path)
    stale.close()  # file left behind, nobody bound
    lst = UnixDatagramListener(path)
    try:
        with pytest.raises(OSError):
            UnixDatagramListener(path)  # in use by lst
        assert os.path.exists(path)
    finally:
        lst.stop()
    assert not os.path.exists(path)
    with open(path, "w") as f:
        f.write("not a socket")
    with pytest.raises(OSError):
        UnixDatagramListener(path)
    assert os.path.exists(path)  # never deletes a non-socket
    os.unlink(path)
    os.rmdir(d)


# -- TCP stream ----------------------------------------------------------------------

@pytest.fixture
def tcp():
    sink = Sink()
    lst = TCPStreamListener("127.0.0.1", 0, max_buffer=4096)
    lst.routes = {"E_MY_CUSTOM": (sink,), "E_A": (sink,)}
    lst.start()
    conns: list[socket.socket] = []

    def connect() -> socket.socket:
        c = socket.create_connection(lst.address, timeout=2)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conns.append(c)
        return c

    yield lst, sink, connect
    for c in conns:
        c.close()
    lst.stop()


def test_tcp_captured_stream_split_at_every_offset(tcp) -> None:
    lst, sink, connect = tcp
    raw = FRAMING["concatenated_raw"].encode()
    expected = [json.loads(c) for c in FRAMING["chunks_raw"]]
    c = connect()
    for cut in range(0, len(raw) + 1):
        c.sendall(raw[:cut])
        time.sleep(0.001 if cut % 16 else 0.01)  # sometimes let the listener read the first part alone
        c.sendall(raw[cut:])
        assert sink.take(5) == expected, cut
    _stopped_cleanly(lst)


def test_tcp_several_connections_and_replacement(tcp) -> None:
    lst, sink, connect = tcp
    a, b = connect(), connect()
    a.sendall(_note("E_A", c="a")[:10])
    b.sendall(_note("E_A", c="b"))
    assert sink.take(1)[0]["params"] == {"c": "b"}
    a.sendall(_note("E_A", c="a")[10:])
    assert sink.take(1)[0]["params"] == {"c": "a"}
    a.close()  # OpenSIPS replaced the connection
    c = connect()
    c.sendall(_note("E_A", c="c"))
    assert sink.take(1)[0]["params"] == {"c": "c"}


def test_tcp_garbage_on_stream_loses_no_valid_event(tcp) -> None:
    lst, sink, connect = tcp
    c = connect()
    for i in range(20):
        c.sendall([b"junk", b'{"x":', b"\xff", b"}}", b'{"a":"\x01\\q'][i % 5])
        c.sendall(_note("E_A", i=i))
    c.sendall(_note("E_A", i="sentinel"))
    got = [m["params"]["i"] for m in sink.take(21)]
    assert got == list(range(20)) + ["sentinel"]


def test_tcp_idle_connections_cannot_lock_opensips_out(tcp) -> None:
    """A stranger holding every connection slot open: the quietest is dropped for a newcomer."""
    lst, sink, connect = tcp
    talker = connect()
    talker.sendall(_note("E_A", i=0))
    assert sink.take(1)[0]["params"] == {"i": 0}
    idle = [connect() for _ in range(MAX_CONNECTIONS + 5)]  # silent, never closed
    assert wait_until(lambda: lst.connections == MAX_CONNECTIONS, 3)
    idle[-1].sendall(_note("E_A", i=1))  # the newest one was let in
    assert sink.take(1)[0]["params"] == {"i": 1}
    # the talker, silent since its first event, was among the quietest and got dropped;
    # like OpenSIPS, a new connection gets through at once
    fresh = connect()
    fresh.sendall(_note("E_A", i=2))
    assert sink.take(1)[0]["params"] == {"i": 2}


def test_tcp_reliable_mode_acknowledged_at_once(tcp) -> None:
    lst, sink, connect = tcp
    data = sample("4.0.1", "variant_event_stream_reliable", "event_stream_reliable_mode")
    chunk = data["cases"]["reply_ok"]["connections"][0]["chunks_raw"][0].encode()
    req_id = json.loads(chunk)["id"]
    c = connect()
    c.sendall(chunk)
    reply = json.loads(c.recv(4096))
    assert reply == {"jsonrpc": "2.0", "result": "OK", "id": req_id}
    assert sink.take(1)[0]["id"] == req_id


def test_tcp_buffer_overflow_drops_connection_only(tcp, caplog) -> None:
    lst, sink, connect = tcp
    c = connect()
    c.sendall(b'{"jsonrpc":"2.0","method":"E_A","params":{"big":"' + b"x" * 6000)
    c.settimeout(2)
    assert c.recv(10) == b""  # the listener closed it
    assert "without a complete JSON object" in caplog.text
    d = connect()
    d.sendall(_note("E_A", ok=1))
    assert sink.take(1)[0]["params"] == {"ok": 1}


def test_tcp_allowed_sources_refuse_connection() -> None:
    lst = TCPStreamListener("127.0.0.1", 0, allowed_sources=["127.0.0.9"])
    lst.start()
    try:
        c = socket.create_connection(lst.address, timeout=2)
        c.settimeout(2)
        try:
            assert c.recv(10) == b""
        except ConnectionResetError:
            pass
        c.close()
    finally:
        _stopped_cleanly(lst)


def test_stop_from_inside_a_callback() -> None:
    box: dict = {}
    done = threading.Event()

    def cb(msg: dict) -> None:
        box["lst"].stop()  # must not deadlock joining itself
        done.set()

    lst = UDPListener("127.0.0.1", 0)
    box["lst"] = lst
    lst.routes = {"E_A": (cb,)}
    lst.start()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(_note("E_A"), lst.address)
    s.close()
    assert done.wait(2)
    lst._thread.join(2)
    assert not lst.running and lst.sock.fileno() == -1
