"""OpenSIPSEventHandler / OpenSIPSEvent against the simulated OpenSIPS, over real sockets."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

import pytest

import opensips
from opensips.event import (AsyncOpenSIPSEvent, AsyncSubscription, OpenSIPSEvent, OpenSIPSEventException,
                            OpenSIPSEventHandler, subscribe_iter)
from opensips.mi import OpenSIPSMI, OpenSIPSMICommandError, OpenSIPSMIConnectionError
from tests.waiting import Sink, wait_until

KINDS = ["udp", "unix", "tcp"]


_BEFORE: set[threading.Thread] = set()


@pytest.fixture(autouse=True)
def _thread_baseline() -> None:
    """Threads left by other test modules in the same run are not this test's."""
    _BEFORE.clear()
    _BEFORE.update(threading.enumerate())


def our_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate()
            if t.name.startswith("opensips-event") and t.is_alive() and t not in _BEFORE]


@pytest.fixture
def mi(mi_http) -> OpenSIPSMI:
    return mi_http


@pytest.fixture
def sockdir() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="ev-")  # short: UNIX socket paths are limited to ~107 bytes
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def make(mi, sockdir) -> Iterator[Callable[..., OpenSIPSEventHandler]]:
    made: list[OpenSIPSEventHandler] = []

    def factory(kind: str, conn: OpenSIPSMI | None = None, **kw) -> OpenSIPSEventHandler:
        conn = conn or mi
        if kind == "udp":
            h = OpenSIPSEventHandler(conn, "datagram", ip="127.0.0.1", **kw)
        elif kind == "unix":
            h = OpenSIPSEventHandler(conn, "datagram", socket_path=os.path.join(sockdir, "ev.sock"), **kw)
        else:
            h = OpenSIPSEventHandler(conn, "stream", ip="127.0.0.1", **kw)
        made.append(h)
        return h

    yield factory
    for h in made:
        h.close()
    assert wait_until(lambda: not our_threads(), 2)


def listed(sim, socket_str: str) -> list[dict]:
    return [s for s in sim.subscribers() if s["socket"] == socket_str]


def mi_listed(mi: OpenSIPSMI, event: str, socket_str: str) -> bool:
    """Is our socket in subscribers_list, asked over MI like a user would?"""
    try:
        res = mi.execute("subscribers_list", {"event": event})
    except OpenSIPSMICommandError:
        return False
    subs = (res.get("Event") or {}).get("Subscribers") or []
    return any(s.get("socket") == socket_str for s in subs)


@pytest.mark.parametrize("kind", KINDS)
def test_each_transport_delivers_then_unsubscribe_leaves_nothing(sim, mi, make, kind, sockdir) -> None:
    states: list[tuple[str, str]] = []
    h = make(kind, on_state_change=lambda ev, st: states.append((ev.event, st)))
    sink = Sink()
    ev = h.subscribe("E_MY_CUSTOM", sink)
    assert ev.state == "active" and states == [("E_MY_CUSTOM", "active")]
    prefix = {"udp": "udp:127.0.0.1:", "unix": "unix:", "tcp": "tcp:127.0.0.1:"}[kind]
    assert ev.socket and ev.socket.startswith(prefix) and h.listen_address == ev.socket
    assert [s["expire"] for s in listed(sim, ev.socket)] == [h.permanent_expire]
    assert mi_listed(mi, "E_MY_CUSTOM", ev.socket)

    sim.raise_event("E_MY_CUSTOM", {"callid": "abc", "n": 1})
    sim.raise_event("E_MY_CUSTOM")
    got = sink.take(2)
    assert got[0] == {"jsonrpc": "2.0", "method": "E_MY_CUSTOM", "params": {"callid": "abc", "n": 1}}
    assert got[1] == {"jsonrpc": "2.0", "method": "E_MY_CUSTOM"}

    t0 = time.monotonic()
    ev.unsubscribe()
    assert time.monotonic() - t0 < 1.0
    assert ev.state == "stopped" and states[-1] == ("E_MY_CUSTOM", "stopped")
    # OpenSIPS lists an expire-0 entry for about a second, then drops it
    assert wait_until(lambda: not mi_listed(mi, "E_MY_CUSTOM", ev.socket), 4)
    assert wait_until(lambda: not our_threads(), 1)
    assert h.listener is None and h.listen_address is None
    assert not os.path.exists(os.path.join(sockdir, "ev.sock"))


