"""The confirmation asked before a state-changing MI request: why, and the exact request."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from ..safe import clean


class ConfirmRequest(ModalScreen[bool]):
    """``y`` sends; ``n``, Escape or Enter cancel (a stray Enter must never send).
    Dismisses with True to send."""

    DEFAULT_CSS = """
    ConfirmRequest { align: center middle; }
    ConfirmRequest > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $warning; background: $surface; padding: 0 1;
    }
    ConfirmRequest #confirm-request { background: $panel; padding: 0 1; margin: 1 0 0 0; }
    ConfirmRequest #confirm-keys { margin: 1 0 0 0; text-align: right; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Send", id="confirm.send"),
        Binding("n,escape,enter", "answer(False)", "Cancel", id="confirm.cancel"),
    ]

    def __init__(self, why: str, request: str, target: str) -> None:
        super().__init__()
        self.why = why
        self.request = request
        self.target = target

    def compose(self) -> ComposeResult:
        box = Vertical()
        box.border_title = "Change OpenSIPS's state?"
        with box:
            yield Static(Text(f"{clean(self.why)}.\nSend this request to {clean(self.target)}?", end=""),
                         id="confirm-why")
            yield Static(Text(clean(self.request), end=""), id="confirm-request")
            yield Static(Text("(the client numbers the id when it sends)", style="dim", end=""))
            keys = Text(end="")
            keys.append("y", style="bold").append(" send    ")
            keys.append("n", style="bold").append(" / ").append("esc", style="bold").append(" / ")
            keys.append("enter", style="bold").append(" cancel")
            yield Static(keys, id="confirm-keys")

    def action_answer(self, send: bool) -> None:
        self.dismiss(send)
