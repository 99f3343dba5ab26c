"""Simulator lifecycle: nothing left behind after stop (threads, FIFOs, sockets, work dir)."""

from __future__ import annotations

import os
import socket
import threading
import time

from opensips.sim import SimulatedOpenSIPS
from tests.wire import sample


def _sim_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("opensips-sim") and t.is_alive()]


def test_stop_leaves_nothing(listeners):
    before = set(_sim_threads())
    sim = SimulatedOpenSIPS(rate=200)
    with sim:
        workdir, fifo, unix = sim.workdir, sim.fifo_path, sim.datagram_unix_path
        assert os.path.exists(fifo) and os.path.exists(unix)
        tcp = listeners("tcp")
        sim.registry.subscribe("E_CORE_LOG", tcp.socket)
        port = int(sim.http_url.rsplit(":", 1)[1].split("/")[0])
        parked = socket.create_connection(("127.0.0.1", port), timeout=3)
        parked.sendall(sample("4.0.1", "http", "version_notification_no_id")["request_raw"].encode())
        assert parked.recv(100).startswith(b"HTTP/1.1 202")
        assert tcp.wait(10)
    deadline = time.monotonic() + 2
    while set(_sim_threads()) - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert set(_sim_threads()) - before == set()
    assert not os.path.exists(workdir)
    parked.close()


def test_user_workdir_is_kept_but_emptied(tmp_path):
    with SimulatedOpenSIPS(workdir=str(tmp_path)) as sim:
        assert sorted(os.listdir(tmp_path)) == ["mi_dgram.sock", "opensips_fifo"]
        assert sim.running
    assert not sim.running
    assert os.listdir(tmp_path) == []


def test_mi_kwargs_per_transport(sim):
    assert sim.mi_kwargs("http") == {"url": sim.http_url}
    assert sim.mi_kwargs("datagram") == {"datagram_ip": "127.0.0.1", "datagram_port": sim.datagram_addr[1]}
    assert sim.mi_kwargs("fifo")["fifo_file"] == sim.fifo_path
    assert sim.mi_kwargs("datagram_unix") == {"datagram_unix_socket": sim.datagram_unix_path}


def test_only_some_endpoints(sim_factory):
    sim = sim_factory(fifo=False, datagram_unix=False, http=False)
    assert [k for k, _ in sim.endpoints()] == ["mi_datagram"]
    assert sim.http_url is None and sim.fifo_path is None


def test_restart_forgets_subscribers_and_is_up_since_later(sim) -> None:
    """What tests of restarts need: an empty subscriber table and a new uptime "Up since"."""
    sim.dispatcher.execute("event_subscribe", {"event": "E_MY_CUSTOM", "socket": "udp:127.0.0.1:9", "expire": 60})
    before = sim.dispatcher.execute("uptime", None)["Up since"]
    sim.restart()
    assert sim.subscribers() == []
    assert sim.dispatcher.execute("uptime", None)["Up since"] != before
