"""The simulator's tracer module: ``tracer:start``/``stop``/``trace`` and HEP3 for the SIP it "handles".

The MI side answers as real OpenSIPS 4.0.1 does (``ops/tracer_*`` and
``ops/error_tracer_*`` captures), including its bug: ``tracer:stop`` answers
OK for a trace that is not the first dynamic one in the list and removes
nothing. 3.x servers know only ``trace_start``/``trace_stop``/``trace``.

While at least one trace runs, a thread makes SIP traffic (``sipgen``) at
``rate`` items a second and sends each message, as HEP3, to every trace
whose scope, type and filter take it, from the ``hep_udp`` socket that
``ps`` lists (as OpenSIPS does). Nothing runs while no trace does.
"""

from __future__ import annotations

import heapq
import logging
import re
import socket
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from opensips.hep.packet import HepPacket, encode

from .sipgen import SipGenerator, SipMessage

log = logging.getLogger("opensips.sim")

NAMES_4 = {"tracer:start": "start", "trace_start": "start", "tracer:stop": "stop", "trace_stop": "stop",
           "tracer:trace": "trace"}
NAMES_3 = {"trace_start": "start", "trace_stop": "stop", "trace": "trace"}
_URI = re.compile(r"hep:(?P<host>\[[^\]]+\]|[^:;]+)(?::(?P<port>\d+))?(?P<params>(;[^;]*)*)$", re.IGNORECASE)


class TracerError(Exception):
    """An MI error reply: (code, message, data) as OpenSIPS sends it."""

    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


@dataclass
class Trace:
    name: str
    host: str
    port: int
    transport: str
    filters: list[str] = field(default_factory=list)
    scope: str = "d"
    types: str = "sip"
    sent: int = 0
    conn: socket.socket | None = None

    def takes(self, msg: SipMessage, item_is_call: bool) -> bool:
        """Scope, type and filters: would OpenSIPS mirror this message to this trace?"""
        if "sip" not in self.types.lower():
            return False
        scope = self.scope.lower()
        if "d" in scope and not item_is_call:
            return False
        if "m" in scope and "t" not in scope and "d" not in scope and not (msg.incoming and msg.is_request):
            return False
        for f in self.filters:
            key, _, value = f.partition("=")
            key = key.lower()
            if key == "caller" and msg.caller != value:
                return False
            if key == "callee" and msg.callee != value:
                return False
            if key == "ip" and value not in (msg.src[0], msg.dst[0]):
                return False
        return True


