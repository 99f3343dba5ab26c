"""The app's blocking work, each in a ``@work(thread=True)`` worker that answers with a message.

A mixin of :class:`~opensips_tui.app.OpenSIPSTUI`: it needs ``self.backend`` and
``self.settings``. Nothing here touches a widget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from .backend import BackendError, Restarted
from .export import write_jsonl, write_one
from .messages import EventsListed, Exported, HealthChecked, LineSaved, SubscriptionChanged

if TYPE_CHECKING:
    from textual.message import Message

    from .backend import Backend
    from .config import Settings
    from .feed import Entry
    from .fleet_backend import FleetBackend


class Workers:
    backend: "Backend | FleetBackend"
    settings: "Settings"

    if TYPE_CHECKING:  # provided by App, which follows this mixin in OpenSIPSTUI's bases
        def post_message(self, message: Message) -> bool: ...

    @work(thread=True, group="mi-health", exclusive=True)
    def _check_health(self) -> None:
        try:
            server = self.backend.ping()
        except Restarted as exc:
            self.post_message(HealthChecked(False, str(exc), restarted=True,
                                            target=self.backend.current_target()))
        except BackendError as exc:
            self.post_message(HealthChecked(False, str(exc), target=self.backend.current_target()))
        else:
            self.post_message(HealthChecked(True, server, target=self.backend.current_target()))

    @work(thread=True, group="mi-list", exclusive=True)
    def _list_events(self) -> None:
        try:
            self.post_message(EventsListed(self.backend.events_list()))
        except BackendError as exc:
            self.post_message(EventsListed(None, str(exc)))

    @work(thread=True, group="mi-subscribe")
    def _toggle(self, name: str, subscribe: bool) -> None:
        try:
            if subscribe:
                self.post_message(SubscriptionChanged(name, self.backend.subscribe(name)))
            else:
                self.backend.unsubscribe(name)
                self.post_message(SubscriptionChanged(name, "stopped"))
        except BackendError as exc:
            self.post_message(SubscriptionChanged(name, "stopped" if subscribe else "active", str(exc)))

    @work(thread=True, group="export")
    def _export(self, entries: list["Entry"]) -> None:
        directory = self.settings.export_dir
        try:
            path, count = write_jsonl(entries, directory)
        except OSError as exc:
            self.post_message(Exported(directory, 0, exc.strerror or str(exc)))
            return
        self.post_message(Exported(path, count))

    @work(thread=True, group="export")
    def _save_line(self, entry: "Entry") -> None:
        try:
            path, text = write_one(entry, self.settings.export_dir)
        except OSError as exc:
            self.post_message(LineSaved(self.settings.export_dir, error=exc.strerror or str(exc)))
            return
        self.post_message(LineSaved(path, text))

    @work(thread=True, group="shutdown")
    def _close_backend(self) -> None:
        self.backend.close()
        self.exit()  # type: ignore[attr-defined]  # App.exit only posts a message: thread-safe
