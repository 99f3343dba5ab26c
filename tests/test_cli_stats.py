"""``opensips-stats`` against the simulator: columns, blocks, JSONL, DOWN, pipes, signals, usage."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from opensips.cli.stats import Printer, main, printable
from opensips.stats.numbers import short_number
from opensips.stats import Sample, Selection
from tests.test_faults_cli import our_traceback
from tests.waiting import sigint_default


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def command() -> list[str]:
    script = Path(sys.executable).with_name("opensips-stats")
    return [str(script)] if script.exists() else [sys.executable, "-m", "opensips.cli.stats"]


def test_console_script_declared() -> None:
    eps = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert eps.get("opensips-stats") == "opensips.cli.stats:main"


def test_columns_with_rates_for_counters(sim_factory, capsys):
    sim = sim_factory(rate=100, seed=1)
    code, out, err = run(["--url", sim.http_url, "-n", "0.2", "-c", "3",
                          "tm:inuse_transactions", "rcv_requests", "shmem:total_size"], capsys)
    assert code == 0 and err == ""
    header, *rows = out.splitlines()
    assert header.split() == ["time", "inuse_transactions", "rcv_requests/s", "total_size"]
    assert len(rows) == 3
    widths = {len(r) for r in rows} | {len(header)}
    assert len(widths) == 1, out            # aligned
    assert rows[0].split()[2] == "-"       # no rate before a second poll
    assert float(rows[2].split()[2]) >= 0 and rows[2].split()[3] == "67.1M"


def test_many_statistics_print_as_blocks(sim, capsys):
    code, out, _ = run(["--url", sim.http_url, "-n", "0.1", "-c", "2", "tm:"], capsys)
    blocks = out.split("-- ")[1:]
    assert code == 0 and len(blocks) == 2
    lines = blocks[1].splitlines()[1:]
    assert [l.split()[0] for l in lines] == [n for n in sim.dispatcher.statistics() if n.startswith("tm:")]
    assert lines[0].endswith("/s") and lines[0].split()[1] == "0"


def test_jsonl(sim, capsys):
    code, out, _ = run(["--url", sim.http_url, "--json", "-n", "0.1", "-c", "2", "*slow*", "shmem:"], capsys)
    first, second = (json.loads(line) for line in out.splitlines())
    assert code == 0 and first["up"] and not first["restarted"]
    assert list(second["stats"])[:4] == ["core:slow_messages", "dns:dns_slow_queries",
                                         "sql:sql_slow_queries", "cdb:cdb_slow_queries"]
    assert first["stats"]["core:slow_messages"] == {"value": 0, "kind": "counter", "rate": None}
    assert second["stats"]["core:slow_messages"]["rate"] == 0.0
    assert "rate" not in second["stats"]["shmem:used_size"]
    assert second["stats"]["shmem:used_size"]["kind"] == "gauge"


def test_down_is_reported_and_the_last_poll_decides_the_status(capsys):
    code, out, err = run(["--url", "http://127.0.0.1:9/mi", "-c", "1", "--timeout", "1"], capsys)
    assert code == 1 and out == "" and "DOWN" in err and len(err.splitlines()) == 1
    code, out, _ = run(["--url", "http://127.0.0.1:9/mi", "-c", "1", "--json", "--timeout", "1"], capsys)
    line = json.loads(out)
    assert code == 1 and line["up"] is False and line["error"]


@pytest.mark.parametrize("argv,needle", [
    (["--bogus"], "unrecognized arguments"),
    (["-n", "0"], "--interval"),
    (["-n", "nan"], "--interval"),
    (["-c", "0"], "--count"),
    (["a:b:c"], "bad statistic pattern"),
    (["-t", "carrier-pigeon"], "invalid choice"),
])
def test_bad_usage_is_one_line_and_status_2(argv, needle, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:     # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_names_from_the_wire_cannot_drive_the_terminal():
    assert printable("core:\x1b[31mred\x07") == "core:?[31mred?"
    assert short_number(67108864) == "67.1M" and short_number(12) == "12" and short_number(2.5, 1) == "2.5"
    assert short_number(123456) == "123.5k" and short_number(2e9) == "2.0G"

    class Out:
        def __init__(self):
            self.text = ""

        def write(self, s):
            self.text += s

        def flush(self):
            pass

        def isatty(self):
            return False

    out = Out()
    evil = "x:\x1b]0;owned\x07"
    Printer(Selection([]), False, out, Out()).write(Sample(0.0, 0.0, True, {evil: 1}))
    Printer(Selection([]), True, out, Out()).write(Sample(0.0, 0.0, True, {evil: 1}))
    assert "\x1b" not in out.text and "\x07" not in out.text


def test_a_closed_pipe_ends_quietly(sim):
    proc = subprocess.run(f"{' '.join(command())} --url {sim.http_url} -n 0.05 | head -2",
                          shell=True, capture_output=True, text=True, timeout=30)
    assert proc.stdout.count("\n") == 2 and proc.stderr == ""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_exit_cleanly(sig, sim):
    proc = subprocess.Popen(command() + ["--url", sim.http_url, "-n", "0.05"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=sigint_default)
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.readline()           # running: header and a first row printed
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert not our_traceback(err) and "Traceback" not in err


def test_a_full_disk_is_one_line_and_status_1(sim):
    with open("/dev/full", "w") as full:
        proc = subprocess.run(command() + ["--url", sim.http_url, "-c", "1"], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=30)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "cannot write" in proc.stderr


def test_mi_settings_from_the_environment_like_opensips_mi(sim, capsys, monkeypatch):
    monkeypatch.setenv("OPENSIPS_MI_URL", sim.http_url)
    code, out, err = run(["-c", "1", "--json", "core:rcv_requests"], capsys)
    assert code == 0 and err == "" and json.loads(out)["stats"]["core:rcv_requests"]["value"] == 0
    host, port = sim.datagram_addr
    monkeypatch.delenv("OPENSIPS_MI_URL")
    monkeypatch.setenv("OPENSIPS_MI_TYPE", "datagram")
    monkeypatch.setenv("OPENSIPS_MI_IP", host)
    monkeypatch.setenv("OPENSIPS_MI_PORT", str(port))
    code, out, _ = run(["-c", "1", "--json", "shmem:total_size"], capsys)
    assert code == 0 and json.loads(out)["stats"]["shmem:total_size"]["kind"] == "gauge"


def test_main_leaves_the_callers_sigterm_handler_as_it_was(sim, capsys):
    """Called from Python (a script, this suite), main() must not leave its SIGTERM handler behind:
    a later SIGTERM to the caller would raise KeyboardInterrupt wherever it happened to be."""
    before = signal.getsignal(signal.SIGTERM)
    code, _out, _err = run(["--url", sim.http_url, "-c", "1", "core:"], capsys)
    assert code == 0 and signal.getsignal(signal.SIGTERM) is before
