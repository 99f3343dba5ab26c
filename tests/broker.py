"""A real RabbitMQ broker for the tests: Debian's rabbitmq-server, one per test session.

Everything is its own: a node name, free ports (AMQP, Erlang distribution, and an epmd of
its own, so no other broker or test run on the machine collides with it), a data and log
directory under a temporary directory, no plugins (a faster start). ``restart()`` stops the
broker process and starts it again on the same port and data, as an operator's restart.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")   # Debian's; /usr/sbin's wrapper su's to rabbitmq
EPMD = shutil.which("epmd") or "/usr/bin/epmd"
START_TIMEOUT = 120.0


def unavailable() -> str | None:
    """Why no broker can be started here (one line), or None."""
    if not SERVER.exists():
        return (f"RabbitMQ tests need Debian's rabbitmq-server ({SERVER} not found; "
                ".ci/run installs it when run as root with apt)")
    if not os.path.exists(EPMD):
        return "RabbitMQ tests need epmd (Debian's erlang-base), not found"
    try:
        import pika  # noqa: F401
    except ImportError:
        return "RabbitMQ tests need pika: pip install '.[amqp]' (or '.[test]')"
    return None


def free_port() -> int:
    """A free port BELOW the kernel's ephemeral range: a port the kernel hands out (bind 0) can be
    given again, between our check and the broker's bind, as the local port of any outgoing
    connection the suite makes; then the broker's listener fails (CI saw that once)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 0
    rng = random.Random()
    for _ in range(200 if low > 11000 else 0):
        port = rng.randrange(10000, low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _group_alive(pgid: int) -> bool:
    """A process of group ``pgid`` still runs (zombies left to an init that does not reap aside)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


class Broker:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="opensips-test-rabbitmq-"))
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = f"opensips-test-{uuid.uuid4().hex[:8]}@localhost"
        (self.dir / "enabled_plugins").write_text("[].\n")
        self.env = {
            **os.environ,
            "HOME": str(self.dir),                    # the Erlang cookie lives here
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_LOGS": str(self.dir / "log" / "broker.log"),
            "RABBITMQ_PID_FILE": str(self.dir / "broker.pid"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.dir / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(self.dir / "plugins-expand"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        self.epmd: subprocess.Popen | None = None
        self.proc: subprocess.Popen | None = None
        self.started_in = 0.0   # seconds the first start took (reported by the suite)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self) -> None:
        began = time.monotonic()
        if self.epmd is None:
            self.epmd = subprocess.Popen([EPMD, "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                                         env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = open(self.dir / "stdout.log", "ab")
        self.proc = subprocess.Popen([str(SERVER)], env=self.env, cwd=self.dir, stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        out.close()
        self._wait_ready()
        if not self.started_in:
            self.started_in = time.monotonic() - began

    def _wait_ready(self) -> None:
        import pika
        params = pika.URLParameters(self.url + "?connection_attempts=1&socket_timeout=2")
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited ({self.proc.returncode}): {self.log_tail()}")
            try:
                pika.BlockingConnection(params).close()
                return
            except pika.exceptions.AMQPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"rabbitmq-server not ready after {START_TIMEOUT:.0f} s: {self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, lines: int = 15) -> str:
        text = ""
        for name in ("stdout.log", "log/broker.log"):
            try:
                text += (self.dir / name).read_text(errors="replace")
            except OSError:
                pass
        return "\n".join(text.splitlines()[-lines:])

    def stop_broker(self) -> None:
        """Stop the broker's process group (ours: start_new_session), gracefully, then for good."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                proc.poll()                       # reap the shell that led the group
                if not _group_alive(proc.pid):
                    return
                time.sleep(0.1)

    def restart(self) -> None:
        self.stop_broker()
        self.start()

    def close(self) -> None:
        self.stop_broker()
        if self.epmd is not None:
            self.epmd.terminate()
            try:
                self.epmd.wait(5)
            except subprocess.TimeoutExpired:
                self.epmd.kill()
                self.epmd.wait(5)
            self.epmd = None
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    """A started broker for one test module, stopped at its end; a one-line skip without one."""
    why = unavailable()
    if why is not None:
        pytest.skip(why)
    b = Broker()
    try:
        b.start()
    except Exception:
        b.close()
        raise
    sys.stderr.write(f"\n[rabbitmq-server started in {b.started_in:.1f} s]\n")
    yield b
    b.close()
