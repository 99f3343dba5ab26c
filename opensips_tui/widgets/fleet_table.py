"""The fleet table: one line per node under the column titles, the cursor kept on its node.

A :class:`~opensips_tui.widgets.line_list.LineList` (each line rendered once and cached) whose
rows are ``(node name, (FleetRow,))``. A refresh that keeps the same nodes repaints only the
lines whose row changed, so a refresh where nothing changed paints nothing. The cells come
from :mod:`opensips_tui.fleet_rows`, already cleaned text: no node name or version string is
ever read as markup.
"""

from __future__ import annotations

from typing import Hashable, Sequence

from rich.style import Style
from rich.text import Text

from ..fleet_rows import Column, FleetRow, SortKey, Tone, header_cells, layout, row_cells
from .line_list import LineList, Row

TONES: dict[Tone, Style] = {
    "ok": Style(), "notice": Style(color="yellow"), "warning": Style(color="dark_orange", bold=True),
    "critical": Style(color="red", bold=True), "down": Style(color="red", bold=True), "dim": Style(dim=True)}


class FleetTable(LineList):
    DEFAULT_CSS = """
    FleetTable > .line-list--cursor { background: $accent 30%; }
    FleetTable:focus > .line-list--cursor { background: $accent 55%; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sort_key: SortKey = "order"
        self._layout: tuple[int, tuple[str, ...], list[Column]] | None = None

    def show(self, rows: Sequence[FleetRow], sort_key: SortKey) -> None:
        """Show ``rows`` in this order. The same nodes in the same order: only the lines that
        changed are repainted; otherwise (a node added, a new sort) the whole table is."""
        new: list[Row] = [(row.node, (row,)) for row in rows]
        if sort_key != self.sort_key:
            self.sort_key = sort_key
            self.refresh_line(0)
        if [key for key, _ in new] != [key for key, _ in self.rows]:
            self.set_rows(new)
            return
        for n, (before, after) in enumerate(zip(self.rows, new)):
            if before != after:
                self.rows[n] = after
                self.refresh_line(n + 1)    # virtual line n + 1 is row n (line 0: the titles)

    @property
    def current_row(self) -> FleetRow | None:
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor][1][0]
        return None

    def select_node(self, node: Hashable) -> None:
        self.select(node)

    # -- drawing -------------------------------------------------------------------------------
    def columns(self, width: int) -> list[Column]:
        names = tuple(row[1][0].name.text for row in self.rows)
        if self._layout is None or self._layout[:2] != (width, names):
            self._layout = (width, names, layout(width, names))
        return self._layout[2]

    def title_text(self, width: int) -> Text:
        return Text("".join(header_cells(self.columns(width), self.sort_key)), no_wrap=True, end="")

    def row_text(self, row: int, width: int) -> Text:
        line = Text(no_wrap=True, end="")
        for text, tone in row_cells(self.rows[row][1][0], self.columns(width)):
            # the padding apart from the text: an SVG screenshot then places each value at its
            # own cell, in any font
            value = text.strip(" ")
            start = text.index(value) if value else len(text)
            line.append(text[:start])
            line.append(value, style=TONES[tone])
            line.append(text[start + len(value):])
        return line
