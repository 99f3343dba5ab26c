"""Traced SIP messages grouped into calls by Call-ID, as sngrep groups them, in bounded memory.

:class:`CallStore` keeps at most ``max_calls`` calls, ``max_messages`` messages and
``max_bytes`` of payload. When a limit is passed the oldest call (by its first message) goes
first, whole, so every ladder left on screen is complete; a single call bigger than the limits
loses its oldest messages instead. What went is counted (:attr:`CallStore.evicted_calls`,
:attr:`CallStore.evicted_messages`) so the screen can say so.

Single-threaded on purpose: receiver threads hand packets to the UI through a bounded buffer
(``opensips_tui.trace_feed``) and only the UI thread adds them here. No Textual here.

Calls are keyed by ``(node, Call-ID)``: one store can hold the traces of several OpenSIPS
nodes (a fleet) without mixing two nodes' calls that share a Call-ID.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator

from .sip import MAX_VALUE, SipSummary, summarize

if TYPE_CHECKING:
    from .packet import HepPacket

__all__ = ["TraceMessage", "Call", "CallStore", "CallFilter", "address", "CALL_STATES"]

# The states of an INVITE dialog, sngrep's names. Other calls show their method (REGISTER, ...).
SETUP, IN_CALL, COMPLETED, CANCELLED, REJECTED, BUSY, DIVERTED = (
    "CALL SETUP", "IN CALL", "COMPLETED", "CANCELLED", "REJECTED", "BUSY", "DIVERTED")
CALL_STATES = (SETUP, IN_CALL, COMPLETED, CANCELLED, REJECTED, BUSY, DIVERTED)


def address(ip: str, port: int) -> str:
    """``1.2.3.4:5060``, or ``[::1]:5060`` for IPv6 (a column of the ladder)."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


@dataclass(frozen=True, slots=True)
class TraceMessage:
    """One traced SIP message: the HEP packet, its SIP summary, arrival order and node."""

    seq: int                # arrival order in the store, from 1
    packet: HepPacket
    sip: SipSummary
    node: str = ""

    @property
    def time(self) -> float:
        return self.packet.time

    @property
    def src(self) -> str:
        return address(self.packet.src_ip, self.packet.src_port)

    @property
    def dst(self) -> str:
        return address(self.packet.dst_ip, self.packet.dst_port)

    @property
    def transport(self) -> str:
        return self.packet.transport

    @property
    def call_id(self) -> str:
        """The SIP Call-ID, else the HEP correlation id, else ``""``."""
        if self.sip.call_id:
            return self.sip.call_id
        corr = self.packet.correlation_id
        return corr[:MAX_VALUE].decode("utf-8", "replace") if corr else ""

    @property
    def label(self) -> str:
        """``INVITE`` or ``180 Ringing`` (what the message list and the ladder's arrows show)."""
        return self.sip.label

    @property
    def method(self) -> str:
        """The request method, or for a reply the method of its CSeq."""
        return self.sip.method or self.sip.cseq_method


