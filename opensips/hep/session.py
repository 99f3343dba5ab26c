"""``TraceSession``: OpenSIPS's tracer mirroring SIP to our own HEP receiver, for as long as we run.

The life of a session, and why each step is there:

1. **Ask which tracer there is.** ``tracer:trace`` (4.x) or ``trace`` (3.x)
   lists the running traces; the answer also picks the command names
   (``tracer:start``/``tracer:stop`` or ``trace_start``/``trace_stop``).
2. **Open the receiver** where OpenSIPS can reach it and no wider: loopback
   when MI is local, else the one local address that routes to the MI host.
   Only OpenSIPS's addresses may feed it (and, over UDP, only the ports of
   its ``hep_udp`` sockets, read from ``ps``); strangers are counted and dropped.
3. **Start the trace** with ``uri=hep:IP:PORT;transport=udp;version=3``.
4. **Stop it on every exit path** (``close()``, a ``with`` block, interpreter
   exit through ``opensips.event``'s exit hook, a dead receiver thread): first
   ``tracer:stop``, then ``tracer:trace`` to check, then the socket is closed.
   ``tracer:stop`` only removes the oldest dynamic trace (an OpenSIPS bug):
   when ours is still listed, ``left_running`` holds the exact command that
   removes it once the older traces are gone, and a warning says so.

Packets go to ``callback`` on the receiver thread, or, without one, into a
bounded queue read by iterating the session.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import socket
import threading
from typing import Any, Callable, Iterator, Sequence

from opensips.event.handler import route_ip, withdraw_at_exit
from opensips.mi.errors import OpenSIPSMICommandError, OpenSIPSMIException

from .packet import HepPacket
from .receiver import HepTcpReceiver, HepUdpReceiver

log = logging.getLogger("opensips.hep")

__all__ = ["TraceSession", "TraceError", "TraceArgumentError", "NAMES_4X", "NAMES_3X", "SCOPES"]

NAMES_4X = ("tracer:start", "tracer:stop", "tracer:trace")
NAMES_3X = ("trace_start", "trace_stop", "trace")
SCOPES = ("d", "t", "m", "b")  # dialog (the default), transaction, message, b2b
FILTER = re.compile(r"(caller|callee|ip)=\S.*", re.IGNORECASE)
_TYPE = re.compile(r"[A-Za-z0-9_|, ]{1,64}")
_HEP_UDP = re.compile(r"hep_udp:\[?([0-9A-Fa-f.:]+?)\]?:(\d+)")
DEFAULT_QUEUE = 10_000


class TraceError(Exception):
    """The trace could not be started (OpenSIPS said no, MI unreachable, no port to listen on)."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class TraceArgumentError(TraceError, ValueError):
    """A filter, scope, type, transport or id OpenSIPS would refuse (or misread)."""


def _check_args(filters: Sequence[str], scope: str | None, trace_type: str | None, transport: str,
                trace_id: str) -> None:
    for f in filters:
        if not isinstance(f, str) or not FILTER.fullmatch(f):
            raise TraceArgumentError(f"bad tracer filter {f!r}: use caller=USER, callee=USER or ip=ADDRESS")
    if (scope is not None or trace_type is not None) and not filters:
        # OpenSIPS's only recipes are id,uri / +filter / +filter,scope,type (-32602 otherwise)
        raise TraceArgumentError("scope and type need a filter (OpenSIPS accepts them only together)")
    if scope is not None and (not scope or any(c not in SCOPES for c in scope.lower())):
        raise TraceArgumentError(f"bad scope {scope!r}: use d (dialog), t (transaction), m (message) or b (b2b)")
    if trace_type is not None and not _TYPE.fullmatch(trace_type):
        raise TraceArgumentError(f"bad trace type {trace_type!r}: e.g. sip, xlog or sip|xlog")
    if transport not in ("udp", "tcp"):
        raise TraceArgumentError(f"bad HEP transport {transport!r}: use udp or tcp")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", trace_id):
        raise TraceArgumentError(f"bad trace id {trace_id!r}: letters, digits, '_', '.', '-' only")


def _destinations(listing: Any) -> list[dict]:
    """The ``trace destinations`` of a ``tracer:trace`` answer (only well-formed entries)."""
    items = listing.get("trace destinations") if isinstance(listing, dict) else None
    return [d for d in items or () if isinstance(d, dict)]


