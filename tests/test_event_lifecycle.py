"""Subscriptions where OpenSIPS really runs: overlapping expiries, races, fixed ports, floods,
dying threads, restarts. Each test reproduces a failure seen in use (issue 9)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from opensips.event import OpenSIPSEventHandler, subscribe_iter
from opensips.mi import OpenSIPSMI
from tests.waiting import Sink, run_threads, wait_until


@pytest.fixture
def mi(mi_http) -> OpenSIPSMI:
    return mi_http


@pytest.fixture
def handlers() -> Iterator[list[OpenSIPSEventHandler]]:
    made: list[OpenSIPSEventHandler] = []
    yield made
    for h in made:
        h.close()


def live(sim, sock: str | None, event: str | None = None) -> list[dict]:
    """OpenSIPS's entries for our socket that still deliver (not unsubscribed with expire 0)."""
    return [s for s in sim.subscribers() if s["socket"] == sock and s["expire"]
            and (event is None or s["event"] == event)]


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def can_bind(port: int, kind: int = socket.SOCK_DGRAM) -> bool:
    """Could a new listener take ``port`` now? (TCP: with SO_REUSEADDR, as every TCP server binds.)"""
    with socket.socket(socket.AF_INET, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class FlakyMI:
    """A user's own MI connector (any object with execute()): fails once when told to."""

    def __init__(self, real: OpenSIPSMI) -> None:
        self.real = real
        self.remote_host = real.remote_host
        self.fail_next: BaseException | None = None

    def execute(self, cmd: str, params=None):
        if cmd == "event_subscribe" and self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        return self.real.execute(cmd, params)


# -- what we ask OpenSIPS for covers every subscription on the socket ------------------------
def test_same_event_expires_30_then_2_stays_subscribed_after_2s(sim, mi, handlers) -> None:
    h = OpenSIPSEventHandler(mi, "datagram", ip="127.0.0.1")
    handlers.append(h)
    long_sink = Sink()
    long = h.subscribe("E_MY_CUSTOM", long_sink, expires=30)
    short = h.subscribe("E_MY_CUSTOM", Sink(), expires=2)
    assert wait_until(lambda: short.state == "expired", 5)
    time.sleep(1.5)  # past OpenSIPS's own 2 s (and its one-second grace)
    assert long.state == "active"
    assert live(sim, long.socket, "E_MY_CUSTOM"), "OpenSIPS dropped the 30 s subscription"
    sim.raise_event("E_MY_CUSTOM", {"after": 2})
    assert long_sink.take(1)[0]["params"] == {"after": 2}


def test_explicit_expiry_tells_opensips_when_nothing_else_needs_it(sim, mi, handlers) -> None:
    calls: list[dict] = []

    class Recording(FlakyMI):
        def execute(self, cmd, params=None):
            if cmd == "event_subscribe":
                calls.append(dict(params))
            return self.real.execute(cmd, params)

    h = OpenSIPSEventHandler(Recording(mi), "datagram", ip="127.0.0.1")
    handlers.append(h)
    ev = h.subscribe("E_MY_CUSTOM", Sink(), expires=1)
    assert wait_until(lambda: ev.state == "expired", 5)
    assert wait_until(lambda: len(calls) == 2, 3)
    assert [(c["socket"], c["expire"]) for c in calls] == [(ev.socket, 1), (ev.socket, 0)]


# -- races end with both views agreeing ---------------------------------------------------------
def agree(sim, h: OpenSIPSEventHandler, event: str, sock: str) -> bool:
    ours = [s for s in h.subscriptions if s.event == event and s.state == "active"]
    return bool(ours) == bool(live(sim, sock, event))


@pytest.fixture
def tiny_switch_interval() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def test_unsubscribe_racing_subscribe_ends_with_both_views_agreeing(sim, mi, handlers,
                                                                     tiny_switch_interval) -> None:
    port = free_port()
    h = OpenSIPSEventHandler(mi, "datagram", ip="127.0.0.1", port=port)
    handlers.append(h)
    keep = h.subscribe("E_PIKE_BLOCKED", Sink())  # keeps the socket (and its string) the same
    sock = keep.socket
    bad = []
    for n in range(400):
        first = h.subscribe("E_MY_CUSTOM", Sink())
        box: dict = {}
        run_threads(lambda i: first.unsubscribe() if i == 0 else box.setdefault(
            "ev", h.subscribe("E_MY_CUSTOM", Sink())), 2, 30)
        if not agree(sim, h, "E_MY_CUSTOM", sock):
            bad.append((n, box["ev"].state, live(sim, sock, "E_MY_CUSTOM")))
        box["ev"].unsubscribe()
        # and the other way round: a subscribe in flight while the event is unsubscribed by name
        run_threads(lambda i: h.subscribe("E_MY_CUSTOM", Sink()) if i == 0 else _quiet_unsubscribe(
            h, "E_MY_CUSTOM"), 2, 30)
        if not agree(sim, h, "E_MY_CUSTOM", sock):
            bad.append((n, [s.state for s in h.subscriptions], live(sim, sock, "E_MY_CUSTOM")))
        _quiet_unsubscribe(h, "E_MY_CUSTOM")
    assert bad == []


def _quiet_unsubscribe(h: OpenSIPSEventHandler, event: str) -> None:
    try:
        h.unsubscribe(event)
    except Exception:  # nothing subscribed (yet): fine in a race
        pass


# -- a fixed port is free again as soon as the last subscription ends ---------------------------
@pytest.mark.parametrize("transport", ["datagram", "stream"])
def test_fixed_port_free_again_from_inside_the_callback(sim, mi, handlers, transport) -> None:
    kind = socket.SOCK_DGRAM if transport == "datagram" else socket.SOCK_STREAM
    port = free_port(kind)
    h = OpenSIPSEventHandler(mi, transport, ip="127.0.0.1", port=port)
    handlers.append(h)
    done = threading.Event()
    box: dict = {}

    def cb(msg: object) -> None:
        box["ev"].unsubscribe()
        box["free"] = can_bind(port, kind)
        done.set()

    box["ev"] = h.subscribe("E_MY_CUSTOM", cb)
    sim.raise_event("E_MY_CUSTOM")
    assert done.wait(5)
    assert box["free"], "the port was still bound right after the last unsubscribe"


def test_fixed_port_free_again_once_another_thread_sees_it_stopped(sim, mi, handlers) -> None:
    port = free_port()
    h = OpenSIPSEventHandler(mi, "datagram", ip="127.0.0.1", port=port)
    handlers.append(h)
    busy = 0
    for _ in range(300):
        ev = h.subscribe("E_MY_CUSTOM", Sink())
        unsubscriber = threading.Thread(target=ev.unsubscribe)
        unsubscriber.start()
        while ev.state != "stopped" and unsubscriber.is_alive():
            time.sleep(0)
        busy += not can_bind(port)  # "stopped": the port is ours to take again
        unsubscriber.join(10)
    assert busy == 0


# -- stop() under a sustained flood; no local stop waits on the network -----------------------
def test_stop_under_a_sustained_flood_releases_the_socket(sim, mi, handlers) -> None:
    gate = threading.Event()

    def slow(msg: object) -> None:  # slower than the flood; the first call waits for the gate
        gate.wait(10)
        time.sleep(0.001)

    h = OpenSIPSEventHandler(mi, "datagram", ip="127.0.0.1")
    handlers.append(h)
    ev = h.subscribe("E_MY_CUSTOM", slow)
    port = int(ev.socket.rsplit(":", 1)[1])
    listener = h.listener
    thread = listener._thread
    rcvbuf = listener.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    sent = [0, 0]
    stop_flood = threading.Event()

    def flood(n: int) -> None:
        payload = b'{"jsonrpc":"2.0","method":"E_MY_CUSTOM","params":{"n":1}}'
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            while not stop_flood.is_set():
                try:
                    s.sendto(payload, ("127.0.0.1", port))
                except OSError:
                    pass
                sent[n] += 1

    flooders = [threading.Thread(target=flood, args=(n,), daemon=True) for n in range(2)]
    for f in flooders:
        f.start()
    try:
        # the receive queue is full for sure (each datagram takes far more than 512 bytes of it)
        assert wait_until(lambda: sum(sent) * 512 > 2 * rcvbuf, 30)
        gate.set()
        ev.stop()
        alive_after_stop = thread.is_alive()
        free_after_stop = can_bind(port)
    finally:
        gate.set()
        stop_flood.set()
        for f in flooders:
            f.join(5)
    assert not alive_after_stop and free_after_stop


@pytest.mark.parametrize("api", ["async_subscribe", "subscribe_iter"])
def test_async_stop_does_not_wait_for_a_refresh_in_flight(sim, handlers, api) -> None:
    """AsyncOpenSIPSEvent.stop() froze the event loop for 3.6 s waiting for a refresh's MI call."""
    real = OpenSIPSMI("http", **sim.mi_kwargs("http"))
    entered, release = threading.Event(), threading.Event()
    armed = threading.Event()

    class HangingMI(FlakyMI):
        """Its refreshes hang, as over a dead network, until released."""

        def execute(self, cmd, params=None):
            if cmd == "event_subscribe" and armed.is_set() and params.get("expire"):
                entered.set()
                release.wait(30)
            return self.real.execute(cmd, params)

    h = OpenSIPSEventHandler(HangingMI(real), "datagram", ip="127.0.0.1", refresh_interval=0.2,
                             permanent_expire=2, watch_interval=0)
    handlers.append(h)
    watchdog = threading.Timer(10, release.set)  # frees a stop() that waits for the network
    released_before_stop_returned = None

    async def main() -> str:
        nonlocal released_before_stop_returned
        if api == "async_subscribe":  # 0.1.11's plain call, inside the loop
            aev = h.async_subscribe("E_MY_CUSTOM", lambda msg: None)
        else:
            aev = await subscribe_iter(h, "E_MY_CUSTOM")
        armed.set()
        assert await asyncio.to_thread(entered.wait, 10)  # a refresh is now stuck on the network
        watchdog.start()
        aev.stop()                                          # on the loop: must not wait for it
        released_before_stop_returned = release.is_set()
        return aev.state

    try:
        state = asyncio.run(main())
    finally:
        release.set()
        watchdog.cancel()
    assert released_before_stop_returned is False and state == "stopped"
    real.close()


# -- a dead listener or refresher is never silent ------------------------------------------------
def test_callback_calling_sys_exit_fails_the_subscription_loudly(sim, mi, handlers, caplog) -> None:
    states: list[str] = []
    h = OpenSIPSEventHandler(mi, "datagram", ip="127.0.0.1", refresh_interval=0.2, permanent_expire=2,
                             on_state_change=lambda ev, st: states.append(st))
    handlers.append(h)
    ev = h.subscribe("E_MY_CUSTOM", lambda msg: sys.exit(3))
    sock = ev.socket
    with caplog.at_level(logging.ERROR, logger="opensips.event"):
        sim.raise_event("E_MY_CUSTOM")
        assert wait_until(lambda: ev.state == "failed", 5)
    assert isinstance(ev.last_error, SystemExit) and states[-1] == "failed"
    assert any(r.exc_info and isinstance(r.exc_info[1], SystemExit) for r in caplog.records)
    assert wait_until(lambda: not live(sim, sock), 3), "OpenSIPS still sends to a dead address"
    time.sleep(0.6)  # several refresh intervals: nothing renews it
    assert not live(sim, sock)


def test_listener_whose_socket_fails_fails_its_subscriptions_loudly(sim, mi, handlers, caplog) -> None:
    """A receive error that ends the listener (here its socket closed under it) is a ``failed``
    subscription and an unsubscribe, not an "active" one that hears nothing."""
    h = OpenSIPSEventHandler(mi, "datagram", ip="127.0.0.1", refresh_interval=0.2, permanent_expire=2)
    handlers.append(h)
    ev = h.subscribe("E_MY_CUSTOM", Sink())
    assert live(sim, ev.socket)
    with caplog.at_level(logging.ERROR, logger="opensips.event"):
        h.listener.sock.close()
        assert wait_until(lambda: ev.state == "failed", 5)
    assert isinstance(ev.last_error, OSError)
    assert any("listener stops" in r.getMessage() or "died" in r.getMessage() for r in caplog.records)
    assert wait_until(lambda: not live(sim, ev.socket), 3), "OpenSIPS still sends to a dead address"


def test_refresher_survives_any_exception_and_says_so(sim, handlers, caplog) -> None:
    real = OpenSIPSMI("http", **sim.mi_kwargs("http"))
    flaky = FlakyMI(real)
    states: list[str] = []
    h = OpenSIPSEventHandler(flaky, "datagram", ip="127.0.0.1", refresh_interval=0.2, permanent_expire=2,
                             on_state_change=lambda ev, st: states.append(st))
    handlers.append(h)
    ev = h.subscribe("E_MY_CUSTOM", Sink())
    with caplog.at_level(logging.WARNING, logger="opensips.event"):
        flaky.fail_next = RuntimeError("a connector bug")
        assert wait_until(lambda: "retrying" in states, 5)
        assert wait_until(lambda: ev.state == "active", 5)
    assert any(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in caplog.records)
    time.sleep(2.5)  # past permanent_expire: still renewed
    assert live(sim, ev.socket) and ev.state == "active"
    real.close()


def test_refresher_killed_fails_its_subscriptions_loudly(sim, handlers, caplog) -> None:
    """Even what ends a thread (here SystemExit from a custom connector) leaves a trace and a state."""
    real = OpenSIPSMI("http", **sim.mi_kwargs("http"))
    flaky = FlakyMI(real)
    h = OpenSIPSEventHandler(flaky, "datagram", ip="127.0.0.1", refresh_interval=0.2, permanent_expire=2,
                             watch_interval=0)
    handlers.append(h)
    ev = h.subscribe("E_MY_CUSTOM", Sink())
    with caplog.at_level(logging.ERROR, logger="opensips.event"):
        flaky.fail_next = SystemExit(3)
        assert wait_until(lambda: ev.state == "failed", 5)
    assert isinstance(ev.last_error, SystemExit)
    assert any(r.exc_info and isinstance(r.exc_info[1], SystemExit) for r in caplog.records)
    assert wait_until(lambda: not live(sim, ev.socket), 3)  # OpenSIPS told to stop sending
    assert h.listener is None
    real.close()


# -- restarts ------------------------------------------------------------------------------
@pytest.mark.parametrize("transport", ["datagram", "stream"])
def test_quick_restart_is_healed_within_seconds_not_a_refresh_interval(sim, mi, handlers, transport) -> None:
    h = OpenSIPSEventHandler(mi, transport, ip="127.0.0.1")  # default refresh: 60 s
    handlers.append(h)
    sink = Sink()
    ev = h.subscribe("E_MY_CUSTOM", sink)
    sim.stop()
    sim.start()  # faster than any check: nothing failed, OpenSIPS just forgot us
    assert wait_until(lambda: bool(live(sim, ev.socket)), 5)
    sim.raise_event("E_MY_CUSTOM", {"back": True})
    assert sink.take(1)[0]["params"] == {"back": True}


def test_subscription_withdrawn_behind_our_back_is_restored(sim, mi, handlers) -> None:
    """Someone else (or a restart) made OpenSIPS drop our entry: the watch puts it back."""
    h = OpenSIPSEventHandler(mi, "datagram", ip="127.0.0.1")
    handlers.append(h)
    ev = h.subscribe("E_MY_CUSTOM", Sink())
    mi.execute("event_subscribe", {"event": "E_MY_CUSTOM", "socket": ev.socket, "expire": 0})
    assert not live(sim, ev.socket)
    assert wait_until(lambda: bool(live(sim, ev.socket)), 5)
    assert ev.state == "active"


def test_down_shows_retrying_and_comes_back_when_mi_answers(sim, mi, handlers) -> None:
    states: list[str] = []
    h = OpenSIPSEventHandler(mi, "datagram", ip="127.0.0.1",
                             on_state_change=lambda ev, st: states.append(st))
    handlers.append(h)
    ev = h.subscribe("E_MY_CUSTOM", Sink())
    sim.stop()
    assert wait_until(lambda: ev.state == "retrying", 5)
    sim.start()
    assert wait_until(lambda: ev.state == "active" and bool(live(sim, ev.socket)), 5)
    assert states == ["active", "retrying", "active"]


# -- exit hygiene ------------------------------------------------------------------------------
FORGETFUL_SCRIPT = """
import json, sys
from opensips.mi import OpenSIPSMI
from opensips.event import OpenSIPSEventHandler
url, path = sys.argv[1], sys.argv[2]
mi = OpenSIPSMI("http", url=url, timeout=30)
udp = OpenSIPSEventHandler(mi, "datagram", ip="127.0.0.1")
unix = OpenSIPSEventHandler(mi, "datagram", socket_path=path)
socks = [udp.subscribe("E_MY_CUSTOM", print).socket, unix.subscribe("E_PIKE_BLOCKED", print).socket]
print(json.dumps(socks), flush=True)
sys.stdin.readline()  # then end without unsubscribing or closing anything
"""


@pytest.fixture
def forgetful(sim) -> Iterator[Callable[[], tuple[subprocess.Popen, list[str], str]]]:
    """A script that subscribes over udp and unix, then exits when told, cleaning up nothing itself."""
    procs: list[subprocess.Popen] = []
    sockdir = tempfile.mkdtemp(prefix="ev-")  # short: UNIX socket paths are limited to ~107 bytes

    def start() -> tuple[subprocess.Popen, list[str], str]:
        path = os.path.join(sockdir, "exit.sock")
        proc = subprocess.Popen([sys.executable, "-c", FORGETFUL_SCRIPT, sim.http_url, path],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None
        return proc, json.loads(proc.stdout.readline()), path

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    shutil.rmtree(sockdir, ignore_errors=True)


def end(proc: subprocess.Popen) -> int:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    return proc.wait(10)  # raises TimeoutExpired if exit waited for the network


def test_process_exit_withdraws_subscriptions_and_removes_its_socket_file(sim, forgetful) -> None:
    proc, socks, path = forgetful()
    assert all(live(sim, s) for s in socks) and os.path.exists(path)
    assert end(proc) == 0
    assert [s for s in socks if live(sim, s)] == []
    assert not os.path.exists(path)


def test_process_exit_is_bounded_when_opensips_does_not_answer(sim, forgetful) -> None:
    proc, socks, path = forgetful()
    sim.hang = True  # MI takes requests and never answers (the script's MI timeout is 30 s)
    try:
        assert end(proc) == 0
    finally:
        sim.hang = False
    assert not os.path.exists(path)
