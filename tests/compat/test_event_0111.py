"""Code written for the PyPI ``opensips`` 0.1.11 event API, run unchanged against the simulator.

Each test is written the way 0.1.11 code is written (its README, its docs,
the OpenSIPS AI voice connector): keyword names, attributes and exceptions of
0.1.11, nothing of this project's own API.
"""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from opensips.event import (AsyncOpenSIPSEvent, OpenSIPSEvent, OpenSIPSEventException,
                            OpenSIPSEventHandler)
from opensips.mi import OpenSIPSMI, OpenSIPSMIException
from tests.waiting import Sink, wait_until


def subscribed(sim, name: str) -> list[str]:
    return [s["socket"] for s in sim.subscribers() if s["event"] == name and s.get("ttl") != "expired"]


def test_readme_subscribe_and_unsubscribe(sim) -> None:
    """The README flow: http MI, a datagram handler on a fixed ip, subscribe, receive, unsubscribe."""
    mi_connector = OpenSIPSMI('http', url=sim.http_url)
    hdl = OpenSIPSEventHandler(mi_connector, 'datagram', ip='127.0.0.1', port=0)
    messages = Sink()

    def some_callback(message):
        messages(message)

    try:
        ev = hdl.subscribe('E_PIKE_BLOCKED', some_callback)
    except OpenSIPSEventException as e:
        pytest.fail(f"subscribe failed: {e}")
    assert subscribed(sim, 'E_PIKE_BLOCKED') == [ev.socket.sock_name]
    sim.raise_event('E_PIKE_BLOCKED', {"ip": "192.0.2.7"})
    assert messages.take(1)[0]["params"] == {"ip": "192.0.2.7"}
    try:
        ev.unsubscribe()
    except OpenSIPSEventException as e:
        pytest.fail(f"unsubscribe failed: {e}")
    assert subscribed(sim, 'E_PIKE_BLOCKED') == []


def test_event_object_built_directly_subscribes_and_handler_unsubscribes(sim) -> None:
    """``OpenSIPSEvent(hdl, name, callback)`` subscribes in its constructor; ``hdl.unsubscribe(name)`` ends it."""
    hdl = OpenSIPSEventHandler(OpenSIPSMI('datagram', **sim.mi_kwargs('datagram')), 'stream', ip='127.0.0.1')
    sink = Sink()
    ev = OpenSIPSEvent(hdl, 'E_MY_CUSTOM', sink)
    assert hdl.events['E_MY_CUSTOM'] is ev
    assert ev.name == 'E_MY_CUSTOM' and ev.callback is sink and ev.reregister is True
    assert ev.socket.sock_name.startswith('tcp:127.0.0.1:')
    assert ev.socket.ip == '127.0.0.1' and ev.socket.port == ev.socket.sock.getsockname()[1]
    sim.raise_event('E_MY_CUSTOM', {"n": 1})
    assert sink.take(1)[0]["params"] == {"n": 1}
    hdl.unsubscribe('E_MY_CUSTOM')
    assert 'E_MY_CUSTOM' not in hdl.events
    assert subscribed(sim, 'E_MY_CUSTOM') == []
    with pytest.raises(KeyError):  # 0.1.11: self.events[event_name] of an unknown name
        hdl.unsubscribe('E_MY_CUSTOM')


def test_keyword_names_of_0111(sim) -> None:
    """``subscribe(event_name=, callback=, expire=)`` and the attributes 0.1.11 code reads."""
    hdl = OpenSIPSEventHandler(mi=OpenSIPSMI('fifo', **sim.mi_kwargs('fifo')), _type='datagram',
                               ip='127.0.0.1', port=0)
    sink = Sink()
    ev = hdl.subscribe(event_name='E_CORE_THRESHOLD', callback=sink, expire=120)
    assert ev.expire == 120 and ev.reregister is False
    assert isinstance(ev.thread, threading.Thread) and ev.thread.is_alive()
    assert isinstance(ev.socket.sock, socket.socket)
    assert ev.socket.sock.getsockname() == ('127.0.0.1', ev.socket.port)
    assert ev.last_subscription is not None
    listing = [s for s in sim.subscribers() if s["event"] == 'E_CORE_THRESHOLD']
    assert [(s["socket"], s["expire"]) for s in listing] == [(ev.socket.sock_name, 120)]
    before = ev.last_subscription
    ev.resubscribe()
    assert ev.last_subscription >= before
    assert len(subscribed(sim, 'E_CORE_THRESHOLD')) == 1
    ev.stop()  # no MI call: OpenSIPS keeps the subscription until it lapses
    assert subscribed(sim, 'E_CORE_THRESHOLD') == [ev.socket.sock_name]
    assert wait_until(lambda: not ev.thread, 2)
    # the same handler subscribes again (a new socket) after stop()
    ev2 = hdl.subscribe('E_CORE_THRESHOLD', sink)
    assert ev2.reregister is True and hdl.events == {'E_CORE_THRESHOLD': ev2}
    ev2.unsubscribe()


