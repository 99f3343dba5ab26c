"""Listening sockets and their threads: UDP, UNIX datagram and TCP (event_stream).

One listener serves every subscription of a handler: notifications are routed
by their JSON-RPC ``method`` through ``routes`` (event name -> tuple of
callbacks), a dict the handler updates one key at a time (atomic in CPython),
so the receive loop reads it without a lock.

Threads are daemons with a stop flag, so a program that forgets to
unsubscribe still exits. The datagram loop is one blocking ``recv`` per
event and a look at the stop flag (so a flood cannot keep it alive): the
kernel-side receive timeout (SO_RCVTIMEO, 0.25 s) bounds how long it sleeps
when idle, and ``stop()`` wakes it at once with an empty datagram to itself.
The TCP loop sleeps in a selector with the same timeout plus a wake-up
socketpair. A listener that dies (a callback calling ``sys.exit()``) logs
the traceback and tells ``on_death``, so its subscriptions can say so.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import selectors
import socket
import stat
import struct
import threading
from typing import Any, Callable, Iterable

from .backoff import AcceptBackoff
from .decode import (DEFAULT_MAX_BUFFER, StreamBufferOverflow, StreamDecoder, decode_notification,
                     reparse_keeping_repeats)

log = logging.getLogger("opensips.event")

Callback = Callable[[dict], None]
Routes = dict[str, tuple[Callback, ...]]

MAX_GARBAGE = 10          # consecutive unparsable reads before callbacks get None
POLL_TIMEOUT_MS = 250     # stop flag is checked at least this often
RCVBUF = 8 << 20          # ask for a big receive buffer; the kernel caps it at rmem_max
MAX_DATAGRAM = 65535
MAX_CONNECTIONS = 64


class Listener:
    """Base: a socket, a daemon thread, routing and the garbage counter."""

    kind = "?"

    def __init__(self, on_garbage: Callable[[], None] | None = None,
                 allowed_sources: Iterable[str] | None = None) -> None:
        self.routes: Routes = {}
        self.on_garbage = on_garbage
        self.allowed_sources = frozenset(allowed_sources) if allowed_sources else None
        # received = delivered + unrouted + garbage (unparsable reads; stream: skipped runs);
        # refused: datagrams from a source not in allowed_sources. Updated when idle.
        self.stats = {"received": 0, "delivered": 0, "unrouted": 0, "garbage": 0, "refused": 0}
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.sock: socket.socket | None = None
        self.on_death: Callable[[BaseException], None] | None = None
        self.error: BaseException | None = None   # what ended the thread, if not stop()

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run_guarded, name=f"opensips-event-{self.kind}",
                                        daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def thread(self) -> threading.Thread | None:
        """The thread that reads the socket and calls the callbacks."""
        return self._thread

    def stop(self, timeout: float = 1.0) -> None:
        """Stop the thread and close the socket; safe to call twice and from a callback.

        From a callback (the listener's own thread) the socket is closed at
        once, so its address is free when stop() returns there too.
        """
        self._stopping = True
        thread = self._thread
        if thread is threading.current_thread():
            self._close()
            return
        self._wake()
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():  # pragma: no cover - a callback blocking the thread
                log.warning("listener thread %s did not stop within %.1fs (a callback blocks it?)",
                            thread.name, timeout)
        if thread is None or not thread.is_alive():
            self._close()

    def _run_guarded(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # e.g. a callback's sys.exit(): never a silent death
            self.error = exc
            log.error("listener %s died", self.describe(), exc_info=exc)
        finally:
            self._close()
        if self.error is not None and self.on_death is not None:
            try:
                self.on_death(self.error)
            except Exception:
                log.exception("listener %s: on_death raised", self.describe())

    def _close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass

    def _wake(self) -> None:
        """Make the thread look at its stop flag now (else it does within POLL_TIMEOUT_MS)."""

    def _run(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        return self.kind

    # -- delivery ----------------------------------------------------------
    def deliver(self, msg: dict) -> None:
        """Hand one notification to the callbacks of its event (slow path helper)."""
        method = msg.get("method")
        cbs = self.routes.get(method) if type(method) is str else None
        if not cbs:
            self.stats["unrouted"] += 1
            return
        self.stats["delivered"] += 1
        for cb in cbs:
            try:
                cb(msg)
            except Exception:
                log.exception("event callback for %s raised; listener continues", method)

    def garbage(self) -> None:
        """MAX_GARBAGE unparsable reads in a row: tell every callback (README: callback(None))."""
        if self.on_garbage is not None:
            try:
                self.on_garbage()
            except Exception:
                log.exception("garbage notification callback raised")

    def _bad_read(self, bad: int) -> int:
        """One more unparsable read in a row (``bad`` before it): the new run length."""
        bad += 1
        if bad >= MAX_GARBAGE:
            self.garbage()
            return 0
        return bad

    def _recv_failed(self, exc: OSError) -> bool:
        """True when this receive error ends the loop, False to receive again."""
        if self._stopping:
            return True
        if exc.errno in (errno.ECONNREFUSED, errno.EINTR):
            return False
        log.error("%s: recv failed, listener stops: %s", self.describe(), exc)
        self.error = exc  # its subscriptions become "failed" (on_death), never silently deaf
        return True


class DatagramListener(Listener):
    """event_datagram: one JSON notification per datagram (UDP or UNIX)."""

    def _wake_target(self) -> tuple[int, Any] | None:  # pragma: no cover - abstract
        return None

    def _wake(self) -> None:
        target = self._wake_target()
        if target is None:
            return
        family, addr = target
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.sendto(b"", addr)
        except OSError:
            pass  # the receive timeout still ends the loop

    def _run(self) -> None:
        sock = self.sock
        assert sock is not None
        sock.setblocking(True)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                        struct.pack("ll", 0, POLL_TIMEOUT_MS * 1000))
        allowed = self.allowed_sources
        decode = decode_notification
        reparse = reparse_keeping_repeats
        delivered = unrouted = garbage = 0
        bad = 0
        if allowed is None:
            # The hot loop. Everything here runs once per event, so it is
            # written for CPython's speed: locals only, decode_notification's
            # fast path inlined, the stop flag looked at only when idle or
            # woken (stop() sends an empty datagram), stats flushed when idle.
            recv = sock.recv
            loads = json.loads
            routes = self.routes  # mutated in place by the handler, one key at a time
            colon = b'":'
            while True:
                try:
                    data = recv(MAX_DATAGRAM)
                except BlockingIOError:  # SO_RCVTIMEO: idle for a while
                    self._add_counts(delivered, unrouted, garbage)
                    delivered = unrouted = garbage = 0
                    if self._stopping:
                        break
                    continue
                except OSError as exc:
                    if self._recv_failed(exc):
                        break
                    continue
                if self._stopping:  # also under a flood, where the wake-up may never arrive
                    break
                if not data:  # zero-length: stop()'s wake-up (never a notification)
                    continue
                try:
                    msg = loads(data)
                except (ValueError, RecursionError):
                    msg = decode(data)  # lenient second try
                else:
                    if type(msg) is dict:
                        params = msg.get("params")
                        if type(params) is dict:
                            if "" in params or data.count(colon) != len(msg) + len(params):
                                msg = reparse(data)  # repeated/empty keys: keep every value
                        elif data.count(colon) != len(msg):
                            msg = reparse(data)
                    else:
                        msg = None
                if msg is None:
                    garbage += 1
                    bad = self._bad_read(bad)
                    continue
                bad = 0
                method = msg.get("method")
                try:
                    cbs = routes.get(method)
                except TypeError:  # unhashable method: not a notification
                    cbs = None
                if cbs is None:
                    unrouted += 1
                    continue
                delivered += 1
                for cb in cbs:
                    try:
                        cb(msg)
                    except Exception:
                        log.exception("event callback for %s raised; listener continues", method)
        else:
            recvfrom = sock.recvfrom
            while not self._stopping:
                try:
                    data, addr = recvfrom(MAX_DATAGRAM)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    if self._recv_failed(exc):
                        break
                    continue
                if not data:
                    continue
                source = addr[0] if isinstance(addr, tuple) else addr
                if source not in allowed:
                    self.stats["refused"] += 1
                    continue
                self.stats["received"] += 1
                msg = decode(data)
                if msg is None:
                    self.stats["garbage"] += 1
                    bad = self._bad_read(bad)
                    continue
                bad = 0
                self.deliver(msg)
        self._add_counts(delivered, unrouted, garbage)

    def _add_counts(self, delivered: int, unrouted: int, garbage: int) -> None:
        """Publish the hot loop's local counters (it does so when idle and at the end)."""
        st = self.stats
        st["received"] += delivered + unrouted + garbage
        st["delivered"] += delivered
        st["unrouted"] += unrouted
        st["garbage"] += garbage


class UDPListener(DatagramListener):
    kind = "udp"

    def __init__(self, ip: str, port: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sock = _bound_socket(socket.AF_INET, socket.SOCK_DGRAM, (ip, port), _big_rcvbuf)
        self.address: tuple[str, int] = self.sock.getsockname()[:2]

    def describe(self) -> str:
        return f"udp:{self.address[0]}:{self.address[1]}"

    def _wake_target(self) -> tuple[int, Any]:
        host, port = self.address
        return socket.AF_INET, ("127.0.0.1" if host in ("0.0.0.0", "") else host, port)


class UnixDatagramListener(DatagramListener):
    kind = "unix"

    def __init__(self, path: str, mode: int | None = None, owner: tuple[int, int] = (-1, -1),
                 **kwargs) -> None:
        """``mode`` and ``owner`` (uid, gid; -1 keeps ours) let OpenSIPS, maybe another user, send to it."""
        super().__init__(**kwargs)
        self.path = os.path.abspath(path)
        self.address = self.path
        _remove_stale_unix_socket(self.path)
        self.sock = _bound_socket(socket.AF_UNIX, socket.SOCK_DGRAM, self.path, _big_rcvbuf)
        try:
            st = os.lstat(self.path)
            if not stat.S_ISSOCK(st.st_mode):  # pragma: no cover - replaced between bind and here
                raise OSError(errno.EEXIST, f"{self.path} was replaced under us")
            self._ino = st.st_ino
            if owner != (-1, -1):
                os.chown(self.path, *owner, follow_symlinks=False)
            if mode is not None:
                os.chmod(self.path, mode)
        except BaseException:
            self._close()  # also removes the socket file (once _ino says it is ours)
            raise

    def describe(self) -> str:
        return f"unix:{self.path}"

    def _wake_target(self) -> tuple[int, Any]:
        return socket.AF_UNIX, self.path

    def _close(self) -> None:
        super()._close()
        # remove the file only if it is still ours (not a newer socket bound at the same path)
        try:
            st = os.stat(self.path)
            if stat.S_ISSOCK(st.st_mode) and st.st_ino == getattr(self, "_ino", None):
                os.unlink(self.path)
        except OSError:
            pass


class TCPStreamListener(Listener):
    """event_stream: OpenSIPS connects to us and writes concatenated JSON objects.

    Several connections may be open at once (one per OpenSIPS process, or a
    replacement after a reconnect); each gets its own StreamDecoder. A
    notification carrying an ``id`` (reliable_mode) is answered at once with
    ``{"jsonrpc":"2.0","result":"OK","id":<id>}`` on the same connection.
    """

    kind = "tcp"

    def __init__(self, ip: str, port: int, max_buffer: int = DEFAULT_MAX_BUFFER, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_buffer = max_buffer
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        try:
            self.sock = _bound_socket(socket.AF_INET, socket.SOCK_STREAM, (ip, port),
                                      lambda s: s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1))
        except BaseException:
            self._close()  # the wake-up pair
            raise
        self.address: tuple[str, int] = self.sock.getsockname()[:2]
        self._conns: dict[socket.socket, tuple[Any, str]] = {}
        self._backoff = AcceptBackoff()
        self.stats["accept_failed"] = 0    # accept() out of descriptors (each pauses accepting)

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _close(self) -> None:
        super()._close()
        for s in (self._wake_r, self._wake_w):
            try:
                s.close()
            except OSError:
                pass

    def describe(self) -> str:
        return f"tcp:{self.address[0]}:{self.address[1]}"

    @property
    def connections(self) -> int:
        return len(self._conns)

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        assert self.sock is not None
        sel.register(self.sock, selectors.EVENT_READ, None)
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        bad = 0
        listening = True     # the listening socket is in the selector (out while fds run short)
        try:
            while not self._stopping:
                if not listening and not self._backoff.paused:
                    sel.register(self.sock, selectors.EVENT_READ, None)
                    listening = True
                timeout = POLL_TIMEOUT_MS / 1000
                if not listening:
                    timeout = min(timeout, self._backoff.remaining())
                for key, _ in sel.select(timeout):
                    if self._stopping:  # stop() from a callback closed the sockets
                        break
                    if key.data == "wake":
                        continue
                    if key.fileobj is self.sock:
                        if not self._accept(sel):
                            sel.unregister(self.sock)   # out of fds: see opensips.event.backoff
                            listening = False
                        continue
                    conn = key.fileobj
                    assert isinstance(conn, socket.socket)
                    decoder, peer = self._conns[conn]
                    try:
                        data = conn.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError as exc:
                        log.info("%s: connection from %s failed: %s", self.describe(), peer, exc)
                        self._drop(sel, conn)
                        continue
                    if not data:
                        self._drop(sel, conn)
                        continue
                    self._conns[conn] = self._conns.pop(conn)  # most recently heard: last in order
                    garbage_before = decoder.garbage
                    try:
                        msgs = decoder.feed(data)
                    except StreamBufferOverflow as exc:
                        log.warning("%s: dropping connection from %s: %s", self.describe(), peer, exc)
                        self._drop(sel, conn)
                        continue
                    if decoder.garbage != garbage_before:
                        self.stats["garbage"] += decoder.garbage - garbage_before
                        if not msgs:
                            bad = self._bad_read(bad)
                    for msg in msgs:
                        bad = 0
                        self.stats["received"] += 1
                        self._handle(conn, msg, peer)
        finally:
            for conn in list(self._conns):
                self._drop(sel, conn)
            sel.close()

    def _decoder(self) -> Any:
        """A new connection's incremental decoder (``feed(bytes) -> list``, ``garbage``)."""
        return StreamDecoder(self.max_buffer)

    def _handle(self, conn: socket.socket, msg: Any, peer: str) -> None:
        """One decoded message from ``conn``: acknowledge it if OpenSIPS asked (reliable mode), deliver it."""
        if "id" in msg:
            self._ack(conn, msg["id"], peer)
        self.deliver(msg)

    def _accept(self, sel: selectors.BaseSelector) -> bool:
        """Accept one connection; False when out of descriptors (stop selecting for a while)."""
        assert self.sock is not None
        try:
            conn, addr = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as exc:
            if not AcceptBackoff.is_shortage(exc):
                log.warning("%s: accept failed: %s", self.describe(), exc)
                return True
            first = self._backoff.failed()
            self.stats["accept_failed"] = self._backoff.failures
            if first:
                log.warning("%s: accept failed, pausing new connections until descriptors are "
                            "free (they wait in the backlog): %s", self.describe(), exc)
            return False
        self._backoff.succeeded()
        peer = f"{addr[0]}:{addr[1]}"
        if self.allowed_sources is not None and addr[0] not in self.allowed_sources:
            self.stats["refused"] += 1
            log.info("%s: refused connection from %s (not in allowed_sources)", self.describe(), peer)
            conn.close()
            return True
        if len(self._conns) >= MAX_CONNECTIONS:
            # Full: make room by dropping the connection heard from least recently, so idle
            # connections (a stranger's, or stale ones) can never lock OpenSIPS out; OpenSIPS
            # reconnects by itself on its next event.
            quietest = next(iter(self._conns))
            log.warning("%s: %d connections open: dropping the quietest, from %s, for %s",
                        self.describe(), len(self._conns), self._conns[quietest][1], peer)
            self._drop(sel, quietest)
        conn.setblocking(False)
        self._conns[conn] = (self._decoder(), peer)
        sel.register(conn, selectors.EVENT_READ, "conn")
        return True

    def _drop(self, sel: selectors.BaseSelector, conn: socket.socket) -> None:
        self._conns.pop(conn, None)
        try:
            sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        try:
            conn.close()
        except OSError:
            pass

    def _ack(self, conn: socket.socket, req_id: object, peer: str) -> None:
        """reliable_mode: OpenSIPS waits for a reply with the same id on this connection."""
        try:
            reply = json.dumps({"jsonrpc": "2.0", "result": "OK", "id": req_id},
                               separators=(",", ":")).encode()
            conn.setblocking(True)
            conn.settimeout(0.5)
            try:
                conn.sendall(reply)
            finally:
                conn.setblocking(False)
        except (OSError, TypeError, ValueError) as exc:
            log.info("%s: could not acknowledge notification %r to %s: %s", self.describe(), req_id,
                     peer, exc)


def _bound_socket(family: int, kind: int, address: Any,
                  prepare: Callable[[socket.socket], None]) -> socket.socket:
    """A non-blocking socket bound to ``address`` (listening, for TCP); closed again if a step fails.

    ``prepare`` sets options that must precede bind.
    """
    sock = socket.socket(family, kind)
    try:
        prepare(sock)
        sock.bind(address)
        if kind == socket.SOCK_STREAM:
            sock.listen(16)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _big_rcvbuf(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    except OSError:
        pass


def _remove_stale_unix_socket(path: str) -> None:
    """Unlink a leftover socket file nobody listens on; refuse to touch anything else."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise OSError(errno.EEXIST, f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        os.unlink(path)  # stale: nobody bound to it
        return
    except OSError:
        os.unlink(path)
        return
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, f"{path} is in use by another listener")
