"""The MI side of the PyPI ``opensips`` 0.1.11 as its users call it: OpenSIPSMI the opensips-cli way, the connection classes, jsonrpc_helper."""

from __future__ import annotations

import pytest

from opensips.mi import OpenSIPSMI, OpenSIPSMIException
from opensips.mi.datagram import Datagram
from opensips.mi.fifo import FIFO
from opensips.mi.http import HTTP
from opensips.mi.jsonrpc_helper import JSONRPCError, JSONRPCException, get_command, get_reply


def cli_config(sim, comm_type: str) -> dict:
    """What opensips-cli 0.4.x passes: its whole config, every value a string, many unrelated keys."""
    host, port = sim.datagram_addr
    return {
        "communication_type": comm_type, "fifo_file": sim.fifo_path, "fifo_file_fallback": "/tmp/opensips_fifo",
        "fifo_reply_dir": sim.fifo_reply_dir, "url": sim.http_url, "datagram_ip": host, "datagram_port": str(port),
        "datagram_timeout": "1", "datagram_buffer_size": "65535", "log_level": "WARNING", "prompt_name": "opensips-cli",
        "prompt_intro": "", "prompt_emptyline_repeat_cmd": "False", "history_file": "~/.opensips-cli.history",
        "history_file_size": "1000", "output_type": "pretty-print", "database_url": "mysql://opensips@localhost",
    }


@pytest.mark.parametrize("comm_type", ["fifo", "http", "datagram"])
def test_opensips_cli_style(sim, comm_type) -> None:
    cfg = cli_config(sim, comm_type)
    comm_handler = OpenSIPSMI(cfg.get("communication_type"), **cfg)
    assert comm_handler.valid() == (True, None)
    assert comm_handler.execute("version", [])["Server"].startswith("OpenSIPS")
    assert "core:" in str(comm_handler.execute("get_statistics", [["core:"]]))
    try:
        comm_handler.execute("no_such_command", [])
    except OpenSIPSMIException as ex:
        assert isinstance(ex.__cause__, JSONRPCError) and ex.__cause__.code == -32601
    else:
        pytest.fail("an unknown command must raise")


def test_sipssert_style(sim) -> None:
    mi = OpenSIPSMI(conn='http', url=sim.http_url)
    assert mi.execute('uptime')["Up since"]
    assert mi.execute('log_level', {"level": 3}) is not None


def test_connection_classes(sim) -> None:
    host, port = sim.datagram_addr
    conns = [FIFO(fifo_file=sim.fifo_path, fifo_file_fallback=sim.fifo_path, fifo_reply_dir=sim.fifo_reply_dir),
             HTTP(url=sim.http_url), Datagram(datagram_ip=host, datagram_port=port, datagram_timeout=1.5)]
    for conn in conns:
        assert conn.valid()[0] is True
        assert conn.execute("version", [])["Server"].startswith("OpenSIPS")
        with pytest.raises(JSONRPCError) as info:
            conn.execute("no_such_command", [])
        assert info.value.code == -32601 and str(info.value).startswith("-32601: ")
    with pytest.raises(JSONRPCException):
        Datagram(datagram_ip="127.0.0.1", datagram_port=1, datagram_timeout=0.3).execute("version", [])
    assert FIFO.REPLY_FIFO_FILE_TEMPLATE.format("a", "b") == "opensips_fifo_reply_a_b"
    assert conns[0].get_sticky("/tmp") == "/tmp"


@pytest.mark.parametrize("make", [lambda: FIFO(fifo_file="/x"), lambda: HTTP(), lambda: Datagram(datagram_ip="h"),
                                  lambda: OpenSIPSMI("bogus"),
                                  lambda: OpenSIPSMI("datagram", datagram_ip="127.0.0.1", datagram_port=1,
                                                     datagram_socket_mode="sometimes")])
def test_missing_arguments_are_value_errors(make) -> None:
    with pytest.raises(ValueError):
        make()


def test_jsonrpc_helper() -> None:
    cmd = get_command("get_statistics", {"statistics": ["core:"]})
    assert '"method":"get_statistics"' in cmd and '"jsonrpc":"2.0"' in cmd
    assert get_reply('{"jsonrpc": "2.0", "result": "OK", "id": "1"}') == "OK"
    with pytest.raises(JSONRPCError) as info:
        get_reply('{"jsonrpc": "2.0", "error": {"code": 500, "message": "Internal", "data": "x"}, "id": "1"}')
    assert (info.value.code, info.value.message, info.value.get_data(), str(info.value)) == (
        500, "Internal", "x", "500: Internal (x)")
    with pytest.raises(JSONRPCException):
        get_reply("not json")