def test_fixed_port_several_events_one_socket(sim, mi) -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    h = OpenSIPSEventHandler(mi, "datagram", ip="127.0.0.1", port=port)
    try:
        sinks = {name: Sink() for name in ("E_MY_CUSTOM", "E_PIKE_BLOCKED", "E_CORE_THRESHOLD")}
        evs = [h.subscribe(name, sink) for name, sink in sinks.items()]
        assert {ev.socket for ev in evs} == {f"udp:127.0.0.1:{port}"}
        assert len(our_threads()) == 2  # one listener + one refresher, however many events
        for name in sinks:
            sim.raise_event(name, {"which": name})
        for name, sink in sinks.items():
            assert sink.take(1)[0]["params"] == {"which": name}
            assert sink.empty_for(0.05)
        evs[0].unsubscribe()  # the others keep listening on the same socket
        sim.raise_event("E_PIKE_BLOCKED", {"ip": "10.0.0.1"})
        assert sinks["E_PIKE_BLOCKED"].take(1)[0]["params"] == {"ip": "10.0.0.1"}
    finally:
        h.close()
    assert wait_until(lambda: not our_threads(), 1)
    assert not [s for s in sim.subscribers() if s["socket"].endswith(f":{port}") and s["expire"]]


@pytest.mark.parametrize("kind", KINDS)
def test_expiry_then_none_and_listener_stops(sim, make, kind) -> None:
    states: list[str] = []
    h = make(kind, on_state_change=lambda ev, st: states.append(st))
    sink = Sink()
    ev = h.subscribe("E_MY_CUSTOM", sink, expires=1)
    assert [s["expire"] for s in listed(sim, ev.socket)] == [1]
    sim.raise_event("E_MY_CUSTOM", {"n": 1})
    assert sink.take(1)[0]["params"] == {"n": 1}
    assert sink.take(1, timeout=3) == [None]
    assert ev.state == "expired" and states == ["active", "expired"]
    assert sink.empty_for(0.2)  # None exactly once
    assert wait_until(lambda: not our_threads(), 1)
    sim.raise_event("E_MY_CUSTOM", {"n": 2})
    assert sink.empty_for(0.2)


def test_expire_alias_and_validation(sim, make) -> None:
    h = make("udp")
    ev = h.subscribe("E_MY_CUSTOM", Sink(), expire=30)
    assert ev.expires == 30 and listed(sim, ev.socket)[0]["expire"] == 30
    ev2 = OpenSIPSEvent(h, "E_PIKE_BLOCKED", Sink(), expire="45")
    assert ev2.expires == 45
    with pytest.raises(ValueError):
        h.subscribe("E_MY_CUSTOM", Sink(), expires=0)
    with pytest.raises(TypeError):
        h.subscribe("E_MY_CUSTOM", "not callable")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["udp", "tcp"])
def test_refresh_keeps_permanent_subscription_past_several_expiry_periods(sim, make, kind) -> None:
    # OpenSIPS (and the sim) drop a 1 s subscription 1-2 s after its last refresh
    h = make(kind, refresh_interval=0.25, permanent_expire=1)
    sink = Sink()
    ev = h.subscribe("E_MY_CUSTOM", sink)
    for period in range(4):
        time.sleep(1.0)
        assert listed(sim, ev.socket), f"lapsed in period {period}"
        sim.raise_event("E_MY_CUSTOM", {"period": period})
        assert sink.take(1)[0]["params"] == {"period": period}
    assert ev.state == "active"


