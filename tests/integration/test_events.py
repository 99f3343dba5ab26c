"""Events from a real OpenSIPS over udp, unix (event_datagram) and tcp (event_stream), with the
handler's defaults: OpenSIPS runs as another user, and must still reach a UNIX socket."""

from __future__ import annotations

import os

import pytest

from opensips.event import OpenSIPSEventHandler
from tests.waiting import Sink, wait_until

from .conftest import raise_event, subscribers

EVENT = "E_MY_CUSTOM"


def handler(mi, kind: str, reachable_dir: str, **kwargs) -> OpenSIPSEventHandler:
    if kind == "unix":
        return OpenSIPSEventHandler(mi, "datagram", socket_path=os.path.join(reachable_dir, "events.sock"), **kwargs)
    return OpenSIPSEventHandler(mi, "stream" if kind == "tcp" else "datagram", ip="127.0.0.1", **kwargs)


@pytest.mark.parametrize("kind", ["udp", "unix", "tcp"])
def test_events_arrive_and_unsubscribe_leaves_opensips(mi, reachable_dir, kind: str) -> None:
    sink = Sink()
    with handler(mi, kind, reachable_dir) as hdl:
        ev = hdl.subscribe(EVENT, sink)
        assert ev.socket in subscribers(mi, EVENT)
        for i in range(5):
            raise_event(mi, EVENT, {"callid": f"c{i}", "kind": kind})
            note = sink.take(1, timeout=5)[0]
            assert note == {"jsonrpc": "2.0", "method": EVENT, "params": {"callid": f"c{i}", "kind": kind}}
        ev.unsubscribe()
        # OpenSIPS drops the entry about a second after expire 0
        assert wait_until(lambda: ev.socket not in subscribers(mi, EVENT), 10)


@pytest.mark.parametrize("kind", ["udp", "unix", "tcp"])
def test_two_events_share_one_socket(mi, reachable_dir, kind: str) -> None:
    """Events are routed by method on one socket; each callback gets only its own."""
    custom, aor = Sink(), Sink()
    with handler(mi, kind, reachable_dir) as hdl:
        first = hdl.subscribe(EVENT, custom)
        second = hdl.subscribe("E_UL_AOR_INSERT", aor)
        assert first.socket == second.socket
        raise_event(mi, EVENT, {"n": "1"})
        raise_event(mi, "E_UL_AOR_INSERT", {"aor": "alice"})
        raise_event(mi, EVENT, {"n": "2"})
        assert [m["params"] for m in custom.take(2, timeout=5)] == [{"n": "1"}, {"n": "2"}]
        assert aor.take(1, timeout=5)[0]["params"] == {"aor": "alice"}
        assert custom.empty_for(0.2) and aor.empty_for(0.2)
