"""Event delivery like event_datagram (udp/unix) and event_stream (tcp).

One sender thread drains a queue, so a slow subscriber never stalls an MI request, and the
order of notifications per subscriber is kept. event_stream keeps one persistent connection per
subscriber address, writes notifications back to back with no delimiter, drops the connection
when the peer went away and opens a new one for the next event; events raised while the
listener is down are lost. The udp and unix sockets are non-blocking, as event_datagram's: when
the listener's queue is full (a UNIX socket holds only net.unix.max_dgram_qlen, 10, datagrams)
sendto() fails with EAGAIN and the event is lost, logged, as OpenSIPS logs "Cannot raise datagram
event due to 11".
"""

from __future__ import annotations

import errno
import itertools
import json
import logging
import queue
import random
import select
import socket
import threading
import time
from typing import Any

from .jsontext import DupKeys, dumps, skip_space
from .registry import Subscriber, Target

log = logging.getLogger("opensips.sim.delivery")

_STOP = object()


def notification(method: str, params: Any, rid: int | None = None,
                 event_param: tuple[str, str] | None = None) -> bytes:
    """The JSON-RPC notification text OpenSIPS sends (no `params` member when there are none)."""
    body: dict[str, Any] = {}
    if rid is not None:
        body["id"] = rid
    body["jsonrpc"] = "2.0"
    body["method"] = method
    if event_param is not None:
        key, name = event_param
        if params is None:
            params = {key: name}
        elif isinstance(params, DupKeys):
            params = DupKeys([(key, name), *params])
        elif isinstance(params, dict):
            params = {key: name, **params}
        elif isinstance(params, list):
            params = [name, *params]
    if params is not None:
        body["params"] = params
    return dumps(body).encode("utf-8")


