"""The statistics screen: a headline over every statistic, grouped by module, with a sparkline.

One :class:`~opensips.stats.StatsPoller` per screen, on its own MI client and thread, polls
while the screen is shown (it stops when another screen is, so a hidden screen costs nothing)
and posts one :class:`StatsPolled` per poll. The screen redraws at most once per poll, and only
the cells whose text changed. Pins are saved per profile (:mod:`opensips_tui.pins`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Sparkline, Static

from opensips.stats import Sample, Selection, StatsPoller
from opensips.stats.numbers import short_number

from ..pins import PinStore
from ..safe import clean
from ..widgets.stats_headline import StatsHeadline
from ..widgets.stats_table import StatsTable

_GLOB = set("*?[")


class StatsPolled(Message):
    """One poll's result, posted from the poller thread."""

    def __init__(self, sample: Sample) -> None:
        super().__init__()
        self.sample = sample


def name_filter(text: str) -> Callable[[str], bool]:
    """The filter box: a glob when it has ``*?[``, else words that must all appear (any case)."""
    text = text.strip()
    if not text:
        return lambda name: True
    if _GLOB & set(text):
        try:
            sel = Selection(text.split())
            return sel.matches
        except ValueError:
            pass
    words = text.lower().split()
    return lambda name: all(w in name.lower() for w in words)


