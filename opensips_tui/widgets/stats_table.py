"""Every statistic, grouped by module: value, rate per second for counters, pin mark.

Rows are rebuilt only when the set of shown names changes (first poll, filter, a restart with
other modules); otherwise only the cells whose text changed are updated.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from opensips.stats import Sample
from opensips.stats.numbers import rate_text, short_number

from ..safe import clean, text

COLUMNS = (("statistic", "name"), ("value", "value"), ("rate/s", "rate"), ("", "pin"))
PIN = "●"
FIRST_HIGHLIGHT = ("core:rcv_requests",)   # what the sparkline shows first


class StatsTable(DataTable):
    DEFAULT_CSS = """
    StatsTable { height: 1fr; }
    """
    BINDINGS = [Binding("space", "pin", "Pin", id="stats.pin")]

    class PinToggled(Message):
        """The operator pinned or unpinned ``name`` (space or enter)."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class Highlighted(Message):
        """The highlighted statistic changed (None on a group row)."""

        def __init__(self, name: str | None) -> None:
            super().__init__()
            self.name = name

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.names: list[str] = []           # shown statistics, in table order
        self._known: set[str] = set()
        self._cells: dict[tuple[str, str], str] = {}

    def on_mount(self) -> None:
        for label, key in COLUMNS:
            self.add_column(label, key=key)

    def show(self, sample: Sample, names: list[str], pins: set[str]) -> None:
        """Show ``names`` (already filtered, in server order) with their values in ``sample``."""
        if names != self.names:
            self._rebuild(sample, names, pins)
            return
        for name in names:
            for key, cell in self._row(sample, name, pins).items():
                if self._cells.get((name, key)) != cell:
                    self._cells[(name, key)] = cell
                    self.update_cell(name, key, self._styled(key, cell))

    def _row(self, sample: Sample, name: str, pins: set[str]) -> dict[str, str]:
        return {"value": short_number(sample.values.get(name, 0)),
                "rate": rate_text(sample.rates[name]) if name in sample.rates else "",
                "pin": PIN if name in pins else ""}

    @staticmethod
    def _styled(key: str, cell: str) -> Text:
        return Text(cell, style="bold yellow" if key == "pin" else "", justify="left" if key == "pin" else "right")

    def _rebuild(self, sample: Sample, names: list[str], pins: set[str]) -> None:
        current = self.current
        self.clear()
        self._cells.clear()
        self.names, self._known = names, set(names)
        group = None
        for name in names:
            g, _, stat = name.partition(":")
            if g != group:
                group = g
                self.add_row(text(g, 40, style="bold"), "", "", "",
                             key=f"group:{g}")
            row = self._row(sample, name, pins)
            self._cells.update({(name, k): v for k, v in row.items()})
            self.add_row(text("  " + clean(stat), 60), *(self._styled(k, row[k]) for k in ("value", "rate", "pin")),
                         key=name)
        start = current if current in self._known else next(
            (n for n in FIRST_HIGHLIGHT if n in self._known), names[0] if names else None)
        if start is not None:
            self.move_cursor(row=self.get_row_index(start))

    @property
    def current(self) -> str | None:
        """The highlighted statistic (None on a group row or an empty table)."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return key if key in self._known else None

    def set_pin(self, name: str, pinned: bool) -> None:
        if name in self._known:
            cell = PIN if pinned else ""
            self._cells[(name, "pin")] = cell
            self.update_cell(name, "pin", self._styled("pin", cell))

    def action_pin(self) -> None:
        if self.current is not None:
            self.post_message(self.PinToggled(self.current))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_pin()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.Highlighted(self.current))
