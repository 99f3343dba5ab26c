"""Every statistic, grouped by module: value, rate per second for counters, pin mark.

A line-API widget (one rendered line per row, cached): a poll re-renders only the rows whose
text changed, and repaints only those that are on screen. Textual's DataTable re-renders every
visible row on any cell update, which made the idle screen cost ~5% of a core at 1 poll/s
(bench/tui_cpu.py --screen statistics). The rows are rebuilt only when the set of shown names
changes (first poll, filter, a restart with other modules).
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from opensips.stats import Sample
from opensips.stats.numbers import rate_text, short_number

from ..safe import clean

PIN = "●"
FIRST_HIGHLIGHT = ("core:rcv_requests",)   # what the sparkline shows first
VALUE_W, RATE_W, PIN_W = 10, 10, 3
NAME_MAX = 40                 # wider screens do not push the numbers away from their names
_VALUE, _RATE = Style(bold=True), Style(italic=False)


class StatsTable(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {"stats-table--cursor", "stats-table--group", "stats-table--pin"}
    DEFAULT_CSS = """
    StatsTable { height: 1fr; background: $surface; overflow-x: hidden; }
    StatsTable > .stats-table--cursor { background: $accent 45%; }
    StatsTable > .stats-table--group { text-style: bold; color: $text-accent; }
    StatsTable > .stats-table--pin { color: $warning; text-style: bold; }
    """
    # cursor keys: (key, action, what it does), none shown in the footer
    _MOVES = (("up", "move(-1)", "Previous statistic"), ("down", "move(1)", "Next statistic"),
              ("pageup", "page(-1)", "Page up"), ("pagedown", "page(1)", "Page down"),
              ("home", "move(-1000000)", "First statistic"), ("end", "move(1000000)", "Last statistic"))
    BINDINGS = [
        *(Binding(key, action, text, show=False) for key, action, text in _MOVES),
        Binding("space", "pin", "Pin", id="stats.pin"),
        Binding("enter", "pin", "Pin", show=False, id="stats.pin_enter"),
    ]

    class PinToggled(Message):
        """The operator pinned or unpinned ``name`` (space or enter)."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class Highlighted(Message):
        """The highlighted statistic changed."""

        def __init__(self, name: str | None) -> None:
            super().__init__()
            self.name = name

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.names: list[str] = []                 # shown statistics, in table order
        self._rows: list[tuple[str | None, str]] = []   # (statistic or None for a group, label)
        self._index: dict[str, int] = {}           # statistic -> row
        self._cells: dict[str, tuple[str, str, str]] = {}   # statistic -> (value, rate, pin)
        self._strips: dict[int, tuple[tuple, Strip]] = {}   # row -> (what it showed, line)
        self.cursor = 0

    # -- data --------------------------------------------------------------------------------
    def show(self, sample: Sample, names: list[str], pins: set[str]) -> None:
        """Show ``names`` (filtered, in server order) with their values in ``sample``."""
        if names != self.names:
            self._rebuild(sample, names, pins)
            return
        top, bottom = self.scroll_offset.y, self.scroll_offset.y + self.size.height
        for name in names:
            cells = self._row_cells(sample, name, pins)
            if self._cells.get(name) != cells:
                self._cells[name] = cells
                row = self._index[name]
                if top <= row < bottom:
                    self.refresh_line(row)

    @staticmethod
    def _row_cells(sample: Sample, name: str, pins: set[str]) -> tuple[str, str, str]:
        return (short_number(sample.values.get(name, 0)),
                rate_text(sample.rates[name]) if name in sample.rates else "",
                PIN if name in pins else "")

    def _rebuild(self, sample: Sample, names: list[str], pins: set[str]) -> None:
        current = self.current
        self.names = names
        self._rows, self._index, self._cells = [], {}, {}
        group = None
        for name in names:
            g, _, stat = name.partition(":")
            if g != group:
                group = g
                self._rows.append((None, clean(g, 40)))
            self._index[name] = len(self._rows)
            self._rows.append((name, "  " + clean(stat, 80)))
            self._cells[name] = self._row_cells(sample, name, pins)
        self._strips.clear()
        self.virtual_size = Size(self.size.width, len(self._rows))
        start = current if current in self._index else next(
            (n for n in FIRST_HIGHLIGHT if n in self._index), names[0] if names else None)
        self._set_cursor(self._index[start] if start is not None else 0)
        self.refresh()

    def set_pin(self, name: str, pinned: bool) -> None:
        if name in self._cells:
            value, rate, _ = self._cells[name]
            self._cells[name] = (value, rate, PIN if pinned else "")
            self.refresh_line(self._index[name])

    @property
    def current(self) -> str | None:
        """The highlighted statistic (None on a group row or an empty table)."""
        if 0 <= self.cursor < len(self._rows):
            return self._rows[self.cursor][0]
        return None

    def row_text(self, row: int) -> str:
        """Row ``row`` as plain text (the tests read the table through it)."""
        return self._line(row, 80).plain

    # -- drawing -----------------------------------------------------------------------------
    @staticmethod
    def name_width(width: int) -> int:
        return min(NAME_MAX, max(8, width - VALUE_W - RATE_W - PIN_W))

    @classmethod
    def header(cls, width: int) -> Text:
        """The column titles, aligned with the rows of a table ``width`` cells wide."""
        out = Text("statistic".ljust(cls.name_width(width)), no_wrap=True, end="")
        out.append("value".rjust(VALUE_W), style=_VALUE)
        out.append("rate/s".rjust(RATE_W), style=_RATE)
        return out

    def _line(self, row: int, width: int) -> Text:
        name, label = self._rows[row]
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        if name is None:
            line.append(label.ljust(width)[:width], style=self.get_component_rich_style("stats-table--group"))
            return line
        value, rate, pin = self._cells[name]
        name_w = self.name_width(width)
        shown = label if len(label) <= name_w else label[: name_w - 1] + "…"
        # label, value and rate are distinct segments (bold value, explicitly non-italic rate):
        # an SVG screenshot then places each at its own cell, in any font
        line.append(shown.ljust(name_w))
        line.append(value.rjust(VALUE_W), style=_VALUE)
        line.append(rate.rjust(RATE_W), style=_RATE)
        line.append(f"  {pin}", style=self.get_component_rich_style("stats-table--pin") if pin else "")
        return line

    def render_line(self, y: int) -> Strip:
        row = self.scroll_offset.y + y
        width = self.size.width
        base = self.rich_style
        if row >= len(self._rows):
            return Strip.blank(width, base)
        name = self._rows[row][0]
        key = (width, row == self.cursor, self._cells.get(name) if name else None, self._rows[row])
        cached = self._strips.get(row)
        if cached is not None and cached[0] == key:
            return cached[1]
        style = base
        if row == self.cursor:
            style = base + self.get_component_rich_style("stats-table--cursor", partial=True)
        text = self._line(row, width)
        strip = Strip(list(text.render(self.app.console)), text.cell_len).adjust_cell_length(width)
        strip = strip.apply_style(style if isinstance(style, Style) else base)
        self._strips[row] = (key, strip)
        return strip

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self._rows))
        self._strips.clear()

    # -- cursor ------------------------------------------------------------------------------
    def _set_cursor(self, row: int) -> None:
        row = max(0, min(row, len(self._rows) - 1))
        old, self.cursor = self.cursor, row
        if old != row:
            self.refresh_line(old)
            self.refresh_line(row)
        self._scroll_to_cursor()
        self.call_after_refresh(self._scroll_to_cursor)   # a first build has no size yet
        self.post_message(self.Highlighted(self.current))

    def _scroll_to_cursor(self) -> None:
        self.scroll_to_region(Region(0, self.cursor, 1, 1), animate=False, immediate=True)

    def action_move(self, delta: int) -> None:
        """Move ``delta`` rows (clamped), landing on a statistic, never on a group title."""
        n = len(self._rows)
        if not n:
            return
        row = max(0, min(self.cursor + delta, n - 1))
        step = 1 if delta > 0 else -1
        for direction in (step, -step):      # keep going the same way, else turn back
            r = row
            while 0 <= r < n and self._rows[r][0] is None:
                r += direction
            if 0 <= r < n:
                self._set_cursor(r)
                return

    def action_page(self, direction: int) -> None:
        self.action_move(direction * max(1, self.size.height - 1))

    def on_click(self, event: events.Click) -> None:
        self.action_move(self.scroll_offset.y + event.y - self.cursor)

    def action_pin(self) -> None:
        if self.current is not None:
            self.post_message(self.PinToggled(self.current))
