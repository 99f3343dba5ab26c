"""What the app does with its sources besides MI: a recording, a RabbitMQ broker, a replay.

A mixin of :class:`~opensips_tui.app.OpenSIPSTUI` (like :class:`~opensips_tui.list_actions.ListActions`),
so the app module stays a router. The sources themselves (:mod:`opensips_tui.recording`,
:mod:`opensips_tui.amqp_source`, :mod:`opensips_tui.replay_source`) know no Textual: each gives
a status piece and calls ``on_change`` from its thread, which posts one
:class:`~opensips_tui.messages.SourceChanged`.

Without MI (a replay, or a broker with no MI target named: :func:`offline_reason`) the app
asks nothing over MI: no health checks, no ``events_list``, and the screens that need a live
OpenSIPS say so instead of opening. The events list then holds the names the sources know
and every name that arrives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from .messages import SourceChanged
from .safe import clean
from .screens import SCREENS
from .sources import ERROR, Source, SourceStatus

if TYPE_CHECKING:
    from textual.message import Message

    from .config import Settings
    from .widgets import DetailPane, EventsList, StatusBar


def offline_reason(settings: "Settings") -> str | None:
    """Why the app asks nothing over MI (words that follow "unavailable"), or None when it does.

    A replay never does; a broker does only when an MI target was named (flags, environment,
    the config file), since the default local FIFO is a guess the operator did not make.
    """
    if settings.replay is not None:
        return "in a replay: it needs a live OpenSIPS over MI"
    if settings.amqp.get("url") and not settings.mi_named:
        return "with --amqp alone: name an MI target (-t/--url or the config's mi) to use it"
    return None


class SourceActions:
    settings: "Settings"
    events: "EventsList"
    status: "StatusBar"
    detail: "DetailPane"
    sources: list[Source]
    offline: str | None
    _asked: list[str]

    if TYPE_CHECKING:  # provided by App, which follows this mixin in OpenSIPSTUI's bases
        def post_message(self, message: Message) -> bool: ...
        def notify(self, message: str, *, title: str = "", severity: str = "information",
                   timeout: float | None = None, markup: bool = True) -> None: ...

    def _start_sources(self) -> None:
        """Wire and start every source (on_mount); without MI, the list starts from their names."""
        self._source_levels: list[str] = []
        if self.settings.amqp.get("url") and self._asked:
            self._asked = []
            self.notify("--subscribe is ignored with --amqp: event_rabbitmq subscriptions are made in "
                        "opensips.cfg", title="RabbitMQ", severity="warning", markup=False, timeout=10)
        self.status.set(offline=self.offline is not None)
        for source in self.sources:
            source.on_change = self._source_changed
            source.start()
        if self.offline is not None:
            self.events.set_events([])
            self.detail.show(None, hint="Waiting for notifications…")
        self._show_sources()

    def _source_changed(self) -> None:
        """Any thread: a source's status or names changed."""
        self.post_message(SourceChanged())

    def on_source_changed(self, _message: SourceChanged) -> None:
        self._show_sources()
        for source in self.sources:
            if source.names:
                self._add_names(source.names)

    def _show_sources(self) -> None:
        """Every source's piece in the status bar; a piece turning red is also said once in a toast."""
        pieces = [source.status() for source in self.sources]
        for n, piece in enumerate(pieces):
            was = self._source_levels[n] if n < len(self._source_levels) else None
            if piece.level == ERROR and was != ERROR:
                self.notify(clean(piece.detail or piece.text), title=clean(piece.text, limit=40),
                            severity="error", markup=False, timeout=10)
        self._source_levels = [piece.level for piece in pieces]
        self.status.set(sources=pieces)

    def _source_details(self) -> list[str]:
        """Lines for the connection details (``d``)."""
        return [clean(p.detail or p.text) for p in (s.status() for s in self.sources)]

    def _add_names(self, names: Iterable[str]) -> None:
        """Names from a recording or a broker the list does not hold yet (rarely any: a set
        difference per drain)."""
        missing = set(names).difference(self.events.names)
        if missing:
            self.events.set_events([*self.events.names, *sorted(missing)])

    def _screen_unavailable(self, name: str) -> bool:
        """Without MI, a screen other than the events says why it does not open."""
        if self.offline is None or name == "events":
            return False
        self.notify(f"{SCREENS[name][1]} screen: unavailable {self.offline}", title="Not available",
                    severity="warning", markup=False, timeout=8)
        return True

    def on_events_list_save_requested(self, message: "EventsList.SaveRequested") -> None:
        """``w`` would write the subscriptions: none are made here without MI or with a broker, and
        writing ``subscribe = []`` would lose the profile's list (ListActions is not called)."""
        if self.offline is None and not self.settings.amqp.get("url"):
            return
        message.prevent_default()
        self.notify("Nothing to save: no subscription is made here "
                    + ("(a replay)" if self.settings.replay else "(events come from the broker)"),
                    title="Save subscriptions", severity="warning", markup=False, timeout=6)

    def _toggle_refused(self) -> bool:
        """With a broker, subscriptions are opensips.cfg's: the list's toggle says so."""
        if not self.settings.amqp.get("url"):
            return False
        self.notify("Events come from the broker: event_rabbitmq subscriptions are made in opensips.cfg, "
                    "not over MI", title="RabbitMQ", severity="warning", markup=False, timeout=8)
        return True


__all__ = ["SourceActions", "offline_reason", "SourceStatus"]
