"""The real monitor in a pseudo-terminal with the trace screen shown: q, Ctrl+C, SIGTERM and SIGHUP
(a closed terminal, a dropped SSH session) all leave OpenSIPS's tracer with no trace of ours."""

from __future__ import annotations

import os

import httpx
import pytest

from opensips.sim import SimulatedOpenSIPS
from tests.test_tui_signals import (ALT_SCREEN_OFF, ALT_SCREEN_ON, Terminal, killed_at_end, quit_by,  # noqa: F401
                                    sockdir, start_monitor, terminal)
from tests.waiting import wait_until


def traces(sim: SimulatedOpenSIPS) -> list[str]:
    body = {"jsonrpc": "2.0", "method": "tracer:trace", "id": 1}
    result = httpx.post(sim.http_url or "", json=body, timeout=5).json()["result"]
    return [d["name"] for d in result.get("trace destinations", [])]


@pytest.mark.parametrize("how", ["q", "ctrl+c", "SIGTERM", "SIGHUP"])
def test_every_exit_withdraws_the_trace(how: str, sim: SimulatedOpenSIPS, terminal: Terminal, sockdir: str) -> None:
    with killed_at_end(start_monitor(sim, terminal, sockdir)) as proc:
        assert wait_until(lambda: ALT_SCREEN_ON in terminal.seen(), 30), terminal.seen()[-2000:]
        os.write(terminal.master, b"4")
        assert wait_until(lambda: len(traces(sim)) == 1, 30), terminal.seen()[-2000:]
        assert quit_by(how, proc, terminal) == 0
    assert traces(sim) == []
    assert ALT_SCREEN_OFF in terminal.seen().rpartition(ALT_SCREEN_ON)[2]
