"""The start dialog: the tracer's own filter (caller, callee, ip) and scope.

These go to OpenSIPS (``tracer:start``'s ``filter`` and ``scope``), so they decide what
OpenSIPS sends at all; the screen's ``/`` filter only hides what was already received.
Dismisses with the new :class:`~opensips_tui.trace_control.TraceOptions`, or None (escape).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet

from ..safe import text
from ..trace_control import SCOPES, TraceOptions


class TraceDialog(ModalScreen[TraceOptions | None]):
    DEFAULT_CSS = """
    TraceDialog { align: center middle; }
    TraceDialog > Vertical { width: 72; max-width: 100%; height: auto; max-height: 100%;
                             border: round $accent; background: $surface; padding: 0 1; }
    TraceDialog Label { width: 1fr; }
    TraceDialog .row { height: 3; }
    TraceDialog .row > Label { width: 8; padding: 1 0 0 0; }
    TraceDialog .row > Input { width: 1fr; }
    TraceDialog RadioSet { width: 1fr; height: auto; }
    TraceDialog #trace-dialog-error { color: $error; height: auto; }
    TraceDialog #trace-dialog-buttons { height: 3; align-horizontal: right; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="trace.dialog_cancel")]

    def __init__(self, options: TraceOptions) -> None:
        super().__init__()
        self.options = options

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Start the trace: OpenSIPS sends only what matches all given fields.")
            for name, hint in (("caller", "From user, e.g. alice"), ("callee", "R-URI user, e.g. bob"),
                               ("ip", "source IP of the request")):
                with Horizontal(classes="row"):
                    yield Label(name)
                    yield Input(getattr(self.options, name), placeholder=hint, id=f"trace-{name}")
            with RadioSet(id="trace-scope"):
                for scope, what in SCOPES.items():
                    yield RadioButton(f"{scope}  {what}", value=scope == self.options.scope, name=scope)
            yield Label("", id="trace-dialog-error")
            with Horizontal(id="trace-dialog-buttons"):
                yield Button("Start", variant="primary", id="trace-start")
                yield Button("Cancel", id="trace-cancel")

    def on_mount(self) -> None:
        self.query_one("#trace-caller", Input).focus()

    def _options(self) -> TraceOptions:
        pressed = self.query_one(RadioSet).pressed_button
        scope = pressed.name if pressed is not None and pressed.name else "t"
        caller, callee, ip = (self.query_one(f"#trace-{n}", Input).value.strip() for n in ("caller", "callee", "ip"))
        return TraceOptions(caller, callee, ip, scope=scope)

    def _submit(self) -> None:
        try:
            options = self._options()
        except ValueError as exc:
            self.query_one("#trace-dialog-error", Label).update(text(str(exc)))
            return
        self.dismiss(options)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "trace-start":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