def test_refused_subscribe_is_caught_as_either_exception(sim) -> None:
    """0.1.11 code catches OpenSIPSMIException; this project's code OpenSIPSEventException."""
    hdl = OpenSIPSEventHandler(OpenSIPSMI('http', url=sim.http_url), 'datagram', ip='127.0.0.1')
    try:
        hdl.subscribe('E_NO_SUCH_EVENT', print)
    except OpenSIPSMIException as e:
        caught = e
    assert isinstance(caught, OpenSIPSEventException)
    with pytest.raises(OpenSIPSEventException):
        hdl.subscribe('E_PIKE_BLOCKED', print, "soon")  # 0.1.11: "Invalid arguments"
    sim.stop()  # OpenSIPS gone: a connection failure is an OpenSIPSMIException too
    with pytest.raises(OpenSIPSMIException):
        hdl.subscribe('E_PIKE_BLOCKED', print)
    assert hdl.events == {}


def test_unknown_connector_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        OpenSIPSMI('bogus')
    with pytest.raises(OpenSIPSMIException):
        OpenSIPSMI('bogus')


def test_ai_voice_connector_async_use(sim) -> None:
    """The OpenSIPS AI voice connector: async_subscribe is a plain call, then socket.sock.getsockname()."""
    mi_conn = OpenSIPSMI(conn="datagram", datagram_ip=sim.datagram_addr[0], datagram_port=sim.datagram_addr[1])
    got: list = []
    loop_threads: list = []
    done: list[asyncio.Event] = []

    def udp_handler(data):
        loop_threads.append(threading.current_thread())
        got.append(data)
        if len(got) == 2:
            done[0].set()

    sim.registry.publish("E_UA_SESSION")  # the b2b/ua module of a real OpenSIPS publishes it

    async def async_run():
        handler = OpenSIPSEventHandler(mi_conn, "datagram", ip="127.0.0.1", port=0)
        try:
            event = handler.async_subscribe("E_UA_SESSION", udp_handler)
        except OpenSIPSEventException as e:
            pytest.fail(f"subscribe failed: {e}")
        assert isinstance(event, AsyncOpenSIPSEvent)
        _, port = event.socket.sock.getsockname()
        assert subscribed(sim, "E_UA_SESSION") == [f"udp:127.0.0.1:{port}"]
        sim.raise_event("E_UA_SESSION", {"key": "a"})
        sim.raise_event("E_UA_SESSION", {"key": "b"})
        await asyncio.wait_for(done[0].wait(), 5)
        try:
            event.unsubscribe()
        except OpenSIPSEventException as e:
            pytest.fail(f"unsubscribe failed: {e}")
        except OpenSIPSMIException as e:
            pytest.fail(f"unsubscribe failed: {e}")

    async def main():
        done.append(asyncio.Event())
        await async_run()

    asyncio.run(main())
    assert [g["params"]["key"] for g in got] == ["a", "b"]
    assert set(loop_threads) == {threading.main_thread()}  # the callback ran on the loop
    assert subscribed(sim, "E_UA_SESSION") == []


def test_async_subscribe_outside_a_loop_is_a_runtime_error(sim) -> None:
    hdl = OpenSIPSEventHandler(OpenSIPSMI('http', url=sim.http_url), 'datagram', ip='127.0.0.1')
    with pytest.raises(RuntimeError):
        hdl.async_subscribe('E_PIKE_BLOCKED', print)
    assert subscribed(sim, 'E_PIKE_BLOCKED') == [] and hdl.events == {}


def test_async_expire_and_coroutine_callback(sim) -> None:
    """An explicit expire ends with callback(None); an ``async def`` callback is awaited on the loop."""
    hdl = OpenSIPSEventHandler(OpenSIPSMI('http', url=sim.http_url), 'stream', ip='127.0.0.1')
    got: list = []

    async def main():
        ended = asyncio.Event()

        async def cb(message):
            got.append(message)
            if message is None:
                ended.set()

        ev = hdl.async_subscribe('E_MY_CUSTOM', cb, expire=1)
        assert ev.expire == 1 and hdl.events['E_MY_CUSTOM'] is ev
        sim.raise_event('E_MY_CUSTOM', {"x": 1})
        await asyncio.wait_for(ended.wait(), 5)
        assert ev.state == "expired" and 'E_MY_CUSTOM' not in hdl.events

    asyncio.run(main())
    assert got == [{"jsonrpc": "2.0", "method": "E_MY_CUSTOM", "params": {"x": 1}}, None]


def test_resubscribe_raises_when_opensips_is_gone(sim) -> None:
    """0.1.11's resubscribe() raised the MI error; callers catch OpenSIPSMIException or OpenSIPSEventException."""
    hdl = OpenSIPSEventHandler(OpenSIPSMI('http', url=sim.http_url, timeout=2), 'datagram', ip='127.0.0.1')
    ev = hdl.subscribe('E_PIKE_BLOCKED', print)
    before = ev.last_subscription
    ev.resubscribe()
    assert ev.last_subscription >= before and subscribed(sim, 'E_PIKE_BLOCKED') == [ev.socket.sock_name]
    sim.stop()
    with pytest.raises(OpenSIPSMIException) as info:
        ev.resubscribe()
    assert isinstance(info.value, OpenSIPSEventException)
    ev.stop()
    assert hdl.events == {}
