"""The real monitor with ``--record`` in a pseudo-terminal: q, Ctrl+C, SIGTERM and SIGHUP all
close the recording: every notification it counted is in the file, in whole lines, and the
last line on the terminal says how many."""

from __future__ import annotations

import os
import re

import pytest

from opensips.record import Recording
from opensips.sim import SimulatedOpenSIPS
from tests.test_tui_signals import (ALT_SCREEN_OFF, ALT_SCREEN_ON, Terminal, killed_at_end, quit_by,  # noqa: F401
                                    sockdir, start_monitor, terminal)
from tests.tui_pilot import live
from tests.waiting import wait_until


def lines(path: str) -> int:
    with open(path, "rb") as f:
        return f.read().count(b"\n")


@pytest.mark.parametrize("how", ["q", "ctrl+c", "SIGTERM", "SIGHUP"])
def test_every_exit_closes_the_recording(how: str, sim: SimulatedOpenSIPS, terminal: Terminal, sockdir: str) -> None:
    path = os.path.join(sockdir, "rec.jsonl")
    with killed_at_end(start_monitor(sim, terminal, sockdir, ("--record", path))) as proc:
        assert wait_until(lambda: len(live(sim)) == 2, 30), terminal.seen()[-2000:]
        for batch in range(3):   # a UNIX datagram socket queues 10: batches of 8, each seen on the disk
            for i in range(batch * 8, batch * 8 + 8):
                sim.raise_event("E_PIKE_BLOCKED", {"ip": f"10.0.0.{i}"})
            assert wait_until(lambda: lines(path) == 1 + (batch + 1) * 8, 30), terminal.seen()[-2000:]
        for i in range(8):   # these are still in the recorder's buffer when the quit comes
            sim.raise_event("E_MY_CUSTOM", {"n": i})
        assert quit_by(how, proc, terminal) == 0
    tail = terminal.seen().rpartition(ALT_SCREEN_ON)[2]
    assert ALT_SCREEN_OFF in tail
    said = re.search(rb"opensips-tui: recorded (\d+) notifications in (\S+)", tail)
    assert said is not None, tail[-500:]
    recording = Recording(path)
    assert len(recording) == int(said.group(1)) >= 24 and said.group(2).decode() == path
    assert (recording.garbage, recording.truncated, recording.lost) == (0, 0, 0)
    assert [r.notification["params"]["ip"] for r in recording if r.event == "E_PIKE_BLOCKED"] == \
        [f"10.0.0.{i}" for i in range(24)]
    assert live(sim) == []
