"""The monitor replaying a recording: the same screen, fed by :class:`~opensips_tui.replay_source.ReplaySource`.

No OpenSIPS and no MI call: the events list holds the recording's event names, and the log,
counters, rates, sparklines, alerts, filter and export work as they do live, on the
recording's clock. The keys drive the player: ``p`` (the app's pause, as live) or ``space``
pause and resume, ``[``/``]`` seek 10 s back/forward, ``<``/``>`` halve/double the speed,
``0`` plays again from the start (``home`` moves the cursors of the list and the log, as
live). The status bar shows the position, the duration, the speed and paused/finished.
"""

from __future__ import annotations

from textual.actions import SkipAction
from textual.binding import Binding
from textual.timer import Timer
from textual.widgets import Input

from .app import OpenSIPSTUI
from .config import Settings
from .messages import SourceChanged, ToggleRequested
from .replay_source import SEEK_STEP, ReplaySource
from .safe import clean

__all__ = ["ReplayTUI"]


class ReplayTUI(OpenSIPSTUI):
    TITLE = "opensips-tui replay"

    BINDINGS = [
        *OpenSIPSTUI.BINDINGS,
        Binding("space", "space", "Pause/resume", show=False, priority=True, id="replay.pause"),
        Binding("left_square_bracket", "seek(-1)", f"Back {SEEK_STEP:g} s", id="replay.back"),
        Binding("right_square_bracket", "seek(1)", f"Forward {SEEK_STEP:g} s", id="replay.forward"),
        Binding("less_than_sign", "speed(False)", "Slower", id="replay.slower"),
        Binding("greater_than_sign", "speed(True)", "Faster", id="replay.faster"),
        Binding("0", "restart", "Play again from the start", show=False, id="replay.restart"),
    ]

    def __init__(self, settings: Settings, source: ReplaySource, **kwargs) -> None:
        from .backend import Backend

        super().__init__(settings, Backend(settings, source.feed), sources=[source], **kwargs)
        self.replay = source
        self._tick: Timer | None = None

    def _start_sources(self) -> None:
        """The app's on_mount starts the sources: the replay's keys and ticks start with them.
        (Textual calls every class's on_mount itself, so this is a hook, not an override.)"""
        super()._start_sources()
        self.events.set_toggle_hint("space: pause")
        self._tick = self.set_interval(1.0, self._replay_tick)
        recording = self.replay.recording
        self.notify(clean(recording.summary()), title=f"Replaying {clean(self.replay.name, limit=40)}",
                    markup=False, timeout=8, severity="warning" if recording.problems else "information")
        for problem in recording.problems[:3]:
            self.notify(clean(problem), title="Skipped", severity="warning", markup=False, timeout=10)

    def _replay_tick(self) -> None:
        """The position moves with no record arriving: once a second while playing; the timer
        pauses while nothing moves (paused or finished) and a key or a new state wakes it."""
        self._show_sources()
        if self._tick is not None and (self.replay.paused or self.replay.finished):
            self._tick.pause()

    def _moved(self) -> None:
        """After a key: show the new state now, and let the position tick again."""
        self._show_sources()
        self._refresh_numbers()
        if self._tick is not None:
            self._tick.resume()

    def on_source_changed(self, _message: SourceChanged) -> None:
        """Besides what SourceActions does with it (Textual calls both): the position ticks again."""
        if self._tick is not None and not (self.replay.paused or self.replay.finished):
            self._tick.resume()

    # -- keys ----------------------------------------------------------------------------
    def action_pause(self) -> None:
        self.replay.toggle_pause()
        self._moved()

    def on_toggle_requested(self, message: ToggleRequested) -> None:
        """``enter`` or ``+`` on the events list: a replay subscribes nothing (and the app's own
        handler, which would, is not called)."""
        message.prevent_default()
        self.notify("A replay subscribes nothing: its events are the recording's (space or p pauses)",
                    title="Replay", severity="warning", markup=False, timeout=6)

    def action_space(self) -> None:
        """``space`` pauses and resumes anywhere but in a text input (the filter, a prompt)."""
        if isinstance(self.focused, Input):
            raise SkipAction()
        self.action_pause()

    def action_seek(self, direction: int) -> None:
        if direction < 0:
            self.log_pane.clear()     # played again from the start up to the target
        self.replay.seek(direction * SEEK_STEP)
        self._moved()

    def action_speed(self, faster: bool) -> None:
        (self.replay.faster if faster else self.replay.slower)()
        self._moved()

    def action_restart(self) -> None:
        self.log_pane.clear()
        self.replay.restart()
        self._moved()
