"""The real monitor in a pseudo-terminal with the trace screen shown: q, Ctrl+C, SIGTERM and SIGHUP
(a closed terminal, a dropped SSH session) all leave OpenSIPS's tracer with no trace of ours."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from opensips.sim import SimulatedOpenSIPS
from tests.test_tui_signals import ALT_SCREEN_OFF, ALT_SCREEN_ON, Terminal, sockdir, start_monitor, terminal  # noqa: F401
from tests.waiting import wait_until


def traces(sim: SimulatedOpenSIPS) -> list[str]:
    body = {"jsonrpc": "2.0", "method": "tracer:trace", "id": 1}
    result = httpx.post(sim.http_url or "", json=body, timeout=5).json()["result"]
    return [d["name"] for d in result.get("trace destinations", [])]


@pytest.mark.parametrize("how", ["q", "ctrl+c", "SIGTERM", "SIGHUP"])
def test_every_exit_withdraws_the_trace(how: str, sim: SimulatedOpenSIPS, terminal: Terminal, sockdir: str) -> None:
    proc = start_monitor(sim, terminal, sockdir)
    try:
        assert wait_until(lambda: ALT_SCREEN_ON in terminal.seen(), 30), terminal.seen()[-2000:]
        os.write(terminal.master, b"4")
        assert wait_until(lambda: len(traces(sim)) == 1, 30), terminal.seen()[-2000:]
        if how in ("q", "ctrl+c"):
            os.write(terminal.master, b"q" if how == "q" else b"\x03")
        else:
            proc.send_signal(getattr(signal, how))
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert traces(sim) == []
    assert ALT_SCREEN_OFF in terminal.seen().rpartition(ALT_SCREEN_ON)[2]
