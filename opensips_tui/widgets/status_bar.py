"""The status bar: MI target and health, listener address, subscription states, events/s,
and the other sources' pieces (a recording, a broker, a replay: :mod:`opensips_tui.sources`).

Everything it shows from outside (target, server string, error text) goes through
:func:`opensips_tui.safe.clean` into one ``Text``.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..safe import clean
from ..sources import ERROR, WARN, SourceStatus

_SOURCE_STYLE = {ERROR: "bold red", WARN: "bold yellow"}


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar {
        height: 1; background: $panel; color: $text; padding: 0 1;
        text-wrap: nowrap; text-overflow: ellipsis;   /* one row, cut with "…", never wrapped */
    }
    StatusBar.-alert { background: $error; color: $text; }   /* a rate alert is on */
    """

    def __init__(self, target: str, why_key: str = "d", **kwargs) -> None:
        super().__init__(**kwargs)
        self.target = target
        self.why_key = why_key  # the key that tells the whole DOWN reason
        self.health: bool | None = None
        self.health_detail = "connecting"
        self.listen: str | None = None
        self.states: dict[str, str] = {}
        self.rate = 0.0
        self.note = ""
        self.alert = ""   # the worst rate alert on (opensips_tui.alerts), "" when none
        self.sources: list[SourceStatus] = []   # REC, AMQP, REPLAY pieces
        self.offline = False   # no MI at all (a replay, a broker alone): no target, health, listener
        self._shown: Text | None = None

    def set(self, **fields) -> None:
        """Update some fields (``health``, ``health_detail``, ``listen``, ``rate``, ``note``...);
        the bar redraws only when the text it shows changes (the app sets it every refresh)."""
        for key, value in fields.items():
            setattr(self, key, value)
        self._show()

    def on_mount(self) -> None:
        self._show()

    def _show(self) -> None:
        text = self.content()
        self.set_class(bool(self.alert), "-alert")
        if text != self._shown:
            self._shown = text
            self.update(text, layout=False)  # one row, always: never a reason to lay out again

    # Shadows Static.content (a property Textual itself never reads); callers and tests use content().
    def content(self) -> Text:  # type: ignore[override]
        out = Text(no_wrap=True, overflow="ellipsis", end="")
        if self.alert:  # first: the one thing that must show at 80 columns
            out.append(clean(self.alert, limit=60), style="bold")
            out.append(" │ ", style="dim")
        if self.offline:
            self._sources(out, "bold" if self.alert else None)
            out.append(f"{self.rate:.1f} ev/s", style="bold cyan")
            self._note(out)
            return out
        if self.health is None:
            out.append("● ", style="yellow")
        else:
            out.append("● ", style="green" if self.health else "bold red")
        target = clean(self.target)
        # A long FIFO path or URL: its end says more than its start (which FIFO, which host).
        out.append(target if len(target) <= 48 else "…" + target[-47:])
        down = self.health is False
        red = "bold" if self.alert else "bold red"   # red on the alert's red bar would not show
        # DOWN's reason is long: it goes last, so states and rate stay visible at 80 columns.
        out.append(f" DOWN ({self.why_key}: why)" if down else " " + clean(self.health_detail, limit=40),
                   style=red if down else "")
        counts: dict[str, int] = {}
        for state in self.states.values():
            counts[state] = counts.get(state, 0) + 1
        out.append(" │ ", style="dim")
        self._sources(out, "bold" if self.alert else None)
        out.append(f"{counts.get('active', 0)} active", style="green" if counts.get("active") else "dim")
        for state, style in (("retrying", "bold yellow"), ("expired", red), ("failed", red)):
            if counts.get(state):
                out.append(f" {counts[state]} {state}", style=style)
        out.append(" │ ", style="dim")
        out.append(f"{self.rate:.1f} ev/s", style="bold cyan")
        out.append(" │ ", style="dim")
        out.append("listen " + clean(self.listen, limit=40) if self.listen else "listen -")
        if down:
            out.append(" │ ", style="dim")
            out.append(clean(self.health_detail), style=red)  # whole: cut by the width only
        self._note(out)
        return out

    def _note(self, out: Text) -> None:
        if self.note:
            out.append(" │ ", style="dim")
            out.append(clean(self.note, limit=60), style="bold")

    def _sources(self, out: Text, error_style: str | None) -> None:
        """Each source's piece and a separator (red on the alert's red bar would not show)."""
        for piece in self.sources:
            style = _SOURCE_STYLE.get(piece.level, "")
            if piece.level == ERROR and error_style is not None:
                style = error_style
            out.append(clean(piece.text, limit=60), style=style)
            out.append(" │ ", style="dim")
