"""The live SIP trace (key 4): calls grouped by Call-ID, messages, a ladder and the raw SIP.

**When the tracer runs.** Only while this screen is shown: showing it starts the trace
(``tracer:start`` towards our own HEP receiver, with the options of the start dialog ``t``),
leaving it for another screen stops it, and so does every exit (q, Ctrl+C, SIGTERM, SIGHUP:
the app unmounts the screen, which stops the trace synchronously). ``p`` stops and restarts it
by hand. A dialog over the screen (help, trace options) does not stop it. The calls already
captured stay until ``c`` or eviction. So a hidden trace screen
costs OpenSIPS nothing and the console nothing.

**Threads.** The session's receiver thread only pushes packets into a bounded
:class:`~opensips_tui.trace_feed.TraceFeed`; the push that makes it non-empty posts one
:class:`TraceScreen.Wake`. The screen then drains at most every :data:`DRAIN_EVERY` seconds
(a few redraws a second under any load, none when nothing arrives), files the packets in the
:class:`~opensips.hep.calls.CallStore` and redraws what changed. MI start/stop calls run in
worker threads through :class:`~opensips_tui.trace_control.TraceControl`.

**Fleet.** Packets carry a node name (``""`` for the single server); calls are keyed by
``(node, Call-ID)`` and the lists show the node when it is set, so several sessions can feed
one screen.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Footer, Input, Static

from opensips.hep import HepPacket
from opensips.hep.calls import Call, CallFilter, CallStore
from opensips.hep.ladder import layout

from ..safe import clean, text
from ..trace_control import TraceControl, TraceOptions, TraceSource, TraceState
from ..trace_export import export_messages
from ..trace_feed import TraceFeed
from ..widgets.ladder import LadderView
from ..widgets.line_list import LineList
from ..widgets.sip_message import SipMessageView
from ..widgets.trace_dialog import TraceDialog
from ..widgets.trace_lists import CallsList, MessagesList

DRAIN_EVERY = 0.25        # seconds between two drains (and redraws) at most
DRAIN_MAX = 5000          # packets filed per drain; the rest waits for the next one
MESSAGES_SHOWN = 2000     # the messages list shows the newest this many
EXIT_WAIT = 1.0           # seconds the app's exit waits for the tracer to be stopped


class TraceScreen(Screen):
    """Live SIP trace through OpenSIPS's tracer (key 4)."""

    DEFAULT_CSS = """
    TraceScreen { layout: vertical; }
    TraceScreen #trace-headline { height: 1; background: $panel; padding: 0 1; }
    TraceScreen #trace-filter { display: none; height: 3; }
    TraceScreen #trace-filter.-open { display: block; }
    TraceScreen #trace-lists { height: 1fr; min-height: 4; }
    TraceScreen #trace-flow { height: 2fr; }
    TraceScreen LadderView { width: 3fr; }
    TraceScreen SipMessageView { width: 2fr; border-left: vkey $panel-lighten-2; }
    TraceScreen.-narrow #trace-flow { layout: vertical; }
    TraceScreen.-narrow LadderView { width: 1fr; height: 1fr; }
    TraceScreen.-narrow SipMessageView { width: 1fr; height: 1fr; border-left: none; }
    """
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]   # side by side from 110 columns
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="trace.filter"),
        Binding("escape", "close_filter", "Clear filter", show=False, id="trace.close_filter"),
        Binding("enter", "open", "Open", show=False, id="trace.open"),
        Binding("v", "switch_list", "Calls/messages", id="trace.switch_list"),
        Binding("t", "options", "Trace options", id="trace.options"),
        Binding("p", "pause", "Stop/start", id="trace.pause"),
        Binding("c", "clear", "Clear", show=False, id="trace.clear"),
        Binding("e", "export('call')", "Export call", id="trace.export_call"),
        Binding("E", "export('all')", "Export all", show=False, id="trace.export_all"),
        Binding("z", "zoom", "Zoom pane", show=False, id="trace.zoom"),
    ]

    @dataclass
    class Wake(Message):
        """Posted by a receiver thread when the feed goes from empty to non-empty."""

    @dataclass
    class StateChanged(Message):
        """Posted by a control worker: the tracer is now ``state`` (``detail`` says more)."""

        state: TraceState
        detail: str

    @dataclass
    class Exported(Message):
        """Posted by the export worker: the files written, or why not."""

        count: int
        paths: tuple[Path, ...] = ()
        error: str = ""

    def __init__(self, source: TraceSource, *, store: CallStore | None = None, feed: TraceFeed | None = None,
                 options: TraceOptions | None = None, export_dir: Path | None = None, utc: bool = False,
                 node: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.node = node                 # the fleet node it traces ("": one OpenSIPS)
        self.store = store if store is not None else CallStore()     # both have a len(): no `or`
        self.feed = feed if feed is not None else TraceFeed()
        self.control = TraceControl(source, self.feed.push, self._state_from_thread)
        self.control.options = options or TraceOptions()
        self.export_dir = export_dir
        self.last_export: tuple[Path, ...] = ()
        self.utc = utc
        self.paused = False              # stopped by p: showing the screen does not start it
        self.state: TraceState = "stopped"
        self.detail = ""
        self.warnings: list[str] = []    # what the session warned about (the last 20), as notified
        self.filter = CallFilter()
        self._drain_timer: Timer | None = None
        self._last_drain = 0.0
        self._shown_version = -1
        self._ladder_of: tuple[tuple[str, str] | None, int] = (None, -1)
        self._headline_text = Text()

    def compose(self) -> ComposeResult:
        yield Static("", id="trace-headline")
        yield Input(placeholder="filter calls: method=INVITE user=alice ip=10.0.0.1 callid=abc state=… or words",
                    id="trace-filter")
        with ContentSwitcher(initial="trace-calls", id="trace-lists"):
            yield CallsList(utc=self.utc, id="trace-calls")
            yield MessagesList(utc=self.utc, id="trace-messages")
        with Horizontal(id="trace-flow"):
            yield LadderView(utc=self.utc, id="trace-ladder")
            yield SipMessageView(utc=self.utc, id="trace-raw")
        yield Footer()

    def on_mount(self) -> None:
        self.calls_list = self.query_one(CallsList)
        self.messages_list = self.query_one(MessagesList)
        self.ladder = self.query_one(LadderView)
        self.raw = self.query_one(SipMessageView)
        self.headline = self.query_one("#trace-headline", Static)
        self.feed.wake = self._wake
        if len(self.feed):                    # pushed before the wake-up was wired
            self._drain_soon()
        self.calls_list.focus()
        self._show_headline()

    # -- the tracer follows visibility -----------------------------------------------------------
    def on_screen_resume(self) -> None:
        if not self.paused:
            self._want(self.control.options)

    def on_screen_suspend(self) -> None:
        if isinstance(self.app.screen, ModalScreen) and self in self.app.screen_stack:
            return                    # a dialog (help, trace options) over this screen: keep tracing
        self._want(None)

    def on_unmount(self) -> None:
        """Every exit path of the app ends here: stop the trace, waiting at most :data:`EXIT_WAIT`.

        A hung MI would otherwise hold the exit for its whole timeout (5 s by default, twice:
        tracer:stop then tracer:trace). Past the wait the stop goes on in its thread, and the
        session's own interpreter-exit hook bounds the rest and prints the command to run."""
        self.feed.wake = None
        closer = threading.Thread(target=self.control.close, name="trace-stop", daemon=True)
        closer.start()
        closer.join(EXIT_WAIT)

    def _want(self, options: TraceOptions | None) -> None:
        self.control.want(options)
        self.run_worker(self.control.converge, thread=True, group="trace-control", name="trace-control")

    def _state_from_thread(self, state: TraceState, detail: str) -> None:
        self.post_message(self.StateChanged(state, detail))

    def on_trace_screen_state_changed(self, message: StateChanged) -> None:
        # a source's detail is one line for the headline, then any warnings (one per line)
        first, *warnings = message.detail.split("\n")
        was = self.state
        self.state, self.detail = message.state, first
        if message.state == "stopped":
            warnings = [w for w in message.detail.split("\n") if w]
        if message.state in ("running", "stopped"):
            for warning in warnings:
                self.warnings.append(warning)
                self.notify(clean(warning, 500), title="Trace", severity="warning", markup=False, timeout=30)
            del self.warnings[:-20]
        elif message.state == "failed":
            what = "trace stopped" if was == "running" else "trace not started"
            self.notify(f"{what}: {clean(message.detail, 300)}", severity="error", markup=False,
                        timeout=10)
        self._show_headline()

    # -- packets in --------------------------------------------------------------------------------
    def _wake(self) -> None:
        """Receiver thread, on the feed's empty -> non-empty edge only."""
        self.post_message(self.Wake())

    def on_trace_screen_wake(self, _message: Wake) -> None:
        self._drain_soon()

    def _drain_soon(self) -> None:
        if self._drain_timer is None:
            delay = max(0.001, self._last_drain + DRAIN_EVERY - time.monotonic())
            self._drain_timer = self.set_timer(delay, self._drain)

    def _drain(self) -> None:
        self._drain_timer = None
        self._last_drain = time.monotonic()
        for packet, node in self.feed.drain(DRAIN_MAX):
            self.store.add(packet, node)
        if len(self.feed):
            self._drain_soon()          # a burst: the rest at the next slot
        self.show_store()

    def add_packets(self, packets: list[HepPacket], node: str = "") -> None:
        """File packets now, on the UI thread (a replay, a test), then redraw."""
        for packet in packets:
            self.store.add(packet, node)
        self.show_store()

    # -- drawing -------------------------------------------------------------------------------------
    def show_store(self) -> None:
        """Redraw the lists, the ladder and the headline if the store changed since the last time."""
        if self.store.version == self._shown_version:
            self._show_headline()
            return
        self._shown_version = self.store.version
        self.calls_list.show_calls(self.store.calls(self.filter))
        if self.messages_list.display:
            self._show_messages()
        self._show_ladder()
        self._show_headline()

    def _show_messages(self) -> None:
        self.messages_list.show_messages(self.store.messages(self.filter, last=MESSAGES_SHOWN))

    def _current_call(self) -> Call | None:
        """The call of the highlighted row (calls list), or of the highlighted message."""
        key = (self.messages_list if self.messages_list.display else self.calls_list).current
        return self.store.get(key[:2]) if isinstance(key, tuple) else None

    def _show_ladder(self, keep: int | None = None) -> None:
        call = self._current_call()
        shown = (call.key if call else None, len(call.messages) if call else -1)
        if shown == self._ladder_of and keep is None:
            return
        self._ladder_of = shown
        self.ladder.show(layout(call.messages) if call else None, keep=keep)
        self._show_raw()

    def _show_raw(self) -> None:
        call = self._current_call()
        seq = self.ladder.current
        message = next((m for m in call.messages if m.seq == seq), None) if call and seq is not None else None
        self.raw.show(message)

    def _show_headline(self) -> None:
        store = self.store
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        style = {"running": "bold green", "failed": "bold red", "starting": "yellow",
                 "stopping": "yellow"}.get(self.state, "bold")
        state = "paused (p starts)" if self.paused and self.state == "stopped" else self.state
        if self.node:
            line.append(f"{clean(self.node)} · ")
        line.append(f"trace {state}", style=style)
        if self.detail and self.state in ("running", "failed", "starting"):
            line.append(f" · {clean(self.detail, 80)}")
        line.append(f" · {len(store)} calls · {store.messages_held} msgs")
        if store.evicted_calls or store.evicted_messages:
            line.append(f" · evicted {store.evicted_calls} calls / {store.evicted_messages} msgs", style="yellow")
        if self.feed.dropped:
            line.append(f" · dropped {self.feed.dropped}", style="bold red")
        if self.filter.active:
            line.append(f" · filter: {len(store.calls(self.filter))} shown", style="cyan")
        if line != self._headline_text:       # nothing changed, nothing drawn
            self._headline_text = line
            self.headline.update(line)

    # -- widgets' messages -------------------------------------------------------------------------
    def on_line_list_highlighted(self, message: LineList.Highlighted) -> None:
        message.stop()
        if message.list is self.ladder:
            self._show_raw()
        elif message.list is self.calls_list and self.calls_list.display:
            self._show_ladder()
        elif message.list is self.messages_list and self.messages_list.display:
            seq = message.key[2] if isinstance(message.key, tuple) else None
            self._ladder_of = (None, -1)
            self._show_ladder(keep=seq)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "trace-filter":
            return
        event.stop()
        try:
            self.filter = CallFilter.parse(event.value)
        except ValueError as exc:
            event.input.border_subtitle = text(str(exc), 100)     # a Text: never read as markup
            return
        event.input.border_subtitle = ""
        self._shown_version = -1
        self.show_store()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "trace-filter":
            event.stop()
            self._shown_list().focus()

    def _shown_list(self) -> LineList:
        return self.messages_list if self.messages_list.display else self.calls_list

    # -- actions -----------------------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#trace-filter", Input)
        box.add_class("-open")
        box.focus()

    def action_close_filter(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        box = self.query_one("#trace-filter", Input)
        box.value = ""
        box.remove_class("-open")
        self._shown_list().focus()

    def action_open(self) -> None:
        """Enter: from a list into the call's ladder, from the ladder into the raw message."""
        if self.focused is self.ladder:
            self.raw.focus()
        else:
            self.ladder.focus()

    def action_switch_list(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        to_messages = switcher.current == "trace-calls"
        switcher.current = "trace-messages" if to_messages else "trace-calls"
        if to_messages:
            self._show_messages()
        self._ladder_of = (None, -1)
        self._show_ladder()
        self._shown_list().focus()

    def action_options(self) -> None:
        def chosen(options: TraceOptions | None) -> None:
            if options is not None:
                self.paused = False
                self._want(options)
        self.app.push_screen(TraceDialog(self.control.options), chosen)

    def action_pause(self) -> None:
        self.paused = self.control.wanted
        self._want(None if self.paused else self.control.options)
        self._show_headline()

    def action_clear(self) -> None:
        self.store.clear()
        self._ladder_of = (None, -1)
        self.show_store()

    def action_zoom(self) -> None:
        if self.maximized is not None:
            self.minimize()
        elif self.focused is not None:
            self.maximize(self.focused, container=False)

    def action_export(self, what: str) -> None:
        """``e``: the highlighted call, ``E``: every call held, as pcap + JSONL (on a worker thread)."""
        if what == "call":
            call = self._current_call()
            messages = list(call.messages) if call else []
        else:
            messages = self.store.messages()
        if not messages:
            self.notify("Nothing to export yet", severity="warning", markup=False)
            return
        if self.export_dir is None:
            self.notify("No export directory", severity="error", markup=False)
            return
        directory = self.export_dir
        stem = "trace-call" if what == "call" else "trace-all"

        def write() -> None:
            try:
                pcap, jsonl, count = export_messages(messages, directory, stem)
            except OSError as exc:
                self.post_message(self.Exported(0, error=f"{exc.filename or directory}: {exc.strerror or exc}"))
                return
            self.post_message(self.Exported(count, (pcap, jsonl)))
        self.run_worker(write, thread=True, group="trace-export", name="trace-export")

    def on_trace_screen_exported(self, message: Exported) -> None:
        if message.error:
            self.notify(f"Export failed: {clean(message.error, 300)}", severity="error", markup=False)
            return
        self.last_export = message.paths
        names = " and ".join(clean(p) for p in message.paths)
        self.notify(f"Exported {message.count} messages to {names}", title="Export", markup=False, timeout=10)
