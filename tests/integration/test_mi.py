"""MI on every transport of a real OpenSIPS, which runs as its own user (nobody, when the kit is
started by root): the reply FIFO must be writable by that user."""

from __future__ import annotations

import os
import threading

import pytest

from opensips.mi import OpenSIPSMI, OpenSIPSMICommandError

from .conftest import connector

TRANSPORTS = ["fifo", "http", "datagram"]


@pytest.mark.parametrize("conn", TRANSPORTS)
def test_version_on_every_transport(real, conn: str) -> None:
    mi = connector(real, conn)
    try:
        server = mi.execute("version")["Server"]
    finally:
        mi.close()
    assert server.startswith(f"OpenSIPS ({real.get('OPENSIPS_VERSION', '4.0.1')} ")


def test_fifo_across_users(real) -> None:
    """The usual install: OpenSIPS's FIFO is its user's, we are someone else (root here)."""
    fifo = os.stat(real["OPENSIPS_MI_FIFO"])
    if fifo.st_uid == os.geteuid():
        pytest.skip("OpenSIPS runs as our own user here: start the kit as root to run it as nobody")
    mi = connector(real, "fifo")
    try:
        for _ in range(3):
            assert "Up since" in mi.execute("uptime")
    finally:
        mi.close()
    reply_dir = real["OPENSIPS_MI_FIFO_REPLY_DIR"]
    assert [n for n in os.listdir(reply_dir) if n.startswith("opensips_mi_reply_")] == []


@pytest.mark.parametrize("conn", TRANSPORTS)
def test_unknown_command_is_a_command_error(real, conn: str) -> None:
    mi = connector(real, conn)
    try:
        with pytest.raises(OpenSIPSMICommandError) as err:
            mi.execute("no_such_command_at_all")
    finally:
        mi.close()
    assert err.value.code == -32601


@pytest.mark.parametrize("conn", TRANSPORTS)
def test_many_threads_share_one_connector(real, conn: str) -> None:
    """Replies go to the call that asked, from 8 threads at once (FIFO turns, datagram pool, http)."""
    mi = connector(real, conn)
    got: dict[int, list[str]] = {}

    def worker(n: int) -> None:
        got[n] = [mi.execute("uptime")["Up since"] for _ in range(5)]

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        mi.close()
    assert sorted(got) == list(range(8))
    assert len({since for answers in got.values() for since in answers}) == 1


def test_long_reply_over_every_transport_is_the_same(real) -> None:
    """`which` lists every command: the same long reply on every transport."""
    replies = []
    for conn in TRANSPORTS:
        mi: OpenSIPSMI = connector(real, conn)
        try:
            replies.append(mi.execute("which"))
        finally:
            mi.close()
    assert len(replies[0]) > 50 and replies[0] == replies[1] == replies[2]
