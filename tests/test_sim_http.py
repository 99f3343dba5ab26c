"""The simulator's mi_http answers the captured requests like the real OpenSIPS did."""

from __future__ import annotations

import json
import select
import socket
import time

import pytest

from tests.conftest import assert_same_shape
from tests.wire import VERSIONS, cases, sample

SPECIAL = {"http_keepalive_split_vs_single_write"}


def _exchange(port: int, raw: bytes, wait: float = 0.3, overall: float = 3.0) -> tuple[bytes, bool]:
    """Send raw bytes; read until the server closes (True) or goes quiet for `wait` s (False)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=overall)
    try:
        s.sendall(raw)
        data = b""
        deadline = time.monotonic() + overall
        while time.monotonic() < deadline:
            r, _, _ = select.select([s], [], [], wait)
            if not r:
                return data, False
            chunk = s.recv(65536)
            if not chunk:
                return data, True
            data += chunk
        return data, False
    finally:
        s.close()


def _split(resp: bytes) -> tuple[str, list[str], bytes]:
    head, _, body = resp.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    return lines[0], lines[1:], body


def _comparable_headers(headers: list[str]) -> list[str]:
    return [h for h in headers if not h.startswith(("Date:", "Content-Length:"))]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_http_sample(version, sim_factory):
    sim = sim_factory(version=version, demo_events=False)
    port = int(sim.http_url.rsplit(":", 1)[1].split("/")[0])
    checked = 0
    for case in cases(version, "http"):
        if case in SPECIAL:
            continue
        s = sample(version, "http", case)
        got, closed = _exchange(port, s["request_raw"].encode("utf-8"))
        if not s["response_raw"]:      # closed with no response at all
            assert got == b"" and closed, case
            checked += 1
            continue
        status, headers, body = _split(got)
        assert status == s["response_status_line"], case
        assert _comparable_headers(headers) == _comparable_headers(s["response_headers"]), case
        assert any(h.startswith("Date: ") for h in headers), case
        if "Transfer-Encoding: chunked" in s["response_headers"]:
            assert body == b"" and not closed, f"{case}: the chunked body must never end"
        elif s["response_body_json"] is not None:
            assert_same_shape(json.loads(body), s["response_body_json"])
            length = [h for h in headers if h.startswith("Content-Length: ")][0]
            assert int(length.split()[1]) == len(body)
        else:
            assert body.decode() == s["response_body_raw"], case
        checked += 1
    assert checked >= 35
    assert sim.crashes == []


def test_exact_bytes_of_stable_replies(sim_factory):
    sim = sim_factory(demo_events=False)
    port = int(sim.http_url.rsplit(":", 1)[1].split("/")[0])
    for case in ("version", "which", "events_list", "unknown_command", "ambiguous_command_list",
                 "bad_params_named_mismatch", "get_statistics_string_not_array", "parse_error"):
        s = sample("4.0.1", "http", case)
        got, _ = _exchange(port, s["request_raw"].encode())
        body = _split(got)[2].decode()
        assert body == s["response_body_raw"], case


def test_keep_alive_serves_many_requests_on_one_connection(sim):
    port = int(sim.http_url.rsplit(":", 1)[1].split("/")[0])
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    try:
        for i in range(5):
            body = json.dumps({"jsonrpc": "2.0", "method": "version", "id": i}).encode()
            s.sendall(b"POST /mi HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body))
            s.sendall(body)     # header and body in two writes (what http.client does)
            data = b""
            while b"\r\n\r\n" not in data or not data.endswith(b"}"):
                data += s.recv(65536)
            assert json.loads(_split(data)[2])["id"] == i
            assert b"Connection: close" not in data
    finally:
        s.close()


def test_hang_reads_and_never_answers(sim):
    port = int(sim.http_url.rsplit(":", 1)[1].split("/")[0])
    raw = sample("4.0.1", "http", "version")["request_raw"].encode()
    sim.hang = True
    got, closed = _exchange(port, raw, wait=0.3)
    assert got == b"" and not closed
    sim.hang = False
    got, closed = _exchange(port, raw)
    assert _split(got)[0] == "HTTP/1.1 200 OK"


def test_stop_does_not_wait_for_never_ending_bodies(sim_factory):
    sim = sim_factory()
    port = int(sim.http_url.rsplit(":", 1)[1].split("/")[0])
    raw = sample("4.0.1", "http", "version_notification_no_id")["request_raw"].encode()
    c = socket.create_connection(("127.0.0.1", port), timeout=3)
    c.sendall(raw)
    assert c.recv(4096).startswith(b"HTTP/1.1 202 Accepted")
    sim.stop()
    c.settimeout(3)
    assert c.recv(4096) == b""      # the server closed it on stop
    c.close()


def test_pretty_printing(sim_factory):
    sim = sim_factory(pretty=True)
    port = int(sim.http_url.rsplit(":", 1)[1].split("/")[0])
    for case in ("version_pretty", "error_pretty"):
        s = sample("4.0.1", "variant_dgram_buf1024_pretty/http", case)
        got, _ = _exchange(port, s["request_raw"].encode())
        assert _split(got)[2].decode() == s["response_body_raw"], case
