"""Traffic generator and the `opensips-sim` console script."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

from opensips.sim.traffic import TRAFFIC_EVENTS, TrafficGenerator
from tests.conftest import mi_http_raw

VOLATILE = {"time", "expires"}


def _events(seed: int, n: int, hostile: bool = False) -> list[tuple[str, dict]]:
    gen = TrafficGenerator(lambda *a: None, seed=seed, hostile=hostile)
    return [gen.next_event() for _ in range(n)]


def _stable(events):
    return [(name, {k: v for k, v in p.items() if k not in VOLATILE}) for name, p in events]


def test_seed_makes_traffic_reproducible():
    assert _stable(_events(7, 300)) == _stable(_events(7, 300))
    assert _stable(_events(7, 300)) != _stable(_events(8, 300))


def test_event_shapes():
    seen = {}
    for name, params in _events(1, 2000):
        seen.setdefault(name, params)
        json.dumps(params)
    assert set(seen) == set(TRAFFIC_EVENTS)
    assert set(seen["E_PIKE_BLOCKED"]) == {"ip"}
    assert set(seen["E_CORE_THRESHOLD"]) == {"source", "time", "extra"}
    assert {"aor", "uri", "received", "user_agent", "expires", "callid"} <= set(seen["E_UL_CONTACT_INSERT"])
    assert set(seen["E_DLG_STATE_CHANGED"]) == {"hash_entry", "hash_id", "callid", "from_tag",
                                                "to_tag", "old_state", "new_state"}
    assert set(seen["E_CORE_LOG"]) == {"time", "pid", "level", "module", "function", "message"}
    assert set(seen["E_CORE_TCP_DISCONNECT"]) == {"src_ip", "src_port", "dst_ip", "dst_port", "proto"}


def test_hostile_values_only_when_asked():
    def has_markup(events):
        return any("[" in json.dumps(p, ensure_ascii=False) for _n, p in events)

    assert not has_markup(_events(3, 3000))
    assert has_markup(_events(3, 3000, hostile=True))


def test_rate_delivers_only_to_subscribers(sim_factory, listeners):
    sim = sim_factory(seed=5)
    udp = listeners("udp")
    sim.registry.subscribe("E_CORE_THRESHOLD", udp.socket)
    sim.set_rate(2000)
    got = udp.recv(50, timeout=3)
    sim.set_rate(0)
    assert len(got) == 50
    assert {json.loads(g)["method"] for g in got} == {"E_CORE_THRESHOLD"}
    assert sim.traffic.generated > len(got)     # other events were generated but not sent


def test_cli_prints_endpoints_and_cleans_up_on_sigterm(tmp_path):
    fifo = tmp_path / "fifo"
    unix = tmp_path / "mi.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "opensips.sim", "--mi-http", "127.0.0.1:0", "--mi-fifo", str(fifo),
         "--mi-datagram", "127.0.0.1:0", "--mi-datagram-unix", str(unix), "--rate", "10",
         "--version", "3.6.8"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out = b""
        deadline = time.monotonic() + 10
        while out.count(b"\n") < 5 and time.monotonic() < deadline:
            r, _, _ = select.select([proc.stdout], [], [], 0.2)
            if r:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                out += chunk
        lines = out.decode().splitlines()
        kinds = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in lines[1:]}
        assert lines[0].startswith("opensips-sim 3.6.8")
        assert set(kinds) == {"mi_http", "mi_fifo", "mi_datagram", "mi_datagram_unix"}
        assert fifo.exists() and unix.exists()
        status, body = mi_http_raw(kinds["mi_http"], '{"jsonrpc":"2.0","method":"version","id":1}')
        assert json.loads(body)["result"]["Server"] == "OpenSIPS (3.6.8 (x86_64/linux))"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
    assert not fifo.exists() and not unix.exists()
    assert os.listdir(tmp_path) == []
