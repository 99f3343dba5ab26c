"""``opensips-event`` as a real process against the simulator."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from tests.waiting import sigint_default


def start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "opensips.cli.event", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=sigint_default)


def wait_subscribed(sim, proc: subprocess.Popen, events: set[str], timeout: float = 10) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        subs = [s for s in sim.subscribers() if s["event"] in events and s["expire"]]
        if {s["event"] for s in subs} == events:
            return subs
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    out, err = proc.communicate()
    raise AssertionError(f"not subscribed: rc={proc.returncode} err={err!r}")


def finish(proc: subprocess.Popen, timeout: float = 10) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"did not exit: {err!r}") from None
    return proc.returncode, out, err


def test_stream_two_events_until_ctrl_c_then_unsubscribed(sim) -> None:
    proc = start(["--url", sim.http_url, "--transport", "stream", "--listen-ip", "127.0.0.1",
                  "E_MY_CUSTOM", "E_PIKE_BLOCKED"])
    subs = wait_subscribed(sim, proc, {"E_MY_CUSTOM", "E_PIKE_BLOCKED"})
    assert all(s["socket"].startswith("tcp:127.0.0.1:") for s in subs)
    sim.raise_event("E_MY_CUSTOM", {"text": "h\u00e9llo"})
    sim.raise_event("E_PIKE_BLOCKED", {"ip": "10.0.0.7"})
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    code, out, err = finish(proc)
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines == [{"jsonrpc": "2.0", "method": "E_MY_CUSTOM", "params": {"text": "h\u00e9llo"}},
                     {"jsonrpc": "2.0", "method": "E_PIKE_BLOCKED", "params": {"ip": "10.0.0.7"}}]
    assert "Traceback" not in err
    ours = {s["socket"] for s in subs}
    assert not [s for s in sim.subscribers() if s["socket"] in ours and s["expire"]]


def test_count_over_datagram_mi_and_sigterm_is_clean(sim) -> None:
    host, port = sim.datagram_addr
    proc = start(["-t", "datagram", "-i", host, "-p", str(port), "--count", "2", "E_MY_CUSTOM"])
    wait_subscribed(sim, proc, {"E_MY_CUSTOM"})
    for i in range(3):
        sim.raise_event("E_MY_CUSTOM", {"i": i})
    code, out, err = finish(proc)
    assert code == 0, err
    assert [json.loads(line)["params"]["i"] for line in out.splitlines()] == [0, 1]

    proc = start(["--url", sim.http_url, "E_MY_CUSTOM"])
    subs = wait_subscribed(sim, proc, {"E_MY_CUSTOM"})
    proc.send_signal(signal.SIGTERM)
    code, _, err = finish(proc)
    assert code == 0 and "Traceback" not in err
    assert not [s for s in sim.subscribers() if s["socket"] == subs[0]["socket"] and s["expire"]]


def test_expires_ends_the_program(sim) -> None:
    proc = start(["--url", sim.http_url, "--expires", "1", "E_MY_CUSTOM"])
    subs = wait_subscribed(sim, proc, {"E_MY_CUSTOM"})
    assert subs[0]["expire"] == 1
    sim.raise_event("E_MY_CUSTOM", {"n": 1})
    code, out, err = finish(proc, timeout=8)
    assert code == 0, err
    assert [json.loads(line) for line in out.splitlines()] == [
        {"jsonrpc": "2.0", "method": "E_MY_CUSTOM", "params": {"n": 1}}]


# The child replaces its listener's socket with /dev/null once told to (a receive error, as when
# the kernel takes the socket away), then runs the real CLI.
_SABOTEUR = """
import gc, os, sys, threading, time
from opensips.cli import event
from opensips.event import OpenSIPSEventHandler

def sabotage(flag):
    while not os.path.exists(flag):
        time.sleep(0.02)
    handler = next(o for o in gc.get_objects() if isinstance(o, OpenSIPSEventHandler))
    os.dup2(os.open(os.devnull, os.O_RDONLY), handler.listener.sock.fileno())

threading.Thread(target=sabotage, args=(sys.argv[1],), daemon=True).start()
sys.exit(event.main(sys.argv[2:]))
"""


def test_listener_failure_ends_the_program_with_the_reason(sim, tmp_path) -> None:
    """A listener that dies cannot hear anything again: exit 1 with one line, not a deaf wait."""
    flag = tmp_path / "go"
    proc = subprocess.Popen([sys.executable, "-c", _SABOTEUR, str(flag), "--url", sim.http_url, "E_MY_CUSTOM"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=sigint_default)
    wait_subscribed(sim, proc, {"E_MY_CUSTOM"})
    flag.touch()
    code, out, err = finish(proc, timeout=10)
    assert code == 1, err
    assert "opensips-event: error: listening for E_MY_CUSTOM failed:" in err and "Traceback" not in err
    assert not [s for s in sim.subscribers() if s["event"] == "E_MY_CUSTOM" and s["expire"]]


def test_unix_socket_listener(sim) -> None:
    d = tempfile.mkdtemp(prefix="cli-")
    path = os.path.join(d, "ev.sock")
    try:
        proc = start(["--url", sim.http_url, "--socket-path", path, "--count", "1", "E_MY_CUSTOM"])
        subs = wait_subscribed(sim, proc, {"E_MY_CUSTOM"})
        assert subs[0]["socket"] == f"unix:{path}"
        sim.raise_event("E_MY_CUSTOM")
        code, out, err = finish(proc)
        assert code == 0, err
        assert json.loads(out) == {"jsonrpc": "2.0", "method": "E_MY_CUSTOM"}
        assert not os.path.exists(path)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("case", ["unknown_event", "unreachable", "bad_flag", "stream_with_socket_path",
                                  "bad_count", "huge_expires"])
def test_errors_are_one_line_without_traceback(sim, case: str) -> None:
    argv, want_code, want = {
        "unknown_event": (["--url", sim.http_url, "E_NO_SUCH_EVENT"], 1, "E_NO_SUCH_EVENT"),
        "unreachable": (["--url", "http://127.0.0.1:1/mi", "--timeout", "2", "E_MY_CUSTOM"], 1,
                        "Connection refused"),
        "bad_flag": (["--transport", "carrier-pigeon", "E_MY_CUSTOM"], 2, "--transport"),
        "stream_with_socket_path": (["--transport", "stream", "--socket-path", "/tmp/x.sock", "E"], 2,
                                    "--socket-path"),
        "bad_count": (["--count", "0", "E_MY_CUSTOM"], 2, "--count"),
        "huge_expires": (["--expires", "1" + "0" * 30, "E_MY_CUSTOM"], 2, "--expires"),
    }[case]
    code, out, err = finish(start(argv))
    assert code == want_code, err
    assert out == ""
    assert err.startswith("opensips-event: error:") and err.count("\n") == 1 and want in err
    assert "Traceback" not in err
