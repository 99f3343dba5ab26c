"""opensips.mi against small raw peers: real sockets and FIFOs that misbehave on purpose.

These peers stand in for broken or absent servers (a UDP port that never
answers, an HTTP server that starts a chunked body and never ends it, a FIFO
nobody reads); the simulator covers the well-behaved server.
"""

from __future__ import annotations

import json
import os
import select
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from opensips.mi import (
    OpenSIPSMI,
    OpenSIPSMICommandError,
    OpenSIPSMIConnectionError,
    OpenSIPSMIException,
    OpenSIPSMIRequestError,
    OpenSIPSMITimeoutError,
)
from tests.waiting import keyboard_interrupt_after, run_threads
from tests.wire import sample


def run_bounded(fn: Callable[[], Any], bound: float) -> Any:
    """Run ``fn`` in a thread; fail if it has not returned within ``bound`` seconds."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(bound)
    assert not thread.is_alive(), f"call still running after {bound}s"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def ok_reply(request: bytes, result: Any) -> bytes:
    req = json.loads(request)
    return json.dumps({"jsonrpc": "2.0", "result": result, "id": req["id"]}).encode()


# -- datagram peers -------------------------------------------------------------


class UdpPeer:
    """A UDP server whose answer to each request is ``respond(request) -> list[bytes]``."""

    def __init__(self, respond: Callable[[bytes], list[bytes]], family: int = socket.AF_INET, path: str | None = None):
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.path = path
        self.sock.bind(path if path else ("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.respond = respond
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(70000)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            self.requests.append(data)
            for answer in self.respond(data):
                try:
                    self.sock.sendto(answer, addr)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        if self.path and os.path.exists(self.path):
            os.unlink(self.path)


@pytest.fixture
def udp_peer() -> Iterator[Callable[[Callable[[bytes], list[bytes]]], UdpPeer]]:
    peers: list[UdpPeer] = []

    def make(respond: Callable[[bytes], list[bytes]]) -> UdpPeer:
        peers.append(UdpPeer(respond))
        return peers[-1]

    yield make
    for peer in peers:
        peer.close()


def udp_mi(peer: UdpPeer, **kwargs: Any) -> OpenSIPSMI:
    return OpenSIPSMI("datagram", datagram_ip="127.0.0.1", datagram_port=str(peer.port), **kwargs)


def test_udp_peer_that_never_answers_times_out(udp_peer) -> None:
    peer = udp_peer(lambda req: [])
    with udp_mi(peer, timeout="0.3") as mi:
        with pytest.raises(OpenSIPSMITimeoutError, match="no reply from udp:127.0.0.1"):
            run_bounded(lambda: mi.execute("version"), 5)
        assert peer.requests, "the request never reached the peer"


def test_udp_nothing_listening_is_a_connection_error() -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # the port is now closed: the kernel answers "port unreachable"
    with OpenSIPSMI("datagram", datagram_port=port, timeout=2) as mi:
        with pytest.raises(OpenSIPSMIConnectionError, match="nothing listening on udp:127.0.0.1") as info:
            run_bounded(lambda: mi.execute("version"), 5)
        assert not isinstance(info.value, OpenSIPSMITimeoutError)


@pytest.mark.parametrize(
    ("case", "version", "match"),
    [
        ("parse_error", "4.0.1", "400 Parse_error.*could not parse"),
        ("which", "4.0.1/variant_dgram_buf1024_pretty", "500 Internal error.*socket_buf_size"),
    ],
)
def test_udp_plain_text_answers_are_clear_connection_errors(udp_peer, case: str, version: str, match: str) -> None:
    answer = sample(version, "datagram", case)["reply_datagrams_raw"][0].encode()
    peer = udp_peer(lambda req: [answer])
    with udp_mi(peer, timeout=2) as mi:
        with pytest.raises(OpenSIPSMIConnectionError, match=match):
            run_bounded(lambda: mi.execute("which"), 5)


def test_udp_garbage_reply_is_not_json(udp_peer) -> None:
    peer = udp_peer(lambda req: [b"\xff\xfegarbage"])
    with udp_mi(peer, timeout=2) as mi:
        with pytest.raises(OpenSIPSMIConnectionError, match="not JSON"):
            run_bounded(lambda: mi.execute("version"), 5)


def test_udp_stray_replies_with_other_ids_are_skipped(udp_peer) -> None:
    def respond(req: bytes) -> list[bytes]:
        rid = json.loads(req)["id"]
        stray = json.dumps({"jsonrpc": "2.0", "result": "stale", "id": rid + 1000}).encode()
        return [stray, ok_reply(req, "mine")]

    peer = udp_peer(respond)
    with udp_mi(peer, timeout=2) as mi:
        assert run_bounded(lambda: mi.execute("version"), 5) == "mine"


def test_udp_reply_larger_than_buffer_is_refused(udp_peer) -> None:
    peer = udp_peer(lambda req: [ok_reply(req, "x" * 5000)])
    with udp_mi(peer, timeout=2, datagram_buffer_size="1024") as mi:
        with pytest.raises(OpenSIPSMIConnectionError, match="larger than datagram_buffer_size"):
            run_bounded(lambda: mi.execute("version"), 5)
    with udp_mi(peer, timeout=2) as mi:  # the default buffer takes it
        assert run_bounded(lambda: mi.execute("version"), 5) == "x" * 5000


def test_udp_request_too_large_for_a_datagram_is_refused(udp_peer) -> None:
    peer = udp_peer(lambda req: [ok_reply(req, "ok")])
    with udp_mi(peer, timeout=2) as mi:
        with pytest.raises(OpenSIPSMIRequestError, match="too large"):
            mi.execute("which", {"command": "x" * 70000})


@pytest.mark.parametrize("mode", ["pool", "percall", "shared"])
def test_udp_fifty_threads_share_one_connector(udp_peer, mode: str) -> None:
    peer = udp_peer(lambda req: [ok_reply(req, json.loads(req)["params"]["n"])])
    results: dict[int, Any] = {}
    with udp_mi(peer, timeout=5, datagram_socket_mode=mode) as mi:

        def worker(n: int) -> None:
            results[n] = [mi.execute("echo", {"n": n * 100 + i}) for i in range(5)]

        run_threads(worker, 50, timeout=20)
    assert results == {n: [n * 100 + i for i in range(5)] for n in range(50)}


def test_unix_datagram_peer_and_client_socket_cleanup(tmp_path: Path) -> None:
    server_path = str(tmp_path / "mi.sock")
    peer = UdpPeer(lambda req: [ok_reply(req, {"Server": "raw"})], family=socket.AF_UNIX, path=server_path)
    try:
        before = set(os.listdir(tempfile_dir()))
        with OpenSIPSMI("datagram", datagram_unix_socket=server_path, timeout=2) as mi:
            assert mi.target == f"unix:{server_path}"
            assert mi.remote_host is None
            assert mi.valid() == (True, None)
            assert run_bounded(lambda: mi.execute("version"), 5) == {"Server": "raw"}
        leftover = {n for n in set(os.listdir(tempfile_dir())) - before if n.startswith("opensips_mi_")}
        assert leftover == set()
    finally:
        peer.close()


def tempfile_dir() -> str:
    import tempfile

    return tempfile.gettempdir()


def test_unix_datagram_missing_socket(tmp_path: Path) -> None:
    with OpenSIPSMI("datagram", datagram_unix_socket=str(tmp_path / "none.sock"), timeout=1) as mi:
        ok, reasons = mi.valid()
        assert not ok and "no socket at" in reasons[0]
        with pytest.raises(OpenSIPSMIConnectionError, match="no socket at"):
            run_bounded(lambda: mi.execute("version"), 5)


# -- http peers -----------------------------------------------------------------


class TcpPeer:
    """A TCP server running ``handle(conn)`` for each connection on its own thread."""

    def __init__(self, handle: Callable[[socket.socket], None]):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.handle = handle
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/mi"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            conn.settimeout(5)
            self._conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except OSError:
            pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        for conn in self._conns:
            conn.close()


@pytest.fixture
def tcp_peer() -> Iterator[Callable[[Callable[[socket.socket], None]], TcpPeer]]:
    peers: list[TcpPeer] = []

    def make(handle: Callable[[socket.socket], None]) -> TcpPeer:
        peers.append(TcpPeer(handle))
        return peers[-1]

    yield make
    for peer in peers:
        peer.close()


def read_http_request(conn: socket.socket) -> tuple[bytes, bytes]:
    """(header block, body) of one request, reading until Content-Length is satisfied."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data, b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(65536)
    return head, body


