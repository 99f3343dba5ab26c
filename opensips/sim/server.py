"""`SimulatedOpenSIPS`: the MI endpoints, the event registry, delivery and traffic together.

Ephemeral ports and a temporary work dir by default, so tests can run many at once. `stop()`
then `start()` is a restart on the same addresses with an empty subscriber table, like a real
OpenSIPS restart.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from typing import Any, Callable

from . import data
from .commands import Dispatcher, Outcome
from .delivery import Deliverer
from .mi_datagram import DEFAULT_BUF_SIZE, DatagramEndpoint
from .mi_fifo import FifoEndpoint
from .mi_http import HTTPEndpoint
from .operations import Operations
from .operations_mi import OperationsMI
from .registry import Registry
from .tracer import SimTracer
from .traffic import TrafficGenerator

log = logging.getLogger("opensips.sim")


class SimulatedOpenSIPS:
    """A fake OpenSIPS speaking the real MI and event wire formats (see docs/architecture.md)."""

    def __init__(self, version: str = data.DEFAULT_VERSION, *, http: bool = True,
                 fifo: bool = True, datagram: bool = True, datagram_unix: bool = True,
                 rate: float = 0.0, workdir: str | None = None,
                 http_host: str = "127.0.0.1", http_port: int = 0,
                 fifo_path: str | None = None, fifo_reply_dir: str | None = None,
                 fifo_mode: int = 0o660,
                 datagram_host: str = "127.0.0.1", datagram_port: int = 0,
                 datagram_unix_path: str | None = None,
                 socket_buf_size: int = DEFAULT_BUF_SIZE, pretty: bool = False,
                 seed: int | None = None, hostile: bool = False, demo_events: bool = True,
                 quirks: bool = True, stream_reliable: bool = False,
                 stream_event_param: str | None = None, sip_rate: float = 2.0,
                 clock: Callable[[], float] = time.time) -> None:
        if version not in data.VERSIONS:
            raise ValueError(f"unsupported version {version!r}; use one of {data.VERSIONS}")
        self.version = version
        self.v4 = version.startswith("4")
        self.pretty = pretty
        self.hang = False                    # MI endpoints read requests and never answer
        self.crashes: list[dict] = []        # requests that would have crashed a real server
        # A temporary dir only for the FIFO / socket paths not given: a process killed with
        # SIGKILL (fault tests do that) cannot remove it, so don't make one it never needed.
        needs_dir = bool(fifo and not (fifo_path and fifo_reply_dir)
                         or datagram_unix and not datagram_unix_path)
        self._own_workdir = workdir is None and needs_dir
        self.workdir: str | None = workdir or (tempfile.mkdtemp(prefix="opensips-sim-") if needs_dir else None)

        def in_workdir(name: str) -> str:
            assert self.workdir is not None  # needs_dir made one for every path not given
            return os.path.join(self.workdir, name)

        self.fifo_path = (fifo_path or in_workdir("opensips_fifo")) if fifo else None
        self.fifo_reply_dir = (fifo_reply_dir or self.workdir) if fifo else None
        self.datagram_unix_path = ((datagram_unix_path or in_workdir("mi_dgram.sock"))
                                   if datagram_unix else None)
        self.registry = Registry(data.events_for(version, demo_events))
        self.dispatcher = Dispatcher(version, self.registry, self._emit, self._info, quirks)
        self.deliverer = Deliverer(reliable=stream_reliable, event_param=stream_event_param)
        # dialogs, registrations, destinations, connections: in step with the traffic
        self.ops = Operations(clock, seed)
        self.dispatcher.extend(OperationsMI(self.ops, self._emit, self.dispatcher.stats, self.v4))
        self.dispatcher.stats.gauges = self.ops.gauges
        self.traffic = TrafficGenerator(self._emit_generated, rate, seed, hostile,
                                        list(self.registry.events), clock=clock)
        # the tracer module (with the other added modules): HEP for `sip_rate` SIP items a second
        self.tracer = SimTracer(self.v4, sip_rate, seed, hostile) if demo_events else None
        self.dispatcher.tracer = self.tracer
        self._http = (HTTPEndpoint(self._handle, http_host, http_port, hang=self._hanging)
                      if http else None)
        self._dgram = (DatagramEndpoint(self._handle, host=datagram_host, port=datagram_port,
                                        buf_size=socket_buf_size, crashes_on_bad_method=self.v4,
                                        on_crash=self._crash, hang=self._hanging)
                       if datagram else None)
        self._dgram_unix = (DatagramEndpoint(self._handle, unix_path=self.datagram_unix_path,
                                             buf_size=socket_buf_size,
                                             crashes_on_bad_method=self.v4,
                                             on_crash=self._crash, hang=self._hanging)
                            if datagram_unix else None)
        self._fifo: FifoEndpoint | None = None
        if fifo:
            assert self.fifo_path is not None and self.fifo_reply_dir is not None  # both set when fifo
            self._fifo = FifoEndpoint(self._handle, self.fifo_path, self.fifo_reply_dir,
                                      on_crash=self._crash, hang=self._hanging, mode=fifo_mode)
        self._running = False
        self._lock = threading.Lock()

    # -- addresses -------------------------------------------------------------------------
    @property
    def http_url(self) -> str | None:
        return self._http.url if self._http else None

    @property
    def datagram_addr(self) -> tuple[str, int] | None:
        return (self._dgram.host, self._dgram.port) if self._dgram else None

    @property
    def running(self) -> bool:
        return self._running

    def mi_kwargs(self, conn: str) -> dict:
        """kwargs for `OpenSIPSMI(conn, **kwargs)` reaching this simulator.

        conn: "fifo", "http", "datagram" (UDP), or "datagram_unix" (use conn="datagram" with
        the returned kwargs).
        """
        if conn == "fifo" and self._fifo:
            return {"fifo_file": self.fifo_path, "fifo_file_fallback": self.fifo_path,
                    "fifo_reply_dir": self.fifo_reply_dir}
        if conn == "http" and self._http:
            return {"url": self.http_url}
        if conn == "datagram" and self._dgram:
            host, port = self.datagram_addr  # type: ignore[misc]
            return {"datagram_ip": host, "datagram_port": port}
        if conn in ("datagram_unix", "unix") and self._dgram_unix:
            return {"datagram_unix_socket": self.datagram_unix_path}
        raise ValueError(f"this simulator has no {conn!r} MI endpoint")

    def endpoints(self) -> list[tuple[str, str]]:
        """(kind, address) for every running endpoint, for the CLI and logs."""
        out = []
        if self._http:
            out.append(("mi_http", self.http_url or ""))
        if self._fifo:
            out.append(("mi_fifo", f"{self.fifo_path} (replies in {self.fifo_reply_dir})"))
        if self._dgram:
            host, port = self.datagram_addr  # type: ignore[misc]
            out.append(("mi_datagram", f"udp:{host}:{port}"))
        if self._dgram_unix:
            out.append(("mi_datagram_unix", f"unix:{self.datagram_unix_path}"))
        return out

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "SimulatedOpenSIPS":
        with self._lock:
            if self._running:
                return self
            if self.workdir:
                os.makedirs(self.workdir, exist_ok=True)
            self.registry.clear()
            self.dispatcher.reset()
            self.ops.reset()
            self.deliverer.start()
            started = []
            try:
                for ep in (self._http, self._dgram, self._dgram_unix, self._fifo):
                    if ep is not None:
                        ep.start()
                        started.append(ep)
            except Exception:
                for ep in started:
                    ep.stop()
                self.deliverer.stop()
                raise
            self.traffic.start()
            if self.tracer is not None:
                self.tracer.start()
            self._running = True
            return self

    def stop(self) -> None:
        """Stop everything; also removes our temporary dir when start() failed or never ran."""
        with self._lock:
            if self._running:
                self._running = False
                self.traffic.stop()
                if self.tracer is not None:
                    self.tracer.stop()
                for ep in (self._fifo, self._dgram_unix, self._dgram, self._http):
                    if ep is not None:
                        ep.stop()
                self.deliverer.stop()
                self.registry.clear()
            if self._own_workdir and self.workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    close = stop

    def restart(self) -> None:
        """Stop, then start again: like an OpenSIPS restart, no subscribers and a new "Up since".

        "Up since" is in whole seconds, as OpenSIPS's is, so the start waits for the next
        second when the last one began within this one; the restart is otherwise immediate.
        """
        began = int(self.dispatcher.started)
        self.stop()
        wait = began + 1 - time.time()
        if wait > 0:
            time.sleep(wait)
        self.start()

    def __enter__(self) -> "SimulatedOpenSIPS":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __del__(self) -> None:  # best effort: never leave FIFOs behind
        try:
            self.stop()
        except Exception:  # noqa: BLE001
            pass

    # -- events ----------------------------------------------------------------------------
    def raise_event(self, name: str, params: Any = None) -> None:
        """Deliver `name` to its subscribers like OpenSIPS would (params: dict, list or None).

        An event not yet published is published first (a module loading it, in effect).
        """
        self.registry.publish(name)
        self._emit(name, params)

    def subscribers(self) -> list[dict]:
        """[{"event", "id", "socket", "expire", "ttl"}] of every live subscription."""
        return self.registry.flat()

    def events(self) -> list[dict]:
        return self.dispatcher.cmd_events_list(None)["Events"]  # type: ignore[arg-type]

    def generate(self, n: int = 1) -> None:
        """Make ``n`` traffic events now, on the caller's thread (with rate 0 and a seed, the
        tables and statistics then move the same way on every run)."""
        for _ in range(n):
            self._emit_generated(*self.traffic.next_event())

    def set_rate(self, events_per_second: float) -> None:
        self.traffic.set_rate(events_per_second)

    @property
    def rate(self) -> float:
        return self.traffic.rate

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until every raised event has been handed to the sockets."""
        return self.deliverer.flush(timeout)

    # -- internals -------------------------------------------------------------------------
    def _hanging(self) -> bool:
        return self.hang

    def _info(self) -> dict:
        http = f"{self._http.host}:{self._http.port}" if self._http else "127.0.0.1:8888"
        return {"http": http}

    def _handle(self, raw: bytes) -> Outcome:
        return self.dispatcher.handle(raw, self.pretty)

    def _crash(self, where: str, raw: bytes) -> None:
        log.error("request that segfaults a real OpenSIPS over %s: %r", where, raw[:200])
        self.crashes.append({"transport": where, "request": bytes(raw)})

    def _emit(self, name: str, params: Any) -> None:
        if name not in self.registry.events:   # a module this server has not loaded
            return
        subs = self.registry.active(name)
        if name == "E_PIKE_BLOCKED" and isinstance(params, dict) and isinstance(params.get("ip"), str):
            self.ops.connections.block(params["ip"])
        if subs:
            self.deliverer.submit(name, params, subs)

    def _emit_generated(self, name: str, params: Any) -> None:
        before, main, after = self.ops.account(name, params)
        for event in before:
            self._emit(*event)
        if main is not None:
            self.dispatcher.stats.account(*main)   # the SIP traffic this event stands for
            self._emit(*main)
            if self.tracer is not None and name == "E_DLG_STATE_CHANGED":  # and its SIP, to traces
                ev = main[1]
                self.tracer.dialog_changed(self.ops.dialogs.get(ev["callid"]), ev["old_state"], ev["new_state"])
        for event in after:
            self._emit(*event)
