"""MI faults: peers that accept and never answer, trickle forever, or answer garbage.

Every call must end with a typed error inside its timeout (plus scheduling
slack), so a UI worker or a refresher thread can never hang on OpenSIPS.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable

import pytest

from opensips.mi import (
    OpenSIPSMI,
    OpenSIPSMIConnectionError,
    OpenSIPSMIException,
    OpenSIPSMITimeoutError,
)
from opensips.sim import SimulatedOpenSIPS
from tests.faultpeers import FifoPeer, TcpPeer, UdpPeer, leftovers, read_http_request, silent

TIMEOUT = 0.5
SLACK = 2.0  # a hang check: scheduling noise on a busy 2-core box, not a speed requirement


def timed(fn: Callable[[], object]) -> tuple[BaseException | None, float]:
    start = time.monotonic()
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001 - the test inspects it
        return exc, time.monotonic() - start
    return None, time.monotonic() - start


def version_once(mi: OpenSIPSMI) -> tuple[BaseException | None, float]:
    """``timed`` of one ``version`` call; the client is closed afterwards."""
    try:
        return timed(lambda: mi.execute("version"))
    finally:
        mi.close()


def http_mi(peer: TcpPeer) -> OpenSIPSMI:
    return OpenSIPSMI("http", url=f"http://127.0.0.1:{peer.port}/mi", timeout=TIMEOUT)


def fifo_mi(peer: FifoPeer) -> OpenSIPSMI:
    return OpenSIPSMI("fifo", fifo_file=peer.fifo_path, fifo_reply_dir=peer.reply_dir, timeout=TIMEOUT)


def trickling(head: bytes, drip: bytes) -> Callable[[socket.socket, threading.Event], None]:
    """A peer that reads the request, sends ``head``, then ``drip`` every TIMEOUT/5 for ever."""

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        if read_http_request(conn, stop) is None:
            return
        conn.sendall(head)
        while not stop.is_set():
            try:
                conn.sendall(drip)
            except OSError:
                return
            time.sleep(TIMEOUT / 5)

    return handle


# -- http ----------------------------------------------------------------------

def test_http_peer_accepts_and_never_answers() -> None:
    with TcpPeer(silent) as peer:
        exc, took = version_once(http_mi(peer))
    assert isinstance(exc, OpenSIPSMITimeoutError), exc
    assert took < TIMEOUT + SLACK


def test_http_chunked_body_that_never_ends() -> None:
    # the real mi_http does this for GET and for an empty POST (see the wire samples)
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        if read_http_request(conn, stop) is None:
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
                     b"5\r\n{\"jso\r\n")
        silent(conn, stop)

    with TcpPeer(handle) as peer:
        exc, took = version_once(http_mi(peer))
    assert isinstance(exc, OpenSIPSMITimeoutError), exc
    assert took < TIMEOUT + SLACK


def test_http_body_trickling_one_byte_at_a_time_is_cut_at_the_deadline() -> None:
    """Each read gets a byte just before its read timeout: only a whole-call deadline ends it."""
    with TcpPeer(trickling(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b" ")) as peer:
        exc, took = version_once(http_mi(peer))
    assert isinstance(exc, OpenSIPSMITimeoutError), exc
    assert took < TIMEOUT + SLACK


def test_http_headers_trickling_forever_are_cut_at_the_deadline() -> None:
    with TcpPeer(trickling(b"HTTP/1.1 200 OK\r\n", b"X-Slow: y\r\n")) as peer:
        exc, took = version_once(http_mi(peer))
    assert isinstance(exc, OpenSIPSMIException), exc
    assert took < TIMEOUT + SLACK


def test_http_peer_closes_without_answer_then_recovers() -> None:
    calls = {"n": 0}

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        req = read_http_request(conn, stop)
        calls["n"] += 1
        if req is None or calls["n"] == 1:
            return  # the mi_http "no Content-Type" behaviour: close, no response
        body = b'{"jsonrpc":"2.0","result":{"Server":"x"},"id":' + req.rsplit(b'"id":', 1)[1].split(b"}")[0] + b"}"
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    with TcpPeer(handle) as peer:
        mi = http_mi(peer)
        exc, _ = timed(lambda: mi.execute("version"))
        assert isinstance(exc, OpenSIPSMIConnectionError), exc
        assert mi.execute("version") == {"Server": "x"}  # the connector is still usable
        mi.close()


# -- datagram ------------------------------------------------------------------

def test_datagram_peer_never_answers() -> None:
    with UdpPeer(lambda req: None) as peer:
        exc, took = version_once(OpenSIPSMI("datagram", datagram_ip="127.0.0.1", datagram_port=peer.addr[1],
                                            timeout=TIMEOUT))
    assert isinstance(exc, OpenSIPSMITimeoutError), exc
    assert took < TIMEOUT + SLACK


@pytest.mark.parametrize("garbage", [b"\xff\xfe\x00garbage", b"400 Parse_error", b"500 Internal error", b"",
                                     b"[1,2,3]", b'{"jsonrpc":"2.0","result":', b"{" * 3000])
def test_datagram_peer_answers_garbage(garbage: bytes) -> None:
    with UdpPeer(lambda req: garbage) as peer:
        exc, took = version_once(OpenSIPSMI("datagram", datagram_ip="127.0.0.1", datagram_port=peer.addr[1],
                                            timeout=TIMEOUT))
    assert isinstance(exc, OpenSIPSMIException), exc
    assert took < TIMEOUT + SLACK


def test_datagram_stray_reply_before_ours_is_skipped() -> None:
    def respond(req: bytes) -> list[bytes]:
        rid = req.rsplit(b'"id":', 1)[1].split(b"}")[0]
        # a late answer to an older call arrives first, then ours
        return [b'{"jsonrpc":"2.0","result":"late","id":-999}', b'{"jsonrpc":"2.0","result":"ours","id":' + rid + b"}"]

    with UdpPeer(respond) as peer:
        mi = OpenSIPSMI("datagram", datagram_ip="127.0.0.1", datagram_port=peer.addr[1], timeout=TIMEOUT)
        try:
            assert mi.execute("version") == "ours"
        finally:
            mi.close()


def test_datagram_nobody_listening_is_a_connection_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exc, took = version_once(OpenSIPSMI("datagram", datagram_ip="127.0.0.1", datagram_port=port, timeout=TIMEOUT))
    assert isinstance(exc, OpenSIPSMIConnectionError), exc
    assert took < TIMEOUT + SLACK


def test_datagram_unix_peer_never_answers(tmp_path) -> None:
    path = str(tmp_path / "mi.sock")
    with UdpPeer(lambda req: None, unix_path=path):
        exc, took = version_once(OpenSIPSMI("datagram", datagram_unix_socket=path, timeout=TIMEOUT))
    assert isinstance(exc, OpenSIPSMITimeoutError), exc
    assert took < TIMEOUT + SLACK
    # the client's own reply socket file is gone
    assert [p for p in os.listdir(tmp_path) if p != "mi.sock"] == []


# -- fifo ----------------------------------------------------------------------

def test_fifo_reader_never_answers_leaves_no_reply_fifo() -> None:
    with FifoPeer(lambda req: None) as peer:
        exc, took = version_once(fifo_mi(peer))
        assert leftovers(peer.reply_dir) == ["opensips_fifo"]
    assert isinstance(exc, OpenSIPSMITimeoutError), exc
    assert took < TIMEOUT + SLACK


def test_fifo_without_any_reader(tmp_path) -> None:
    fifo = tmp_path / "opensips_fifo"
    os.mkfifo(fifo)
    exc, took = version_once(OpenSIPSMI("fifo", fifo_file=str(fifo), fifo_reply_dir=str(tmp_path), timeout=TIMEOUT))
    assert isinstance(exc, OpenSIPSMIConnectionError), exc
    assert took < TIMEOUT + SLACK
    assert sorted(os.listdir(tmp_path)) == ["opensips_fifo"]


@pytest.mark.parametrize("garbage", [b"\xff\xfe garbage", b"", b'{"jsonrpc":"2.0","result":', b"[" * 5000])
def test_fifo_peer_answers_garbage(garbage: bytes) -> None:
    with FifoPeer(lambda req: garbage) as peer:
        exc, took = version_once(fifo_mi(peer))
        assert leftovers(peer.reply_dir) == ["opensips_fifo"]
    assert isinstance(exc, OpenSIPSMIException), exc
    assert took < TIMEOUT + SLACK


# -- the simulator hanging (accepts, reads, never answers) on every transport ------------

@pytest.mark.parametrize("conn", ["http", "datagram", "datagram_unix", "fifo"])
def test_sim_hang_gives_timeout_then_recovers(conn: str, sim: SimulatedOpenSIPS) -> None:
    mi = OpenSIPSMI("datagram" if conn == "datagram_unix" else conn, timeout=TIMEOUT, **sim.mi_kwargs(conn))
    before = sorted(os.listdir(sim.workdir))
    try:
        sim.hang = True
        exc, took = timed(lambda: mi.execute("version"))
        assert isinstance(exc, OpenSIPSMITimeoutError), exc
        assert took < TIMEOUT + SLACK
        sim.hang = False
        # a late answer to the timed-out call must not be taken for the next call's
        deadline = time.monotonic() + 5
        result = None
        while time.monotonic() < deadline:
            try:
                result = mi.execute("version")
                break
            except OpenSIPSMITimeoutError:
                continue
        assert isinstance(result, dict) and "Server" in result
    finally:
        mi.close()
    # no reply FIFO / reply socket of ours left in the simulator's dir
    assert wait_listing(sim.workdir, before)


def wait_listing(directory: str, want: list[str]) -> bool:
    end = time.monotonic() + 2
    while sorted(os.listdir(directory)) != want and time.monotonic() < end:
        time.sleep(0.02)
    return sorted(os.listdir(directory)) == want