def hold_open(conn: socket.socket, seconds: float = 3.0) -> None:
    """Keep the connection open without sending anything more."""
    conn.settimeout(seconds)
    try:
        conn.recv(1)
    except OSError:
        pass


def test_http_never_ending_chunked_202_is_not_waited_for(tcp_peer) -> None:
    head = sample("4.0.1", "http", "version_notification_no_id")["response_raw"].encode()

    def handle(conn: socket.socket) -> None:
        read_http_request(conn)
        conn.sendall(head)
        hold_open(conn)

    peer = tcp_peer(handle)
    with OpenSIPSMI("http", url=peer.url, timeout=2) as mi:
        with pytest.raises(OpenSIPSMIConnectionError, match="HTTP 202") as info:
            run_bounded(lambda: mi.execute("version"), 4)
        assert not isinstance(info.value, OpenSIPSMITimeoutError)


def test_http_never_ending_chunked_200_times_out(tcp_peer) -> None:
    def handle(conn: socket.socket) -> None:
        read_http_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(30):  # trickle: each read succeeds, the body never ends
            conn.sendall(b"1\r\n \r\n")
            time.sleep(0.1)

    peer = tcp_peer(handle)
    with OpenSIPSMI("http", url=peer.url, timeout=0.5) as mi:
        with pytest.raises(OpenSIPSMITimeoutError):
            run_bounded(lambda: mi.execute("version"), 4)