@dataclass(eq=False, slots=True)
class Call:
    """The messages sharing a Call-ID (arrival order) and what the calls list shows of them."""

    node: str
    call_id: str
    messages: deque[TraceMessage] = field(default_factory=deque)
    from_uri: str = ""
    to_uri: str = ""
    kind: str = ""              # INVITE for a dialog, else the first request's method
    state: str = ""
    first_time: float = 0.0
    last_time: float = 0.0
    size: int = 0               # payload bytes held
    addresses: set[str] = field(default_factory=set)
    methods: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[str, str]:
        return (self.node, self.call_id)

    @property
    def duration(self) -> float:
        """Seconds from the earliest to the latest message held."""
        return self.last_time - self.first_time

    def in_time_order(self) -> list[TraceMessage]:
        """Messages by capture time: OpenSIPS's processes can mirror them slightly out of order
        (``tests/fixtures/opensips-wire/4.0.1/hep/tcp_scope_t_register_options_call.json``)."""
        return sorted(self.messages, key=lambda m: (m.time, m.seq))

    def _add(self, message: TraceMessage) -> None:
        sip = message.sip
        if not self.messages:
            self.first_time = self.last_time = message.time
        else:
            self.first_time = min(self.first_time, message.time)
            self.last_time = max(self.last_time, message.time)
        self.messages.append(message)
        self.size += len(message.packet.payload)
        self.addresses.add(message.src)
        self.addresses.add(message.dst)
        if message.method:
            self.methods.add(message.method)
        if not self.from_uri and sip.from_uri:
            self.from_uri = sip.from_uri
        if not self.to_uri and sip.to_uri:
            self.to_uri = sip.to_uri
        self._advance(sip)

    def _advance(self, sip: SipSummary) -> None:
        """The sngrep call states for INVITE dialogs; other calls are named by their method."""
        method = sip.method or sip.cseq_method
        if method == "INVITE" and self.kind != "INVITE":
            self.kind, self.state = "INVITE", SETUP
        elif not self.kind and method:
            self.kind = self.state = method
        if self.kind != "INVITE":
            return
        if sip.method == "BYE":
            self.state = COMPLETED
        elif sip.method == "CANCEL" and self.state == SETUP:
            self.state = CANCELLED
        elif sip.status >= 200 and sip.cseq_method == "INVITE" and self.state == SETUP:
            # only the first final answer decides; a failed re-INVITE leaves the call up
            code = sip.status
            self.state = (IN_CALL if code < 300 else DIVERTED if code < 400 else CANCELLED if code == 487
                          else BUSY if code in (486, 600) else REJECTED)

    def _drop_oldest(self) -> TraceMessage:
        message = self.messages.popleft()
        self.size -= len(message.packet.payload)
        if self.messages:
            times = [m.time for m in self.messages]
            self.first_time, self.last_time = min(times), max(times)
        return message


_FILTER_KEYS = {"method": "method", "m": "method", "user": "user", "u": "user", "ip": "ip",
                "callid": "call_id", "call-id": "call_id", "call_id": "call_id", "cid": "call_id",
                "state": "state"}


@dataclass(frozen=True, slots=True)
class CallFilter:
    """Which calls to show. Every given field must match; matching ignores case.

    ``method``: one of the call's methods (requests, and the CSeq method of replies);
    ``user``: part of the From or To URI; ``ip``: an address of the call (``10.0.0.1`` or
    ``10.0.0.1:5060``); ``call_id``: part of the Call-ID; ``state``: part of the state;
    ``words``: each a part of any of these.
    """

    method: str = ""
    user: str = ""
    ip: str = ""
    call_id: str = ""
    state: str = ""
    words: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> CallFilter:
        """``method=INVITE user=alice ip=10.0.0.1 callid=abc`` plus free words.

        Raises ``ValueError`` naming the key for an unknown ``key=``.
        """
        fields: dict[str, str] = {}
        words: list[str] = []
        for token in text.split():
            key, eq, value = token.partition("=")
            if not eq:
                words.append(token.lower())
                continue
            name = _FILTER_KEYS.get(key.lower())
            if name is None:
                raise ValueError(f"unknown filter key {key!r} (use method=, user=, ip=, callid=, state=)")
            fields[name] = value.lower()
        return cls(words=tuple(words), **fields)

    @property
    def active(self) -> bool:
        return bool(self.method or self.user or self.ip or self.call_id or self.state or self.words)

    def matches(self, call: Call) -> bool:
        if self.method and self.method.upper() not in call.methods:
            return False
        if self.user and self.user not in call.from_uri.lower() and self.user not in call.to_uri.lower():
            return False
        if self.ip and not any(_ip_matches(self.ip, a) for a in call.addresses):
            return False
        if self.call_id and self.call_id not in call.call_id.lower():
            return False
        if self.state and self.state not in call.state.lower():
            return False
        if self.words:
            text = " ".join((call.call_id, call.from_uri, call.to_uri, call.state, call.node,
                             *call.addresses, *call.methods)).lower()
            return all(word in text for word in self.words)
        return True