def stop_command(mi: Any, stop_name: str, trace_id: str) -> str:
    """The ``opensips-mi`` command line that runs ``stop_name id=trace_id`` over the same MI."""
    kind, _, where = str(getattr(mi, "target", "")).partition(":")
    flags = {"fifo": f"-f {where}", "unix": f"-u {where}"}.get(kind, "")
    if kind == "udp":
        host, _, port = where.rpartition(":")
        flags = f"-i {host.strip('[]')} -p {port}"
    elif kind in ("http", "https"):
        flags = f"--url {mi.target}"
    return " ".join(p for p in ("opensips-mi", flags, stop_name, f"id={trace_id}") if p)


class TraceSession:
    """One dynamic trace of OpenSIPS's tracer towards a HEP receiver of ours.

    ``filters`` are tracer filters (``caller=alice``, ``callee=bob``,
    ``ip=10.0.0.1``; all must match); ``scope`` (``d``, ``t``, ``m``) and
    ``trace_type`` (``sip``, ``xlog``) only with filters, as OpenSIPS wants.
    Scope ``t`` or ``m`` is what shows REGISTER and OPTIONS: the default
    (dialog) traces calls only. ``listen_ip`` overrides where we listen;
    ``allowed_sources`` who may send to us.
    """

    def __init__(self, mi: Any, callback: Callable[[HepPacket], None] | None = None, *,
                 filters: Sequence[str] = (), scope: str | None = None, trace_type: str | None = None,
                 transport: str = "udp", listen_ip: str | None = None, listen_port: int = 0,
                 trace_id: str | None = None, allowed_sources: Sequence[str] | None = None,
                 max_queue: int = DEFAULT_QUEUE) -> None:
        self.mi = mi
        self.filters = list(filters)
        self.scope = scope
        self.trace_type = trace_type
        self.transport = transport.lower()
        # ours are recognisable in tracer:trace: host, pid and which session of the process
        self.trace_id = trace_id or re.sub(r"[^A-Za-z0-9_.-]", "_", f"otrace_{socket.gethostname()[:24]}_"
                                           f"{os.getpid()}_{id(self) & 0xFFFF:x}")
        _check_args(self.filters, scope, trace_type, self.transport, self.trace_id)
        self.listen_ip = listen_ip
        self.listen_port = listen_port
        self.allowed_sources = list(allowed_sources) if allowed_sources else None
        self.names = NAMES_4X
        self.state = "new"  # new -> running -> stopped | failed
        self.error: BaseException | None = None
        self.left_running: str | None = None  # the command to run when OpenSIPS kept our trace
        self.warnings: list[str] = []
        # Called (on the dying receiver's thread, after the trace was withdrawn) when the receiver
        # ends on its own: whoever shows "running" must learn it stopped.
        self.on_failed: Callable[[BaseException], None] | None = None
        self.older: list[str] = []  # dynamic traces listed before ours: tracer:stop cannot remove ours
        self.uri = ""
        self._callback = callback
        self._queue: collections.deque[HepPacket] = collections.deque(maxlen=max_queue)
        self._cond = threading.Condition()
        self.dropped = 0  # packets pushed out of a full queue (iterator mode)
        self._listener: HepUdpReceiver | HepTcpReceiver | None = None
        self._closed = False
        self._lock = threading.Lock()  # start/withdraw never overlap
        self._started = False

    # -- public --------------------------------------------------------------
    @property
    def stats(self) -> dict[str, int]:
        """The receiver's counters (``received``, ``delivered``, ``garbage``, ``refused``) and ``dropped``."""
        listener = self._listener
        out = dict(listener.stats) if listener is not None else {}
        out["dropped"] = self.dropped
        return out

    @property
    def address(self) -> tuple[str, int] | None:
        """Where we listen, while we do."""
        listener = self._listener
        return listener.address if listener is not None else None

    def start(self) -> "TraceSession":
        """List the traces, open the receiver, start the trace; ``TraceError`` when any step fails."""
        with self._lock:
            if self._closed or self._started:
                raise TraceError("a trace session starts once")
            self._started = True
            listing = self._list_first()
            names = [str(d.get("name")) for d in _destinations(listing)]
            if self.trace_id in names:
                raise TraceArgumentError(f"OpenSIPS already runs a trace named {self.trace_id!r}")
            self.older = [str(d.get("name")) for d in _destinations(listing) if d.get("state") == "dynamic"]
            hep_udp = self._hep_udp_sockets()
            self._open_receiver(hep_udp)
            withdraw_at_exit(self)
            params: dict[str, Any] = {"id": self.trace_id, "uri": self.uri}
            if self.filters:
                params["filter"] = self.filters
                if self.scope is not None or self.trace_type is not None:
                    params["scope"] = self.scope or "d"
                    params["type"] = self.trace_type or "sip"
            try:
                self.mi.execute(self.names[0], params)
            except OpenSIPSMIException as exc:
                self.state = "failed"
                self.error = exc
                self._close_receiver()
                self._closed = True
                raise TraceError(f"{self.names[0]} failed: {exc}", exc) from exc
            self.state = "running"
        if self.older:
            self._warn(f"OpenSIPS already runs the dynamic trace(s) {', '.join(self.older)}: its tracer:stop "
                       f"removes only the oldest one, so {self.trace_id!r} may stay after we exit")
        return self

    def close(self) -> None:
        """Stop the trace in OpenSIPS, check it is gone, then close the receiver. Never raises."""
        with self._lock:
            if self._closed:
                self._close_receiver()
                return
            self._closed = True
            try:
                if self.state == "running":
                    self._withdraw()
            finally:
                self._close_receiver()
                if self.state == "running":
                    self.state = "stopped"
        with self._cond:
            self._cond.notify_all()

    def _release(self, timeout: float = 1.0) -> None:
        """Interpreter exit, budget spent: close the socket without waiting for OpenSIPS."""
        self._closed = True
        self._close_receiver(timeout)
        with self._cond:
            self._cond.notify_all()

    def __enter__(self) -> "TraceSession":
        return self.start() if not self._started else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[HepPacket]:
        """Packets as they arrive (without a callback), until the session is closed or fails."""
        while True:
            packet = self.get(timeout=None)
            if packet is None:
                return
            yield packet

    def get(self, timeout: float | None = 0.25) -> HepPacket | None:
        """The next queued packet; ``None`` after ``timeout`` seconds, or at once when the session ended."""
        with self._cond:
            if not self._queue and self.state == "running":
                self._cond.wait_for(lambda: self._queue or self.state != "running", timeout)
            return self._queue.popleft() if self._queue else None

    def __repr__(self) -> str:
        return f"<TraceSession {self.trace_id} {self.state} {self.uri or 'not listening'}>"

    # -- steps ----------------------------------------------------------------
    def _list(self) -> Any:
        return self.mi.execute(self.names[2])

    def _list_first(self) -> Any:
        """``tracer:trace``, or on 3.x ``trace``; the answer that worked picks the command names."""
        try:
            return self._list()
        except OpenSIPSMICommandError as exc:
            if exc.code != -32601:
                raise TraceError(f"{self.names[2]} failed: {exc}", exc) from exc
        except OpenSIPSMIException as exc:
            raise TraceError(f"cannot reach OpenSIPS: {exc}", exc) from exc
        self.names = NAMES_3X
        try:
            return self._list()
        except OpenSIPSMIException as exc:
            raise TraceError(f"OpenSIPS has no tracer module (neither tracer:trace nor trace): {exc}",
                             exc) from exc

    def _hep_udp_sockets(self) -> list[tuple[str, int]] | None:
        """OpenSIPS's ``hep_udp`` sockets from ``ps`` (``None`` when ``ps`` says nothing useful).

        Without one, each UDP HEP send fails, and after 5 failures proto_hep
        sends no HEP at all for ``hep_retry_cooldown`` (an hour by default):
        better refuse to start.
        """
        try:
            procs = self.mi.execute("ps").get("Processes")
            types = [str(p.get("Type", "")) for p in procs if isinstance(p, dict)]
        except (OpenSIPSMIException, AttributeError, TypeError):
            return None
        found = [(m.group(1), int(m.group(2))) for t in types for m in _HEP_UDP.finditer(t)]
        if not found and self.transport == "udp" and any(t.startswith("SIP receiver") for t in types):
            raise TraceError("OpenSIPS has no hep_udp socket (its ps lists none): add "
                             "'socket=hep_udp:IP:PORT' to its configuration; without it every HEP "
                             "send fails and proto_hep then suppresses all HEP for hep_retry_cooldown")
        return found

    def _open_receiver(self, hep_udp: list[tuple[str, int]] | None) -> None:
        remote = getattr(self.mi, "remote_host", None)
        ip = self.listen_ip or route_ip(remote)
        allowed = set(self.allowed_sources or ())
        if not allowed:
            if ip.startswith("127."):
                allowed.add("127.0.0.1")
            if remote:
                try:
                    allowed.update(str(a[4][0]) for a in socket.getaddrinfo(remote.strip("[]"), None, socket.AF_INET))
                except OSError:
                    pass
            allowed.update(h for h, _ in hep_udp or () if h not in ("0.0.0.0", "::", "*"))
            if not allowed:
                allowed.add(ip)
        ports = {p for _, p in hep_udp} if hep_udp and self.transport == "udp" else None
        try:
            if self.transport == "udp":
                listener: HepUdpReceiver | HepTcpReceiver = HepUdpReceiver(
                    ip, self.listen_port, self._deliver, allowed_sources=allowed, allowed_ports=ports)
            else:
                listener = HepTcpReceiver(ip, self.listen_port, self._deliver, allowed_sources=allowed)
        except OSError as exc:
            raise TraceError(f"cannot listen on {ip}:{self.listen_port}: {exc}", exc) from exc
        listener.on_death = self._receiver_died
        self._listener = listener
        host, port = listener.address
        self.uri = f"hep:{host}:{port};transport={self.transport};version=3"
        listener.start()

    def _deliver(self, packet: HepPacket) -> None:
        callback = self._callback
        if callback is not None:
            callback(packet)
            return
        with self._cond:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._queue.append(packet)
            self._cond.notify()

    def _receiver_died(self, exc: BaseException) -> None:
        """The receiver thread ended (a callback's SystemExit, a socket error): stop the trace too."""
        self.error = exc
        log.error("HEP receiver of trace %s died (%r): stopping the trace", self.trace_id, exc)
        if not self._lock.acquire(blocking=False):
            return  # close() is already withdrawing the trace
        try:
            if self.state == "running":
                self._withdraw()
                self.state = "failed"
            self._closed = True
        finally:
            self._lock.release()
        with self._cond:
            self._cond.notify_all()
        if self.on_failed is not None:
            try:
                self.on_failed(exc)
            except Exception:  # noqa: BLE001 - the receiver is gone either way; say so in the log
                log.exception("trace %s: on_failed raised", self.trace_id)

    def _withdraw(self) -> None:
        """``tracer:stop`` then ``tracer:trace``: set ``left_running`` and warn when ours is still there."""
        command = stop_command(self.mi, self.names[1], self.trace_id)
        try:
            self.mi.execute(self.names[1], {"id": self.trace_id})
        except OpenSIPSMICommandError as exc:
            if exc.code != 400:  # 400 "Bad parameter value": not listed, which is what we want
                log.info("%s %s: %s", self.names[1], self.trace_id, exc)
        except OpenSIPSMIException as exc:
            self.left_running = command
            self._warn(f"could not stop trace {self.trace_id!r} ({exc}); OpenSIPS may still send it to "
                       f"{self.uri}: run {command}")
            return
        try:
            listing = self._list()
        except OpenSIPSMIException as exc:
            self._warn(f"could not check that trace {self.trace_id!r} is gone ({exc}); if {self.names[2]} "
                       f"still lists it, run: {command}")
            return
        names = [str(d.get("name")) for d in _destinations(listing)]
        if self.trace_id not in names:
            return
        self.left_running = command
        before = [n for n in names[:names.index(self.trace_id)]]
        why = (f"tracer:stop removes only the oldest dynamic trace, and {', '.join(before)} "
               f"{'is' if len(before) == 1 else 'are'} older" if before else "OpenSIPS did not remove it")
        self._warn(f"OpenSIPS still runs trace {self.trace_id!r} towards {self.uri} ({why}); once "
                   f"{'those are' if len(before) > 1 else 'that is'} stopped, run: {command}"
                   if before else f"OpenSIPS still runs trace {self.trace_id!r} ({why}); run: {command}")

    def _close_receiver(self, timeout: float = 1.0) -> None:
        listener = self._listener
        if listener is not None:
            listener.stop(timeout)

    def _warn(self, text: str) -> None:
        self.warnings.append(text)
        log.warning("%s", text)