def test_http_silent_server_times_out(tcp_peer) -> None:
    peer = tcp_peer(lambda conn: hold_open(conn))
    with OpenSIPSMI("http", url=peer.url, timeout=0.4) as mi:
        with pytest.raises(OpenSIPSMITimeoutError, match="no reply from http://127.0.0.1"):
            run_bounded(lambda: mi.execute("version"), 4)


def test_http_nothing_listening() -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with OpenSIPSMI("http", url=f"http://127.0.0.1:{port}/mi", timeout=2) as mi:
        with pytest.raises(OpenSIPSMIConnectionError, match="mi_http loaded"):
            run_bounded(lambda: mi.execute("version"), 5)


def test_http_connection_closed_without_answer(tcp_peer) -> None:
    def handle(conn: socket.socket) -> None:  # like mi_http given no Content-Type
        read_http_request(conn)
        conn.close()

    peer = tcp_peer(handle)
    with OpenSIPSMI("http", url=peer.url, timeout=2) as mi:
        with pytest.raises(OpenSIPSMIConnectionError, match="HTTP exchange"):
            run_bounded(lambda: mi.execute("version"), 5)


def test_http_wrong_path_status_and_body_in_message(tcp_peer) -> None:
    raw = sample("4.0.1", "http", "http_wrong_path")["response_raw"].encode()

    def handle(conn: socket.socket) -> None:
        read_http_request(conn)
        conn.sendall(raw)
        conn.close()

    peer = tcp_peer(handle)
    with OpenSIPSMI("http", url=peer.url, timeout=2) as mi:
        with pytest.raises(OpenSIPSMIConnectionError, match="HTTP 400 Bad Request.*Unable to parse URL"):
            run_bounded(lambda: mi.execute("version"), 5)


def test_http_request_is_one_write_with_json_content_type_and_auth(tcp_peer) -> None:
    """The whole request must arrive in one segment: mi_http may never answer a split one."""
    seen: list[bytes] = []
    captured = sample("4.0.1", "http", "unknown_command")

    def handle(conn: socket.socket) -> None:
        while True:
            first = conn.recv(65536)  # exactly what the first segment(s) carried
            if not first:
                return
            seen.append(first)
            answer = dict(captured["response_body_json"], id=json.loads(first.partition(b"\r\n\r\n")[2])["id"])
            payload = json.dumps(answer).encode()
            conn.sendall(
                captured["response_status_line"].encode()
                + f"\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
                + payload
            )

    peer = tcp_peer(handle)
    with OpenSIPSMI("http", url=peer.url, timeout=2, username="admin", password="secret", ignored_option=1) as mi:
        for _ in range(3):
            with pytest.raises(OpenSIPSMICommandError) as info:
                run_bounded(lambda: mi.execute("no_such_command"), 5)
            assert (info.value.code, info.value.message) == (-32601, "Method not found")
    assert len(peer._conns) == 1, "the keep-alive connection was not reused"
    head = seen[0].partition(b"\r\n\r\n")[0].lower()
    assert b"content-type: application/json" in head
    assert b"authorization: basic YWRtaW46c2VjcmV0".lower() in head
    assert all(json.loads(s.partition(b"\r\n\r\n")[2])["method"] == "no_such_command" for s in seen)