class _Stream:
    """One event_stream connection."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.pending: set[int] = set()


class Deliverer:
    """The sender thread and its sockets."""

    def __init__(self, reliable: bool = False, event_param: str | None = None,
                 connect_timeout: float = 1.0, send_timeout: float = 1.0,
                 reply_timeout: float = 1.0) -> None:
        self.reliable = reliable
        self.reply_timeout = reply_timeout    # reliable mode: how long a reply is waited for
        self.event_param = event_param
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self.sent = 0
        self.failed = 0
        self.replies: list[dict] = []       # reliable-mode replies received (newest last)
        self._q: queue.Queue = queue.Queue(maxsize=100000)
        self._thread: threading.Thread | None = None
        self._udp: socket.socket | None = None
        self._unix: socket.socket | None = None
        self._streams: dict[tuple[str, int], _Stream] = {}
        self._ids = itertools.count(random.randrange(1, 2**30))
        self._idle = threading.Condition()
        self._busy = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._unix = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._unix.setblocking(False)
        self._thread = threading.Thread(target=self._run, name="opensips-sim-delivery",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._q.put(_STOP)
            self._thread.join(timeout=3)
            self._thread = None
        for st in self._streams.values():
            _close(st.sock)
        self._streams.clear()
        for s in (self._udp, self._unix):
            if s is not None:
                s.close()
        self._udp = self._unix = None
        # drop anything not delivered
        while True:
            try:
                self._q.get_nowait()
            except queue.Empty:
                break

    def submit(self, event: str, params: Any, subscribers: list[Subscriber]) -> None:
        """Queue one event for every subscriber (called from MI or traffic threads)."""
        if not subscribers or self._thread is None:
            return
        with self._idle:
            self._busy += 1
        try:
            self._q.put_nowait((event, params, subscribers))
        except queue.Full:
            with self._idle:
                self._busy -= 1
            log.warning("delivery queue full, event %s dropped", event)

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until every queued event has been sent (tests, shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    # -- sender thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _STOP:
                return
            event, params, subs = item
            try:
                payload: bytes | None = None      # the same datagram for every udp/unix subscriber
                for sub in subs:
                    try:
                        if sub.target.proto != "tcp" and payload is None:
                            payload = notification(event, params)
                        self._send(event, params, sub.target, payload)
                    except Exception:  # noqa: BLE001 - a bad subscriber must not kill delivery
                        self.failed += 1
                        log.exception("delivery of %s to %s failed", event, sub.socket)
            finally:
                with self._idle:
                    self._busy -= 1
                    if self._busy == 0:
                        self._idle.notify_all()

    def _send(self, event: str, params: Any, t: Target, payload: bytes | None) -> None:
        """``payload``: the datagram, built once per event by ``_run`` (stream builds its own)."""
        if t.proto == "udp":
            try:
                assert self._udp is not None and payload is not None  # _run builds it for udp/unix
                self._udp.sendto(payload, (t.host, t.port))
                self.sent += 1
            except OSError as exc:
                self.failed += 1
                log.info("event_datagram: cannot send to %s:%s: %s", t.host, t.port, exc)
        elif t.proto == "unix":
            try:
                assert self._unix is not None and payload is not None
                self._unix.sendto(payload, t.path)
                self.sent += 1
            except OSError as exc:
                self.failed += 1
                log.info("event_datagram: cannot send to %s: %s", t.path, exc)
        else:
            self._send_stream(event, params, t)

    def _send_stream(self, event: str, params: Any, t: Target) -> None:
        key = (t.host, t.port)
        st = self._streams.get(key)
        if st is not None and not self._alive(st):
            _close(st.sock)
            del self._streams[key]
            st = None
        if st is None:
            try:
                sock = socket.create_connection(key, timeout=self.connect_timeout)
            except OSError as exc:
                self.failed += 1
                log.info("event_stream: cannot connect to %s[%s]", t.host, exc)
                return
            sock.settimeout(self.send_timeout)
            st = self._streams[key] = _Stream(sock)
        rid = next(self._ids) % 2**31 if self.reliable else None
        ep = (self.event_param, event) if self.event_param else None
        payload = notification(t.method or event, params, rid, ep)
        try:
            st.sock.sendall(payload)
            self.sent += 1
            if rid is not None:
                st.pending.add(rid)
                if not self._await_reply(st, rid):
                    raise ConnectionError("the listener closed or answered garbage")
        except OSError as exc:
            self.failed += 1
            log.info("event_stream: send to %s:%s failed: %s", t.host, t.port, exc)
            _close(st.sock)
            self._streams.pop(key, None)

    def _await_reply(self, st: _Stream, rid: int) -> bool:
        """Reliable mode: like event_stream, wait for the reply to ``rid`` before going on.

        A reply that does not come in time is logged and given up on (the connection
        stays); False when the listener closed or wrote garbage.
        """
        deadline = time.monotonic() + self.reply_timeout
        while rid in st.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                st.pending.discard(rid)
                log.warning("event_stream: timed out waiting for the reply to notification %d", rid)
                return True
            r, _, _ = select.select([st.sock], [], [], left)
            if not r:
                continue
            chunk = st.sock.recv(65536)
            if not chunk or not self._replies(st, chunk):
                return False
        return True

    def _alive(self, st: _Stream) -> bool:
        """Drain what the listener wrote; False once it closed or (reliable) sent garbage."""
        while True:
            try:
                r, _, _ = select.select([st.sock], [], [], 0)
            except (OSError, ValueError):
                return False
            if not r:
                return True
            try:
                chunk = st.sock.recv(65536)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    return True
                return False
            if not chunk:
                return False
            if self.reliable and not self._replies(st, chunk):
                return False

    def _replies(self, st: _Stream, chunk: bytes) -> bool:
        st.buf += chunk
        text = st.buf.decode("utf-8", "replace")
        dec = json.JSONDecoder()
        pos = 0
        while True:
            pos = skip_space(text, pos)
            if pos >= len(text):
                st.buf = b""
                return True
            try:
                obj, pos = dec.raw_decode(text, pos)
            except ValueError:
                if len(text) - pos > 65536 or not text[pos] in "{[":
                    return False
                st.buf = text[pos:].encode("utf-8")
                return True
            if not isinstance(obj, dict) or "id" not in obj:
                return False
            st.pending.discard(obj.get("id"))
            self.replies.append(obj)
            del self.replies[:-100]


def _close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
