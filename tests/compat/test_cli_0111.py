"""The command lines of the PyPI ``opensips`` 0.1.11 tools, run unchanged against the simulator.

Its bash completion file and Docker entrypoint call ``opensips-mi`` and
``opensips-event`` with these flags, environment variables and ``-bc`` words.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from opensips.cli import event as event_cli
from opensips.cli import mi as mi_cli


def run(main, argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def http_flags(sim) -> list[str]:
    host_port = sim.http_url.split("/")[2]
    assert sim.http_url.endswith("/mi")  # 0.1.11 builds http://IP:PORT/mi
    host, port = host_port.rsplit(":", 1)
    return ["-t", "http", "-i", host, "-p", port]


def test_transport_flags(sim, capsys, tmp_path) -> None:
    host, port = sim.datagram_addr
    for flags in (http_flags(sim),
                  ["-t", "datagram", "-i", host, "-p", str(port), "-dt", "2", "-db", "65535"],
                  ["-t", "fifo", "-f", sim.fifo_path, "-fb", sim.fifo_path, "-fd", sim.fifo_reply_dir]):
        code, out, err = run(mi_cli.main, flags + ["version"], capsys)
        assert code == 0 and err == "", (flags, err)
        assert json.loads(out) == {"Server": "OpenSIPS (4.0.1 (x86_64/linux))"}
        assert out.startswith("{\n    ")  # json.dumps(indent=4), as 0.1.11 printed


def test_stats_flag_and_packed_array_params(sim, capsys) -> None:
    """``-s core: shmem:`` and ``get_statistics core: shmem:`` both send one array, as opensips-cli does."""
    code, out, _ = run(mi_cli.main, http_flags(sim) + ["-s", "core:", "shmem:"], capsys)
    assert code == 0
    stats = json.loads(out)
    assert stats and {k.split(":")[0] for k in stats} == {"core", "shmem"}
    code, out, _ = run(mi_cli.main, http_flags(sim) + ["get_statistics", "core:", "shmem:"], capsys)
    assert code == 0 and set(json.loads(out)) == set(stats)
    assert mi_cli.parse_params(["core:", "shmem:"], "get_statistics") == [["core:", "shmem:"]]
    assert mi_cli.parse_params(["core:"], "statistics:get") == [["core:"]]
    assert mi_cli.parse_params(["E_X", "a", "b"], "raise_event") == ["E_X", ["a", "b"]]
    code, out, _ = run(mi_cli.main, http_flags(sim) + ["-j", '{"statistics": ["shmem:"]}', "get_statistics"],
                       capsys)
    assert code == 0 and {k.split(":")[0] for k in json.loads(out)} == {"shmem"}


@pytest.mark.parametrize("argv", [["-s", "core:", "-j", "{}"], ["-j", "{'a': 1}", "version"],
                                  ["-j", "[1]", "version", "x"], []])
def test_bad_usage_exit_2(argv, capsys) -> None:
    code, out, err = run(mi_cli.main, ["-t", "http", "-i", "127.0.0.1", "-p", "1"] + argv, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1


def test_mi_error_exit_1(sim, capsys) -> None:
    code, out, err = run(mi_cli.main, http_flags(sim) + ["no_such_command"], capsys)
    assert code == 1 and out == "" and err.count("\n") == 1


def test_bash_completion_protocol(sim, capsys) -> None:
    code, out, _ = run(mi_cli.main, http_flags(sim) + ["-bc"], capsys)
    assert code == 0 and {"core:version", "statistics:get", "core:which"} <= set(out.split())  # 4.0.1 names
    code, out, _ = run(mi_cli.main, ["-bc", "params"], capsys)
    assert {"-t", "--type", "-fb", "-fd", "-ds", "-dt", "-db", "-s", "-j", "-bc", "--env-file"} <= set(out.split())
    for word in ("t", "type"):
        code, out, _ = run(mi_cli.main, ["-bc", word], capsys)
        assert code == 0 and out.split() == ["fifo", "http", "datagram"]
    code, out, _ = run(mi_cli.main, ["-t", "http", "-i", "127.0.0.1", "-p", "1", "--timeout", "0.5", "-bc"], capsys)
    assert code == 0 and "--type" in out.split()  # OpenSIPS unreachable: the options
    sim.registry.publish("E_EVIL\x1b]0;owned\x07 $(reboot)")  # names come from outside: never echoed
    code, out, _ = run(event_cli.main, http_flags(sim) + ["-bc"], capsys)
    assert code == 0 and {"E_PIKE_BLOCKED", "E_CORE_THRESHOLD"} <= set(out.split())
    assert "E_EVIL" not in out and "\x1b" not in out
    code, out, _ = run(event_cli.main, ["-bc", "T"], capsys)
    assert out.split() == ["datagram", "stream"]


def test_environment_and_env_file(sim, capsys, tmp_path, monkeypatch) -> None:
    host, port = sim.datagram_addr
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(f"# MI over datagram\nOPENSIPS_MI_TYPE=datagram\nOPENSIPS_MI_IP={host}\n"
                                   f"OPENSIPS_MI_PORT={port}\n")
    code, out, err = run(mi_cli.main, ["uptime"], capsys)
    assert code == 0 and "Up since" in json.loads(out), err
    other = tmp_path / "fifo.env"
    other.write_text(f"OPENSIPS_MI_TYPE=fifo\nOPENSIPS_MI_FIFO_FILE={sim.fifo_path}\n"
                     f"OPENSIPS_MI_FIFO_REPLY_DIR={sim.fifo_reply_dir}\n")
    code, out, err = run(mi_cli.main, ["--env-file", str(other), "version"], capsys)
    assert code == 0, err
    (tmp_path / "bad.env").write_text("OPENSIPS_MI_TYPE\n")
    code, out, err = run(mi_cli.main, ["--env-file", str(tmp_path / "bad.env"), "version"], capsys)
    assert code == 2 and "bad.env:1" in err


def test_python_dash_m_entry_points(sim) -> None:
    r = subprocess.run([sys.executable, "-m", "opensips.mi", *http_flags(sim), "version"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout)["Server"].startswith("OpenSIPS"), r.stderr
    r = subprocess.run([sys.executable, "-m", "opensips.event", "-bc", "params"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and {"-T", "-li", "-lp", "-e"} <= set(r.stdout.split())


def test_event_flags_subscribe_until_expiry(sim) -> None:
    """``opensips-event -T stream -li IP -lp 0 -e 1 EVENT`` subscribes, and exits 0 when the expiry ends."""
    r = subprocess.run([sys.executable, "-m", "opensips.event", *http_flags(sim), "-T", "stream",
                        "-li", "127.0.0.1", "-lp", "0", "-e", "1", "E_MY_CUSTOM"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "listening on tcp:127.0.0.1:" in r.stderr
