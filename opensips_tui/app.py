"""The monitor: composes the screen, drains the feed, routes messages, key bindings.

Threads: listener threads only touch the :class:`Feed` (the first push into a drained feed
posts one :class:`FeedReady`); MI calls run in ``@work(thread=True)`` workers that answer with
messages; everything else runs on the UI thread.

Redraws are paced for the eye, not for the wire: the log takes new lines at most every
``refresh / 10`` seconds (10 Hz by default), counters, rates and the detail pane every
``refresh`` seconds (1 Hz), and only while something arrived or a shown rate is still
decaying. When nothing arrives, no timer runs and nothing is drawn. While another screen
(statistics, console, trace) covers the events screen, the feed is drained at the numbers' pace
and nothing on the events screen is touched: Textual repaints the screen on top whenever the one
just below it changes, hidden or not, so a log written behind the statistics screen cost that
screen a full repaint per batch. The log and the numbers catch up when the events screen shows.
"""

from __future__ import annotations

import asyncio
import signal
import time
from functools import partial
from typing import Callable, Iterable, Sequence

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

from . import screens
from .backend import Backend
from .config import Settings
from .feed import TOTAL, Feed
from .filters import LogFilter
from .fleet_backend import FleetBackend, backend_of
from .list_actions import ListActions
from .messages import (EventHighlighted, EventsListed, Exported, FeedReady, FilterChanged,
                       HealthChecked, LineSaved, NodesChanged, SubscriptionChanged, ToggleRequested)
from .nodes import Fleet, Node
from .safe import clean
from .source_actions import SourceActions, offline_reason
from .sources import Source
from .subscribe import resolve as resolve_subscribe
from .widgets import DetailPane, EventLog, EventsList, FilterBar, HelpScreen, LogView, StatusBar
from .widgets.help_screen import key_names as help_keys
from .workers import Workers

HEALTH_EVERY = 5.0   # MI probe period (also the retry period when OpenSIPS is down)
LOG_SHARE = 10       # the log may redraw this many times per numbers refresh


