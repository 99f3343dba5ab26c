"""opensips-trace and TraceSession against a real OpenSIPS 4.0.1 (tracer + proto_hep) with sipp calls.

A call through the proxy shows in full (INVITE, 100, 180, 200, ACK, BYE, 200 on both legs, 14
messages in OpenSIPS's default dialog scope), the trace is gone from ``tracer:trace`` after
the tool exits (normally, and on SIGTERM), a stranger's HEP is refused, and the pcap it wrote
opens in tshark. Offsets 30-35 of the pike-exempt ports are this module's.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from opensips.hep import decode, encode
from opensips.hep.session import TraceSession
from opensips.hep.sip import summarize
from tests.integration.conftest import connector

pytestmark = pytest.mark.skipif(not (shutil.which("sipp") and os.environ.get("OPENSIPS_KIT")),
                                reason="calls need sipp and OPENSIPS_KIT (its sipp/uac.xml)")


def _sip() -> str:
    return os.environ.get("OPENSIPS_SIP", "127.0.0.1:5060")


def _exempt_port(offset: int) -> int:
    return int(os.environ.get("OPENSIPS_SIP_PIKE_EXEMPT_PORTS", "5061-5099").split("-")[0]) + offset


def call(service: str, offset: int) -> None:
    uac = Path(os.environ["OPENSIPS_KIT"]) / "sipp" / "uac.xml"
    subprocess.run(["sipp", "-sf", str(uac), "-s", service, "-i", "127.0.0.1", "-p", str(_exempt_port(offset)),
                    "-m", "1", "-d", "300", "-nostdin", "-timeout", "20", _sip()],
                   check=True, capture_output=True, timeout=40)


def names(mi) -> list[str]:
    return [d["name"] for d in mi.execute("tracer:trace")["trace destinations"]]


def start_cli(real, *argv: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "opensips.cli.trace", "--url", real["OPENSIPS_MI_URL"], *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_started(proc: subprocess.Popen) -> str:
    line = proc.stderr.readline()
    assert "tracing" in line, line + proc.stderr.read()
    return line.split()[2]


def test_opensips_trace_shows_a_full_call_and_leaves_no_trace(real, tmp_path) -> None:
    pcap = tmp_path / "call.pcap"
    with connector(real, "http") as mi:
        proc = start_cli(real, "-c", "14", "-w", str(pcap))
        try:
            trace_id = wait_started(proc)
            assert trace_id in names(mi)
            call("hepcall14", 30)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        assert proc.returncode == 0, err
        lines = out.splitlines()
        assert len(lines) == 14, out
        what = [line.split()[5] for line in lines]
        assert sorted(what) == sorted(["INVITE", "100", "INVITE", "100", "180", "180", "200", "200",
                                       "ACK", "ACK", "BYE", "BYE", "200", "200"]), out
        assert len({line.split()[-1] for line in lines}) == 1  # one Call-ID
        assert trace_id not in names(mi)
    if shutil.which("tshark"):
        rows = subprocess.run(["tshark", "-r", str(pcap), "-T", "fields", "-e", "ip.src", "-e", "udp.srcport",
                               "-e", "sip.CSeq.method", "-e", "sip.Call-ID"],
                              capture_output=True, text=True, check=True, timeout=60).stdout.splitlines()
        assert len(rows) == 14 and all(r.split("\t")[0] == "127.0.0.1" for r in rows)
        assert {r.split("\t")[2] for r in rows} == {"INVITE", "ACK", "BYE"}


def test_sigterm_stops_the_trace(real) -> None:
    with connector(real, "http") as mi:
        proc = start_cli(real)
        try:
            trace_id = wait_started(proc)
            assert trace_id in names(mi)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        assert trace_id not in names(mi)


def test_session_scope_t_options_and_strangers(real) -> None:
    host, _, port = _sip().rpartition(":")
    got: list = []
    arrived = threading.Event()

    def keep(packet) -> None:
        got.append(packet)
        if len(got) >= 2:
            arrived.set()

    with connector(real, "fifo") as mi:
        with TraceSession(mi, keep, filters=["ip=127.0.0.1"], scope="t") as session:
            assert session.address[0] == "127.0.0.1"  # MI over the FIFO is local: loopback only
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as ua:
                ua.bind(("127.0.0.1", _exempt_port(31)))
                ua.settimeout(5)
                ua.sendto((f"OPTIONS sip:ping@{host} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{_exempt_port(31)};"
                           f"branch=z9hG4bK-trace{time.time_ns()}\r\nMax-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;"
                           f"tag=1\r\nTo: <sip:ping@{host}>\r\nCall-ID: trace-real-{time.time_ns()}\r\n"
                           f"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode(), (host, int(port)))
                assert ua.recv(65535).startswith(b"SIP/2.0 200")
            assert arrived.wait(10), got
            assert [summarize(p.payload).label for p in got[:2]] == ["OPTIONS", "200 OK"]
            assert got[0].transport == "UDP" and got[0].dst_port == int(port)
            # a local stranger replays a real packet: refused, never delivered
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
                stranger.sendto(b"HEP3\x00\x06", session.address)
                stranger.sendto(encode(got[0]), session.address)
            deadline = time.monotonic() + 10
            while session.stats["refused"] < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert session.stats["refused"] == 2 and session.stats["garbage"] == 0
            assert session.stats["delivered"] == len(got)
            trace_id = session.trace_id
        assert trace_id not in names(mi) and session.left_running is None
    assert decode(encode(got[0])) == got[0]
