"""The events list: every published event with its subscription box, count and rate.

The box shows the real state reported by the handler, never the wish: ``[ ]`` not
subscribed, ``[.]`` request in flight, ``[x]`` active, ``[~]`` retrying, ``[!]`` expired,
``[E]`` failed (the listener or refresher died: it will not come back by itself; ``space``
subscribes again). Toggling posts :class:`ToggleRequested`; the app does the MI call off the
UI thread and calls :meth:`EventsList.set_state` with the outcome.

A Line API widget (one row per event) rather than an ``OptionList``: changing one option's
text there re-renders every row, and the counts change every second. Here a row is drawn
again only when its own text or look changes, and only while it is on screen; rows scrolled
out of view are drawn from the current numbers when they scroll in.

Type to search: with the list focused, a capital letter (event names are written in capitals)
or ``f`` opens a search line in the list's bottom border; from then on every printable key goes
to it (lowercase too), and the list shows only the matching events (any case; a shell pattern
such as ``E_UL_*`` when the text holds ``*?[``). ``enter`` keeps the filter and closes the
line, ``esc`` clears it. Lowercase letters are never taken while the line is closed, so the
app's single-letter keys (``q``, ``p``, ``c``...) keep working, and a key the keymap binds is
never taken either.
"""

from __future__ import annotations

import fnmatch

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.actions import SkipAction
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..messages import EventHighlighted, ToggleRequested
from ..safe import clean
from ..subscribe import is_pattern

BOXES = {
    None: ("[ ]", "dim"),
    "pending": ("[.]", "yellow"),
    "active": ("[x]", "bold green"),
    "retrying": ("[~]", "bold yellow"),
    "expired": ("[!]", "bold red"),
    "failed": ("[E]", "bold white on red"),
    "stopped": ("[ ]", "dim"),
}
SUBSCRIBED = ("active", "retrying", "pending")
CARET = "▏"


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


def matches(name: str, search: str) -> bool:
    """The search text as the list uses it: a word anywhere (any case), or a shell pattern."""
    if not search:
        return True
    if is_pattern(search):
        return fnmatch.fnmatchcase(name.upper(), search.upper())
    return search.upper() in name.upper()


class Rows(ScrollView, can_focus=True):
    """The list's movement keys (kept out of :attr:`EventsList.BINDINGS`, which the help screen
    and the command palette list)."""

    BINDINGS = [Binding(key, action, action, show=False) for key, action in (
        ("enter", "select"), ("up", "cursor(-1)"), ("down", "cursor(1)"), ("pageup", "page(-1)"),
        ("pagedown", "page(1)"), ("home", "first"), ("end", "last"))]


