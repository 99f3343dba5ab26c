"""Bad numbers, bad config and write errors: one line and exit status 2 (1 for I/O), never a
traceback (issue 10, items 3 and 4). Real processes where the terminal's view matters."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from opensips_tui.__main__ import main as tui_main
from tests.test_cli_event import finish, start, wait_subscribed


def _tui(argv: list[str], capsys) -> tuple[int, str]:
    code = tui_main(argv)
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return code, err


@pytest.mark.parametrize("content, needle", [
    ("[tui]\nutc = true\nringsize = 5\n", "config.toml:3: [tui] ringsize: unknown key (did you mean ring_size?)"),
    ("[tui]\nsubscibe = ['E_A']\n", "config.toml:2: [tui] subscibe: unknown key (did you mean subscribe?)"),
    ("[tui]\nprofile = 'a'\n[profiles.a]\nmi = 'http'\nlisten_prt = 9\n",
     "config.toml:5: [profiles.a] listen_prt: unknown key (did you mean listen_port?)"),
    ("[tui]\nutc = \"no\"\n", "config.toml:2: [tui] utc: must be true or false, not 'no'"),
    ("[tui]\ndemo = \"yes\"\n", "config.toml:2: [tui] demo: must be true or false, not 'yes'"),
    ("[tui]\nprofile = 'a'\n[profiles.a]\nmi = 'http'\ntimeout = \"abc\"\n",
     "config.toml:5: [profiles.a] timeout: must be a number"),
    ("[tui]\nprofile = 'a'\n[profiles.a]\nmi = 'http'\nurl = 12345\n",
     "config.toml:5: [profiles.a] url: must be a string, not 12345"),
    ("[tui]\nring_size = 99999999999999999999\n", "[tui] ring_size: must be an integer from 1 to 10000000"),
    ("[tiu]\n", "config.toml:1: tiu: unknown key (did you mean tui?)"),
])
def test_config_problems_name_key_file_and_line(tmp_path, capsys, content: str, needle: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(content)
    code, err = _tui(["--config", str(path)], capsys)
    assert code == 2 and needle in err, err


@pytest.mark.parametrize("argv, needle", [
    (["--ring-size", "99999999999999999999999"], "--ring-size: must be an integer from 1 to 10000000"),
    (["--ring-size", "0"], "--ring-size"),
    (["--listen-port", "99999"], "--listen-port: must be an integer from 0 to 65535"),
    (["--listen-port", "-1"], "--listen-port"),
    (["--demo-rate", "-3"], "--demo-rate: must be a number"),
    (["--demo-rate", "nan"], "--demo-rate"),
    (["--timeout", "1e20"], "timeout must be a positive number of seconds up to 86400"),
    (["--config", "/nonexistent/opensips-tui.toml"], "/nonexistent/opensips-tui.toml: no such config file"),
])
def test_bad_flags_exit_2_with_one_line(tmp_path, capsys, argv: list[str], needle: str) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    config = [] if "--config" in argv else ["--config", str(empty)]
    code, err = _tui([*config, *argv], capsys)
    assert code == 2 and needle in err, err


def _mi(*argv: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opensips.cli.mi", *argv], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=30)


@pytest.mark.parametrize("conn", ["http", "datagram"])
def test_mi_timeout_too_large_is_a_usage_error(sim, conn: str) -> None:
    flags = {"http": ["--url", sim.http_url],
             "datagram": ["-i", sim.datagram_addr[0], "-p", str(sim.datagram_addr[1])]}[conn]
    done = _mi(*flags, "--timeout", "1e20", "version")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("opensips-mi: error: bad MI settings: timeout must be a positive "
                                   "number of seconds up to 86400, not '1e20'")


def test_mi_write_error_is_one_line_and_status_1(sim) -> None:
    with open("/dev/full", "w") as full:
        done = _mi("--url", sim.http_url, "version", stdout=full)
    assert done.returncode == 1
    assert done.stderr == "opensips-mi: error: cannot write the output: No space left on device\n"


def test_cli_output_escapes_bidi_and_c1_but_stays_the_same_json(sim) -> None:
    proc = start(["--url", sim.http_url, "--listen-ip", "127.0.0.1", "--count", "1", "E_MY_CUSTOM"])
    wait_subscribed(sim, proc, {"E_MY_CUSTOM"})
    hostile = {"ua": "\u202egnp.exe \x9b2J \x7f \u2066x", "ok": "caf\u00e9"}
    sim.raise_event("E_MY_CUSTOM", hostile)
    code, out, err = finish(proc)
    assert code == 0, err
    assert out.isascii() or "\u00e9" in out
    for char in ("\u202e", "\x9b", "\x7f", "\u2066"):
        assert char not in out
    assert "\\u202e" in out and json.loads(out)["params"] == hostile
