"""opensips.mi against the simulated OpenSIPS, over real FIFOs and sockets, per transport.

Expected results and error objects come from the wire captures (tests/wire.py),
so the client is checked against what a real OpenSIPS sends, through the sim.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from opensips.mi import (
    OpenSIPSMI,
    OpenSIPSMICommandError,
    OpenSIPSMIConnectionError,
    OpenSIPSMIRequestError,
    OpenSIPSMITimeoutError,
)
from opensips.sim import SimulatedOpenSIPS
from tests.test_mi_raw_peers import run_bounded
from tests.waiting import keyboard_interrupt_after, run_threads
from tests.wire import sample

TRANSPORTS = ("fifo", "http", "udp", "unix")
# the sample kind and where its JSON-RPC reply lives, per transport
SAMPLE_KIND = {"fifo": ("fifo", "reply_json"), "http": ("http", "response_body_json"),
               "udp": ("datagram", "reply_json"), "unix": ("datagram", "reply_json")}
REPLY_PREFIX = "opensips_mi_reply_"


def connect(sim: SimulatedOpenSIPS, transport: str, **extra: Any) -> OpenSIPSMI:
    conn = {"udp": "datagram", "unix": "datagram"}.get(transport, transport)
    kwargs = sim.mi_kwargs({"udp": "datagram", "unix": "datagram_unix"}.get(transport, transport))
    return OpenSIPSMI(conn, **kwargs, **extra)


def captured(version: str, transport: str, case: str) -> dict[str, Any]:
    kind, field = SAMPLE_KIND[transport]
    return sample(version, kind, case)[field]


def reply_fifos(sim: SimulatedOpenSIPS) -> list[str]:
    return [n for n in os.listdir(sim.fifo_reply_dir) if n.startswith(REPLY_PREFIX)]


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def mi(sim: SimulatedOpenSIPS, transport: str) -> Iterator[OpenSIPSMI]:
    with connect(sim, transport, timeout=5) as client:
        yield client
    assert reply_fifos(sim) == [], "a reply FIFO was left behind"


# -- happy path ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmd", "params", "case"),
    [
        ("version", None, "version"),
        ("version", {}, "empty_params_object"),
        ("which", {"command": "version"}, "which_command_version"),
        ("get_statistics", {"statistics": ["rcv_requests"]}, "get_statistics_one"),
        ("get_statistics", [["shmem:", "rcv_requests"]], "get_statistics_positional"),
        ("get_statistics", {"statistics": ["no_such_stat"]}, "get_statistics_unknown_stat"),
        ("subscribers_list", None, "subscribers_list_empty"),
        ("core:version", None, "mi_namespaced_core_version"),
    ],
)
def test_results_match_the_captures(mi: OpenSIPSMI, transport: str, same_shape, cmd, params, case) -> None:
    want = captured("4.0.1", transport, case)["result"]
    same_shape(mi.execute(cmd, params), want)


def test_which_lists_the_commands_of_the_loaded_modules(sim_factory, transport: str) -> None:
    """Without the module events, the core server that was captured on every transport;
    with them (the default), the server of the ops/ captures, modules and all."""
    ambiguous = captured("4.0.1", transport, "ambiguous_command_list")["error"]
    with connect(sim_factory(demo_events=False), transport, timeout=5) as mi:
        assert mi.execute("which") == captured("4.0.1", transport, "which")["result"]
        with pytest.raises(OpenSIPSMICommandError) as info:
            mi.execute("list")
        assert (info.value.code, info.value.message, info.value.data) == (
            ambiguous["code"], ambiguous["message"], ambiguous["data"])
    with connect(sim_factory(), transport, timeout=5) as mi:
        assert mi.execute("which") == sample("4.0.1", "ops", "core_which")["response_body_json"]["result"]
        with pytest.raises(OpenSIPSMICommandError) as info:
            mi.execute("list")
        assert info.value.code == ambiguous["code"]
        assert info.value.data.startswith(ambiguous["data"] + ", dialog:list, ")


def test_describes_its_target(sim: SimulatedOpenSIPS, mi: OpenSIPSMI, transport: str) -> None:
    assert mi.valid() == (True, None)
    expected = {
        "fifo": (f"fifo:{sim.fifo_path}", None),
        "http": (sim.http_url, "127.0.0.1"),
        "udp": (f"udp:127.0.0.1:{sim.datagram_addr[1]}", "127.0.0.1"),
        "unix": (f"unix:{sim.datagram_unix_path}", None),
    }[transport]
    assert (mi.target, mi.remote_host) == expected


def test_pretty_printed_replies_parse(sim_factory, transport: str) -> None:
    sim = sim_factory(pretty=True)
    with connect(sim, transport, timeout=5) as mi:
        assert mi.execute("version") == captured("4.0.1", transport, "version")["result"]
        with pytest.raises(OpenSIPSMICommandError) as info:
            mi.execute("no_such_command")
        assert info.value.code == -32601


# -- command errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmd", "params", "case"),
    [
        ("no_such_command", None, "unknown_command"),
        ("which", {"foo": 1}, "bad_params_named_mismatch"),
        ("version", ["a", "b", "c"], "bad_params_too_many_positional"),
        ("get_statistics", {"statistics": "all"}, "get_statistics_string_not_array"),
        ("log_level", {"level": "abc"}, "bad_param_type"),
    ],
)
def test_command_errors_carry_code_message_data(mi: OpenSIPSMI, transport: str, cmd, params, case) -> None:
    want = captured("4.0.1", transport, case)["error"]
    with pytest.raises(OpenSIPSMICommandError) as info:
        mi.execute(cmd, params)
    assert (info.value.code, info.value.message, info.value.data) == (
        want["code"], want["message"], want.get("data"))
    assert want["message"] in str(info.value)


# -- connection errors ----------------------------------------------------------------


def test_nothing_listening_after_the_server_stopped(sim: SimulatedOpenSIPS, transport: str) -> None:
    with connect(sim, transport, timeout=2) as mi:
        assert mi.execute("version")
        sim.stop()
        match = {"fifo": "no FIFO at.*mi_fifo loaded", "http": "cannot connect.*mi_http loaded",
                 "udp": "nothing listening on udp:", "unix": "no socket at|nobody listens"}[transport]
        with pytest.raises(OpenSIPSMIConnectionError, match=match) as info:
            run_bounded(lambda: mi.execute("version"), 5)
        assert not isinstance(info.value, OpenSIPSMITimeoutError)
        assert mi.valid()[0] is (transport in ("http", "udp"))  # local checks only see files
        sim.start()  # same addresses: the same connector works again
        assert mi.execute("version") == captured("4.0.1", transport, "version")["result"]
    assert reply_fifos(sim) == []


@pytest.mark.parametrize("transport", ["udp", "unix"])
def test_datagram_request_over_socket_buf_size_is_400_parse_error(sim_factory, transport: str) -> None:
    sim = sim_factory(socket_buf_size=1024)
    with connect(sim, transport, timeout=2) as mi:
        with pytest.raises(OpenSIPSMIConnectionError, match="400 Parse_error"):
            mi.execute("which", {"command": "x" * 2000})
        assert mi.execute("version")  # the connector still works


@pytest.mark.parametrize("transport", ["udp", "unix"])
def test_datagram_reply_over_socket_buf_size_is_500_internal_error(sim_factory, transport: str) -> None:
    sim = sim_factory(socket_buf_size=1024)
    with connect(sim, transport, timeout=2) as mi:
        with pytest.raises(OpenSIPSMIConnectionError, match="500 Internal error.*socket_buf_size"):
            mi.execute("get_statistics", {"statistics": ["all"]})


@pytest.mark.parametrize("transport", ["udp", "unix"])
def test_datagram_reply_of_60_kb(sim: SimulatedOpenSIPS, transport: str) -> None:
    with connect(sim, transport, timeout=5) as mi:
        sockets = [f"unix:/nonexistent/{i:03d}" + "x" * 500 for i in range(110)]
        for sock in sockets:
            assert mi.execute("event_subscribe", {"event": "E_CORE_LOG", "socket": sock, "expire": 600}) == "OK"
        listing = mi.execute("subscribers_list", {"event": "E_CORE_LOG"})
        assert 60_000 <= len(json.dumps(listing, separators=(",", ":"))) < 65_000
        assert sorted(s["socket"] for s in listing["Event"]["Subscribers"]) == sockets
        # a buffer smaller than the reply is refused instead of truncating it
        with connect(sim, transport, timeout=5, datagram_buffer_size=32_768) as small:
            with pytest.raises(OpenSIPSMIConnectionError, match="larger than datagram_buffer_size"):
                small.execute("subscribers_list", {"event": "E_CORE_LOG"})


def test_fifo_request_of_4096_bytes_is_refused_and_the_server_keeps_working(sim: SimulatedOpenSIPS) -> None:
    with connect(sim, "fifo", timeout=2) as mi:
        with pytest.raises(OpenSIPSMIRequestError, match="4096"):
            mi.execute("which", {"command": "x" * 4096})
        with pytest.raises(OpenSIPSMICommandError):  # just under the limit: answered
            mi.execute("which", {"command": "x" * 3900})
        assert mi.execute("version")
    assert reply_fifos(sim) == []


def test_fifo_reply_dir_that_is_not_the_servers(sim: SimulatedOpenSIPS, tmp_path) -> None:
    """OpenSIPS writes the reply into *its* reply_dir: a different one means no answer."""
    with OpenSIPSMI("fifo", fifo_file=sim.fifo_path, fifo_reply_dir=str(tmp_path), timeout=1) as mi:
        with pytest.raises(OpenSIPSMITimeoutError, match="reply_dir"):
            run_bounded(lambda: mi.execute("version"), 5)
    assert os.listdir(tmp_path) == []


# -- timeouts -------------------------------------------------------------------------


def test_hanging_server_times_out_then_recovers(sim: SimulatedOpenSIPS, transport: str) -> None:
    with connect(sim, transport, timeout=0.5) as mi:
        sim.hang = True
        with pytest.raises(OpenSIPSMITimeoutError, match="within 0.5s"):
            run_bounded(lambda: mi.execute("version"), 5)
        sim.hang = False
        assert run_bounded(lambda: mi.execute("version"), 5) == captured("4.0.1", transport, "version")["result"]
    assert reply_fifos(sim) == []


def test_keyboard_interrupt_while_waiting_leaves_no_reply_fifo(sim: SimulatedOpenSIPS) -> None:
    sim.hang = True
    mi = connect(sim, "fifo", timeout=5)

    with pytest.raises(KeyboardInterrupt), keyboard_interrupt_after(0.3):
        mi.execute("version")
    assert reply_fifos(sim) == []


# -- threads ----------------------------------------------------------------------------


def test_fifty_threads_share_one_connector(sim: SimulatedOpenSIPS, mi: OpenSIPSMI) -> None:
    names = sorted(mi.execute("list_statistics"))
    version = mi.execute("version")
    errors: list[BaseException] = []
    done: list[int] = []

    def worker(n: int) -> None:
        try:
            for i in range(4):
                name = names[(n * 4 + i) % len(names)]   # group:name: asked as its group, as OpenSIPS wants
                assert name in mi.execute("get_statistics", {"statistics": [name.split(":")[0] + ":"]})
                assert mi.execute("version") == version
            done.append(n)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    run_threads(worker, 50, timeout=40)
    assert errors == []
    assert sorted(done) == list(range(50))


# -- OpenSIPS 3.6.8 ---------------------------------------------------------------------


def test_opensips_3_6_8(sim36: SimulatedOpenSIPS, transport: str, same_shape) -> None:
    with connect(sim36, transport, timeout=5) as mi:
        core = mi.execute("which")[:len(captured("3.6.8", transport, "which")["result"])]
        assert core == captured("3.6.8", transport, "which")["result"]
        for cmd, params, case in [
            ("version", None, "version"),
            ("get_statistics", [["shmem:", "rcv_requests"]], "get_statistics_positional"),
        ]:
            same_shape(mi.execute(cmd, params), captured("3.6.8", transport, case)["result"])
        for cmd, case in [("no_such_command", "unknown_command"), ("core:version", "mi_namespaced_core_version"),
                          ("list", "ambiguous_command_list")]:
            want = captured("3.6.8", transport, case)["error"]
            with pytest.raises(OpenSIPSMICommandError) as info:
                mi.execute(cmd)
            assert (info.value.code, info.value.message) == (want["code"], want["message"])
    assert reply_fifos(sim36) == []

