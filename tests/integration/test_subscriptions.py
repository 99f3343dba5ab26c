"""Issue 9's subscription checks against a real OpenSIPS: what the handler asks for covers every
live subscription on its socket, races end with both sides agreeing, a fixed port is free again
at once, and stop() lets go of its socket under load."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from opensips.event import OpenSIPSEventException, OpenSIPSEventHandler
from tests.waiting import Sink, wait_until

from .conftest import raise_event, subscribers

EVENT = "E_MY_CUSTOM"
LIVE = ("active", "retrying")


def listed(mi, sock: str | None) -> bool:
    """OpenSIPS has a live entry for ``sock`` (an unsubscribed one lingers ~1 s with ttl "expired")."""
    entry = subscribers(mi, EVENT).get(sock or "")
    return entry is not None and entry.get("ttl") != "expired"


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def fast_switching() -> Iterator[None]:
    """Switch threads every microsecond, so races show up in a few rounds."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@pytest.mark.parametrize("second", [2, None], ids=["expires-2", "permanent"])
def test_shorter_subscription_on_the_same_socket_does_not_cut_the_longer(mi, second) -> None:
    """expires=30 then expires=2 (or permanent then 2) on one handler: OpenSIPS keeps one entry per
    socket, and once the 2 s subscription is over, the other one must still hear events."""
    long_sink, short_sink = Sink(), Sink()
    with OpenSIPSEventHandler(mi, "datagram", ip="127.0.0.1") as hdl:
        longer = hdl.subscribe(EVENT, long_sink, 30 if second is not None else None)
        shorter = hdl.subscribe(EVENT, short_sink, 2)
        assert longer.socket == shorter.socket
        assert wait_until(lambda: shorter.state == "expired", 10)
        time.sleep(2.0)  # past the 2 s entry in OpenSIPS, and its lazy removal
        assert longer.state == "active"
        assert listed(mi, longer.socket), subscribers(mi, EVENT)
        raise_event(mi, EVENT, {"after": "expiry"})
        assert long_sink.take(1, timeout=5)[0]["params"] == {"after": "expiry"}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["datagram", "stream"])
def test_unsubscribe_racing_subscribe_ends_with_both_sides_agreeing(mi, kind: str) -> None:
    """One thread unsubscribes while another subscribes the same event on the same handler:
    afterwards the handler says "active" exactly when OpenSIPS has our socket."""
    with OpenSIPSEventHandler(mi, kind, ip="127.0.0.1") as hdl:
        for round_ in range(30):
            first = hdl.subscribe(EVENT, Sink())
            made: list = []
            errors: list[BaseException] = []

            def unsubscribe() -> None:
                try:
                    first.unsubscribe()
                except OpenSIPSEventException as exc:  # pragma: no cover - reported below
                    errors.append(exc)

            def subscribe() -> None:
                try:
                    made.append(hdl.subscribe(EVENT, Sink()))
                except OpenSIPSEventException as exc:  # pragma: no cover - reported below
                    errors.append(exc)

            with fast_switching():
                threads = [threading.Thread(target=unsubscribe), threading.Thread(target=subscribe)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(30)
            assert not errors, errors
            live = [s for s in hdl.subscriptions if s.event == EVENT and s.state in LIVE]
            assert [s.state for s in made] == ["active"] and live == made, (round_, live, made)
            # OpenSIPS removes an unsubscribed entry about 1 s later: wait for it to settle
            assert wait_until(lambda: listed(mi, made[0].socket), 5), (round_, subscribers(mi, EVENT))
            time.sleep(1.5)
            assert listed(mi, made[0].socket), (round_, made[0].socket, subscribers(mi, EVENT))
            made[0].unsubscribe()


@pytest.mark.parametrize("kind", ["datagram", "stream"])
def test_fixed_port_is_free_again_right_after_the_last_unsubscribe(mi, kind: str) -> None:
    port = free_port(socket.SOCK_STREAM if kind == "stream" else socket.SOCK_DGRAM)
    with OpenSIPSEventHandler(mi, kind, ip="127.0.0.1", port=port) as hdl:
        for i in range(20):
            sink = Sink()
            ev = hdl.subscribe(EVENT, sink)
            assert ev.socket.endswith(f":{port}")
            raise_event(mi, EVENT, {"i": str(i)})
            assert sink.take(1, timeout=5)[0]["params"] == {"i": str(i)}
            ev.unsubscribe()


@pytest.mark.parametrize("kind", ["datagram", "stream"])
def test_fixed_port_resubscribed_from_inside_a_callback(mi, kind: str) -> None:
    """A callback ending its own (last) subscription and subscribing again on the fixed port."""
    port = free_port(socket.SOCK_STREAM if kind == "stream" else socket.SOCK_DGRAM)
    again = Sink()
    outcome: list = []
    with OpenSIPSEventHandler(mi, kind, ip="127.0.0.1", port=port) as hdl:

        def once(note: dict) -> None:
            try:
                first.unsubscribe()
                outcome.append(hdl.subscribe(EVENT, again))
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                outcome.append(exc)

        first = hdl.subscribe(EVENT, once)
        raise_event(mi, EVENT, {"n": "1"})
        assert wait_until(lambda: outcome, 10)
        assert not isinstance(outcome[0], BaseException), outcome[0]
        assert outcome[0].socket.endswith(f":{port}") and outcome[0].state == "active"
        raise_event(mi, EVENT, {"n": "2"})
        assert again.take(1, timeout=5)[0]["params"] == {"n": "2"}


@pytest.mark.parametrize("kind", ["datagram", "stream"])
def test_stop_under_a_flood_lets_go_of_the_socket(mi, kind: str) -> None:
    """Events from OpenSIPS plus a stranger's flood: stop() releases the port within 1 s."""
    stype = socket.SOCK_STREAM if kind == "stream" else socket.SOCK_DGRAM
    port = free_port(stype)
    done = threading.Event()
    got = Sink()

    def flood() -> None:
        while not done.is_set():
            try:
                if kind == "stream":
                    with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                        while not done.is_set():
                            c.sendall(b'{"jsonrpc":"2.0","method":"E_MY_CUSTOM","params":{"x":"' + b"y" * 2000 + b'"}}')
                else:
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                        while not done.is_set():
                            s.sendto(b'{"jsonrpc":"2.0","method":"E_MY_CUSTOM","params":{}}', ("127.0.0.1", port))
            except OSError:
                time.sleep(0.01)

    def raising() -> None:
        while not done.is_set():
            raise_event(mi, EVENT, {"from": "opensips"})

    with OpenSIPSEventHandler(mi, kind, ip="127.0.0.1", port=port) as hdl:
        ev = hdl.subscribe(EVENT, got)
        workers = [threading.Thread(target=flood, daemon=True) for _ in range(2)]
        workers.append(threading.Thread(target=raising, daemon=True))
        for w in workers:
            w.start()
        try:
            got.take(50, timeout=10)  # the flood is reaching the callback
            ev.stop()
            stopped = time.monotonic()

            def port_free() -> bool:
                with socket.socket(socket.AF_INET, stype) as s:
                    if kind == "stream":  # connections the listener closed linger in TIME_WAIT
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        s.bind(("127.0.0.1", port))
                        return True
                    except OSError:
                        return False

            assert wait_until(port_free, 1.0), "the listener still holds the port 1 s after stop()"
            took = time.monotonic() - stopped
        finally:
            done.set()
            for w in workers:
                w.join(5)
    print(f"port free {took:.3f} s after stop() under load")
