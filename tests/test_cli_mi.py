"""``opensips-mi`` and the shared MI flags, against the simulator."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from opensips.cli import args as cli_args
from opensips.cli.mi import main, parse_params


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_console_scripts_declared() -> None:
    eps = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert eps.get("opensips-mi") == "opensips.cli.mi:main"
    assert eps.get("opensips-event") == "opensips.cli.event:main"


@pytest.mark.parametrize("conn", ["http", "datagram", "fifo"])
def test_version_over_each_transport(sim, capsys, conn) -> None:
    flags = {
        "http": ["-t", "http", "--url", sim.http_url],
        "datagram": ["-t", "datagram", "-i", sim.datagram_addr[0], "-p", str(sim.datagram_addr[1])],
        "fifo": ["-t", "fifo", "-f", sim.fifo_path, "--fifo-reply-dir", sim.fifo_reply_dir],
    }[conn]
    code, out, err = run(flags + ["version"], capsys)
    assert code == 0 and err == ""
    assert json.loads(out) == {"Server": "OpenSIPS (4.0.1 (x86_64/linux))"}
    assert out.startswith("{\n    ")  # pretty


def test_named_params_json_values(sim, capsys) -> None:
    code, out, _ = run(["--url", sim.http_url, "get_statistics", 'statistics=["rcv_requests"]'], capsys)
    assert code == 0 and list(json.loads(out)) == ["core:rcv_requests"]


def test_one_json_string_and_positional(sim, capsys) -> None:
    code, out, _ = run(["--url", sim.http_url, "which", '{"command":"version"}'], capsys)
    assert code == 0 and json.loads(out) == [[], ["revision"]]
    code, out, _ = run(["--url", sim.http_url, "get_statistics", '[["rcv_requests"]]'], capsys)
    assert code == 0 and "core:rcv_requests" in json.loads(out)


def test_parse_params() -> None:
    assert parse_params([]) is None
    assert parse_params(["level=3", "name=x"]) == {"level": 3, "name": "x"}
    assert parse_params(["s=a", "s=b", "s=c"]) == {"s": ["a", "b", "c"]}
    assert parse_params(["a", "-2", "[1]"]) == ["a", -2, [1]]
    assert parse_params(['{"a": "b=c"}']) == {"a": "b=c"}
    assert parse_params(["callid=abc=def"]) == {"callid": "abc=def"}
    with pytest.raises(ValueError):
        parse_params(["a=1", "b"])
    with pytest.raises(ValueError):
        parse_params(["{broken"])


def test_command_error_exit_1_one_line(sim, capsys) -> None:
    code, out, err = run(["--url", sim.http_url, "no_such_command"], capsys)
    assert code == 1 and out == ""
    assert err == "opensips-mi: error: no_such_command: Method not found (-32601)\n"


def test_unreachable_mi_exit_1_one_line(capsys) -> None:
    code, out, err = run(["--url", "http://127.0.0.1:1/mi", "--timeout", "2", "version"], capsys)
    assert code == 1 and out == ""
    assert err.startswith("opensips-mi: error: cannot reach OpenSIPS MI") and err.count("\n") == 1


@pytest.mark.parametrize("argv", [["-t", "bogus", "version"], [], ["-p", "notaport", "version"],
                                  ["--url", "http://x/mi", "version", "a=1", "b"], ["--timeout", "-1", "version"]])
def test_bad_usage_exit_2_one_line_no_traceback(argv) -> None:
    r = subprocess.run([sys.executable, "-m", "opensips.cli.mi", *argv], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("opensips-mi: error:") and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr


def test_environment_variables_fill_flags(sim, capsys, monkeypatch) -> None:
    monkeypatch.setenv("OPENSIPS_MI_URL", sim.http_url)  # type inferred: http
    code, out, _ = run(["uptime"], capsys)
    assert code == 0 and "Up since" in json.loads(out)
    monkeypatch.setenv("OPENSIPS_MI_TYPE", "datagram")
    monkeypatch.setenv("OPENSIPS_MI_IP", sim.datagram_addr[0])
    monkeypatch.setenv("OPENSIPS_MI_PORT", str(sim.datagram_addr[1]))
    code, out, _ = run(["version"], capsys)
    assert code == 0
    # a flag beats the environment
    code, _, err = run(["-p", "1", "--timeout", "0.5", "version"], capsys)
    assert code == 1 and "udp:127.0.0.1:1" in err


def test_mi_settings_inference_and_precedence() -> None:
    parser = cli_args.Parser(prog="x")
    cli_args.add_mi_arguments(parser)
    settings = lambda argv, env=None: cli_args.mi_settings(parser.parse_args(argv), env or {})  # noqa: E731
    assert settings([]) == ("fifo", {})
    assert settings(["-u", "/run/mi.sock"]) == ("datagram", {"datagram_unix_socket": "/run/mi.sock"})
    assert settings(["--url", "http://h/mi", "--user", "u", "--password", "p", "--insecure"]) == (
        "http", {"url": "http://h/mi", "auth": ("u", "p"), "verify": False})
    assert settings([], {"OPENSIPS_MI_FIFO": "/f", "OPENSIPS_MI_TIMEOUT": "3"}) == (
        "fifo", {"fifo_file": "/f", "timeout": "3"})
    assert settings(["-f", "/g"], {"OPENSIPS_MI_FIFO": "/f"})[1]["fifo_file"] == "/g"
    with pytest.raises(ValueError):
        settings([], {"OPENSIPS_MI_TYPE": "carrier-pigeon"})