@pytest.mark.parametrize("kind", KINDS)
def test_simulator_restart_mid_subscription_events_flow_again(sim, make, kind) -> None:
    states: list[str] = []
    h = make(kind, refresh_interval=0.2, permanent_expire=2, on_state_change=lambda ev, st: states.append(st))
    sink = Sink()
    ev = h.subscribe("E_MY_CUSTOM", sink)
    sim.raise_event("E_MY_CUSTOM", {"phase": "before"})
    assert sink.take(1)[0]["params"] == {"phase": "before"}
    sim.stop()
    assert wait_until(lambda: ev.state == "retrying", 5)
    sim.start()  # same addresses, empty subscriber table: like an OpenSIPS restart
    assert wait_until(lambda: ev.state == "active", 5)
    assert listed(sim, ev.socket)
    sim.raise_event("E_MY_CUSTOM", {"phase": "after"})
    assert sink.take(1, timeout=3)[0]["params"] == {"phase": "after"}
    assert states[:3] == ["active", "retrying", "active"]


def test_restart_without_failed_refresh_is_healed_by_next_refresh(sim, make) -> None:
    h = make("udp", refresh_interval=0.3, permanent_expire=2)
    sink = Sink()
    ev = h.subscribe("E_MY_CUSTOM", sink)
    sim.stop()
    sim.start()  # quick restart between two refreshes: nothing failed, the table is just empty
    assert wait_until(lambda: bool(listed(sim, ev.socket)), 3)
    sim.raise_event("E_MY_CUSTOM", {"ok": 1})
    assert sink.take(1)[0]["params"] == {"ok": 1}


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_event_raises_with_cause_and_leaves_nothing(sim, make, kind, sockdir) -> None:
    h = make(kind)
    with pytest.raises(OpenSIPSEventException) as err:
        h.subscribe("E_NO_SUCH_EVENT", Sink())
    assert isinstance(err.value.cause, OpenSIPSMICommandError)
    assert isinstance(err.value.__cause__, OpenSIPSMICommandError)
    assert "E_NO_SUCH_EVENT" in str(err.value)
    assert not our_threads() and h.listener is None
    assert os.listdir(sockdir) == []


def test_unreachable_mi_raises_and_leaves_nothing(make) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    dead = OpenSIPSMI("http", url=f"http://127.0.0.1:{port}/mi", timeout=1)
    h = make("udp", conn=dead)
    with pytest.raises(OpenSIPSEventException) as err:
        h.subscribe("E_MY_CUSTOM", Sink())
    assert isinstance(err.value.cause, OpenSIPSMIConnectionError)
    assert not our_threads()
    dead.close()


def test_stop_does_not_talk_to_opensips(sim, make) -> None:
    h = make("udp")
    ev = h.subscribe("E_MY_CUSTOM", Sink())
    t0 = time.monotonic()
    ev.stop()
    assert time.monotonic() - t0 < 1.0
    assert ev.state == "stopped"
    assert [s["expire"] for s in listed(sim, ev.socket)] == [h.permanent_expire]  # still subscribed there
    assert wait_until(lambda: not our_threads(), 1)


def test_same_event_twice_on_one_handler(sim, mi, make) -> None:
    """The README subscribes E_PIKE_BLOCKED twice, then unsubscribes through both objects."""
    h = make("udp")
    a, b = Sink(), Sink()
    ev1 = h.subscribe("E_PIKE_BLOCKED", a)
    ev2 = OpenSIPSEvent(h, "E_PIKE_BLOCKED", b)
    sim.raise_event("E_PIKE_BLOCKED", {"ip": "10.1.1.1"})
    assert a.take(1) == b.take(1)
    ev2.unsubscribe()
    assert mi_listed(mi, "E_PIKE_BLOCKED", ev1.socket)  # ev1 still needs it
    sim.raise_event("E_PIKE_BLOCKED", {"ip": "10.1.1.2"})
    assert a.take(1)[0]["params"] == {"ip": "10.1.1.2"} and b.empty_for(0.1)
    h.unsubscribe("E_PIKE_BLOCKED")
    assert ev1.state == "stopped"
    with pytest.raises(OpenSIPSEventException):
        h.unsubscribe("E_PIKE_BLOCKED")