class SimTracer:
    """Dynamic traces and the HEP they receive; ``rate`` SIP items (REGISTER, OPTIONS, call) a second."""

    def __init__(self, v4: bool, rate: float = 2.0, seed: int | None = None, hostile: bool = False,
                 host: str = "127.0.0.1") -> None:
        self.names = NAMES_4 if v4 else NAMES_3
        self.v4 = v4
        self.rate = rate
        self.host = host
        self.sipgen = SipGenerator(seed, hostile)
        self.traces: list[Trace] = []
        self.global_on = True
        self.sent = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._queue: list[tuple[float, int, SipMessage, bool]] = []
        self._seq = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- life ------------------------------------------------------------------------------
    def start(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((self.host, 0))
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="opensips-sim-tracer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Server stop or restart: every dynamic trace is forgotten, as in a real restart."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None
        with self._lock:
            for t in self.traces:
                self._close_conn(t)
            self.traces.clear()
            self._queue.clear()
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    @property
    def hep_address(self) -> tuple[str, int] | None:
        """Where our HEP comes from (the ``hep_udp`` socket)."""
        return self._sock.getsockname()[:2] if self._sock is not None else None

    def processes(self) -> list[str]:
        addr = self.hep_address
        return [f"SIP receiver hep_udp:{addr[0]}:{addr[1]}"] if addr else []

    # -- MI ----------------------------------------------------------------------------------
    def handles(self, method: str) -> bool:
        return method in self.names or (self.v4 and method == "trace")

    def execute(self, method: str, params: Any) -> Any:
        if self.v4 and method == "trace":
            raise TracerError(-32001, "Method ambiguous", "supported names: tcp:trace, tracer:trace")
        what = self.names[method]
        if isinstance(params, list):
            recipe = {"start": ["id", "uri", "filter", "scope", "type"], "stop": ["id"], "trace": ["id", "mode"]}
            params = dict(zip(recipe[what], params))
        params = dict(params or {})
        handler = {"start": self._start, "stop": self._stop_trace, "trace": self._trace}[what]
        return handler(params)

    def _start(self, p: dict) -> Any:
        keys = set(p)
        if keys not in ({"id", "uri"}, {"id", "uri", "filter"}, {"id", "uri", "filter", "scope", "type"}):
            if len(keys) in (2, 3, 5):
                raise TracerError(-32602, "Invalid params", "Named parameters do not match")
            raise TracerError(-32602, "Invalid params", "Too few or too many parameters")
        name, uri = p["id"], p["uri"]
        if not isinstance(name, str) or not isinstance(uri, str):
            raise TracerError(-32602, "Invalid params", "Bad parameter type")
        if "://" in uri:
            raise TracerError(406, "DB not acceptable", "dynamic DB tracing is not yet available")
        with self._lock:
            if any(t.name == name for t in self.traces):
                raise TracerError(500, "Bad parameter value", "dynamic trace id already used")
        m = _URI.match(uri)
        if m is None:
            raise TracerError(500, "Bad parameter value", "error while alocating new hep_id")
        opts = dict(o.partition("=")[::2] for o in (m.group("params") or "").split(";") if o)
        filters = p.get("filter") or []
        if isinstance(filters, str):
            filters = [filters]
        trace = Trace(name, m.group("host").strip("[]"), int(m.group("port") or 9060),
                      opts.get("transport", "udp").lower(), [str(f) for f in filters],
                      str(p.get("scope") or "d"), str(p.get("type") or "sip"))
        with self._lock:
            self.traces.append(trace)
        self._wake.set()
        return "OK"

    def _stop_trace(self, p: dict) -> Any:
        name = p.get("id")
        with self._lock:
            index = next((i for i, t in enumerate(self.traces) if t.name == name), None)
            if index is None:
                raise TracerError(400, "Bad parameter value")
            if index == 0:  # OpenSIPS 4.0.1 removes only the first dynamic trace (see the module docstring)
                self._close_conn(self.traces.pop(0))
        return "OK"

    def _trace(self, p: dict) -> Any:
        if "id" in p:
            raise TracerError(400, "Bad parameter value")  # no static trace_id in the simulator
        if "mode" in p:
            mode = str(p["mode"]).lower()
            if mode not in ("on", "off"):
                raise TracerError(500, "Bad parameter value", "trace mode should be 'on' or 'off'")
            self.global_on = mode == "on"
            return "OK"
        with self._lock:
            dests = [{"name": t.name, "type": "HEP", "uri": f"{t.host}:{t.port}", "state": "dynamic"}
                     for t in self.traces]
        return {"global": "on" if self.global_on else "off", "trace destinations": dests}

    # -- traffic --------------------------------------------------------------------------------
    # the messages of a call that take its dialog into each state (sipgen.call's order)
    _PHASES = {1: (0, 4), 2: (4, 6), 3: (6, 8), 4: (8, 10), 5: (10, 14)}

    def dialog_changed(self, dialog: Any, old: int, new: int) -> int:
        """The dialog table moved a call from ``old`` to ``new``: mirror the SIP that did it.

        So the calls a trace shows are the ones ``dialog:list`` lists (same Call-ID, users,
        tags and contacts). Returns the packets sent; nothing is built while no trace runs.
        """
        with self._lock:
            if not self.traces or dialog is None:
                return 0
        seed = zlib.crc32(dialog.callid.encode())
        messages = SipGenerator(seed, self.sipgen.hostile).call(0, dialog)
        start = self._PHASES.get(max(old, 0) + 1, (14, 14))[0]
        end = self._PHASES.get(new, (start, start))[1]
        return sum(self._mirror(m, True) for m in messages[start:end])

    def send_item(self, item: list[SipMessage]) -> int:
        """Mirror one item's messages now (tests use this); returns the packets sent."""
        is_call = any(m.method == "INVITE" for m in item)
        return sum(self._mirror(m, is_call) for m in item)

    def _mirror(self, msg: SipMessage, is_call: bool) -> int:
        if not self.global_on or self._sock is None:
            return 0
        with self._lock:
            targets = [t for t in self.traces if t.takes(msg, is_call)]
        if not targets:
            return 0
        packet = encode(HepPacket(
            version=3, family=socket.AF_INET, proto=msg.proto, src_ip=msg.src[0], src_port=msg.src[1],
            dst_ip=msg.dst[0], dst_port=msg.dst[1], time=time.time(), payload_type=1, capture_id=1,
            payload=msg.payload, correlation_id=msg.call_id.encode()))
        sent = 0
        for t in targets:
            try:
                if t.transport == "tcp":
                    if t.conn is None:
                        t.conn = socket.create_connection((t.host, t.port), timeout=1.0)
                    t.conn.sendall(packet)
                else:
                    self._sock.sendto(packet, (t.host, t.port))
                t.sent += 1
                sent += 1
            except OSError:  # nothing listening (UDP: ICMP refused), unresolvable host: lost, as in OpenSIPS
                self.failed += 1
                self._close_conn(t)
        self.sent += sent
        return sent

    @staticmethod
    def _close_conn(t: Trace) -> None:
        if t.conn is not None:
            try:
                t.conn.close()
            except OSError:
                pass
            t.conn = None

    def _run(self) -> None:
        next_item = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                active = bool(self.traces)
            if not active or self.rate <= 0:
                with self._lock:
                    self._queue.clear()
                self._wake.wait(0.5)
                self._wake.clear()
                next_item = time.monotonic()
                continue
            now = time.monotonic()
            while next_item <= now:
                item = self.sipgen.next_item()
                is_call = any(m.method == "INVITE" for m in item)
                due = next_item
                for msg in item:
                    due += msg.delay
                    self._seq += 1
                    heapq.heappush(self._queue, (due, self._seq, msg, is_call))
                next_item += self.sipgen.rng.expovariate(self.rate)
            while self._queue and self._queue[0][0] <= now:
                _, _, msg, is_call = heapq.heappop(self._queue)
                try:
                    self._mirror(msg, is_call)
                except Exception:  # noqa: BLE001 - a simulator bug must not end the traffic
                    log.exception("sim tracer: sending HEP failed")
            wait = min(next_item, self._queue[0][0] if self._queue else next_item) - time.monotonic()
            self._stop.wait(max(0.001, min(wait, 0.5)))
