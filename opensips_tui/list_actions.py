"""What the events list asks of the app beyond toggling: rate alerts and saving subscriptions.

A mixin of :class:`~opensips_tui.app.OpenSIPSTUI` (like :class:`~opensips_tui.workers.Workers`),
kept out of ``app.py`` so the app module stays a router. The rules and their state live in
:mod:`opensips_tui.alerts` and the file edit in :mod:`opensips_tui.profile_file`, neither of
which knows Textual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from .alerts import Alerts, Changes
from .feed import TOTAL
from .messages import SubscriptionsSaved
from .profile_file import ProfileWriteError, write_key
from .safe import clean
from .widgets.events_list import EventsList

if TYPE_CHECKING:
    from .config import Settings
    from .feed import Feed
    from .widgets import StatusBar


class ListActions:
    settings: "Settings"
    events: EventsList
    status: "StatusBar"
    feed: "Feed"
    _alerts: Alerts | None = None

    # -- rate alerts ---------------------------------------------------------------------
    def _judge_alerts(self, summary: dict[str, tuple[int, float]]) -> None:
        """Judge the rates just shown; the rows and the status bar turn red while an alert is on."""
        if not self.settings.alerts:
            return
        if self._alerts is None:
            self._alerts = Alerts(self.settings.alerts)
        alerts = self._alerts
        per_node = self.feed.node_event_rates()
        if per_node:       # a fleet: each node judged on its own rates, named in the alert
            started = []
            for node, rates in per_node.items():
                changes = alerts.update(rates, node)
                started += changes.started
            changes = Changes(started, [])
            self.events.set_alerts({event for _, event in alerts.firing})
        else:
            changes = alerts.update({n: rate for n, (_, rate) in summary.items() if n != TOTAL})
            if changes.started or changes.cleared:
                self.events.set_alerts(alerts.events())
        self.status.set(alert=alerts.summary())
        for firing in changes.started:
            self.notify(firing.describe(), title="Rate alert", severity="error",  # type: ignore[attr-defined]
                        markup=False, timeout=8)
        if changes.started and self.settings.alert_bell:
            self.bell()  # type: ignore[attr-defined]

    def node_alerts(self, node: str | None) -> set[str]:
        """The events of ``node`` whose rate alert is on (the fleet screen's ALERTS column)."""
        return self._alerts.events(node) if self._alerts is not None else set()

    # -- saving subscriptions ------------------------------------------------------------------
    def on_events_list_save_requested(self, message: EventsList.SaveRequested) -> None:
        self._save_subscriptions(message.names)

    @work(thread=True, group="save-profile", exclusive=True)
    def _save_subscriptions(self, names: list[str]) -> None:
        path = self.settings.config_file
        profile = self.settings.profile
        table = ("profiles", profile) if profile else ("tui",)
        where = f"[{'.'.join(table)}]"
        if path is None:
            self.post_message(SubscriptionsSaved(None, where, names, "no config file in use"))  # type: ignore[attr-defined]
            return
        try:
            write_key(path, table, "subscribe", names)
        except ProfileWriteError as exc:
            self.post_message(SubscriptionsSaved(path, where, names, str(exc)))  # type: ignore[attr-defined]
            return
        self.post_message(SubscriptionsSaved(path, where, names))  # type: ignore[attr-defined]

    def on_subscriptions_saved(self, message: SubscriptionsSaved) -> None:
        if message.error:
            self.notify(f"Not saved: {clean(message.error)}", title="Save subscriptions",  # type: ignore[attr-defined]
                        severity="error", markup=False, timeout=10)
            return
        count = len(message.names)
        self.notify(f"{count} subscription{'s' if count != 1 else ''} saved as subscribe in "  # type: ignore[attr-defined]
                    f"{message.table} of {clean(message.path)}", title="Save subscriptions",
                    markup=False, timeout=8)
