"""The ladder diagram of one call: one column per address, one arrow per message.

Draws :func:`opensips.hep.ladder.layout`'s plain data, one line per arrow, with the time and the
delta since the previous message in a left gutter::

    Time          Delta  127.0.0.1:5063     127.0.0.1:5060     127.0.0.1:5070
    15:00:00.059         │──────INVITE──────>│                  │
    15:00:00.059  +0.2ms │<─100 Giving it a ─│                  │

The cursor picks a message (the raw view follows it). Columns share the width left of the
gutter; when there are more than fit, the last ones are cut and the title says how many.
"""

from __future__ import annotations

from rich.text import Text

from opensips.hep.ladder import Ladder

from ..feed import format_time
from ..safe import clean
from .line_list import LineList
from .trace_lists import label_style

MIN_STEP = 14          # cells between two columns, at least
WIDE_GUTTER = 21       # time + delta; below WIDE_AT cells only the delta is shown
NARROW_GUTTER = 8
WIDE_AT = 96


def delta_text(seconds: float) -> str:
    """``+0.2ms``, ``+105ms``, ``+1.50s``, ``+2m05s`` (at most 7 cells)."""
    if seconds <= 0:
        return ""
    if seconds < 0.01:
        return f"+{seconds * 1000:.1f}ms"
    if seconds < 1:
        return f"+{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"+{seconds:.2f}s"
    if seconds < 6000:
        return f"+{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"+{int(seconds // 3600)}h"


class LadderView(LineList):
    """The selected call's ladder; rows are keyed by message ``seq``."""

    DEFAULT_CSS = """
    LadderView > .line-list--cursor { background: $primary 25%; }
    LadderView:focus > .line-list--cursor { background: $primary 50%; }
    """

    def __init__(self, utc: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.utc = utc
        self.columns: tuple[str, ...] = ()

    def show(self, ladder: Ladder | None, keep: int | None = None) -> None:
        """Draw ``ladder`` (None: nothing selected); keep the cursor on message ``keep``."""
        if ladder is None:
            self.columns = ()
            self.set_rows([])
            return
        self.columns = tuple(clean(c, 48) for c in ladder.columns)
        rows = [(a.message.seq, (format_time(a.message.time, self.utc), delta_text(a.delta), a.src, a.dst,
                                 clean(a.label, 64), a.message.transport[:5], self.columns))
                for a in ladder.arrows]
        self.set_rows(rows, keep=keep)

    # -- geometry ----------------------------------------------------------------------------
    @staticmethod
    def gutter_width(width: int) -> int:
        return WIDE_GUTTER if width >= WIDE_AT else NARROW_GUTTER

    def _positions(self, width: int) -> list[int]:
        """The x of each column's line that fits in ``width``."""
        n = len(self.columns)
        left = self.gutter_width(width) + 1
        if n == 0:
            return []
        step = max(MIN_STEP, (width - left) // n)       # half a step of margin at both ends
        return [x for x in (left + step // 2 + i * step for i in range(n)) if x < width]

    def title_text(self, width: int) -> Text:
        gutter = self.gutter_width(width)
        line = list(" " * width)
        head = "Time          Delta" if gutter == WIDE_GUTTER else "Delta"
        line[: len(head)] = head
        positions = self._positions(width)
        step = positions[1] - positions[0] if len(positions) > 1 else width - gutter
        for x, name in zip(positions, self.columns):
            room = max(4, step - 2)
            shown = name if len(name) <= room else name[: room - 1] + "…"
            start = max(gutter + 1, min(width - len(shown), x - len(shown) // 2))
            line[start:start + len(shown)] = shown
        text = Text("".join(line)[:width], no_wrap=True, end="")
        hidden = len(self.columns) - len(positions)
        if hidden > 0:
            note = f" +{hidden} »"
            text = text[: max(0, width - len(note))]
            text.append(note, style="bold")
        return text

    def row_text(self, row: int, width: int) -> Text:
        time, delta, src, dst, label, _proto, _ = self.rows[row][1]
        gutter = self.gutter_width(width)
        positions = self._positions(width)
        cells = [" "] * width
        for x in positions:
            cells[x] = "│"
        head = f"{time} {delta:>7}" if gutter == WIDE_GUTTER else f"{delta:>7}"
        out = Text(no_wrap=True, end="")
        if not positions:
            return Text(head, no_wrap=True, end="")
        far = positions[-1] + MIN_STEP            # a column cut off: the arrow runs off the edge
        xs = [positions[i] if i < len(positions) else far for i in (src, dst)]
        a, b = min(xs), max(xs)
        label_at: tuple[int, int] | None = None
        if src == dst:
            mark = f"↺ {label}"
            start = xs[0] + 1
            cells[start:start + len(mark)] = mark
            label_at = (start + 2, start + len(mark))
        else:
            for x in range(a + 1, min(b, width)):
                cells[x] = "─"
            if xs[1] > xs[0]:
                if b - 1 < width:
                    cells[b - 1] = ">"
            else:
                cells[a + 1] = "<"
            room = b - a - 4
            if room >= 3:
                shown = label if len(label) <= room else label[: room - 1] + "…"
                start = a + 2 + (room - len(shown)) // 2
                cells[start:start + len(shown)] = shown
                label_at = (start, start + len(shown))
        body = "".join(cells)[:width]
        out.append(head, style="dim")
        lead = body[len(head):]
        if label_at is None:
            out.append(lead)
        else:
            s, e = label_at[0] - len(head), label_at[1] - len(head)
            out.append(lead[:s])
            out.append(lead[s:e], style=label_style(label))
            out.append(lead[e:])
        return out
