"""Ctrl+C (SIGINT) / SIGTERM on ``opensips-event`` at several moments of its life.

Whenever the operator interrupts it -- while starting, subscribing, idle or in
a flood of events, once or twice -- it must leave no subscriber on the
simulator, no UNIX socket file, no reply FIFO, and print no traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from opensips.sim import SimulatedOpenSIPS
from tests.waiting import wait_until, sigint_default

EVENTS = ["E_PIKE_BLOCKED", "E_CORE_LOG"]


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("opensips-event")
    return [str(script)] if script.exists() else [sys.executable, "-m", "opensips.cli.event"]


def mi_flags(sim: SimulatedOpenSIPS, conn: str) -> list[str]:
    if conn == "fifo":
        return ["-t", "fifo", "-f", sim.fifo_path, "--fifo-reply-dir", sim.fifo_reply_dir]
    if conn == "http":
        return ["-t", "http", "--url", sim.http_url]
    host, port = sim.datagram_addr  # type: ignore[misc]
    return ["-t", "datagram", "-i", host, "-p", str(port)]


def live_subscribers(sim: SimulatedOpenSIPS) -> list[dict]:
    return [s for s in sim.subscribers() if s.get("ttl") != "expired"]


class Run:
    """One opensips-event process with its stderr read on a thread (to see "listening on")."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(cli_command() + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, errors="replace", preexec_fn=sigint_default)
        self.err: list[str] = []
        self.out: list[str] = []
        self.listening = threading.Event()
        self._t = [threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
                   threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True)]
        for t in self._t:
            t.start()

    def _read(self, stream, sink: list[str]) -> None:  # noqa: ANN001
        for line in stream:
            sink.append(line)
            if "listening on" in line:
                self.listening.set()

    def finish(self, timeout: float = 10.0) -> int:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"opensips-event did not exit within {timeout}s after the signal") from None
        for t in self._t:
            t.join(2)
        return rc


def reply_dir_files(sim: SimulatedOpenSIPS) -> set[str]:
    return set(os.listdir(sim.fifo_reply_dir)) if sim.fifo_reply_dir else set()


def our_traceback(stderr: str) -> bool:
    """A traceback raised while our code was running.

    A Ctrl+C at 0.0 s can land before ``main()`` installs its quiet handler: while the
    interpreter starts ("Fatal Python error: init_import_site") or while the entry
    module's imports run (a few milliseconds; frames "in <module>"). Nothing exists to
    clean up then, and that traceback is Python's default for an interrupted import.
    """
    frames = [line.strip() for line in stderr.splitlines() if line.strip().startswith("File ")]
    if "Traceback" in stderr and not frames:
        return True
    ours = [f for f in frames if "/opensips/" in f or "/opensips_tui/" in f]
    return any(not f.endswith("in <module>") for f in ours)


def check_clean(sim: SimulatedOpenSIPS, run: Run, rc: int, before: set[str], sock: Path | None) -> None:
    stderr = "".join(run.err)
    assert not our_traceback(stderr), stderr
    assert rc in (0, 1, 130, -signal.SIGINT, -signal.SIGTERM), (rc, stderr)
    assert wait_until(lambda: not live_subscribers(sim), 3), (live_subscribers(sim), stderr)
    assert sock is None or not sock.exists(), f"socket file {sock} left behind"
    assert wait_until(lambda: reply_dir_files(sim) == before, 2), reply_dir_files(sim) - before


def flood(sim: SimulatedOpenSIPS, stop: threading.Event) -> None:
    i = 0
    while not stop.is_set():
        sim.raise_event("E_PIKE_BLOCKED", {"ip": f"10.9.{i >> 8 & 255}.{i & 255}"})
        i += 1
        time.sleep(0.0005)


MOMENTS = ["0.0", "0.1", "0.3", "listening", "streaming", "twice"]


@pytest.mark.parametrize("moment", MOMENTS)
@pytest.mark.parametrize("conn", ["fifo", "http"])
def test_sigint_leaves_nothing_behind(moment: str, conn: str, sim: SimulatedOpenSIPS, tmp_path: Path) -> None:
    sock = tmp_path / "ev.sock"
    before = reply_dir_files(sim)
    run = Run(mi_flags(sim, conn) + ["--socket-path", str(sock), *EVENTS])
    stop = threading.Event()
    flooder = threading.Thread(target=flood, args=(sim, stop), daemon=True)
    try:
        if moment in ("listening", "streaming", "twice"):
            assert run.listening.wait(10), "".join(run.err)
        if moment == "streaming":
            flooder.start()
            assert wait_until(lambda: len(run.out) > 20, 5), "".join(run.err)
        elif moment == "twice":
            flooder.start()
            wait_until(lambda: len(run.out) > 5, 5)
        else:
            if moment != "listening":
                time.sleep(float(moment))
        run.proc.send_signal(signal.SIGINT)
        if moment == "twice":
            time.sleep(0.01)  # an impatient operator: Ctrl+C again while it unsubscribes
            if run.proc.poll() is None:
                run.proc.send_signal(signal.SIGINT)
        rc = run.finish()
    finally:
        stop.set()
        if flooder.is_alive():
            flooder.join(2)
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait(5)
    check_clean(sim, run, rc, before, sock)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_while_mi_hangs_on_subscribe(sig: int, sim: SimulatedOpenSIPS, tmp_path: Path) -> None:
    """Interrupted while its event_subscribe waits on a silent OpenSIPS: exits, cleans up."""
    sock = tmp_path / "ev.sock"
    before = reply_dir_files(sim)
    sim.hang = True
    run = Run(mi_flags(sim, "fifo") + ["--timeout", "3", "--socket-path", str(sock), *EVENTS])
    try:
        # the subscribe is in flight once its reply FIFO exists (made before the request is written);
        # a fixed pause here was too short on a busy machine
        assert wait_until(lambda: reply_dir_files(sim) - before, 20), "".join(run.err)
        run.proc.send_signal(sig)
        rc = run.finish()
    finally:
        sim.hang = False
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait(5)
    check_clean(sim, run, rc, before, sock)


def test_opensips_event_keeps_receiving_across_a_quick_restart(sim: SimulatedOpenSIPS) -> None:
    """The handler's restart healing is in the library, so the command-line tool has it too."""
    before = reply_dir_files(sim)
    run = Run(mi_flags(sim, "http") + ["--listen-ip", "127.0.0.1", "E_MY_CUSTOM"])
    try:
        assert run.listening.wait(10), "".join(run.err)
        sim.restart()  # OpenSIPS forgot us; its next refresh is a minute away

        def raised_and_printed() -> bool:
            sim.raise_event("E_MY_CUSTOM", {"after": "restart"})
            return any("restart" in line for line in run.out)

        assert wait_until(raised_and_printed, 10, step=0.2), "".join(run.err)
        run.proc.send_signal(signal.SIGINT)
        rc = run.finish()
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait(5)
    check_clean(sim, run, rc, before, None)