# -- fifo peers -----------------------------------------------------------------


class FifoPeer:
    """Reads requests from a real FIFO; ``respond(name, request)`` writes (or not) the reply."""

    def __init__(self, path: Path, reply_dir: Path, respond: Callable[[str, bytes], list[bytes] | None]):
        self.path = path
        self.reply_dir = reply_dir
        os.mkfifo(path, 0o600)
        self.respond = respond
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self._keep = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # so EOF never ends our reads
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        buf = b""
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(100):
                continue
            try:
                buf += os.read(self._fd, 65536)
            except BlockingIOError:
                continue
            while b"\n" in buf:
                line, _, buf = buf.partition(b"\n")
                self.requests.append(line)
                _, name, body = line.split(b":", 2)
                answers = self.respond(name.decode(), body)
                if answers is None:
                    continue
                fd = os.open(self.reply_dir / name.decode(), os.O_WRONLY | os.O_NONBLOCK)
                try:
                    for answer in answers:
                        os.write(fd, answer)
                        time.sleep(0.01)
                finally:
                    os.close(fd)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        os.close(self._fd)
        os.close(self._keep)
        os.unlink(self.path)


@pytest.fixture
def fifo_env(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    reply_dir = tmp_path / "replies"
    reply_dir.mkdir()
    yield tmp_path / "opensips_fifo", reply_dir
    assert os.listdir(reply_dir) == [], "a reply FIFO was left behind"


def fifo_mi(fifo: Path, reply_dir: Path, **kwargs: Any) -> OpenSIPSMI:
    return OpenSIPSMI("fifo", fifo_file=str(fifo), fifo_reply_dir=str(reply_dir), **kwargs)


def test_fifo_missing(fifo_env) -> None:
    fifo, reply_dir = fifo_env
    mi = fifo_mi(fifo, reply_dir, fifo_file_fallback=str(reply_dir.parent / "also_missing"), timeout=1)
    ok, reasons = mi.valid()
    assert not ok and any(f"no FIFO at {fifo}" in r for r in reasons)
    with pytest.raises(OpenSIPSMIConnectionError, match=f"no FIFO at {fifo}.*mi_fifo loaded"):
        run_bounded(lambda: mi.execute("version"), 5)


def test_fifo_nobody_reading_does_not_block(fifo_env) -> None:
    fifo, reply_dir = fifo_env
    os.mkfifo(fifo, 0o600)
    mi = fifo_mi(fifo, reply_dir, timeout=3)
    ok, reasons = mi.valid()
    assert not ok and "not running" in reasons[0]
    with pytest.raises(OpenSIPSMIConnectionError, match="OpenSIPS is not running") as info:
        run_bounded(lambda: mi.execute("version"), 2)
    assert not isinstance(info.value, OpenSIPSMITimeoutError)


def test_fifo_regular_file_is_refused(fifo_env) -> None:
    fifo, reply_dir = fifo_env
    fifo.write_text("")
    with pytest.raises(OpenSIPSMIConnectionError, match="not a FIFO"):
        run_bounded(lambda: fifo_mi(fifo, reply_dir, timeout=1).execute("version"), 5)
    assert fifo.read_text() == ""


def test_fifo_fallback_is_used_when_fifo_file_is_missing(fifo_env) -> None:
    fifo, reply_dir = fifo_env
    peer = FifoPeer(fifo, reply_dir, lambda name, req: [ok_reply(req, "via fallback")])
    try:
        mi = OpenSIPSMI("fifo", fifo_file=str(reply_dir.parent / "absent"), fifo_file_fallback=str(fifo),
                        fifo_reply_dir=str(reply_dir), timeout=2)
        assert mi.target == f"fifo:{fifo}"
        assert mi.remote_host is None
        assert mi.valid() == (True, None)
        assert run_bounded(lambda: mi.execute("version"), 5) == "via fallback"
    finally:
        peer.close()


def test_fifo_request_line_and_reply_fifo_mode(fifo_env) -> None:
    fifo, reply_dir = fifo_env
    seen: dict[str, Any] = {}

    def respond(name: str, req: bytes) -> list[bytes]:
        seen["name"] = name
        seen["mode"] = stat.S_IMODE(os.stat(reply_dir / name).st_mode)
        seen["is_fifo"] = stat.S_ISFIFO(os.stat(reply_dir / name).st_mode)
        # a pretty-printed reply, written in two pieces
        text = json.dumps(json.loads(ok_reply(req, {"Server": "x"})), indent="\t").encode()
        return [text[:10], text[10:]]

    peer = FifoPeer(fifo, reply_dir, respond)
    try:
        mi = fifo_mi(fifo, reply_dir, timeout=2)
        assert run_bounded(lambda: mi.execute("version", {"a": 1}), 5) == {"Server": "x"}
        line = peer.requests[0]
        assert line.startswith(f":{seen['name']}:".encode())
        assert json.loads(line.split(b":", 2)[2])["params"] == {"a": 1}
        assert "." not in seen["name"] and "/" not in seen["name"] and len(seen["name"]) >= 20
        assert seen["is_fifo"] and seen["mode"] & 0o077 == 0
    finally:
        peer.close()


def test_fifo_peer_that_never_answers_times_out_and_cleans_up(fifo_env) -> None:
    fifo, reply_dir = fifo_env
    peer = FifoPeer(fifo, reply_dir, lambda name, req: None)
    try:
        mi = fifo_mi(fifo, reply_dir, timeout=0.3)
        with pytest.raises(OpenSIPSMITimeoutError, match="reply_dir"):
            run_bounded(lambda: mi.execute("version"), 5)
        assert peer.requests
    finally:
        peer.close()


def test_fifo_garbage_and_empty_replies(fifo_env) -> None:
    fifo, reply_dir = fifo_env
    answers = iter([[b"<html>nope</html>"], []])
    peer = FifoPeer(fifo, reply_dir, lambda name, req: next(answers))
    try:
        mi = fifo_mi(fifo, reply_dir, timeout=2)
        with pytest.raises(OpenSIPSMIConnectionError, match="not JSON"):
            run_bounded(lambda: mi.execute("version"), 5)
        with pytest.raises(OpenSIPSMIConnectionError, match="without answering"):
            run_bounded(lambda: mi.execute("version"), 5)
    finally:
        peer.close()


def test_fifo_request_of_4096_bytes_is_refused_up_front(fifo_env) -> None:
    fifo, reply_dir = fifo_env
    peer = FifoPeer(fifo, reply_dir, lambda name, req: [ok_reply(req, "small")])
    try:
        mi = fifo_mi(fifo, reply_dir, timeout=2)
        with pytest.raises(OpenSIPSMIRequestError, match="4096"):
            mi.execute("which", {"command": "x" * 4100})
        # growing the request one byte at a time: the last one sent is 4095 bytes with its newline
        for size in range(3900, 4096):
            try:
                mi.execute("which", {"command": "x" * size})
            except OpenSIPSMIRequestError:
                break
        assert max(len(r) + 1 for r in peer.requests) == 4095
    finally:
        peer.close()


def test_fifo_keyboard_interrupt_removes_the_reply_fifo(fifo_env) -> None:
    fifo, reply_dir = fifo_env
    peer = FifoPeer(fifo, reply_dir, lambda name, req: None)
    mi = fifo_mi(fifo, reply_dir, timeout=5)

    try:
        with pytest.raises(KeyboardInterrupt), keyboard_interrupt_after(0.3):
            mi.execute("version")  # main thread: the signal lands while it waits for the reply
        assert peer.requests
        assert os.listdir(reply_dir) == []
    finally:
        peer.close()


def test_fifo_fifty_threads_share_one_connector(fifo_env) -> None:
    fifo, reply_dir = fifo_env
    peer = FifoPeer(fifo, reply_dir, lambda name, req: [ok_reply(req, json.loads(req)["params"]["n"])])
    results: dict[int, Any] = {}
    try:
        mi = fifo_mi(fifo, reply_dir, timeout=10)

        def worker(n: int) -> None:
            results[n] = [mi.execute("echo", {"n": n * 100 + i}) for i in range(3)]

        run_threads(worker, 50, timeout=30)
    finally:
        peer.close()
    assert results == {n: [n * 100 + i for i in range(3)] for n in range(50)}


# -- connector options ------------------------------------------------------------


def test_unknown_connector_and_bad_options() -> None:
    with pytest.raises(OpenSIPSMIException, match="unknown MI connector"):
        OpenSIPSMI("smoke-signals")
    with pytest.raises(OpenSIPSMIException, match="timeout"):
        OpenSIPSMI("fifo", timeout="soon")
    with pytest.raises(OpenSIPSMIException, match="datagram_port"):
        OpenSIPSMI("datagram", datagram_port="80800")
    with pytest.raises(OpenSIPSMIException, match="url"):
        OpenSIPSMI("http", url="ftp://example.org/mi")


def test_defaults_targets_and_string_numbers() -> None:
    fifo = OpenSIPSMI("fifo", some_cli_option="x")
    assert fifo.timeout == 5.0
    assert fifo.target in ("fifo:/var/run/opensips/opensips_fifo", "fifo:/tmp/opensips_fifo")
    with OpenSIPSMI("http") as http:
        assert (http.target, http.remote_host) == ("http://127.0.0.1:8888/mi", "127.0.0.1")
    with OpenSIPSMI("datagram", datagram_port="8089", timeout="2.5") as dgram:
        assert (dgram.target, dgram.remote_host, dgram.timeout) == ("udp:127.0.0.1:8089", "127.0.0.1", 2.5)
    with OpenSIPSMI("datagram", datagram_timeout="0.5") as dgram:
        assert (dgram.target, dgram.timeout) == ("udp:127.0.0.1:8080", 0.5)
    with OpenSIPSMI("datagram", datagram_ip="::1", datagram_port=9) as dgram:
        assert dgram.target == "udp:[::1]:9"


@pytest.mark.parametrize("cmd", ["", None, 42, ["version"], "version uptime", "a\nb", "{}"])
def test_invalid_command_names_are_never_sent(udp_peer, cmd: Any) -> None:
    peer = udp_peer(lambda req: [ok_reply(req, "sent")])
    with udp_mi(peer, timeout=1) as mi:
        with pytest.raises(OpenSIPSMIRequestError):
            mi.execute(cmd)
        with pytest.raises(OpenSIPSMIRequestError):
            mi.execute("version", params="not a dict or list")
    assert peer.requests == []


def test_closed_connector_refuses_calls(udp_peer) -> None:
    peer = udp_peer(lambda req: [ok_reply(req, "ok")])
    mi = udp_mi(peer, timeout=1)
    assert mi.execute("version") == "ok"
    mi.close()
    with pytest.raises(OpenSIPSMIConnectionError, match="closed"):
        mi.execute("version")


# -- TLS ------------------------------------------------------------------------------


@pytest.fixture
def tls_peer(tmp_path: Path, tcp_peer) -> Iterator[tuple[TcpPeer, str]]:
    """An HTTPS MI peer with a self-signed certificate for 127.0.0.1 (made with the openssl CLI)."""
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def handle(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as tls:
            while True:
                _, body = read_http_request(tls)
                if not body:
                    return
                payload = ok_reply(body, "over tls")
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)

    peer = tcp_peer(handle)
    yield peer, str(cert)


def test_https_verifies_certificates_by_default(tls_peer) -> None:
    peer, cert = tls_peer
    url = peer.url.replace("http://", "https://")
    with OpenSIPSMI("http", url=url, timeout=3) as mi:
        with pytest.raises(OpenSIPSMIConnectionError, match="(?i)certificate"):
            run_bounded(lambda: mi.execute("version"), 6)
    with OpenSIPSMI("http", url=url, timeout=3, verify="no") as mi:
        assert run_bounded(lambda: mi.execute("version"), 6) == "over tls"
    with OpenSIPSMI("http", url=url, timeout=3, verify=cert) as mi:  # a CA bundle path
        assert run_bounded(lambda: mi.execute("version"), 6) == "over tls"
        assert run_bounded(lambda: mi.execute("version"), 6) == "over tls"  # reused connection


def test_fifo_reply_dir_missing(fifo_env) -> None:
    fifo, reply_dir = fifo_env
    peer = FifoPeer(fifo, reply_dir, lambda name, req: [ok_reply(req, "unused")])
    try:
        mi = fifo_mi(fifo, reply_dir / "absent", timeout=1)
        ok, reasons = mi.valid()
        assert not ok and "is not a directory" in reasons[0]
        with pytest.raises(OpenSIPSMIConnectionError, match="cannot create the reply FIFO.*fifo_reply_dir"):
            run_bounded(lambda: mi.execute("version"), 5)
        assert peer.requests == []
    finally:
        peer.close()
