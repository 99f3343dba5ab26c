"""The trace screen end to end against the simulator: key 4 starts a real ``TraceSession``
(``tracer:start`` over MI towards our HEP receiver), the simulator's tracer sends HEP3 for its
REGISTERs, OPTIONS and calls, and every way out leaves ``tracer:trace`` empty."""

from __future__ import annotations

import httpx

from opensips_tui.screens import TraceScreen
from tests.tui_pilot import make_app, run, until
from tests.waiting import wait_until


def _traces(sim) -> list[str]:
    body = {"jsonrpc": "2.0", "method": "tracer:trace", "id": 1}
    result = httpx.post(sim.http_url, json=body, timeout=5).json()["result"]
    return [d["name"] for d in result.get("trace destinations", [])]


@run
async def test_key_4_traces_the_simulator_and_every_exit_stops_it(sim_factory, tmp_path):
    sim = sim_factory(sip_rate=40, seed=5)
    app = make_app(sim, tmp_path, health_every=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        screen = app.screen
        assert isinstance(screen, TraceScreen)
        await until(pilot, lambda: screen.state == "running", "the trace to start", tries=200)
        assert len(_traces(sim)) == 1
        await until(pilot, lambda: any(c.kind == "INVITE" and len(c.messages) >= 3 for c in screen.store.calls()),
                    "a call traced", tries=300)
        assert screen.calls_list.rows and screen.ladder.rows
        await pilot.press("1")                        # another screen: the trace stops in OpenSIPS
        await until(pilot, lambda: screen.state == "stopped" and not _traces(sim), "the trace gone", tries=200)
        await pilot.press("4")
        await until(pilot, lambda: screen.state == "running" and len(_traces(sim)) == 1, "again", tries=200)
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "exit", tries=200)
    assert wait_until(lambda: _traces(sim) == [], 30)   # within the exit's wait, or just after on a busy box


@run
async def test_exit_with_mi_hung_is_not_held_by_the_trace(sim_factory, tmp_path):
    """MI stops answering while tracing: q still ends the app (the stop goes on in its thread,
    bounded by the session's exit hook) and the session says which command would remove the trace."""
    sim = sim_factory(sip_rate=0)
    app = make_app(sim, tmp_path, health_every=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        screen, session = await _tracing(pilot, app)
        sim.hang = True
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "exit", tries=200)
    assert session.state == "running" or session.left_running
    sim.hang = False


async def _tracing(pilot, app):
    """Key 4, until the trace runs: the screen and its session."""
    await pilot.press("4")
    screen = app.screen
    await until(pilot, lambda: screen.state == "running", "the trace to start", tries=200)
    return screen, screen.control.source.session


def _mi(sim, method: str, params: dict | None = None):
    body = {"jsonrpc": "2.0", "method": method, "id": 1, **({"params": params} if params else {})}
    return httpx.post(sim.http_url, json=body, timeout=5).json()


@run
async def test_an_older_trace_is_warned_about_and_the_command_to_stop_ours_is_shown(sim_factory, tmp_path):
    """OpenSIPS's tracer:stop removes only the first dynamic trace: with an older one running,
    ours stays after we stop it, and the operator gets the exact command that removes it."""
    sim = sim_factory(sip_rate=0)
    _mi(sim, "tracer:start", {"id": "someone_else", "uri": "hep:127.0.0.1:9;transport=udp;version=3"})
    app = make_app(sim, tmp_path, health_every=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        screen = app.screen
        await until(pilot, lambda: screen.state == "running", "the trace to start", tries=200)
        assert any("someone_else" in w for w in screen.warnings)
        ours = [n for n in _traces(sim) if n != "someone_else"]
        await pilot.press("1")
        await until(pilot, lambda: screen.state == "stopped", "stopped", tries=200)
        await until(pilot, lambda: any(f"tracer:stop id={ours[0]}" in w for w in screen.warnings), "the command")
        assert _traces(sim) == ["someone_else", ours[0]]          # the bug, as captured
    _mi(sim, "tracer:stop", {"id": "someone_else"})
    _mi(sim, "tracer:stop", {"id": ours[0]})
    assert _traces(sim) == []


@run
async def test_a_dead_receiver_shows_failed_not_running(sim_factory, tmp_path):
    """The HEP receiver's socket fails under a running trace: the session withdraws the trace
    and the screen says "failed" with the reason, instead of "running" over a deaf receiver."""
    sim = sim_factory(sip_rate=0)
    app = make_app(sim, tmp_path, health_every=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        screen, session = await _tracing(pilot, app)
        session._listener.sock.close()            # its next recv fails (EBADF): the receiver dies
        await until(pilot, lambda: screen.state == "failed", "failed shown", tries=300)
        assert "HEP receiver stopped" in screen.detail and _traces(sim) == []
        await pilot.press("p")                        # p starts a new trace, as after any stop
        await until(pilot, lambda: screen.state == "running" and len(_traces(sim)) == 1, "again", tries=200)
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "exit", tries=200)
    assert wait_until(lambda: _traces(sim) == [], 30)
