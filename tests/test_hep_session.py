"""TraceSession against the simulator: start, packets, every way of stopping, and the first-in-list bug.

The simulator's tracer answers as the captured OpenSIPS 4.0.1 does
(ops/tracer_* and error_tracer_*), bug included; its MI replies are compared
with the captures in test_sim_tracer.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from opensips.hep import HepPacket
from opensips.hep.session import TraceArgumentError, TraceError, TraceSession
from opensips.mi import OpenSIPSMI


def wait_for(predicate, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.02)


def listed(mi) -> list[str]:
    return [d["name"] for d in mi.execute("tracer:trace")["trace destinations"]]


@pytest.fixture
def traced(sim_factory):
    sim = sim_factory(sip_rate=0, seed=7)
    with OpenSIPSMI("http", url=sim.http_url) as mi:
        yield sim, mi


def test_start_receive_and_stop(traced) -> None:
    sim, mi = traced
    got: list[HepPacket] = []
    session = TraceSession(mi, got.append).start()
    assert session.state == "running" and listed(mi) == [session.trace_id]
    assert session.uri == f"hep:127.0.0.1:{session.address[1]};transport=udp;version=3"
    call = sim.tracer.sipgen.call(duration=0)
    register = sim.tracer.sipgen.register()
    assert sim.tracer.send_item(register) == 0  # default scope (dialog): calls only
    assert sim.tracer.send_item(call) == 14
    wait_for(lambda: len(got) == 14)
    assert [p.payload for p in got] == [m.payload for m in call]
    assert {p.correlation_id for p in got} == {call[0].call_id.encode()}
    session.close()
    assert session.state == "stopped" and listed(mi) == [] and session.left_running is None
    assert session.address is not None and not session._listener.running
    session.close()  # twice is fine


def test_scope_and_filter(traced) -> None:
    sim, mi = traced
    got: list[HepPacket] = []
    gen = sim.tracer.sipgen
    with TraceSession(mi, got.append, filters=["ip=127.0.0.1"], scope="t") as session:
        sent = sim.tracer.send_item(gen.register()) + sim.tracer.send_item(gen.options())
        assert sent == 4
        wait_for(lambda: len(got) == 4)
        assert session.stats["delivered"] == 4
    assert {p.payload.split(b" ", 1)[0] for p in got} == {b"REGISTER", b"OPTIONS", b"SIP/2.0"}
    call = gen.call()
    with TraceSession(mi, got.append, filters=[f"caller={call[0].caller}", "callee=nobody"], scope="m"):
        assert sim.tracer.send_item(call) == 0


def test_tls_calls_are_reported_as_tls(traced) -> None:
    sim, mi = traced
    got: list[HepPacket] = []
    with TraceSession(mi, got.append):
        call = next(c for c in iter(lambda: sim.tracer.sipgen.call(0), None) if c[0].proto == 22)
        sim.tracer.send_item(call)
        wait_for(lambda: len(got) == 14)
    assert {p.transport for p in got} == {"TLS", "UDP"}  # the callee leg is UDP
    assert got[0].transport == "TLS" and got[0].dst_port == 5061


def test_iterator_mode_and_bounded_queue(traced) -> None:
    sim, mi = traced
    session = TraceSession(mi, max_queue=5).start()
    sim.tracer.send_item(sim.tracer.sipgen.call(0))
    wait_for(lambda: session.stats["delivered"] == 14)
    assert session.dropped == 9
    first = [session.get() for _ in range(5)]
    assert all(isinstance(p, HepPacket) for p in first) and session.get(timeout=0) is None
    threading.Timer(0.2, session.close).start()
    assert list(session) == []  # ends when the session is closed


@pytest.mark.parametrize("kwargs,why", [
    ({"filters": ["user=alice"]}, "bad tracer filter"),
    ({"scope": "t"}, "scope and type need a filter"),
    ({"trace_type": "sip"}, "scope and type need a filter"),
    ({"filters": ["ip=1.2.3.4"], "scope": "x"}, "bad scope"),
    ({"transport": "sctp"}, "bad HEP transport"),
    ({"trace_id": "a b"}, "bad trace id"),
])
def test_bad_arguments_are_refused_before_anything_is_sent(traced, kwargs, why) -> None:
    _, mi = traced
    with pytest.raises(TraceArgumentError, match=why):
        TraceSession(mi, **kwargs)
    assert listed(mi) == []


def test_duplicate_id_is_refused_before_listening(traced) -> None:
    _, mi = traced
    mi.execute("tracer:start", {"id": "taken", "uri": "hep:127.0.0.1:9;transport=udp;version=3"})
    session = TraceSession(mi, trace_id="taken")
    with pytest.raises(TraceArgumentError, match="already runs a trace named 'taken'"):
        session.start()
    assert session.address is None and listed(mi) == ["taken"]


def test_first_in_list_bug_is_reported_with_the_command(traced) -> None:
    _, mi = traced
    mi.execute("tracer:start", {"id": "older", "uri": "hep:127.0.0.1:9;transport=udp;version=3"})
    session = TraceSession(mi).start()
    assert session.older == ["older"] and "removes only the oldest one" in session.warnings[0]
    session.close()
    assert listed(mi) == ["older", session.trace_id]
    assert session.left_running == f"opensips-mi --url {mi.target} tracer:stop id={session.trace_id}"
    assert "once that is stopped, run: " + session.left_running in session.warnings[-1]
    mi.execute("tracer:stop", {"id": "older"})
    subprocess.run(session.left_running.split(), check=True, capture_output=True, timeout=30)
    assert listed(mi) == []


def test_3x_names(sim_factory) -> None:
    sim = sim_factory(version="3.6.8", sip_rate=0)
    with OpenSIPSMI("http", url=sim.http_url) as mi:
        got: list = []
        with TraceSession(mi, got.append) as session:
            assert session.names == ("trace_start", "trace_stop", "trace")
            assert [d["name"] for d in mi.execute("trace")["trace destinations"]] == [session.trace_id]
            sim.tracer.send_item(sim.tracer.sipgen.call(0))
            wait_for(lambda: len(got) == 14)
        assert mi.execute("trace")["trace destinations"] == []


def test_unreachable_mi_is_a_trace_error(sim_factory) -> None:
    sim = sim_factory()
    url = sim.http_url
    sim.stop()
    with OpenSIPSMI("http", url=url, timeout=1) as mi:
        with pytest.raises(TraceError, match="cannot reach OpenSIPS"):
            TraceSession(mi).start()


def test_no_hep_udp_socket_refuses_to_start(traced) -> None:
    sim, mi = traced
    sim.tracer.stop()  # ps then lists SIP receivers but no hep_udp socket
    with pytest.raises(TraceError, match="no hep_udp socket"):
        TraceSession(mi).start()


def test_strangers_are_counted_and_dropped(traced) -> None:
    import socket

    sim, mi = traced
    got: list = []
    with TraceSession(mi, got.append) as session:
        call = sim.tracer.sipgen.call(0)
        from opensips.hep import encode, decode  # a stranger replays a real packet from another port
        sim.tracer.send_item(call[:1])
        wait_for(lambda: len(got) == 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(encode(decode(encode(got[0]))), session.address)
        wait_for(lambda: session.stats["refused"] == 1)
    assert len(got) == 1


def test_receiver_death_stops_the_trace(traced) -> None:
    sim, mi = traced

    def fatal(packet):
        raise SystemExit("consumer gave up")

    session = TraceSession(mi, fatal).start()
    sim.tracer.send_item(sim.tracer.sipgen.call(0)[:1])
    wait_for(lambda: session.state == "failed")
    assert isinstance(session.error, SystemExit) and listed(mi) == []


@pytest.mark.parametrize("how", ["exit", "sigterm"])
def test_trace_withdrawn_at_interpreter_exit(traced, how) -> None:
    sim, mi = traced
    code = textwrap.dedent(f"""
        import os, signal, sys, time
        from opensips.mi import OpenSIPSMI
        from opensips.hep.session import TraceSession
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
        s = TraceSession(OpenSIPSMI("http", url={sim.http_url!r})).start()
        print(s.trace_id, flush=True)
        if {how!r} == "sigterm":
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    trace_id = proc.stdout.readline().strip()
    if how == "sigterm":
        wait_for(lambda: trace_id in listed(mi))
        proc.terminate()
    assert proc.wait(30) == 0
    assert listed(mi) == []


def test_receiver_death_is_told_to_on_failed_after_the_withdrawal(traced) -> None:
    sim, mi = traced
    told: list[tuple[BaseException, list]] = []

    def fatal(packet):
        raise SystemExit("consumer gave up")

    session = TraceSession(mi, fatal)
    session.on_failed = lambda exc: told.append((exc, listed(mi)))
    session.start()
    sim.tracer.send_item(sim.tracer.sipgen.call(0)[:1])
    wait_for(lambda: bool(told))
    assert isinstance(told[0][0], SystemExit) and told[0][1] == []   # withdrawn before the news