class OpenSIPSTUI(SourceActions, ListActions, Workers, App[None]):
    TITLE = "opensips-tui"
    CSS_PATH = "app.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]

    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="quit_ctrl_c"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("p", "pause", "Pause", id="pause"),
        Binding("c", "clear", "Clear", id="clear"),
        Binding("e", "export", "Export", id="export"),
        Binding("r", "refresh", "Refresh list", id="refresh", show=False),
        Binding("z", "zoom", "Zoom pane", id="zoom", show=False),
        Binding("1", "show_screen('events')", "Events screen", id="screen.events", show=False),
        Binding("2", "show_screen('statistics')", "Statistics screen", id="screen.statistics", show=False),
        Binding("3", "show_screen('console')", "MI console screen", id="screen.console", show=False),
        Binding("4", "show_screen('trace')", "SIP trace screen", id="screen.trace", show=False),
        Binding("5", "show_screen('fleet')", "Fleet screen", id="screen.fleet", show=False),
        Binding("d", "why", "Connection details", id="why", show=False),
    ]

    def __init__(self, settings: Settings, backend: Backend | None = None,
                 clock: Callable[[], float] = time.time, health_every: float = HEALTH_EVERY,
                 sources: Sequence[Source] = (), fleet: Fleet | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.sources = list(sources)          # a recording, a broker, a replay (opensips_tui.sources)
        self.offline = offline_reason(settings)   # why MI is not used at all, or None
        if fleet is None:  # one OpenSIPS (or settings.nodes): a fleet all the same
            fleet = Fleet.single(backend) if backend else \
                Fleet.from_settings(settings, Feed(settings.ring_size, clock=clock))
        self.fleet = fleet
        self.feed = fleet.feed
        self.backend = backend_of(fleet)  # the node's own Backend, or all nodes' FleetBackend
        self.health_every = health_every
        self.wanted: set[str] = set()     # events the operator wants subscribed
        # --subscribe names and patterns, subscribed once events_list says they exist (see
        # on_events_listed): a name OpenSIPS does not have never becomes a phantom row.
        self._asked: list[str] = list(settings.subscribe)
        self._healthy: bool | None = None
        # Pacing (seconds): numbers (counts, rates, sparkline, detail, status) and the log.
        self.numbers_every = settings.refresh
        self.log_every = settings.refresh / LOG_SHARE
        self._drain_timer: Timer | None = None     # a drain is scheduled
        self._numbers_timer: Timer | None = None   # a numbers refresh is scheduled
        self._last_drain = self._last_numbers = 0.0
        self._quitting = False
        self._stale = False               # numbers not redrawn while the events screen was covered
        self._listed = False              # events_list answered at least once
        if settings.keymap:
            self.set_keymap(settings.keymap)

    # -- composition -------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # Textual draws again, in every frame, each widget whose parent's area meets a changed
        # region, its lines cached or not: with the log changing ten times a second, that is
        # the log's ancestors and their children. So the tree is flat around the log (a grid,
        # no column box) and the rest sits in boxes of its own (the list; the status bar and
        # the footer), whose insides are never drawn for the log: 8 widgets per log batch, was 10.
        with Grid(id="main"):
            with Vertical(id="events-box"):
                yield EventsList(id="events")
            yield EventLog(self.feed.ring_size, utc=self.settings.utc, id="log-pane")
            yield DetailPane(utc=self.settings.utc, id="detail")
        why = self.settings.keymap.get("why", "d").split(",")[0].strip()
        with Vertical(id="bottom"):
            yield StatusBar(self.backend.target, why_key=why, id="status")
            yield Footer()

    def on_mount(self) -> None:
        # Kept as attributes: queries fail while the app shuts down, these objects do not.
        self.events = self.query_one(EventsList)
        self.log_pane = self.query_one(EventLog)
        self.status = self.query_one(StatusBar)
        self.detail = self.query_one(DetailPane)
        if not self.is_headless:
            self._trap_signals()
        self.feed.wake = self._wake
        self.screen_change_signal.subscribe(self, self._screen_changed)
        if self.fleet.multi and self.offline is None:
            self._watch_fleet()
        self._drain()  # whatever arrived before the wake-up was wired
        if self.offline is None:
            self.set_interval(self.health_every, self._check_health)
            self._check_health()
            self._list_events()
            self.detail.show(None, hint="Asking OpenSIPS for its events…")
        self._start_sources()
        if self.settings.filter:
            self.query_one(FilterBar).value = self.settings.filter
            self._apply_filter(self.settings.filter)
        self.events.focus()
        if self.fleet.multi and self.settings.demo and "fleet" in screens.FACTORIES:
            self.call_after_refresh(self.action_show_screen, "fleet")  # a demo fleet: show it whole

    def _watch_fleet(self) -> None:
        """Many nodes: each node's health thread tells the app when its health changes, and
        the log makes room for their names."""
        backend = self.backend
        if isinstance(backend, FleetBackend):
            backend.on_change = self._node_changed
            backend.start()
        self.log_pane.show_nodes(self.fleet.names)

    def _node_changed(self, node: Node) -> None:
        """A node's health thread: its health changed."""
        self.post_message(NodesChanged(node.name))

    def on_nodes_changed(self, message: NodesChanged) -> None:
        node = self.fleet.node(message.node)
        if node.health == "restarted":  # up again already: say so (the status bar says it too)
            self.notify(f"{clean(node.name)}: {clean(node.reason)}", severity="warning", markup=False)
        self._check_health()
        if isinstance(self.screen, screens.FleetScreen):
            self.screen.refresh_rows()       # the node's row at once, not at the next refresh

    def select_node(self, name: str) -> None:
        """The screens (2, 3, 4) act on node ``name`` from now on; KeyError for an unknown one."""
        self.fleet.select(name)

    # -- draining the feed -------------------------------------------------------------
    def _wake(self) -> None:
        """Listener thread, on the feed's empty -> non-empty edge only: wake the UI once."""
        try:
            self.post_message(FeedReady())
        except RuntimeError:  # the UI loop is closed (the app is gone): nothing to draw
            pass

    def on_feed_ready(self, _message: FeedReady) -> None:
        if self._drain_timer is None:
            # While the log shows new lines it may take them at log speed; paused, scrolled
            # up or covered, only numbers change, so draining faster than they redraw buys nothing.
            every = self.log_every if self.log_pane.showing_new and not self.events_covered \
                else self.numbers_every
            self._drain_timer = self._after(self._last_drain + every, self._drain)

    @property
    def events_covered(self) -> bool:
        """An opaque screen (statistics, console, trace) is above the events screen: nothing
        of it shows. Dialogs (help, palette) are see-through and leave it drawing."""
        return any(screen.styles.background.a == 1 for screen in self.screen_stack[1:])

    def _screen_changed(self, _screen: Screen) -> None:
        """The events screen shows again: the log and the numbers catch up at once."""
        if self._stale and not self.events_covered:
            self._stale = False
            self.log_pane.catch_up(self.feed.entries)
            self._refresh_numbers()

    def _after(self, when: float, callback: Callable[[], None]) -> Timer:
        """A one-shot timer for ``callback`` at monotonic time ``when`` (about now if due)."""
        return self.set_timer(max(0.001, when - time.monotonic()), callback)  # Timer needs > 0

    def _drain(self) -> None:
        self._drain_timer = None
        self._last_drain = time.monotonic()
        batch = self.feed.drain()
        if self.events_covered:
            self._stale = True
            self.log_pane.hold(batch)  # counted; written when the events screen shows
        else:
            self.log_pane.add(batch)
        if self.sources and batch.touched:
            self._add_names(batch.touched)   # a broker's or a recording's events join the list
        for name, state in batch.states.items():
            if self.events.states.get(name) != "pending":
                self.events.set_state(name, self._shown(state))
            if state == "active" and self._healthy is False:
                self._check_health()  # something answered: maybe OpenSIPS is back
        if batch.states:  # the status bar's counts change with the list, not a slow tick later
            self.status.set(states=self._states())
        for name, what in batch.notices:
            self.notify(f"{clean(name)}: {what}", severity="warning", markup=False)
        if batch.arrived or batch.states:
            self._numbers_soon()

    def _numbers_soon(self) -> None:
        """Refresh the numbers at the next numbers slot (one pending refresh at most)."""
        if self._numbers_timer is None:
            self._numbers_timer = self._after(self._last_numbers + self.numbers_every, self._numbers_tick)

    def _numbers_tick(self) -> None:
        self._numbers_timer = None
        self._last_numbers = time.monotonic()
        if self._refresh_numbers():
            self._numbers_soon()  # rates and the sparkline still move with nothing arriving

    def _refresh_numbers(self) -> bool:
        """Counts, rates, detail pane, status bar and the log's marker, each redrawn only if
        what it shows changed. True while a shown rate or sparkline still changes by itself."""
        summary = self.feed.summary()
        moving = any(rate > 0 for _, rate in summary.values())
        if self.events_covered:  # alerts still fire; the rest is redrawn when the screen shows
            self._stale = True
            self._judge_alerts(summary)
            return moving
        self.events.set_counts(summary)
        self._judge_alerts(summary)
        current = self.events.current
        if current is not None:
            view = self.feed.view(current)
            self.detail.show(view)
            moving = moving or any(view.history)
        if self.sources:
            self._show_sources()
        self.status.set(rate=summary.get(TOTAL, (0, 0.0))[1], states=self._states())
        self.log_pane.show_marker()
        return moving

    def _shown(self, state: str | None) -> str | None:
        """A subscription's state as listed: none once stopped, never "active" while OpenSIPS is DOWN."""
        if state == "stopped":
            return None
        return "retrying" if state == "active" and self._healthy is False else state

    def _show_states(self) -> None:
        """List every subscription's state again (health changed, so "active" may be shown or not)."""
        for name, state in self.backend.states().items():
            if self.events.states.get(name) not in (None, "pending"):
                self.events.set_state(name, self._shown(state))
        self.status.set(states=self._states())

    def _states(self) -> dict[str, str]:
        """Subscription states the status bar counts (events with no subscription left out)."""
        return {n: s for n, s in self.events.states.items() if s}

    def _request(self, name: str, subscribe: bool) -> None:
        (self.wanted.add if subscribe else self.wanted.discard)(name)
        self.events.set_state(name, "pending")
        self._toggle(name, subscribe)

    # -- messages ------------------------------------------------------------------------
    def on_health_checked(self, message: HealthChecked) -> None:
        was, self._healthy = self._healthy, message.ok
        detail = message.detail if not message.ok or self.fleet.multi else version_of(message.detail)
        self.status.set(health=message.ok, health_detail=detail, listen=self.backend.listen_address,
                        target=message.target or self.status.target)
        if message.ok != was:
            self._show_states()
        if message.restarted:  # up again already: look again soon to show it, once resubscribed
            self.notify(clean(message.detail), severity="warning", markup=False)
            self.set_timer(1.0, self._check_health)
        if message.ok and was is False:
            self._list_events()  # and resubscribe what is wanted, once it answers

    def on_events_listed(self, message: EventsListed) -> None:
        if message.names is None:
            self.events.set_error(message.error or "")
            self.notify(f"events_list failed: {clean(message.error)}", severity="error", markup=False)
            if self.events.current is None:  # nothing to highlight: say why instead of asking to
                self.detail.show(None, hint=f"No events list: MI unreachable ({self.status.why_key}: why)")
        else:
            first_time, self._listed = not self._listed, True
            self.events.set_events(message.names)
            if self.sources:  # names that came from a broker stay listed
                self._add_names(name for name in self.feed.summary() if name != TOTAL)
            if self._asked:
                asked, self._asked = resolve_subscribe(self._asked, message.names), []
                for problem in asked.problems:
                    self.notify(clean(problem), title="--subscribe", severity="error", markup=False,
                                timeout=15)
                self.wanted.update(asked.events)
            for name in [n for n in message.names if n in self.wanted]:
                if not self.events.is_subscribed(name):
                    self._request(name, True)
            wanted = [n for n in message.names if n in self.wanted]
            if first_time and wanted:  # start on something that will show data
                self.events.highlighted = self.events.names.index(wanted[0])

    def on_subscription_changed(self, message: SubscriptionChanged) -> None:
        self.events.set_state(message.event, self._shown(message.state))
        if message.error:
            verb = "subscribe" if message.state == "stopped" else "unsubscribe"
            self.notify(f"{verb} {clean(message.event)} failed: {clean(message.error)}",
                        severity="error", markup=False, timeout=8)
        self.status.set(listen=self.backend.listen_address)
        self._refresh_numbers()

    def on_toggle_requested(self, message: ToggleRequested) -> None:
        if not self._quitting and not self._toggle_refused():
            self._request(message.event, message.subscribe)

    def on_event_highlighted(self, message: EventHighlighted) -> None:
        self._uninspect()
        self.detail.show(self.feed.view(message.event) if message.event else None)

    def on_log_view_inspect(self, message: LogView.Inspect) -> None:
        entry = message.entry
        if entry is None:
            self._uninspect()
            self._refresh_numbers()
            return
        self.detail.inspect(entry, self.backend.listen_address)
        if message.save:
            self._save_line(entry)

    def _uninspect(self) -> None:
        self.detail.uninspect()
        self.log_pane.log_widget.inspecting = False

    def on_line_saved(self, message: LineSaved) -> None:
        if message.error:
            self.notify(f"Save failed: {clean(message.path)}: {clean(message.error)}",
                        severity="error", markup=False)
            return
        self.copy_to_clipboard(message.text)  # OSC 52: terminals that allow it put it on the clipboard
        self.notify(f"Saved to {clean(message.path)} and copied (OSC 52)", title="Line",
                    markup=False, timeout=8)

    def on_filter_changed(self, message: FilterChanged) -> None:
        self._apply_filter(message.text)
        if message.done:
            self.query_one(FilterBar).close()
            self.log_pane.log_widget.focus()

    def on_exported(self, message: Exported) -> None:
        if message.error:
            self.notify(f"Export failed: {clean(message.path)}: {clean(message.error)}",
                        severity="error", markup=False)
        else:
            self.notify(f"Exported {message.count} events to {clean(message.path)}",
                        title="Export", markup=False, timeout=8)

    def _apply_filter(self, text: str) -> None:
        entries = self.feed.set_filter(LogFilter(text))
        if not self.log_pane.paused:
            self.log_pane.reload(entries)
        self.log_pane.set_filter_title(text.strip())

    # -- actions -------------------------------------------------------------------------
    def action_help(self) -> None:
        from .widgets.help_screen import help_text

        sections: list[tuple[str, Iterable[BindingType]]] = [
            ("Everywhere", self.BINDINGS), ("Events list", EventsList.BINDINGS),
            ("Filter input", FilterBar.BINDINGS),
            ("Log (a cursor over the lines)", [*LogView.BINDINGS,
                                               Binding("left,right", "scroll_right", "Long lines sideways")]),
            ("Statistics screen (2)", [*screens.StatisticsScreen.BINDINGS, *screens.StatsTable.BINDINGS]),
            ("MI console (3)", screens.ConsoleScreen.help_bindings()),
            ("SIP trace screen (4)", screens.TraceScreen.BINDINGS),
            ("Fleet screen (5)", [*screens.FleetScreen.BINDINGS, *screens.FleetTable.BINDINGS]),
            ("Panes", [Binding("tab", "focus_next", "Next pane"),
                       Binding("ctrl+p", "command_palette", "Command palette")])]
        self.push_screen(HelpScreen(help_text(self, sections, self.settings.keymap)))

    def action_show_screen(self, name: str) -> None:
        if not self._screen_unavailable(name):
            screens.show(self, name)

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    def action_pause(self) -> None:
        pane = self.log_pane
        if pane.paused:
            pane.set_paused(False)
            pane.reload(self.feed.entries())
        else:
            pane.set_paused(True)

    def action_clear(self) -> None:
        self.feed.clear()
        self.log_pane.clear()

    def action_export(self) -> None:
        self._export(self.feed.entries())

    def action_why(self) -> None:
        """The whole connection story in one toast: the status bar only has room for a word."""
        status = self.status
        health = {None: "connecting", True: "up", False: "DOWN"}[status.health]
        lines = [f"MI {clean(status.target)}: {health}", clean(status.health_detail),
                 f"events listener: {clean(status.listen) if status.listen else 'not started'}"]
        if isinstance(self.backend, FleetBackend):   # and each node's own story
            lines += [clean(line) for line in self.backend.story()]
        if self.offline is not None:
            lines = [f"MI: not used ({self.offline})"]
        lines += self._source_details()
        self.notify("\n".join(lines), title="Connection", markup=False, timeout=15,
                    severity="error" if status.health is False else "information")

    def action_refresh(self) -> None:
        if self.offline is not None:
            return
        self._list_events()
        self._check_health()

    def action_zoom(self) -> None:
        if self.screen.maximized is not None:
            self.screen.minimize()
        else:
            pane = next((w for w in (self.focused, *(self.focused.ancestors if self.focused else ()))
                         if isinstance(w, (EventsList, EventLog, DetailPane))), None)
            if pane is not None:
                self.screen.maximize(pane, container=False)

    def _trap_signals(self) -> None:
        """SIGTERM and SIGHUP (a closed terminal, a dropped SSH session) quit like q does:
        terminal restored, subscriptions withdrawn, sockets removed."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(sig, self.call_later, self.action_quit)
            except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover - not main thread
                pass

    async def action_quit(self) -> None:
        """Unsubscribe everything, then exit; exit anyway after 2 s."""
        if self._quitting:
            self.exit()
            return
        self._quitting = True
        self.status.set(note="unsubscribing...")
        self.set_timer(2.0, self.exit)
        self._close_backend()

    def on_unmount(self) -> None:
        self.feed.wake = None  # listeners still running while the backend closes wake nothing
        self.backend.close()  # however the app ends (also Pilot tests): nothing left subscribed

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        builtin = list(super().get_system_commands(screen))
        yield from builtin
        taken = {command.title for command in builtin}  # Textual's own "Quit" is ours too
        for binding in [*self.BINDINGS, *EventsList.BINDINGS]:
            if isinstance(binding, Binding) and binding.id != "quit_ctrl_c" \
                    and binding.description not in taken:
                target = self.events if binding in EventsList.BINDINGS else self
                keys = help_keys(self, binding, self.settings.keymap)
                yield SystemCommand(binding.description, f"key: {keys}",
                                    partial(target.run_action, binding.action))
        if screen is not self.screen_stack[0]:     # a screen above the events: its own keys too
            for binding in screen.BINDINGS:
                if isinstance(binding, Binding) and binding.description and binding.description not in taken:
                    keys = help_keys(self, binding, self.settings.keymap)
                    yield SystemCommand(binding.description, f"{screen.__class__.__name__} key: {keys}",
                                        partial(screen.run_action, binding.action))


def version_of(server: str) -> str:
    """``OpenSIPS (4.0.1 (x86_64/linux))`` -> ``up, 4.0.1``."""
    inner = server.partition("(")[2].split(" ")[0].strip(")")
    return f"up, {inner}" if inner else "up"
