"""The MI console screen (key 3): run any MI command, and the ready-made operational views.

Threads: every MI call runs in a ``@work(thread=True)`` worker on this screen and comes back
as one message (:class:`Answered`, :class:`ViewAnswered`, ...). The MI client's own timeout
bounds each call, so a DOWN server is an answer to show (status line, error summary), never
a hang. A view refreshes on a timer that exists only while that view is shown on this
screen: hidden (another screen, another view, a typed command), it makes no MI call.

Safety lives in :class:`opensips.console.MIConsole`: a state-changing request is refused when
read-only, and otherwise sent only after :class:`ConfirmRequest` showed its exact JSON.

One console per node: :attr:`node` names the server this screen talks to, and every message
carries it, so a fleet can hold one screen (or one console) per node.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static

from opensips.console import (VIEWS, Catalog, ConsoleError, History, MIConsole, Outcome, ParamsError,
                              Table, View, hint_text, parse_line, request_text, set_state_request,
                              table_of)
from opensips.mi import OpenSIPSMICommandError, OpenSIPSMIConnectionError

from ..console_export import write_outcomes
from ..event_watch import EventWatch
from ..safe import clean
from ..widgets.command_input import CommandInput
from ..widgets.confirm import ConfirmRequest
from ..widgets.mi_result import MIResult

VIEW_INTERVAL = 5.0      # seconds between refreshes of a shown view
RETRY_EVERY = 5.0        # seconds between `which` attempts while OpenSIPS does not answer
VIEW_KEYS = {"dialogs": "f2", "registrations": "f3", "dispatcher": "f4", "load_balancer": "f5",
             "pike": "f6", "tcp": "f7", "processes": "f8"}


@dataclass
class Answered(Message):
    """A typed line's answer (posted by a worker)."""

    node: str
    line: str
    outcome: Outcome
    for_view: bool = False      # an action of the shown view (set state): refresh it, keep it


@dataclass
class Refused(Message):
    """The console refused a line in the worker (nothing was sent)."""

    node: str
    why: str


@dataclass
class ViewAnswered(Message):
    """One refresh of a view: one outcome per call, the last one failed if any did."""

    node: str
    view: str
    outcomes: list[Outcome]


@dataclass
class DispatcherChanged(Message):
    """E_DISPATCHER_STATUS arrived (posted by the listener thread, at most one pending)."""

    node: str


@dataclass
class WatchChanged(Message):
    """The E_DISPATCHER_STATUS subscription is now ``active`` (or failed with ``error``)."""

    node: str
    active: bool
    error: str = ""


@dataclass
class CatalogLoaded(Message):
    node: str
    catalog: Catalog | None
    error: str = ""


@dataclass
class RecipesLoaded(Message):
    node: str
    command: str
    text: str


def describe_error(error: Exception) -> str:
    """One line: ``error -32601 Method not found: data`` or the transport's reason."""
    if isinstance(error, OpenSIPSMICommandError):
        data = f" · data: {clean(error.data)}" if error.data not in (None, "") else ""
        return f"error {error.code} {clean(error.message)}{data}"
    first = (str(error) or type(error).__name__).splitlines()[0]
    return f"{'DOWN' if isinstance(error, OpenSIPSMIConnectionError) else 'failed'}: {clean(first)}"


def error_value(error: Exception | None) -> Any:
    """An error as the value the tree and JSON show (code, message and data when there is some)."""
    if isinstance(error, OpenSIPSMICommandError):
        shown = {"code": error.code, "message": error.message}
        return shown if error.data is None else {**shown, "data": error.data}
    return {"transport error": type(error).__name__, "message": str(error)}