def _ip_matches(wanted: str, addr: str) -> bool:
    host = addr.rpartition(":")[0].strip("[]").lower()
    return wanted == host or wanted == addr.lower() or wanted.strip("[]") == host


class CallStore:
    """Calls by ``(node, Call-ID)`` in bounded memory; see the module docstring."""

    def __init__(self, max_calls: int = 2000, max_messages: int = 20000,
                 max_bytes: int = 32 * 1024 * 1024) -> None:
        if min(max_calls, max_messages, max_bytes) < 1:
            raise ValueError("max_calls, max_messages and max_bytes must be at least 1")
        self.max_calls = max_calls
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._calls: OrderedDict[tuple[str, str], Call] = OrderedDict()   # oldest first
        self._order: deque[tuple[TraceMessage, Call]] = deque()          # arrival order, with dead ones
        self._seq = 0
        self.messages_held = 0
        self.bytes_held = 0
        self.evicted_calls = 0
        self.evicted_messages = 0
        self.version = 0        # changes with every change: a view redraws only when it moved

    def __len__(self) -> int:
        return len(self._calls)

    def add(self, packet: HepPacket, node: str = "") -> TraceMessage:
        """File one traced packet under its call (then evict to stay within the limits)."""
        self._seq += 1
        message = TraceMessage(self._seq, packet, summarize(packet.payload), node)
        key = (node, message.call_id)
        call = self._calls.get(key)
        if call is None:
            call = self._calls[key] = Call(node, message.call_id)
        call._add(message)
        self._order.append((message, call))
        self.messages_held += 1
        self.bytes_held += len(packet.payload)
        self.version += 1
        self._evict()
        return message

    def _evict(self) -> None:
        while len(self._calls) > self.max_calls:
            self._evict_call()
        while self.messages_held > self.max_messages or self.bytes_held > self.max_bytes:
            if len(self._calls) > 1:
                self._evict_call()
            else:
                call = next(iter(self._calls.values()))
                message = call._drop_oldest()
                self._forget(1, len(message.packet.payload))
                if not call.messages:
                    del self._calls[call.key]
                    self.evicted_calls += 1
        if len(self._order) > 2 * self.messages_held + 64:   # drop the dead entries now and then
            self._order = deque(entry for entry in self._order if self._live(*entry))

    def _evict_call(self) -> None:
        _, call = self._calls.popitem(last=False)
        self.evicted_calls += 1
        self._forget(len(call.messages), call.size)

    def _forget(self, messages: int, size: int) -> None:
        self.messages_held -= messages
        self.bytes_held -= size
        self.evicted_messages += messages

    def _live(self, message: TraceMessage, call: Call) -> bool:
        return self._calls.get(call.key) is call and message.seq >= call.messages[0].seq

    def get(self, key: tuple[str, str]) -> Call | None:
        return self._calls.get(key)

    def calls(self, flt: CallFilter | None = None) -> list[Call]:
        """The calls held (matching ``flt``), oldest first."""
        if flt is None or not flt.active:
            return list(self._calls.values())
        return [call for call in self._calls.values() if flt.matches(call)]

    def messages(self, flt: CallFilter | None = None, last: int | None = None) -> list[TraceMessage]:
        """Messages held in arrival order (of the calls matching ``flt``); the newest ``last`` only."""
        picked: list[TraceMessage] = []
        for message, call in reversed(self._order):
            if last is not None and len(picked) >= last:
                break
            if self._live(message, call) and (flt is None or not flt.active or flt.matches(call)):
                picked.append(message)
        picked.reverse()
        return picked

    def __iter__(self) -> Iterator[Call]:
        return iter(list(self._calls.values()))

    def clear(self) -> None:
        """Forget every call (the evicted counts stay: they describe the whole session)."""
        self._calls.clear()
        self._order.clear()
        self.messages_held = self.bytes_held = 0
        self.version += 1

    def add_all(self, packets: Iterable[HepPacket], node: str = "") -> None:
        for packet in packets:
            self.add(packet, node)