class StatisticsScreen(Screen):
    """Live OpenSIPS statistics (key 2)."""

    DEFAULT_CSS = """
    StatisticsScreen { layout: vertical; }
    StatisticsScreen #stats-filter { display: none; height: 3; }
    StatisticsScreen #stats-filter.-open { display: block; }
    StatisticsScreen #stats-columns { height: 1; background: $panel; text-style: bold; }
    StatisticsScreen #stats-spark-row { height: 1; padding: 0 1; }
    StatisticsScreen #stats-spark-label { width: 50%; max-width: 56; height: 1; }
    StatisticsScreen Sparkline { width: 1fr; height: 1; }
    """
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="stats.filter"),
        Binding("escape", "close_filter", "Clear filter", show=False, id="stats.close_filter"),
        Binding("p", "pause", "Pause", id="stats.pause"),
        Binding("r", "poll_now", "Poll now", show=False, id="stats.poll_now"),
        Binding("c", "clear", "Clear history", show=False, id="stats.clear"),
        Binding("e", "export", "Export", show=False, id="stats.export"),
    ]

    def __init__(self, mi: Any, *, interval: float = 1.0, pins: PinStore | None = None,
                 export_dir: Path | None = None, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, node: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mi = mi
        self.node = node                       # the fleet node it shows ("": one OpenSIPS)
        self.interval = interval
        self.poller = StatsPoller(mi, interval=interval, on_sample=self._from_thread,
                                  clock=clock, wall=wall)
        self.store = pins
        self.pins: list[str] = pins.load() if pins else []
        self.export_dir = export_dir
        self.sample: Sample | None = None      # the last good poll
        self.down: Sample | None = None        # the last poll, when it failed
        self.paused = False
        self.restarts = 0                      # restarts seen (counters went back to zero)
        self._note = ""                        # the headline's subtitle when not paused
        self._filter = name_filter("")
        self._spark_name: str | None = None

    def compose(self) -> ComposeResult:
        yield StatsHeadline(id="stats-headline")
        yield Input(placeholder="filter statistics: words, or a glob like tm:*", id="stats-filter")
        yield Static("", id="stats-columns")
        yield StatsTable(id="stats-table")
        with Horizontal(id="stats-spark-row"):
            yield Label("", id="stats-spark-label")
            yield Sparkline([], id="stats-spark")
        yield Footer()

    def on_mount(self) -> None:
        self.headline = self.query_one(StatsHeadline)
        self.table = self.query_one(StatsTable)
        self.spark = self.query_one(Sparkline)
        self.spark_label = self.query_one("#stats-spark-label", Label)
        where = f" · {clean(self.node)}" if self.node else ""
        self.headline.border_title = f"statistics{where} · every {self.interval:g} s"
        self.headline.show(None, self.pins)
        self.table.focus()

    def on_resize(self) -> None:
        self.query_one("#stats-columns", Static).update(StatsTable.header(self.table.size.width or self.size.width))

    # -- polling follows visibility ------------------------------------------------------------
    def on_screen_resume(self) -> None:
        self.poller.start()

    def on_screen_suspend(self) -> None:
        self.poller.stop(timeout=0)

    def on_unmount(self) -> None:
        self.poller.stop(timeout=0)
        close = getattr(self.mi, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass

    def _from_thread(self, sample: Sample) -> None:
        self.post_message(StatsPolled(sample))

    # -- one poll on screen --------------------------------------------------------------------
    def on_stats_polled(self, message: StatsPolled) -> None:
        sample = message.sample
        if sample.up:
            self.sample, self.down = sample, None
            if sample.restarted:
                self.restarts += 1
                self._note = time.strftime("OpenSIPS restarted at %H:%M:%S", time.localtime(sample.wall))
                if not self.paused:
                    self.headline.border_subtitle = self._note
        else:
            self.down = sample
        if not self.paused:
            self._show()

    def _show(self) -> None:
        if self.down is not None:
            self.headline.show(self.down, self.pins)
        else:
            self.headline.show(self.sample, self.pins)
        if self.sample is None:
            return
        names = [n for n in self.sample.values if self._filter(n)]
        self.table.show(self.sample, names, set(self.pins))
        self._show_spark()

    def _show_spark(self) -> None:
        name = self.table.current
        points = self.poller.history(name) if name else []
        label = Text(no_wrap=True, end="")
        if name:
            label.append(clean(name, 48), style="bold")
            kind = "/s" if self.sample is not None and name in self.sample.rates else ""
            if points:
                label.append(f" {short_number(min(points), 1)}..{short_number(max(points), 1)}{kind} ",
                             style="dim")
        if name != self._spark_name or list(self.spark.data or []) != points:
            self._spark_name = name
            self.spark.data = points
            self.spark_label.update(label, layout=False)   # fixed width: no layout pass

    # -- messages from the widgets ------------------------------------------------------------
    def on_stats_table_highlighted(self, message: StatsTable.Highlighted) -> None:
        self._show_spark()

    def on_stats_table_pin_toggled(self, message: StatsTable.PinToggled) -> None:
        name = message.name
        if name in self.pins:
            self.pins.remove(name)
        else:
            self.pins.append(name)
        self.table.set_pin(name, name in self.pins)
        self.headline.show(self.down or self.sample, self.pins)
        if self.store is not None:
            error = self.store.save(self.pins)
            if error:
                self.notify(f"pins not saved: {clean(error)}", severity="warning", markup=False)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "stats-filter":
            event.stop()
            self._filter = name_filter(event.value)
            self._show()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "stats-filter":
            event.stop()
            self.table.focus()

    # -- actions ------------------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#stats-filter", Input)
        box.add_class("-open")
        box.focus()

    def action_close_filter(self) -> None:
        box = self.query_one("#stats-filter", Input)
        box.value = ""
        box.remove_class("-open")
        self.table.focus()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.headline.border_subtitle = "paused (p resumes)" if self.paused else self._note
        if not self.paused:
            self._show()

    def action_poll_now(self) -> None:
        self.run_worker(self.poller.poll, thread=True, exclusive=True, group="stats-poll-now")

    def action_clear(self) -> None:
        self.poller.clear_history()
        self._show_spark()

    def action_export(self) -> None:
        if self.sample is None or self.export_dir is None:
            return
        path = self.export_dir / time.strftime("opensips-stats-%Y%m%d-%H%M%S.json")
        body = {"time": self.sample.wall, "values": self.sample.values, "rates": self.sample.rates,
                "kinds": self.sample.kinds}
        try:
            self.export_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
        except OSError as exc:
            self.notify(f"Export failed: {clean(path)}: {clean(exc.strerror or exc)}", severity="error",
                        markup=False)
            return
        self.notify(f"Exported {len(self.sample.values)} statistics to {clean(path)}", title="Export",
                    markup=False, timeout=8)
