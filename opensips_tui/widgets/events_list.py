"""The events list: every published event with its subscription box, count and rate.

The box shows the real state reported by the handler, never the wish: ``[ ]`` not
subscribed, ``[.]`` request in flight, ``[x]`` active, ``[~]`` retrying, ``[!]`` expired.
Toggling posts :class:`ToggleRequested`; the app does the MI call off the UI thread and
calls :meth:`EventsList.set_state` with the outcome. Counts and rates redraw a row only when
its text changes and only while it is on screen; rows out of view catch up as they scroll in.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ..messages import EventHighlighted, ToggleRequested
from ..safe import clean

BOXES = {
    None: ("[ ]", "dim"),
    "pending": ("[.]", "yellow"),
    "active": ("[x]", "bold green"),
    "retrying": ("[~]", "bold yellow"),
    "expired": ("[!]", "bold red"),
    "stopped": ("[ ]", "dim"),
}
SUBSCRIBED = ("active", "retrying", "pending")


def short_count(n: int) -> str:
    if n < 10_000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.0f}k" if n >= 100_000 else f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def short_rate(r: float) -> str:
    if r <= 0:
        return "-"
    return f"{r:.1f}" if r < 100 else f"{r:.0f}" if r < 10_000 else f"{r / 1000:.0f}k"


class EventsList(OptionList):
    """Events from ``events_list``, one option each; the option id is the event name."""

    DEFAULT_CSS = """
    EventsList {
        border: round $primary 40%;
        border-title-color: $text;
        padding: 0;
        height: 1fr;
    }
    EventsList:focus { border: round $primary; }
    """

    BINDINGS = [
        Binding("space", "toggle", "Toggle", id="toggle"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.names: list[str] = []
        self.states: dict[str, str | None] = {}
        self.counts: dict[str, tuple[int, float]] = {}
        self.error: str | None = None
        self._stale: set[str] = set()   # rows whose counts changed while out of view
        self._titles_shown: tuple[str, str] | None = None
        self.border_title = "Events"

    def on_mount(self) -> None:
        self.watch(self, "scroll_y", self._catch_up, init=False)

    # -- state ----------------------------------------------------------------------
    @property
    def current(self) -> str | None:
        option = self.highlighted_option
        return option.id if option is not None else None

    def is_subscribed(self, name: str) -> bool:
        return self.states.get(name) in SUBSCRIBED

    def set_events(self, names: list[str]) -> None:
        """Show ``names`` (plus any subscribed event the server no longer lists)."""
        keep = self.current
        extra = [n for n in self.states if self.is_subscribed(n) and n not in names]
        self.names = list(dict.fromkeys([*names, *extra]))
        self.error = None
        self.set_options([Option(self._prompt(n), id=n) for n in self.names])
        self._stale.clear()
        if self.names:
            self.highlighted = self.names.index(keep) if keep in self.names else 0
        self._titles()

    def set_error(self, error: str) -> None:
        self.error = error
        self._titles()

    def set_state(self, name: str, state: str | None) -> None:
        self.states[name] = state
        if name not in self.names:
            self.names.append(name)
            self.add_option(Option(self._prompt(name), id=name))
        else:
            self._refresh_row(name)
        self._titles()

    def set_counts(self, counts: dict[str, tuple[int, float]]) -> None:
        """New counts and rates (redrawn for the rows on screen, the others when they show)."""
        self._stale.update(n for n in self.names if counts.get(n) != self.counts.get(n))
        self.counts = counts
        self._catch_up()

    # -- rendering --------------------------------------------------------------------
    def _catch_up(self, _scroll_y: float | None = None) -> None:
        """Redraw the stale rows now on screen (one line per option: index = line)."""
        if not self._stale:
            return
        top = max(0, int(self.scroll_y))
        for name in self.names[top:top + self.scrollable_content_region.height]:
            if name in self._stale:
                self._stale.discard(name)
                self._refresh_row(name)

    def _titles(self) -> None:
        subscribed = sum(1 for n in self.names if self.is_subscribed(n))
        titles = (f"Events {subscribed}/{len(self.names)}" if self.names else "Events",
                  "unavailable" if self.error else "space: toggle")
        if titles != self._titles_shown:  # setting a title redraws the frame, even when equal
            self._titles_shown = titles
            self.border_title, self.border_subtitle = titles

    def _refresh_row(self, name: str) -> None:
        prompt = self._prompt(name)
        try:
            if self.get_option(name).prompt != prompt:  # 1234 -> 1235 shows "1.2k" both times
                self.replace_option_prompt(name, prompt)
        except Exception:  # option vanished between ticks
            pass

    def _prompt(self, name: str) -> Text:
        box, style = BOXES.get(self.states.get(name), BOXES[None])
        count, rate = self.counts.get(name, (0, 0.0))
        width = max(self.scrollable_content_region.width, 24)
        wide = width >= 36
        tail = (f"{short_count(count):>5} " if wide else "") + f"{short_rate(rate):>5}" if count else ""
        room = max(width - 4 - len(tail) - 1, 8)
        label = clean(name, limit=room)
        row = Text(no_wrap=True, end="")
        row.append(box, style=style)
        row.append(" ")
        row.append(label.ljust(room))
        row.append(" ")
        row.append(tail, style="cyan")
        return row

    def on_resize(self) -> None:
        self._stale.update(self.names)  # the width changed: every row is laid out again
        self._catch_up()

    # -- input ------------------------------------------------------------------------
    # The "toggle" binding's own action, deliberately replacing DOMNode's attribute toggle here.
    def action_toggle(self) -> None:  # type: ignore[override]
        name = self.current
        if name is None or self.states.get(name) == "pending":
            return
        self.post_message(ToggleRequested(name, subscribe=not self.is_subscribed(name)))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_toggle()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self.post_message(EventHighlighted(event.option.id))