def test_unsubscribe_from_inside_the_callback(sim, make) -> None:
    h = make("udp")
    done = threading.Event()
    box: dict = {}

    def cb(msg: object) -> None:
        box["ev"].unsubscribe()
        done.set()

    box["ev"] = h.subscribe("E_MY_CUSTOM", cb)
    sim.raise_event("E_MY_CUSTOM")
    assert done.wait(3)
    assert box["ev"].state == "stopped"
    assert wait_until(lambda: not our_threads(), 2)


def test_close_unsubscribes_everything(sim, mi, make) -> None:
    with OpenSIPSEventHandler(mi, "stream", ip="127.0.0.1") as h:
        evs = [h.subscribe(n, Sink()) for n in ("E_MY_CUSTOM", "E_PIKE_BLOCKED")]
    assert all(ev.state == "stopped" for ev in evs)
    assert wait_until(lambda: not our_threads(), 1)
    assert not [s for s in sim.subscribers() if s["socket"] == evs[0].socket and s["expire"]]


def test_close_with_mi_gone_pays_one_timeout_not_one_per_subscription(sim) -> None:
    conn = OpenSIPSMI("datagram", **sim.mi_kwargs("datagram"), timeout=1)
    h = OpenSIPSEventHandler(conn, "datagram", ip="127.0.0.1")
    evs = [h.subscribe(n, Sink()) for n in ("E_MY_CUSTOM", "E_PIKE_BLOCKED", "E_CORE_LOG", "E_CORE_THRESHOLD")]
    sim.hang = True  # MI reads requests and never answers
    calls = []
    execute = conn.execute
    # count the unsubscribes (not the watch's subscribers_list), then really send
    conn.execute = lambda *a, **k: (a[0] == "event_subscribe" and calls.append(a)) or execute(*a, **k)
    closer = threading.Thread(target=h.close)
    closer.start()
    closer.join(10)
    sim.hang = False
    assert not closer.is_alive()
    assert len(calls) == 1  # the first unsubscribe timed out; the rest were stopped locally
    assert all(ev.state == "stopped" for ev in evs)
    assert wait_until(lambda: not our_threads(), 1)
    conn.close()


def test_bound_to_any_address_advertises_the_route_to_mi(sim, mi) -> None:
    h = OpenSIPSEventHandler(mi)  # defaults: datagram, 0.0.0.0, any port
    try:
        ev = h.subscribe("E_MY_CUSTOM", Sink())
        assert ev.socket.startswith("udp:127.0.0.1:")  # MI is on loopback
        port = int(ev.socket.rsplit(":", 1)[1])
        assert h.listener.address == ("0.0.0.0", port)
    finally:
        h.close()


def test_opensips_368_simulator(sim36) -> None:
    with OpenSIPSMI("datagram", **sim36.mi_kwargs("datagram")) as conn:
        with OpenSIPSEventHandler(conn, "datagram", ip="127.0.0.1") as h:
            sink = Sink()
            h.subscribe("E_MY_CUSTOM", sink)
            sim36.raise_event("E_MY_CUSTOM", ["a", "b"])
            params = sink.take(1)[0].get("params")
            assert params == ["a", "b"]  # array, or OpenSIPS' empty-key object decoded to one


def test_package_level_exports() -> None:
    assert opensips.OpenSIPSEvent is OpenSIPSEvent
    assert opensips.OpenSIPSEventHandler is OpenSIPSEventHandler
    assert opensips.AsyncOpenSIPSEvent is AsyncOpenSIPSEvent
    assert opensips.OpenSIPSMI is OpenSIPSMI
    assert isinstance(opensips.__version__, str)


# -- asyncio -------------------------------------------------------------------------

