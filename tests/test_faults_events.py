"""Event faults: OpenSIPS restarting under us, hostile TCP peers, listener setup errors.

Operators leave the monitor running for days, so every one of these must end
in "events flow again" or a clear typed error -- never a dead listener thread,
a leaked socket file or a silent stop.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from opensips.event import OpenSIPSEventException, OpenSIPSEventHandler
from opensips.mi import OpenSIPSMI
from opensips.sim import SimulatedOpenSIPS
from tests.waiting import wait_until

EVENT = "E_PIKE_BLOCKED"


class Inbox:
    """Thread-safe collector for a subscription callback."""

    def __init__(self) -> None:
        self.items: list[dict | None] = []
        self.lock = threading.Lock()

    def __call__(self, msg: dict | None) -> None:
        with self.lock:
            self.items.append(msg)

    def ips(self) -> list[str]:
        with self.lock:
            return [m["params"]["ip"] for m in self.items if m and isinstance(m.get("params"), dict)]


def event_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("opensips-event")]


def handler_for(kind: str, sim: SimulatedOpenSIPS, tmp_path: Path, **kw) -> OpenSIPSEventHandler:
    mi = OpenSIPSMI("http", url=sim.http_url, timeout=1)
    if kind == "unix":
        return OpenSIPSEventHandler(mi, "datagram", socket_path=str(tmp_path / "ev.sock"), **kw)
    return OpenSIPSEventHandler(mi, "stream" if kind == "tcp" else "datagram", ip="127.0.0.1", **kw)


# -- OpenSIPS restarts while we are subscribed ------------------------------------------

@pytest.mark.parametrize("kind", ["udp", "unix", "tcp"])
def test_sim_restart_events_flow_again_without_user_action(kind: str, sim: SimulatedOpenSIPS,
                                                           tmp_path: Path) -> None:
    states: list[str] = []
    inbox = Inbox()
    hdl = handler_for(kind, sim, tmp_path, refresh_interval=0.3,
                      on_state_change=lambda ev, st: states.append(st))
    try:
        ev = hdl.subscribe(EVENT, inbox)
        sim.raise_event(EVENT, {"ip": "10.0.0.1"})
        assert wait_until(lambda: "10.0.0.1" in inbox.ips(), 5), inbox.items

        sim.stop()  # OpenSIPS goes away: subscriber table lost
        assert wait_until(lambda: ev.state == "retrying", 10), (ev.state, states)
        sim.start()  # same addresses, empty table

        assert wait_until(lambda: ev.state == "active", 15), (ev.state, states)
        assert wait_until(lambda: any(s["socket"] == ev.socket for s in sim.subscribers()), 5), sim.subscribers()
        # events raised after the restart arrive (tcp: a new connection to our listener)
        n = 0
        def delivered() -> bool:
            nonlocal n
            n += 1
            sim.raise_event(EVENT, {"ip": f"10.0.1.{n}"})
            return any(ip.startswith("10.0.1.") for ip in inbox.ips())
        assert wait_until(delivered, 5, step=0.2), inbox.items
        assert "retrying" in states and states[-1] == "active"
        assert hdl.listener is not None and hdl.listener.running
    finally:
        hdl.close()
    assert wait_until(lambda: not event_threads(), 2), event_threads()
    assert not any(s["socket"] == ev.socket and s.get("ttl") != "expired" for s in sim.subscribers())
    if kind == "unix":
        assert not (tmp_path / "ev.sock").exists()


# -- hostile TCP peers on the event_stream listener -------------------------------------

def stream_handler(sim: SimulatedOpenSIPS, **kw) -> tuple[OpenSIPSEventHandler, Inbox, tuple[str, int]]:
    inbox = Inbox()
    hdl = OpenSIPSEventHandler(OpenSIPSMI("http", url=sim.http_url, timeout=1), "stream", ip="127.0.0.1", **kw)
    ev = hdl.subscribe(EVENT, inbox)
    _, host, port = ev.socket.split(":")
    return hdl, inbox, (host, int(port))


def note(ip: str) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "method": EVENT, "params": {"ip": ip}}).encode()


def test_tcp_peer_half_close_is_dropped_and_listener_keeps_serving(sim: SimulatedOpenSIPS) -> None:
    hdl, inbox, addr = stream_handler(sim)
    try:
        with socket.create_connection(addr, timeout=2) as peer:
            whole = note("10.1.0.1")
            peer.sendall(whole + note("10.1.0.2")[:20])  # one complete, one cut short
            peer.shutdown(socket.SHUT_WR)  # half-close: no more bytes from this peer
            assert wait_until(lambda: "10.1.0.1" in inbox.ips(), 5)
            # the listener closes its side too (EOF for the peer), not a hanging half-open socket
            peer.settimeout(3)
            assert peer.recv(100) == b""
        assert wait_until(lambda: hdl.listener.connections == 0, 3)  # type: ignore[union-attr]
        assert hdl.listener is not None and hdl.listener.running
        # the next connection (e.g. OpenSIPS reconnecting) is served
        with socket.create_connection(addr, timeout=2) as peer:
            peer.sendall(note("10.1.0.3"))
            assert wait_until(lambda: "10.1.0.3" in inbox.ips(), 5)
        assert "10.1.0.2" not in inbox.ips()
    finally:
        hdl.close()


def test_tcp_peer_sending_megabytes_without_an_object_is_disconnected(sim: SimulatedOpenSIPS,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="opensips.event")
    hdl, inbox, addr = stream_handler(sim, max_buffer=64 * 1024)
    try:
        closed = False
        with socket.create_connection(addr, timeout=2) as peer:
            peer.sendall(note("10.2.0.1"))
            try:
                peer.sendall(b'{"jsonrpc":"2.0","method":"' + EVENT.encode() + b'","params":{"x":"')
                for _ in range(64):  # 4 MiB, never closing the string
                    peer.sendall(b"A" * 65536)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
            if not closed:
                peer.settimeout(3)
                try:
                    closed = peer.recv(100) == b""
                except ConnectionResetError:
                    closed = True
        assert closed, "the listener kept a connection that never completes an object"
        assert "10.2.0.1" in inbox.ips()
        assert any("dropping connection" in r.getMessage() or "buffered" in r.getMessage()
                   for r in caplog.records), [r.getMessage() for r in caplog.records]
        assert hdl.listener is not None and hdl.listener.running
        with socket.create_connection(addr, timeout=2) as peer:
            peer.sendall(note("10.2.0.2"))
            assert wait_until(lambda: "10.2.0.2" in inbox.ips(), 5)
    finally:
        hdl.close()


def test_tcp_peer_garbage_then_valid_on_same_connection(sim: SimulatedOpenSIPS) -> None:
    hdl, inbox, addr = stream_handler(sim)
    try:
        with socket.create_connection(addr, timeout=2) as peer:
            for i in range(20):
                peer.sendall(b"\xff\x00garbage]]" + note(f"10.3.0.{i}"))
            assert wait_until(lambda: len(inbox.ips()) == 20, 5), inbox.items
    finally:
        hdl.close()


# -- listener setup errors -------------------------------------------------------------

@pytest.mark.parametrize("kind", ["udp", "tcp"])
def test_port_in_use_is_a_clear_error_and_leaves_nothing(kind: str, sim: SimulatedOpenSIPS) -> None:
    stype = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, stype) as taken:
        taken.bind(("127.0.0.1", 0))
        if kind == "tcp":
            taken.listen(1)
        port = taken.getsockname()[1]
        hdl = OpenSIPSEventHandler(OpenSIPSMI("http", url=sim.http_url, timeout=1),
                                   "stream" if kind == "tcp" else "datagram", ip="127.0.0.1", port=port)
        with pytest.raises(OpenSIPSEventException) as exc:
            hdl.subscribe(EVENT, lambda m: None)
        hdl.close()
    text = str(exc.value)
    assert str(port) in text and "in use" in text.lower(), text
    assert not event_threads()
    assert sim.subscribers() == []


def test_unix_socket_in_missing_directory(sim: SimulatedOpenSIPS, tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "ev.sock"
    hdl = OpenSIPSEventHandler(OpenSIPSMI("http", url=sim.http_url, timeout=1), socket_path=str(path))
    with pytest.raises(OpenSIPSEventException) as exc:
        hdl.subscribe(EVENT, lambda m: None)
    hdl.close()
    assert str(path) in str(exc.value) and "no such file" in str(exc.value).lower(), str(exc.value)
    assert not event_threads() and sim.subscribers() == []


def test_unix_socket_in_unwritable_directory(sim: SimulatedOpenSIPS, tmp_path: Path) -> None:
    # /sys refuses new files even to root (EPERM); for other users a 0500 dir does the same
    if os.geteuid() == 0:
        path = Path("/sys/opensips-tui-test-ev.sock")
    else:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        path = ro / "ev.sock"
    hdl = OpenSIPSEventHandler(OpenSIPSMI("http", url=sim.http_url, timeout=1), socket_path=str(path))
    with pytest.raises(OpenSIPSEventException) as exc:
        hdl.subscribe(EVENT, lambda m: None)
    hdl.close()
    assert str(path) in str(exc.value), str(exc.value)
    assert not path.exists()
    assert not event_threads() and sim.subscribers() == []


def test_stale_unix_socket_from_a_crashed_run_is_reclaimed(sim: SimulatedOpenSIPS, tmp_path: Path) -> None:
    path = tmp_path / "ev.sock"
    crashed = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    crashed.bind(str(path))
    crashed.close()  # a crash: the file stays, nobody listens
    assert path.exists()
    inbox = Inbox()
    hdl = OpenSIPSEventHandler(OpenSIPSMI("http", url=sim.http_url, timeout=1), socket_path=str(path))
    try:
        hdl.subscribe(EVENT, inbox)
        sim.raise_event(EVENT, {"ip": "10.4.0.1"})
        assert wait_until(lambda: "10.4.0.1" in inbox.ips(), 5)
    finally:
        hdl.close()
    assert not path.exists()


def test_live_unix_socket_of_another_listener_is_not_stolen(sim: SimulatedOpenSIPS, tmp_path: Path) -> None:
    path = tmp_path / "ev.sock"
    other = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    other.bind(str(path))
    try:
        hdl = OpenSIPSEventHandler(OpenSIPSMI("http", url=sim.http_url, timeout=1), socket_path=str(path))
        with pytest.raises(OpenSIPSEventException) as exc:
            hdl.subscribe(EVENT, lambda m: None)
        hdl.close()
        assert "in use" in str(exc.value).lower(), str(exc.value)
        # the other listener still owns its file and still receives
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(b"ping", str(path))
        other.settimeout(2)
        assert other.recv(10) == b"ping"
    finally:
        other.close()
        path.unlink(missing_ok=True)


def test_regular_file_at_socket_path_is_left_alone(sim: SimulatedOpenSIPS, tmp_path: Path) -> None:
    path = tmp_path / "ev.sock"
    path.write_text("precious")
    hdl = OpenSIPSEventHandler(OpenSIPSMI("http", url=sim.http_url, timeout=1), socket_path=str(path))
    with pytest.raises(OpenSIPSEventException):
        hdl.subscribe(EVENT, lambda m: None)
    hdl.close()
    assert path.read_text() == "precious"


def test_subscribe_with_mi_down_leaves_no_thread_or_socket(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    path = tmp_path / "ev.sock"
    hdl = OpenSIPSEventHandler(OpenSIPSMI("http", url=f"http://127.0.0.1:{port}/mi", timeout=1),
                               socket_path=str(path))
    with pytest.raises(OpenSIPSEventException) as exc:
        hdl.subscribe(EVENT, lambda m: None)
    hdl.close()
    assert "cannot" in str(exc.value)
    assert wait_until(lambda: not event_threads(), 2) and not path.exists()


# -- the simulator *process* killed (SIGKILL: no cleanup, stale FIFO) and started again ------

def _start_sim_process(fifo: Path, http_port: int) -> "subprocess.Popen[str]":
    # SIGKILL leaves the process no chance to remove its temp dir: keep it under pytest's
    scratch = fifo.parent.parent / f"{fifo.parent.name}-simtmp"
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(scratch)}
    proc = subprocess.Popen([sys.executable, "-m", "opensips.sim", "--mi-fifo", str(fifo),
                             "--mi-http", f"127.0.0.1:{http_port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    end = time.monotonic() + 15
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("mi_http"):
            return proc
    proc.kill()
    raise AssertionError(f"opensips-sim did not start: {proc.stderr.read() if proc.stderr else ''}")


def _kill(proc: "subprocess.Popen[str]") -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(5)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@pytest.mark.parametrize("kind", ["udp", "tcp"])
def test_sim_process_killed_and_restarted_over_fifo_mi(kind: str, tmp_path: Path) -> None:
    """SIGKILL leaves the FIFO file behind and closes every socket at once; the restarted
    process serves the same FIFO, and our permanent subscription comes back by itself."""
    fifo = tmp_path / "opensips_fifo"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        http_port = s.getsockname()[1]
    raiser = None
    proc = _start_sim_process(fifo, http_port)
    inbox = Inbox()
    states: list[str] = []
    mi = OpenSIPSMI("fifo", fifo_file=str(fifo), fifo_reply_dir=str(tmp_path), timeout=1)
    hdl = OpenSIPSEventHandler(mi, "stream" if kind == "tcp" else "datagram", ip="127.0.0.1",
                               refresh_interval=0.3, on_state_change=lambda ev, st: states.append(st))
    try:
        raiser = OpenSIPSMI("http", url=f"http://127.0.0.1:{http_port}/mi", timeout=1)

        def raise_ip(ip: str) -> None:
            raiser.execute("raise_event", {"event": EVENT, "params": json.dumps({"ip": ip})})

        ev = hdl.subscribe(EVENT, inbox)
        raise_ip("10.7.0.1")
        assert wait_until(lambda: "10.7.0.1" in inbox.ips(), 5)

        _kill(proc)
        assert fifo.exists(), "SIGKILL should leave the FIFO file behind (that is the point)"
        assert wait_until(lambda: ev.state == "retrying", 10), (ev.state, states)

        proc = _start_sim_process(fifo, http_port)
        assert wait_until(lambda: ev.state == "active", 20), (ev.state, states)
        n = 0

        def delivered() -> bool:
            nonlocal n
            n += 1
            try:
                raise_ip(f"10.7.1.{n}")
            except Exception:  # noqa: BLE001 - the http side may still be starting
                return False
            return any(ip.startswith("10.7.1.") for ip in inbox.ips())

        assert wait_until(delivered, 5, step=0.2), inbox.items
    finally:
        hdl.close()
        if raiser is not None:
            raiser.close()
        _kill(proc)
    # our reply FIFOs never outlive a call, even while the server was dead
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "opensips_fifo") == []
    assert wait_until(lambda: not event_threads(), 2)
