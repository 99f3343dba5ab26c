"""The trace screen's two lists: calls grouped by Call-ID (as sngrep lists them) and messages.

Rows are built from the core's :class:`~opensips.hep.calls.Call` and
:class:`~opensips.hep.calls.TraceMessage` with every wire string escaped once, here
(:func:`opensips_tui.safe.clean`); the lists then only lay them out for the width they have.
"""

from __future__ import annotations

from rich.text import Text

from opensips.hep.calls import Call, TraceMessage

from ..feed import format_time
from ..safe import clean
from .line_list import LineList, Row

CUT = 120     # characters of a wire string kept in a row (a Call-ID can be 256)

STATE_STYLES = {"CALL SETUP": "yellow", "IN CALL": "bold green", "COMPLETED": "green",
                "CANCELLED": "magenta", "REJECTED": "red", "BUSY": "red", "DIVERTED": "cyan"}


def duration_text(seconds: float) -> str:
    """``0.611s``, ``1m05s``, ``2h03m``: short enough for an 8-cell column."""
    if seconds < 60:
        return f"{seconds:.3f}s" if seconds < 10 else f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def party(uri: str) -> str:
    """``sip:alice@example.com`` -> ``alice@example.com`` (the scheme costs room, says little)."""
    scheme, colon, rest = uri.partition(":")
    return rest if colon and scheme.lower() in ("sip", "sips") else uri


def label_style(label: str) -> str:
    """Requests bold; replies by class: 1xx dim, 2xx green, 3xx cyan, 4xx-6xx red."""
    head = label[:1]
    if head.isdigit():
        return {"1": "dim", "2": "green", "3": "cyan"}.get(head, "red")
    return "bold"


def _cell(text: Text, value: str, width: int, style: str = "", right: bool = False) -> None:
    if len(value) > width:
        value = value[: max(0, width - 1)] + "…"
    text.append(value.rjust(width) if right else value.ljust(width), style=style)
    text.append(" ")


class CallsList(LineList):
    """One row per call: #, start, From, To, state, messages, duration, Call-ID."""

    def __init__(self, utc: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.utc = utc
        # key -> (what the row depends on, row): a drain rebuilds only the rows of calls that moved
        self._made: dict[object, tuple[tuple, Row]] = {}

    def call_row(self, number: int, call: Call) -> Row:
        depends = (number, len(call.messages), call.state, call.first_time, call.last_time, call.from_uri)
        made = self._made.get(call.key)
        if made is not None and made[0] == depends:
            return made[1]
        row = (call.key, (str(number), format_time(call.first_time, self.utc), clean(party(call.from_uri), CUT),
                          clean(party(call.to_uri), CUT), call.state or "-", str(len(call.messages)),
                          duration_text(call.duration), clean(call.call_id, CUT), clean(call.node, 20)))
        self._made[call.key] = (depends, row)
        return row

    def show_calls(self, calls: list[Call]) -> None:
        """One row per call, numbered from 1; rows of calls no longer held are forgotten."""
        rows = [self.call_row(n, call) for n, call in enumerate(calls, 1)]
        if len(self._made) > 2 * len(rows) + 100:
            keep = {row[0] for row in rows}
            self._made = {k: v for k, v in self._made.items() if k in keep}
        self.set_rows(rows)

    @staticmethod
    def _widths(width: int) -> tuple[int, int, int]:
        fixed = 5 + 13 + 11 + 5 + 8 + 5     # #, start, state, msgs, duration + gaps
        rest = max(24, width - fixed)
        party = max(10, rest * 3 // 10)
        return party, party, max(8, rest - 2 * party - 2)

    def title_text(self, width: int) -> Text:
        party, _, cid = self._widths(width)
        out = Text(no_wrap=True, end="")
        for value, w, right in (("#", 4, True), ("Start", 12, False), ("From", party, False),
                                ("To", party, False), ("State", 10, False), ("Msgs", 4, True),
                                ("Duration", 8, True), ("Call-ID", cid, False)):
            _cell(out, value, w, right=right)
        return out

    def row_text(self, row: int, width: int) -> Text:
        number, start, from_uri, to_uri, state, msgs, duration, call_id, node = self.rows[row][1]
        party, _, cid = self._widths(width)
        out = Text(no_wrap=True, end="")
        _cell(out, number, 4, "dim", right=True)
        _cell(out, start, 12)
        _cell(out, from_uri, party)
        _cell(out, to_uri, party)
        _cell(out, state, 10, STATE_STYLES.get(state, ""))
        _cell(out, msgs, 4, right=True)
        _cell(out, duration, 8, right=True)
        _cell(out, f"{node}: {call_id}" if node else call_id, cid)
        return out


class MessagesList(LineList):
    """One row per message: time, source -> destination, proto, method or status, Call-ID."""

    def __init__(self, utc: bool = False, **kwargs) -> None:
        super().__init__(follow=True, **kwargs)
        self.utc = utc
        self._made: dict[int, Row] = {}       # seq -> row (a message never changes)

    def show_messages(self, messages: list[TraceMessage]) -> None:
        made = self._made
        rows = [made.get(m.seq) or self.message_row(m) for m in messages]
        self._made = {m.seq: row for m, row in zip(messages, rows)}
        self.set_rows(rows)

    def message_row(self, message: TraceMessage) -> Row:
        return ((message.node, message.call_id, message.seq), (format_time(message.time, self.utc), clean(message.src, 48), clean(message.dst, 48),
                              message.transport[:5], clean(message.label, CUT), clean(message.call_id, CUT),
                              clean(message.node, 20)))

    @staticmethod
    def _widths(width: int) -> tuple[int, int, int]:
        rest = max(30, width - 13 - 6 - 4)
        addr = min(21, max(14, rest // 4))        # 127.0.0.1:5060 whole at 80 columns
        label = min(24, max(10, rest // 5))
        return addr, label, max(8, rest - 2 * addr - label - 4)

    def title_text(self, width: int) -> Text:
        addr, label, cid = self._widths(width)
        out = Text(no_wrap=True, end="")
        for value, w in (("Time", 12), ("Source", addr), ("", 2), ("Destination", addr), ("Proto", 5),
                         ("Message", label), ("Call-ID", cid)):
            _cell(out, value, w)
        return out

    def row_text(self, row: int, width: int) -> Text:
        time, src, dst, proto, label, call_id, node = self.rows[row][1]
        addr, label_w, cid = self._widths(width)
        out = Text(no_wrap=True, end="")
        _cell(out, time, 12, "dim")
        _cell(out, src, addr, right=True)
        _cell(out, "->", 2, "dim")
        _cell(out, dst, addr)
        _cell(out, proto, 5)
        _cell(out, label, label_w, label_style(label))
        _cell(out, f"{node}: {call_id}" if node else call_id, cid)
        return out
