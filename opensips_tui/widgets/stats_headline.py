"""The statistics headline: SIP traffic, calls, memory, loads, pins, and diagnose's advice.

It redraws only when its text changes (at most once per poll), and colours each figure by
its threshold level.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from opensips.stats import Sample

from ..headline import advice, headline
from ..safe import clean

STYLE = {"ok": "", "notice": "yellow", "warning": "bold dark_orange", "critical": "bold red"}


class StatsHeadline(Static):
    DEFAULT_CSS = """
    StatsHeadline {
        height: auto; max-height: 10; border: round $primary 50%; padding: 0 1;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: Text | None = None

    def show(self, sample: Sample | None, pins: list[str], waiting: str = "waiting for the first poll") -> None:
        # a short terminal keeps one line of advice, so the table keeps its rows
        text = self.render_sample(sample, pins, waiting, 1 if self.app.size.height < 30 else 2)
        shown = self._shown
        if shown is None or text.plain != shown.plain or text.spans != shown.spans:
            self._shown = text
            # a layout pass (the whole screen redrawn) only when the number of lines changed
            self.update(text, layout=shown is None or text.plain.count("\n") != shown.plain.count("\n"))

    @staticmethod
    def render_sample(sample: Sample | None, pins: list[str], waiting: str, advice_lines: int = 2) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis", end="")
        if sample is None:
            out.append(waiting, style="dim")
            return out
        if not sample.up:
            out.append("DOWN ", style="bold red")
            out.append(clean(sample.error, 200), style="red")
            return out
        lines = []
        for row in headline(sample, pins):
            line = Text(no_wrap=True, overflow="ellipsis", end="")
            line.append(f"{row.title:<7}", style="bold")
            for i, cell in enumerate(row.cells):
                if i:
                    line.append(" · " if row.title in ("LOAD", "PINS") else "  ", style="dim")
                line.append(cell.label + " ", style="dim")
                line.append(cell.value, style=STYLE[cell.level] or "bold")
            lines.append(line)
        for cell in advice(sample, advice_lines):
            line = Text(no_wrap=True, overflow="ellipsis", end="")
            line.append(f"{cell.label:<10}", style=STYLE[cell.level])
            line.append(cell.value, style=STYLE[cell.level])
            lines.append(line)
        if not sample.findings:
            lines.append(Text("OK        no threshold crossed", style="green", end=""))
        out = Text("\n", end="").join(lines)
        out.no_wrap, out.overflow = True, "ellipsis"
        return out
