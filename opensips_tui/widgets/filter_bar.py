"""The live filter input shown above the log by ``/``.

Every keystroke posts :class:`FilterChanged`; Enter keeps the filter and hides the input,
Escape clears it and hides the input.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input

from ..messages import FilterChanged


class FilterBar(Input):
    DEFAULT_CSS = """
    FilterBar { dock: top; display: none; padding: 0 1; }
    FilterBar.shown { display: block; }
    """

    BINDINGS = [Binding("escape", "cancel", "Clear filter", id="filter_cancel")]

    def __init__(self, **kwargs) -> None:
        # compact: one row and no border, also when focused (Input's :focus rule
        # would otherwise bring back a tall border and hide the text row).
        super().__init__(placeholder="filter: words, key=value, key~regex, key>N, -term excludes",
                         compact=True, **kwargs)

    def open(self) -> None:
        self.add_class("shown")
        self.focus()

    def close(self) -> None:
        self.remove_class("shown")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(FilterChanged(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(FilterChanged(event.value, done=True))

    def action_cancel(self) -> None:
        self.value = ""
        self.post_message(FilterChanged("", done=True))
