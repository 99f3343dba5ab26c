"""The real monitor in a pseudo-terminal: SIGTERM and SIGHUP (a closed terminal, a dropped SSH
session) quit like ``q``: terminal restored, nothing left subscribed in OpenSIPS, no socket file."""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from opensips.sim import SimulatedOpenSIPS
from tests.tui_pilot import live
from tests.waiting import sigint_default, wait_until

ALT_SCREEN_ON, ALT_SCREEN_OFF = b"\x1b[?1049h", b"\x1b[?1049l"
CURSOR_SHOWN = b"\x1b[?25h"


class Terminal:
    """A pty of 80x24 whose output is collected by a thread (so the app never blocks on writing)."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.output = bytearray()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closing.is_set():
            if not select.select([self.master], [], [], 0.05)[0]:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every writer closed the slave
                return
            if not chunk:
                return
            with self._lock:
                self.output += chunk

    def seen(self) -> bytes:
        with self._lock:
            return bytes(self.output)

    def close(self) -> None:
        """Hang up: stop reading, then close our end (the app's writes then fail)."""
        self._closing.set()
        self._reader.join(5)
        os.close(self.master)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal()
    yield term
    term.close()


@pytest.fixture
def sockdir() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="tui-")  # short: UNIX socket paths are limited to ~107 bytes
    yield d
    shutil.rmtree(d, ignore_errors=True)


def start_monitor(sim: SimulatedOpenSIPS, terminal: Terminal, sockdir: str,
                  extra: tuple[str, ...] = ()) -> subprocess.Popen:
    """opensips-tui on ``terminal``, on ``sim``'s http MI, subscribed to two events over a UNIX
    socket; ``extra``: more flags."""
    config = os.path.join(sockdir, "config.toml")
    open(config, "w").close()  # an empty config: the operator's own must not change the test
    env = {**os.environ, "TERM": "xterm-256color", "XDG_CONFIG_HOME": sockdir, "HOME": sockdir}
    env.pop("TEXTUAL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "opensips_tui", "--type", "http", "--url", sim.http_url or "",
         "--socket-path", os.path.join(sockdir, "tui.sock"), "--subscribe", "E_PIKE_BLOCKED,E_MY_CUSTOM",
         "--config", config, *extra],
        stdin=terminal.slave, stdout=terminal.slave, stderr=terminal.slave, env=env,
        start_new_session=True, preexec_fn=sigint_default)
    os.close(terminal.slave)
    return proc


def quit_by(how: str, proc: subprocess.Popen, terminal: Terminal) -> int:
    """Quit the monitor as an operator would (``q``, ``ctrl+c``, or a signal's name): its exit status."""
    if how in ("q", "ctrl+c"):
        os.write(terminal.master, b"q" if how == "q" else b"\x03")
    else:
        proc.send_signal(getattr(signal, how))
    return proc.wait(30)


@contextmanager
def killed_at_end(proc: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """``proc``, killed if a failed assertion left it running."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_signal_quits_like_q(sig: int, sim: SimulatedOpenSIPS, terminal: Terminal, sockdir: str) -> None:
    path = os.path.join(sockdir, "tui.sock")
    proc = start_monitor(sim, terminal, sockdir)
    try:
        assert wait_until(lambda: len(live(sim)) == 2, 30), terminal.seen()[-2000:]
        assert os.path.exists(path) and ALT_SCREEN_ON in terminal.seen()
        proc.send_signal(sig)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert live(sim) == []
    assert not os.path.exists(path)
    tail = terminal.seen().rpartition(ALT_SCREEN_ON)[2]
    assert ALT_SCREEN_OFF in tail and CURSOR_SHOWN in tail


def test_hangup_of_a_terminal_that_is_gone(sim: SimulatedOpenSIPS, sockdir: str) -> None:
    """An SSH drop: the terminal disappears (writes fail with EIO), then SIGHUP. Still a clean exit."""
    term = Terminal()
    proc = start_monitor(sim, term, sockdir)
    try:
        assert wait_until(lambda: len(live(sim)) == 2, 30), term.seen()[-2000:]
        term.close()  # the other end of the pty is gone
        proc.send_signal(signal.SIGHUP)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert live(sim) == []
    assert not os.path.exists(os.path.join(sockdir, "tui.sock"))