class ConsoleScreen(Screen):
    """MI console and operational views (key 3)."""

    DEFAULT_CSS = """
    ConsoleScreen { layout: vertical; }
    ConsoleScreen #console-status { height: 1; background: $panel; padding: 0 1; }
    ConsoleScreen #console-status.-down { background: $error 40%; }
    ConsoleScreen CommandInput { height: 3; }
    ConsoleScreen #console-hint { height: 1; padding: 0 1; color: $text-muted; }
    ConsoleScreen #console-summary { height: 1; padding: 0 1; text-style: bold; }
    ConsoleScreen #console-summary.-error { color: $error; }
    """
    BINDINGS = [
        Binding("ctrl+t", "cycle_display", "Table/tree/JSON", id="console.toggle"),
        Binding("ctrl+s", "export", "Export", id="console.export"),
        Binding("colon", "focus_input", "Command line", show=False, id="console.focus_input"),
        *[Binding(key, f"view('{name}')", VIEWS[name].title, show=False, id=f"console.view.{name}")
          for name, key in VIEW_KEYS.items()],
        Binding("a", "set_state('active')", "Set active", show=False, id="console.ds_active"),
        Binding("i", "set_state('inactive')", "Set inactive", show=False, id="console.ds_inactive"),
        Binding("p", "set_state('probing')", "Set probing", show=False, id="console.ds_probing"),
    ]

    def __init__(self, console: MIConsole, *, history: History, target: str = "", node: str = "",
                 export_dir: Path | None = None, view_interval: float = VIEW_INTERVAL,
                 watch: Callable[[Callable[[Any], None]], EventWatch] | None = None,
                 wall: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.console = console
        self.history = history
        self.target = target
        self.node = node
        self.export_dir = export_dir
        self.view_interval = view_interval
        self.wall = wall
        self.view: View | None = None          # the view shown, refreshed while on screen
        self.outcomes: list[Outcome] = []      # what the results area shows (exported by ctrl+s)
        self.table: Table | None = None
        self.down: str | None = None           # why OpenSIPS does not answer, while it does not
        self.busy = False                      # a typed line is in flight
        self.view_busy = False                 # a view refresh is in flight
        self.shown = False                     # this screen is the visible one
        self._view_timer: Timer | None = None
        self._retry_timer: Timer | None = None
        self._hinted: str | None = None
        self.catalog: Catalog | None = None    # the command list in use, once which answered (UI thread)
        # E_DISPATCHER_STATUS while the dispatcher view is shown: the UI thread says what it
        # wants, one worker at a time makes it so (subscribe / unsubscribe block on MI).
        self._watch = watch(self._dispatcher_event) if watch is not None else None
        self._want_watch = False
        self._watch_lock = threading.Lock()
        self._change_pending = threading.Event()
        self._refresh_again = False
        self.watch_note = ""

    @staticmethod
    def help_bindings() -> list[BindingType]:
        """Every key of this screen and its widgets, for the help screen."""
        return [*ConsoleScreen.BINDINGS, *CommandInput.BINDINGS, *MIResult.BINDINGS]

    def compose(self) -> ComposeResult:
        yield Static("", id="console-status")
        yield CommandInput(self.history, id="console-input")
        yield Static("", id="console-hint")
        yield Static("", id="console-summary")
        yield MIResult(id="console-result")
        yield Footer()

    def on_mount(self) -> None:
        self.input = self.query_one(CommandInput)
        self.result = self.query_one(MIResult)
        self.summary = self.query_one("#console-summary", Static)
        self.hint = self.query_one("#console-hint", Static)
        if self.history.error:
            self.notify(f"history not saved: {clean(self.history.error)}", severity="warning", markup=False)
        self._status()
        self._say_hint("views: F2 dialogs · F3 registrations · F4 dispatcher · F5 LB · F6 pike · "
                       "F7 TCP · F8 ps")
        self.input.focus()

    # -- visibility: no MI call while hidden ----------------------------------------------
    def on_screen_resume(self) -> None:
        self.shown = True
        if self.console.catalog is None:
            self._load_catalog()
        if self.view is not None:
            self._refresh_view()
            self._start_view_timer()
        self._follow_dispatcher()

    def on_screen_suspend(self) -> None:
        self.shown = False
        self._stop_timers()
        self._follow_dispatcher()

    def on_unmount(self) -> None:
        self._stop_timers()
        if self._watch is not None and self._watch.active:   # unsubscribe without holding up the exit
            threading.Thread(target=self._watch.stop, name="console-watch-stop", daemon=True).start()
        close = getattr(self.console.mi, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass

    def _stop_timers(self) -> None:
        for timer in (self._view_timer, self._retry_timer):
            if timer is not None:
                timer.stop()
        self._view_timer = self._retry_timer = None

    @property
    def refreshing(self) -> bool:
        """A view is on screen and its refresh timer runs (hidden: never)."""
        return self._view_timer is not None

    def _start_view_timer(self) -> None:
        if self._view_timer is None and self.shown:
            self._view_timer = self.set_interval(self.view_interval, self._refresh_view)

    # -- status and hints -------------------------------------------------------------------
    def _status(self) -> None:
        catalog = self.console.catalog
        parts = ["MI console"]
        if self.node:
            parts.append(clean(self.node))
        parts.append(clean(self.target))
        if self.down:
            parts.append(f"DOWN: {self.down}")
        elif catalog is not None:
            parts.append(f"{len(catalog.names)} commands, {catalog.generation} names")
        else:
            parts.append("asking which…")
        if self.console.read_only:
            parts.append("READ-ONLY")
        status = self.query_one("#console-status", Static)
        status.update(Text(" · ".join(parts), no_wrap=True, overflow="ellipsis", end=""))
        status.set_class(self.down is not None, "-down")

    def _say_hint(self, text: str) -> None:
        self.hint.update(Text(clean(text), no_wrap=True, overflow="ellipsis", end=""))

    def on_command_input_hint(self, message: CommandInput.Hint) -> None:
        if message.command:
            self._want_recipes(message.command)
        else:
            self._say_hint(message.text)

    def on_command_input_leave(self, message: CommandInput.Leave) -> None:
        self.result.query_one(DataTable if self.result.mode == "table" else "#result-tree").focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input is not self.input or self.input.searching:
            return
        words = event.value.split()
        if words and event.value.endswith(" ") or len(words) > 1:
            self._want_recipes(words[0])

    def _want_recipes(self, command: str) -> None:
        if command != self._hinted and self.console.catalog is not None:
            self._hinted = command
            self._say_hint(f"{command}: asking which for its parameters…")
            self._load_recipes(command)

    # -- workers (MI off the UI thread) --------------------------------------------------
    @work(thread=True, exclusive=True, group="console-catalog", exit_on_error=False)
    def _load_catalog(self) -> None:
        try:
            catalog: Catalog | None = self.console.load_catalog()
            error = ""
        except Exception as exc:  # noqa: BLE001 - any failure is a status to show
            catalog, error = None, describe_error(exc)
        self.post_message(CatalogLoaded(self.node, catalog, error))

    @work(thread=True, exclusive=True, group="console-recipes", exit_on_error=False)
    def _load_recipes(self, command: str) -> None:
        try:
            text = hint_text(command, self.console.recipes(command))
        except Exception as exc:  # noqa: BLE001
            text = f"{command}: {describe_error(exc)}"
        self.post_message(RecipesLoaded(self.node, command, text))

    @work(thread=True, group="console-line", exit_on_error=False)
    def _send(self, line: str, command: str, params: Any, confirmed: bool, for_view: bool) -> None:
        try:
            outcome = self.console.call(command, params, confirmed=confirmed)
        except ConsoleError as exc:   # the core's own check (the screen asked the same first)
            self.post_message(Refused(self.node, str(exc)))
            return
        self.post_message(Answered(self.node, line, outcome, for_view))

    @work(thread=True, exclusive=True, group="console-view", exit_on_error=False)
    def _fetch_view(self, view: View) -> None:
        self.post_message(ViewAnswered(self.node, view.id, self.console.view(view)))

    def _refresh_view(self) -> None:
        if self.view is None or not self.shown:
            return
        if self.view_busy:
            self._refresh_again = True       # an event arrived during a refresh: once more after it
            return
        self.view_busy = True
        self._fetch_view(self.view)

    # -- E_DISPATCHER_STATUS: subscribed only while the dispatcher view is shown -----------
    def _follow_dispatcher(self) -> None:
        want = self.shown and self.view is not None and self.view.id == "dispatcher"
        if self._watch is not None and want != self._want_watch:
            self._want_watch = want
            self._sync_watch()

    @work(thread=True, group="console-watch", exit_on_error=False)
    def _sync_watch(self) -> None:
        assert self._watch is not None
        with self._watch_lock:
            while True:
                want, error = self._want_watch, ""
                try:
                    self._watch.start() if want else self._watch.stop()
                except Exception as exc:  # noqa: BLE001 - not published, no listener: a note to show
                    error = describe_error(exc)
                if want == self._want_watch:
                    break
        self.post_message(WatchChanged(self.node, self._watch.active, error))

    def _dispatcher_event(self, notification: Any) -> None:
        """Listener thread: one pending message at most, however fast events come."""
        if notification is not None and not self._change_pending.is_set():
            self._change_pending.set()
            self.post_message(DispatcherChanged(self.node))

    def on_dispatcher_changed(self, message: DispatcherChanged) -> None:
        self._change_pending.clear()
        if self.view is not None and self.view.id == "dispatcher":
            self._refresh_view()

    def on_watch_changed(self, message: WatchChanged) -> None:
        if message.active:
            self.watch_note = "live events"
        elif message.error:
            self.watch_note = f"no E_DISPATCHER_STATUS ({message.error})"
        else:
            self.watch_note = ""
        if self.view is not None and self.view.id == "dispatcher" and self.outcomes and not self.view_busy:
            self._summarise(self.view.title, self.outcomes, self.table, every=self.view_interval,
                            note=self.watch_note)

    # -- answers -----------------------------------------------------------------------------
    def on_catalog_loaded(self, message: CatalogLoaded) -> None:
        if message.catalog is not None:
            self.down = None
            self.catalog = self.input.catalog = message.catalog
            if self._retry_timer is not None:
                self._retry_timer.stop()
                self._retry_timer = None
        else:
            self.down = message.error.removeprefix("DOWN: ")
            if self._retry_timer is None and self.shown:
                self._retry_timer = self.set_interval(RETRY_EVERY, self._retry_catalog)
        self._status()

    def _retry_catalog(self) -> None:
        if self.console.catalog is None and self.shown:
            self._load_catalog()

    def on_recipes_loaded(self, message: RecipesLoaded) -> None:
        if self.input.value.split()[:1] == [message.command] or not self.input.value.strip():
            self._say_hint(message.text)

    def on_refused(self, message: Refused) -> None:
        self.busy = False
        self._refuse(message.why)

    def _refuse(self, why: str) -> None:
        self.summary.update(Text(clean(why), no_wrap=True, overflow="ellipsis", end=""))
        self.summary.add_class("-error")
        self.notify(clean(why), title="Not sent", severity="error", markup=False)

    def on_answered(self, message: Answered) -> None:
        self.busy = False
        outcome = message.outcome
        self._note_health(outcome)
        if message.for_view and self.view is not None:
            what = "OK" if outcome.ok else describe_error(outcome.error)   # type: ignore[arg-type]
            self.notify(f"{clean(message.line)}: {what}", severity="information" if outcome.ok else "error",
                        markup=False)
            self._refresh_view()
            return
        self.outcomes = [outcome]
        self.table = table_of(outcome.result) if outcome.ok else None
        self.result.show(outcome.result if outcome.ok else error_value(outcome.error), self.table)
        self._summarise(outcome.command, self.outcomes, self.table)

    def on_view_answered(self, message: ViewAnswered) -> None:
        self.view_busy = False
        if self.view is None or message.view != self.view.id:
            return   # the operator moved on meanwhile
        if self._refresh_again:
            self._refresh_again = False
            self._refresh_view()
        view, outcomes = self.view, message.outcomes
        same = bool(self.outcomes) and self.table is not None and self.table.key == view.id
        if outcomes:
            self._note_health(outcomes[-1])
        self.outcomes = outcomes
        if outcomes and all(o.ok for o in outcomes):
            self.table = view.build([o.result for o in outcomes], self.wall())
            self.result.show(self.table.as_dicts(), self.table, keep_view=same)
        else:
            self.table = None
            failed = outcomes[-1].error if outcomes else None
            self.result.show(error_value(failed) if failed else None, None)
        self._summarise(view.title, outcomes, self.table, every=self.view_interval,
                        note=self.watch_note if view.id == "dispatcher" else "")

    def _note_health(self, outcome: Outcome) -> None:
        was = self.down
        if isinstance(outcome.error, OpenSIPSMIConnectionError):
            self.down = describe_error(outcome.error).removeprefix("DOWN: ")
        elif self.down is not None:
            self.down = None
            if self.console.catalog is None:
                self._load_catalog()
        if was != self.down:
            self._status()

    def _summarise(self, title: str, outcomes: list[Outcome], table: Table | None,
                   every: float | None = None, note: str = "") -> None:
        elapsed = sum(o.elapsed for o in outcomes) * 1000
        when = time.strftime("%H:%M:%S", time.localtime(outcomes[-1].at)) if outcomes else ""
        failed = next((o for o in outcomes if not o.ok), None)
        parts = [clean(title)]
        if failed is not None and failed.error is not None:
            parts.append(describe_error(failed.error))
        elif table is not None:
            parts.append(f"{len(table.rows)} rows" + (f" in {clean(table.key)}" if table.key and table.key
                                                     not in VIEWS else ""))
        else:
            parts.append("answered")
        parts.append(f"{elapsed:.1f} ms")
        if every:
            parts.append(f"every {every:g} s")
        if note:
            parts.append(clean(note))
        parts.append(when)
        self.summary.update(Text(" · ".join(p for p in parts if p), no_wrap=True, overflow="ellipsis", end=""))
        self.summary.set_class(failed is not None, "-error")

    # -- running a typed line ------------------------------------------------------------
    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input is not self.input:
            return
        event.stop()
        line = event.value.strip()
        if not line:
            return
        try:
            command, params = parse_line(line)
        except ParamsError as exc:
            self._say_hint(f"not sent: {exc}")
            self.summary.update(Text(f"not sent: {clean(str(exc))}", no_wrap=True, end=""))
            self.summary.add_class("-error")
            return
        self.input.remember(line)
        self.input.value = ""
        self.leave_view()
        self.submit(line, command, params)

    def submit(self, line: str, command: str, params: Any, for_view: bool = False) -> None:
        """Send now when read-only by nature; else refuse (read-only) or confirm first."""
        if self.busy:
            self.notify("Still waiting for the previous answer", severity="warning", markup=False)
            return
        verdict = self.console.check(command, params)
        if verdict.read_only:
            self._go(line, command, params, False, for_view)
        elif self.console.read_only:
            self._refuse(f"refused (read-only): {verdict.why}")
        else:
            def answer(send: bool | None) -> None:
                if send:
                    self._go(line, command, params, True, for_view)
                else:
                    self._say_hint(f"not sent: {line}")

            self.app.push_screen(ConfirmRequest(verdict.why, request_text(command, params, "…"), self.target),
                                 answer)

    def _go(self, line: str, command: str, params: Any, confirmed: bool, for_view: bool) -> None:
        self.busy = True
        if not for_view:
            self.summary.update(Text(f"{clean(command)} · waiting for OpenSIPS…", no_wrap=True, end=""))
            self.summary.remove_class("-error")
        self._send(line, command, params, confirmed, for_view)

    # -- views -----------------------------------------------------------------------------
    def action_view(self, name: str) -> None:
        if name == "dispatcher":
            self._say_hint("esc, then a / i / p: set the highlighted destination active / inactive / probing")
        self.view = VIEWS[name]
        self.table = None
        self.summary.update(Text(f"{self.view.title} · asking OpenSIPS…", no_wrap=True, end=""))
        self.summary.remove_class("-error")
        self.view_busy = False
        self._refresh_view()
        if self._view_timer is not None:
            self._view_timer.reset()
        self._start_view_timer()
        self._follow_dispatcher()

    def leave_view(self) -> None:
        """A typed command takes the results area: the view stops refreshing."""
        self.view = None
        if self._view_timer is not None:
            self._view_timer.stop()
            self._view_timer = None
        self._follow_dispatcher()

    def action_set_state(self, state: str) -> None:
        """a / i / p on a dispatcher destination: dispatcher:set_state, after confirmation."""
        if self.view is None or self.view.id != "dispatcher":
            return
        row = self.result.current_row()
        if row is None:
            return
        command, params = set_state_request(self.console.catalog, row.get("Partition"), row.get("Set"),
                                            row.get("URI"), state)
        self.submit(f"{command} {params['address']} {state}", command, params, for_view=True)

    # -- other actions ---------------------------------------------------------------------------
    def action_cycle_display(self) -> None:
        mode = self.result.toggle()
        self._say_hint(f"showing the answer as {'a table' if mode == 'table' else mode}")

    def action_focus_input(self) -> None:
        self.input.focus()

    def action_export(self) -> None:
        if not self.outcomes or self.export_dir is None:
            self.notify("Nothing to export yet", severity="warning", markup=False)
            return
        name = self.view.id if self.view is not None else self.outcomes[0].command
        try:
            path = write_outcomes(self.outcomes, self.export_dir, name,
                                  self.table if self.view is not None else None)
        except OSError as exc:
            self.notify(f"Export failed: {clean(str(exc.strerror or exc))}", severity="error", markup=False)
            return
        self.notify(f"Exported to {clean(path)}", title="Export", markup=False, timeout=8)
