"""``+`` on the events list: subscribe every event matching a shell pattern (``E_UL_*``).

The pattern is matched as ``--subscribe`` matches it (:func:`opensips_tui.subscribe.resolve`:
an exact name, or a shell pattern, any case when the exact case matches nothing), against the
events OpenSIPS listed. What it matches is shown while typing; ``enter`` dismisses with those
events (the list subscribes them), ``esc`` with ``None``. The typed text is shown escaped.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ..safe import clean
from ..subscribe import resolve

SHOWN = 6   # names listed under the input; the rest is counted


class PatternPrompt(ModalScreen["list[str] | None"]):
    DEFAULT_CSS = """
    PatternPrompt { align: center middle; }
    PatternPrompt > Vertical {
        width: 64; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    PatternPrompt Input { margin: 1 0 0 0; }
    PatternPrompt #matches { height: auto; color: $text-muted; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="pattern_cancel")]

    def __init__(self, names: list[str], initial: str = "") -> None:
        super().__init__()
        self.names = names
        self.initial = initial
        self.matched: list[str] = []

    def compose(self) -> ComposeResult:
        box = Vertical()
        box.border_title = "Subscribe by pattern"
        box.border_subtitle = "enter: subscribe · esc: cancel"
        with box:
            yield Input(self.initial, placeholder="E_UL_*, E_DLG_*, E_CORE_?HM_*", compact=True,
                        id="pattern")
            yield Static(id="matches", markup=False)

    def on_mount(self) -> None:
        self._show(self.initial)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._show(event.value)

    def _show(self, text: str) -> None:
        asked = [t.strip() for t in text.split(",") if t.strip()]
        self.matched = resolve(asked, self.names).events if asked else []
        out = Text(no_wrap=True, overflow="ellipsis")
        if not asked:
            out.append("Type a name or a pattern (* any text, ? one character, [AB] one of).")
        elif not self.matched:
            out.append(f"{clean(text, limit=40)}: matches no event on this OpenSIPS", style="bold red")
        else:
            count = len(self.matched)
            out.append(f"{count} event{'s' if count != 1 else ''}: ", style="bold")
            out.append(", ".join(clean(n) for n in self.matched[:SHOWN]))
            if count > SHOWN:
                out.append(f", … (+{count - SHOWN})")
        self.query_one("#matches", Static).update(out)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.matched:
            self.dismiss(list(self.matched))
        else:
            self.app.bell()

    def action_cancel(self) -> None:
        self.dismiss(None)
