"""The simulator's mi_datagram (UDP and UNIX) answers the captured datagrams like OpenSIPS."""

from __future__ import annotations

import json
import os
import select
import socket

import pytest

from tests.conftest import assert_same_shape
from tests.wire import VERSIONS, cases, sample


def _ask(sock: socket.socket, addr, raw: bytes, wait: float) -> list[bytes]:
    sock.sendto(raw, addr)
    out = []
    while True:
        r, _, _ = select.select([sock], [], [], wait)
        if not r:
            return out
        out.append(sock.recv(65535))
        wait = 0.01


def _check(case: str, s: dict, got: list[bytes]) -> None:
    want = s.get("reply_datagrams_raw", [])
    assert len(got) == len(want), f"{case}: {got!r}"
    if not want:
        return
    if s.get("reply_json") is None:
        assert got[0].decode() == want[0], case
    else:
        assert_same_shape(json.loads(got[0]), s["reply_json"])


def _expects_reply(s: dict) -> bool:
    return bool(s.get("reply_datagrams_raw"))


def _run_all(sim, version: str, sock: socket.socket, addr) -> int:
    checked = 0
    for case in cases(version, "datagram"):
        s = sample(version, "datagram", case)
        before = len(sim.crashes)
        # no-reply cases: a short wait is enough, the simulator answers in microseconds
        got = _ask(sock, addr, s["request_raw"].encode("utf-8"), 2.0 if _expects_reply(s) else 0.15)
        _check(case, s, got)
        if "CRASH" in case:
            assert len(sim.crashes) == before + 1, case
        checked += 1
    return checked


@pytest.mark.parametrize("version", VERSIONS)
def test_every_udp_sample(version, sim_factory):
    sim = sim_factory(version=version, demo_events=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    try:
        assert _run_all(sim, version, sock, sim.datagram_addr) >= 35
    finally:
        sock.close()
    # only 4.0.1 crashes on a non-string method; 3.6.8 answers -32600
    assert len(sim.crashes) == (3 if version == "4.0.1" else 0)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_unix_sample(version, sim_factory, tmp_path):
    sim = sim_factory(version=version, demo_events=False)
    path = str(tmp_path / "client.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        for case in cases(version, "datagram"):
            s = sample(version, "datagram", case)
            raw = s["request_raw"].encode("utf-8")
            if len(raw) > 60000:   # UNIX datagram limits depend on wmem settings
                continue
            got = _ask(sock, sim.datagram_unix_path, raw, 2.0 if _expects_reply(s) else 0.15)
            _check(case, s, got)
    finally:
        sock.close()
        os.unlink(path)


def test_pretty_and_small_buffer_variant(sim_factory):
    sim = sim_factory(pretty=True, socket_buf_size=1024, demo_events=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for case in cases("4.0.1", "variant_dgram_buf1024_pretty/datagram"):
            s = sample("4.0.1", "variant_dgram_buf1024_pretty/datagram", case)
            got = _ask(sock, sim.datagram_addr, s["request_raw"].encode(), 2.0)
            assert [g.decode() for g in got] == s["reply_datagrams_raw"], case
    finally:
        sock.close()


def test_hang_then_answer(sim):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    raw = sample("4.0.1", "datagram", "version")["request_raw"].encode()
    try:
        sim.hang = True
        assert _ask(sock, sim.datagram_addr, raw, 0.2) == []
        sim.hang = False
        assert len(_ask(sock, sim.datagram_addr, raw, 2.0)) == 1
    finally:
        sock.close()


def test_sixty_kilobyte_reply(sim, mi_post):
    """A big shared variable makes a ~60 KB reply; it still fits the default 65457 buffer."""
    value = "v" * 60000
    assert mi_post(sim, {"jsonrpc": "2.0", "method": "shv_set",
                         "params": {"name": "big", "type": "str", "value": value}, "id": 1})["result"] == "OK"
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        got = _ask(sock, sim.datagram_addr,
                   b'{"jsonrpc":"2.0","method":"shv_get","params":{"name":"big"},"id":2}', 2.0)
    finally:
        sock.close()
    assert len(got[0]) > 60000
    assert json.loads(got[0])["result"] == {"VAR": {"name": "big", "value": value}}