def test_subscribe_iter_iterates_until_expiry(sim, make) -> None:
    h = make("udp")

    async def main() -> list:
        aev = await h.subscribe_iter("E_MY_CUSTOM", expires=1)
        assert isinstance(aev, AsyncSubscription) and aev.state == "active"
        sim.raise_event("E_MY_CUSTOM", {"n": 1})
        items = []
        async for item in aev:  # ends when the subscription ends
            items.append(item)
        return items

    items = asyncio.run(asyncio.wait_for(main(), 5))
    assert items == [{"jsonrpc": "2.0", "method": "E_MY_CUSTOM", "params": {"n": 1}}, None]


def test_subscribe_iter_unsubscribe(sim, mi, make) -> None:
    h = make("tcp")

    async def main() -> None:
        async with await subscribe_iter(h, "E_PIKE_BLOCKED") as aev:
            sim.raise_event("E_PIKE_BLOCKED", {"ip": "10.0.0.9"})
            assert (await asyncio.wait_for(aev.get(), 3))["params"] == {"ip": "10.0.0.9"}
        assert aev.state == "stopped"
        with pytest.raises(EOFError):
            await asyncio.wait_for(aev.get(), 3)

    asyncio.run(main())
    assert wait_until(lambda: not our_threads(), 1)


@pytest.mark.parametrize("kind", ["udp", "unix"])
def test_garbage_datagrams_interleaved_with_opensips_events(sim, make, kind) -> None:
    """Garbage from a stranger between real notifications: every valid one arrives, 10 bad in a row give None.

    Each event is raised once the one before has arrived: a UNIX datagram socket queues only
    net.unix.max_dgram_qlen (10) datagrams, and event_datagram (so the simulator) sends without
    blocking and drops an event on EAGAIN. Raising 20 events and 20 junk datagrams at once lost
    events whenever the listener thread was not scheduled in time.
    """
    h = make(kind)
    sink = Sink()
    ev = h.subscribe("E_MY_CUSTOM", sink)
    family = socket.AF_UNIX if kind == "unix" else socket.AF_INET
    addr = ev.socket.split(":", 1)[1] if kind == "unix" else ("127.0.0.1", int(ev.socket.rsplit(":", 1)[1]))
    stranger = socket.socket(family, socket.SOCK_DGRAM)
    try:
        got = []
        for i in range(20):
            stranger.sendto([b"junk", b"{", b"\xff", b"[1]", b'{"jsonrpc":"2.0"'][i % 5], addr)
            sim.raise_event("E_MY_CUSTOM", {"i": i})
            got += sink.take(1)
        assert [m["params"]["i"] for m in got] == list(range(20))
        for _ in range(10):
            stranger.sendto(b"not json", addr)
        assert sink.take(1) == [None]
        assert ev.state == "active"
        sim.raise_event("E_MY_CUSTOM", {"i": "after"})
        assert sink.take(1)[0]["params"] == {"i": "after"}
    finally:
        stranger.close()


def test_event_stream_reliable_mode_replies_reach_opensips(sim_factory) -> None:
    """reliable_mode=1: every notification carries an id; our reply with that id goes back at once."""
    rsim = sim_factory(stream_reliable=True, stream_event_param="event_name")
    with OpenSIPSMI("http", **rsim.mi_kwargs("http")) as conn, \
            OpenSIPSEventHandler(conn, "stream", ip="127.0.0.1") as h:
        sink = Sink()
        h.subscribe("E_MY_CUSTOM", sink)
        for i in range(3):
            rsim.raise_event("E_MY_CUSTOM", {"i": i})
        got = sink.take(3)
        ids = [g["id"] for g in got]
        assert all(isinstance(i, int) for i in ids)
        assert [g["params"]["i"] for g in got] == [0, 1, 2]
        # the simulator reads replies when it next writes on the connection (like event_stream)
        rsim.raise_event("E_MY_CUSTOM", {"i": 3})
        assert sink.take(1)[0]["params"]["i"] == 3
        rsim.flush()
        replies = {r.get("id"): r for r in rsim.deliverer.replies}
        assert all(replies[i] == {"jsonrpc": "2.0", "result": "OK", "id": i} for i in ids)