class EventsList(Rows):
    """Events from ``events_list``, one row each; ``names`` holds them all, ``shown`` the rows
    the search lets through (``highlighted`` indexes ``shown``)."""

    COMPONENT_CLASSES = {"events-list--cursor", "events-list--alert"}
    DEFAULT_CSS = """
    EventsList {
        border: round $primary 40%;
        border-title-color: $text;
        padding: 0;
        height: 1fr;
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        & > .events-list--cursor {
            color: $block-cursor-blurred-foreground;
            background: $block-cursor-blurred-background;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .events-list--alert { background: $error 70%; color: $text; text-style: bold; }
    }
    EventsList:focus {
        border: round $primary;
        background-tint: $foreground 5%;
        & > .events-list--cursor {
            color: $block-cursor-foreground;
            background: $block-cursor-background;
            text-style: $block-cursor-text-style;
        }
    }
    """

    BINDINGS = [
        Binding("space", "toggle", "Toggle", id="toggle", tooltip="Subscribe or unsubscribe (also enter)"),
        Binding("f", "search", "Search (or type a capital)", id="search", show=False),
        Binding("escape", "clear_search", "Clear the search", show=False, id="clear_search"),
        Binding("plus", "subscribe_pattern", "Subscribe by pattern", id="subscribe_pattern", show=False),
        Binding("w", "save_subscriptions", "Save subscriptions to profile", id="save_subscriptions",
                show=False),
    ]

    highlighted: reactive[int | None] = reactive(None, always_update=False)
    toggle_hint = "space: toggle"   # the bottom border's hint (a replay's space pauses)

    class SaveRequested(Message):
        """``w``: write ``names`` (what is subscribed now, in list order) into the active profile."""

        def __init__(self, names: list[str]) -> None:
            super().__init__()
            self.names = names

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.names: list[str] = []
        self.shown: list[str] = []
        self.states: dict[str, str | None] = {}
        self.counts: dict[str, tuple[int, float]] = {}
        self.alerting: set[str] = set()
        self.error: str | None = None
        self.search = ""             # the search text (the list shows what matches it)
        self.searching = False       # the search line is open: printable keys go to it
        self._row_of: dict[str, int] = {}
        # The event last highlighted: a search that briefly matches nothing (typing "E_[") must
        # not lose it, so the highlight comes back to it once it matches again.
        self._anchor: str | None = None
        self._titles_shown: tuple[object, object] | None = None
        self._strips: dict[tuple, Strip] = {}
        self.border_title = "Events"

    # -- state ----------------------------------------------------------------------
    @property
    def current(self) -> str | None:
        index = self.highlighted
        return self.shown[index] if index is not None and 0 <= index < len(self.shown) else None

    def is_subscribed(self, name: str) -> bool:
        return self.states.get(name) in SUBSCRIBED

    def subscribed(self) -> list[str]:
        """The subscribed events, in list order (what ``w`` saves)."""
        return [n for n in self.names if self.is_subscribed(n)]

    def set_events(self, names: list[str]) -> None:
        """Show ``names`` (plus any subscribed event the server no longer lists)."""
        extra = [n for n in self.states if self.is_subscribed(n) and n not in names]
        self.names = list(dict.fromkeys([*names, *extra]))
        self.error = None
        self._reshow()

    def set_error(self, error: str) -> None:
        self.error = error
        self._titles()

    def set_state(self, name: str, state: str | None) -> None:
        was = self.states.get(name, None)
        self.states[name] = state
        if name not in self.names:
            self.names.append(name)
            if matches(name, self.search):
                self.shown.append(name)
                self._row_of[name] = len(self.shown) - 1
                self._resize_virtual()
                if self.highlighted is None:
                    self.highlighted = 0
        elif was != state:
            self._refresh_row(name)
        self._titles()

    def set_counts(self, counts: dict[str, tuple[int, float]]) -> None:
        """New counts and rates: the rows on screen whose text changed are drawn again."""
        old, self.counts = self.counts, counts
        for name in self._visible():
            if self._tail(counts.get(name)) != self._tail(old.get(name)):
                self._refresh_row(name)

    def set_alerts(self, names: set[str]) -> None:
        """The events whose rate alert is on: their rows turn red."""
        changed = names ^ self.alerting
        self.alerting = set(names)
        for name in changed:
            self._refresh_row(name)

    # -- search -----------------------------------------------------------------------
    def set_search(self, text: str, open_line: bool | None = None) -> None:
        """Show only the events matching ``text`` (``open_line``: show or hide the search line)."""
        if open_line is not None:
            self.searching = open_line
        if text != self.search:
            self.search = text
            self._reshow()
        else:
            self._titles()

    def _reshow(self) -> None:
        """Lay the rows out again (the list or the search changed); the highlight stays on its
        event when that event is still shown, else it goes to the first match."""
        keep = self.current if self.current is not None else self._anchor
        self.shown = [n for n in self.names if matches(n, self.search)]
        self._row_of = {n: i for i, n in enumerate(self.shown)}
        self._resize_virtual()
        self.refresh()
        if self.shown:
            target = self._row_of.get(keep, 0) if keep is not None else 0
            if target != self.highlighted:
                self.highlighted = target
            else:  # same row, maybe another event on it now
                self._scroll_to_row(target)
                if self.shown[target] != keep:
                    self.post_message(EventHighlighted(self.shown[target]))
        else:
            self.highlighted = None
        self._titles()

    def _resize_virtual(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.shown))

    # -- titles -----------------------------------------------------------------------
    def set_toggle_hint(self, hint: str) -> None:
        self.toggle_hint = hint
        self._titles()

    def _titles(self) -> None:
        subscribed = sum(1 for n in self.names if self.is_subscribed(n))
        title: object = f"Events {subscribed}/{len(self.names)}" if self.names else "Events"
        if self.searching or self.search:
            sub = Text(no_wrap=True, end="")
            sub.append("find: ", style="bold")
            sub.append(clean(self.search, limit=24))
            if self.searching:
                sub.append(CARET, style="bold")
            sub.append(f" {len(self.shown)} match" + ("" if len(self.shown) == 1 else "es"))
            if not self.searching:
                sub.append(" · esc")
            subtitle: object = sub
        else:
            subtitle = "unavailable" if self.error else self.toggle_hint
        titles = (title, subtitle)
        if titles != self._titles_shown:  # setting a title redraws the frame, even when equal
            self._titles_shown = titles
            self.border_title, self.border_subtitle = titles  # type: ignore[assignment]

    # -- rendering --------------------------------------------------------------------
    def _visible(self) -> list[str]:
        top = max(0, int(self.scroll_y))
        return self.shown[top:top + self.scrollable_content_region.height]

    def _refresh_row(self, name: str) -> None:
        row = self._row_of.get(name)
        if row is None:
            return
        top = int(self.scroll_y)
        if top <= row < top + self.scrollable_content_region.height:
            self.refresh_line(row)

    def _tail(self, numbers: tuple[int, float] | None) -> str:
        count, rate = numbers or (0, 0.0)
        if not count:
            return ""
        wide = self.scrollable_content_region.width >= 36
        return (f"{short_count(count):>5} " if wide else "") + f"{short_rate(rate):>5}"

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_y) + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index >= len(self.shown) or width <= 0:
            return Strip.blank(width, base)
        name = self.shown[index]
        state = self.states.get(name)
        tail = self._tail(self.counts.get(name))
        cursor = index == self.highlighted
        alert = name in self.alerting
        key = (name, state, tail, cursor, alert, self.has_focus, width)
        strip = self._strips.get(key)
        if strip is None:
            if len(self._strips) > 4096:
                self._strips.clear()
            strip = self._strips[key] = self._render_row(name, state, tail, cursor, alert, width, base)
        return strip

    def _render_row(self, name: str, state: str | None, tail: str, cursor: bool, alert: bool,
                    width: int, base: Style) -> Strip:
        """``[x] E_PIKE_BLOCKED        12   2.4``: box, name cut to fit, count and rate."""
        box, box_style = BOXES.get(state, BOXES[None])
        row = base
        if alert:
            row = row + self.get_component_rich_style("events-list--alert")
        if cursor:
            row = row + self.get_component_rich_style("events-list--cursor")
        tail_style = row + Style.parse("cyan")
        if alert:  # the rate stays red on the highlighted row too
            tail_style = base + self.get_component_rich_style("events-list--alert")
        room = max(width - 4 - cell_len(tail) - 1, 1)
        label = set_cell_size(clean(name, limit=room), room)
        segments = [Segment(box, row + Style.parse(box_style)), Segment(" ", row),
                    Segment(label, row), Segment(" ", row), Segment(tail, tail_style)]
        return Strip(segments).crop_extend(0, width, row)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def on_resize(self) -> None:
        self._strips.clear()
        self._resize_virtual()
        self.refresh()

    def on_focus(self) -> None:
        self._refresh_highlight()

    def on_blur(self) -> None:
        self._refresh_highlight()

    def _refresh_highlight(self) -> None:
        if self.current is not None:
            self._refresh_row(self.current)

    # -- the highlight ----------------------------------------------------------------
    def validate_highlighted(self, value: int | None) -> int | None:
        if value is None or not self.shown:
            return None
        return min(max(value, 0), len(self.shown) - 1)

    def watch_highlighted(self, old: int | None, new: int | None) -> None:
        for row in (old, new):
            if row is not None and row < len(self.shown):
                self.refresh_line(row)
        if new is not None:
            self._anchor = self.shown[new]
            self._scroll_to_row(new)
            self.post_message(EventHighlighted(self.shown[new]))

    def _scroll_to_row(self, row: int) -> None:
        height = self.scrollable_content_region.height
        top = int(self.scroll_y)
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif height and row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        if self.shown:
            self.highlighted = (self.highlighted or 0) + delta if self.highlighted is not None else 0

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(self.scrollable_content_region.height - 1, 1))

    def action_first(self) -> None:
        if self.shown:
            self.highlighted = 0

    def action_last(self) -> None:
        if self.shown:
            self.highlighted = len(self.shown) - 1

    # -- input ------------------------------------------------------------------------
    # The "toggle" binding's own action, deliberately replacing DOMNode's attribute toggle here.
    def action_toggle(self) -> None:  # type: ignore[override]
        name = self.current
        if name is None or self.states.get(name) == "pending":
            return
        self.post_message(ToggleRequested(name, subscribe=not self.is_subscribed(name)))

    def action_select(self) -> None:
        if self.searching:
            self.set_search(self.search, open_line=False)  # keep the filter, close the line
        else:
            self.action_toggle()

    def action_search(self) -> None:
        self.focus()  # also from the command palette: the keys typed next come here
        self.set_search(self.search, open_line=True)

    def action_clear_search(self) -> None:
        if not (self.searching or self.search):
            raise SkipAction()  # esc keeps its other meanings (leave a zoomed pane)
        self.set_search("", open_line=False)

    def action_subscribe_pattern(self) -> None:
        """Ask for a pattern (the search, as one, to start with) and subscribe what matches."""
        from .pattern_prompt import PatternPrompt

        text = self.search
        initial = text if not text or is_pattern(text) else f"*{text.upper()}*"
        self.app.push_screen(PatternPrompt(list(self.names), initial), self._subscribe_matching)

    def _subscribe_matching(self, events: list[str] | None) -> None:
        for name in events or []:
            if not self.is_subscribed(name) and self.states.get(name) != "pending":
                self.post_message(ToggleRequested(name, subscribe=True))

    def action_save_subscriptions(self) -> None:
        self.post_message(self.SaveRequested(self.subscribed()))

    def on_key(self, event: events.Key) -> None:
        """Printable keys while searching, and capitals to start a search (see the docstring)."""
        if self.searching:
            if event.key == "backspace":
                self.set_search(self.search[:-1])
            elif event.key == "ctrl+u":
                self.set_search("")
            elif event.is_printable and event.character and event.key != "space":
                self.set_search(self.search + event.character)
            else:
                return  # up/down/enter/esc/space keep their bindings
            event.stop()
            event.prevent_default()
        elif event.character and (event.character.isupper() or event.character == "_") \
                and event.key not in self.screen.active_bindings:
            self.set_search(event.character, open_line=True)
            event.stop()
            event.prevent_default()

    def on_click(self, event: events.Click) -> None:
        """A click highlights a row; a click on the highlighted row toggles it."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = int(self.scroll_y) + offset.y
        if 0 <= index < len(self.shown):
            if index == self.highlighted:
                self.action_toggle()
            else:
                self.highlighted = index
