"""``opensips-trace`` against the simulator: lines, -v, --json, -w, signals, bad flags, hostile SIP."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time

import pytest

from opensips.hep.jsonl import read_jsonl
from opensips.mi import OpenSIPSMI
from opensips.sim.sipgen import PROXY, SipMessage


def start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "opensips.cli.trace", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def listed(sim) -> list[str]:
    with OpenSIPSMI("http", url=sim.http_url) as mi:
        return [d["name"] for d in mi.execute("tracer:trace")["trace destinations"]]


def wait_tracing(sim, proc) -> str:
    line = proc.stderr.readline()
    assert "tracing" in line, line + proc.stderr.read()
    trace_id = line.split()[2]
    assert listed(sim) == [trace_id]
    return trace_id


@pytest.fixture
def sim(sim_factory):
    return sim_factory(sip_rate=0, seed=11)


def test_one_line_per_message_of_a_call(sim) -> None:
    proc = start(["--url", sim.http_url, "-c", "14"])
    wait_tracing(sim, proc)
    call = sim.tracer.sipgen.call(0)
    assert sim.tracer.send_item(call) == 14
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 14 and all(call[0].call_id in line for line in lines)
    assert [line.split()[5] for line in lines] == ["INVITE", "100", "INVITE", "100", "180", "180", "200", "200",
                                                    "ACK", "ACK", "BYE", "BYE", "200", "200"]
    a, b = call[0].src, call[2].dst
    assert f"{a[0]}:{a[1]} -> {PROXY[0]}:{PROXY[1]}" in lines[0] or "5061" in lines[0]
    assert f"127.0.0.1:5060 -> {b[0]}:{b[1]} INVITE sip:" in lines[2]
    assert listed(sim) == []


def test_hostile_sip_is_escaped(sim) -> None:
    nasty = (b"INVITE sip:\x1b]0;owned\x07@x SIP/2.0\r\nCall-ID: c1\x1b[2J\xe2\x80\xae\r\nUser-Agent: \x9b31m\xe2\x80\xae"
             b"\r\nFrom: <sip:a@b>\r\nCSeq: 1 INVITE\r\n\r\n")
    msg = SipMessage(0, ("192.0.2.1", 5060), PROXY, 17, nasty, "c1", True, "INVITE", "a", "b")
    for flags in ([], ["-v"]):
        proc = start(["--url", sim.http_url, "-c", "1", *flags])
        wait_tracing(sim, proc)
        sim.tracer.send_item([msg])
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert not any(c in out for c in "\x1b\x07\x9b\u202e"), repr(out)
        assert "\\x1b]0;owned\\x07" in out


def test_json_and_pcap(sim, tmp_path) -> None:
    pcap = tmp_path / "t.pcap"
    proc = start(["--url", sim.http_url, "--json", "-c", "2", "-w", str(pcap), "-F", "ip=127.0.0.1", "-s", "t"])
    wait_tracing(sim, proc)
    reg = sim.tracer.sipgen.register()
    sim.tracer.send_item(reg)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    packets = list(read_jsonl(io.StringIO(out)))
    assert [p.payload for p in packets] == [m.payload for m in reg]
    assert json.loads(out.splitlines()[0])["transport"] in ("UDP", "TLS")
    data = pcap.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1" and reg[1].payload in data


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signals_stop_the_trace(sim, sig) -> None:
    proc = start(["--url", sim.http_url])
    wait_tracing(sim, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert listed(sim) == []


def test_kept_trace_is_exit_1_with_the_command(sim) -> None:
    with OpenSIPSMI("http", url=sim.http_url) as mi:
        mi.execute("tracer:start", {"id": "older", "uri": "hep:127.0.0.1:9;transport=udp;version=3"})
        proc = start(["--url", sim.http_url, "--duration", "0.5", "--id", "mine"])
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 1
        assert f"run: opensips-mi --url {sim.http_url} tracer:stop id=mine" in err
        mi.execute("tracer:stop", {"id": "older"})
        mi.execute("tracer:stop", {"id": "mine"})
        assert mi.execute("tracer:trace")["trace destinations"] == []


@pytest.mark.parametrize("argv,why", [
    (["-s", "t"], "scope and type need a filter"),
    (["-F", "user=x"], "bad tracer filter"),
    (["-c", "0"], "argument -c/--count: '0' is not a number from 1"),
    (["-d", "-1"], "argument -d/--duration: '-1' is not a number"),
    (["-d", "nan"], "argument -d/--duration: 'nan' is not a number"),
    (["-T", "sctp"], "invalid choice"),
    (["-lp", "70000"], "'70000' is not a number from 0 to 65535"),
    (["--json", "-v"], "not allowed with"),
    (["-w", "/nonexistent/dir/x.pcap"], "cannot write"),
    (["--timeout", "x"], "bad MI settings"),
])
def test_bad_flags_are_one_line_and_exit_2(sim, argv, why) -> None:
    proc = start(["--url", sim.http_url, *argv])
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and why in err and len(err.strip().splitlines()) == 1, err
    assert listed(sim) == []


def test_unreachable_mi_is_exit_1(sim) -> None:
    url = sim.http_url
    sim.stop()
    proc = start(["--url", url, "--timeout", "1"])
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "cannot reach OpenSIPS" in err and len(err.strip().splitlines()) == 1
