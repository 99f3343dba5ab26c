"""opensips.stats and opensips-stats against a real OpenSIPS 4.0.1 under SIP traffic.

Needs the real-opensips kit's exports (``eval "$(start.sh 4.0.1)"``); skipped in one line
otherwise. SIP traffic is sent from pike-exempt source ports (the kit's
``OPENSIPS_SIP_PIKE_EXEMPT_PORTS``); calls need ``sipp`` and ``OPENSIPS_KIT`` (for its
``sipp/uac.xml``), and the restart test needs ``OPENSIPS_KIT`` to run ``start.sh`` again.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from opensips.mi import OpenSIPSMI
from opensips.stats import StatsPoller

URL = os.environ.get("OPENSIPS_MI_URL", "")
if not URL:
    pytest.skip("needs a real OpenSIPS: OPENSIPS_MI_URL not set (eval the real-opensips kit's start.sh)",
                allow_module_level=True)


def _sip() -> tuple[str, int]:
    host, _, port = os.environ.get("OPENSIPS_SIP", "127.0.0.1:5060").rpartition(":")
    return host, int(port)


def _exempt_port(offset: int) -> int:
    first = os.environ.get("OPENSIPS_SIP_PIKE_EXEMPT_PORTS", "5061-5099").split("-")[0]
    return int(first) + offset


def send_options(count: int, offset: int = 20) -> int:
    """OPTIONS over UDP from a pike-exempt port; returns how many got an answer."""
    host, port = _sip()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", _exempt_port(offset)))
    sock.settimeout(2)
    answered = 0
    try:
        local = sock.getsockname()[1]
        for i in range(count):
            callid = uuid.uuid4().hex
            msg = (f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{callid[:12]}\r\n"
                   f"Max-Forwards: 70\r\nFrom: <sip:stats@127.0.0.1>;tag={i}\r\n"
                   f"To: <sip:{host}:{port}>\r\nCall-ID: {callid}\r\nCSeq: 1 OPTIONS\r\n"
                   f"Content-Length: 0\r\n\r\n")
            sock.sendto(msg.encode(), (host, port))
            try:
                if sock.recv(65535).startswith(b"SIP/2.0 200"):
                    answered += 1
            except socket.timeout:
                pass
    finally:
        sock.close()
    return answered


@pytest.fixture
def mi():
    with OpenSIPSMI("http", url=URL, timeout=5) as client:
        yield client


def test_kinds_processes_and_rates_under_options_traffic(mi):
    poller = StatsPoller(mi)
    first = poller.poll()
    assert first.up and poller.kinds_source == "statistics:list"
    assert first.kind("core:rcv_requests") == "counter" and first.kind("shmem:used_size") == "gauge"
    loads = {int(n.rsplit("-", 1)[1]) for n in first.values if n.startswith("load:load-proc-")}
    assert loads and loads <= set(first.processes), "load:load-proc-N must be a ps ID"
    assert any(t.startswith("SIP receiver") for t in first.processes.values())
    assert send_options(30) == 30
    second = poller.poll()
    assert second.values["core:rcv_requests"] - first.values["core:rcv_requests"] >= 30
    assert second.rates["core:rcv_requests"] > 0
    assert all(r is not None and r >= 0 for r in second.rates.values())
    # exec_msg_threshold=1 in the kit: every SIP message is slow
    slow = [f for f in second.findings if f.check == "slow_sip"]
    assert slow and slow[0].level == "critical", second.findings


@pytest.mark.skipif(not (shutil.which("sipp") and os.environ.get("OPENSIPS_KIT")),
                    reason="calls need sipp and OPENSIPS_KIT (its sipp/uac.xml)")
def test_calls_move_the_dialog_and_transaction_statistics(mi):
    poller = StatsPoller(mi, statistics=["dialog:", "tm:", "core:"])
    before = poller.poll()
    host, port = _sip()
    uac = Path(os.environ["OPENSIPS_KIT"]) / "sipp" / "uac.xml"
    subprocess.run(["sipp", "-sf", str(uac), "-s", "stats", "-i", "127.0.0.1", "-p", str(_exempt_port(21)),
                    "-m", "3", "-r", "3", "-d", "1000", "-nostdin", "-timeout", "30", f"{host}:{port}"],
                   check=True, capture_output=True, timeout=60)
    after = poller.poll()
    assert after.values["dialog:processed_dialogs"] - before.values["dialog:processed_dialogs"] >= 3
    assert after.values["tm:UAS_transactions"] > before.values["tm:UAS_transactions"]
    assert after.rates["dialog:processed_dialogs"] > 0


def test_opensips_stats_cli_columns_and_jsonl():
    script = Path(sys.executable).with_name("opensips-stats")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "opensips.cli.stats"]
    env = dict(os.environ, OPENSIPS_MI_URL=URL)
    out = subprocess.run(cmd + ["-n", "0.5", "-c", "3", "--json", "core:", "tm:inuse_transactions"],
                         capture_output=True, text=True, timeout=30, env=env)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(lines) == 3 and all(line["up"] for line in lines)
    assert lines[-1]["stats"]["core:rcv_requests"]["kind"] == "counter"
    assert lines[-1]["stats"]["core:rcv_requests"]["rate"] >= 0
    cols = subprocess.run(cmd + ["-n", "0.3", "-c", "2", "rcv_requests", "shmem:real_used_size"],
                          capture_output=True, text=True, timeout=30, env=env)
    header, *rows = cols.stdout.splitlines()
    assert cols.returncode == 0 and header.split() == ["time", "rcv_requests/s", "real_used_size"]
    assert len(rows) == 2


@pytest.mark.skipif(not os.environ.get("OPENSIPS_KIT"), reason="restarting needs OPENSIPS_KIT")
def test_a_restart_is_a_reset_not_a_negative_rate(mi):
    poller = StatsPoller(mi, statistics=["core:", "tm:", "load:"])
    send_options(20, offset=22)
    busy = poller.poll()
    assert busy.up and busy.values["core:rcv_requests"] >= 20
    kit = os.environ["OPENSIPS_KIT"]
    subprocess.run([os.path.join(kit, "start.sh"), os.environ.get("OPENSIPS_VERSION", "4.0.1")],
                   check=True, capture_output=True, timeout=120)
    deadline = time.monotonic() + 30
    back = poller.poll()
    while not (back.up and back.restarted) and time.monotonic() < deadline:
        time.sleep(0.5)
        back = poller.poll()
    assert back.up and back.restarted
    assert all(r is not None and r >= 0 for r in back.rates.values())
