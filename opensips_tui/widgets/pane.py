"""The frame shared by the log and detail panes: a rounded border that brightens with focus."""

from __future__ import annotations

from textual.containers import Vertical


class Pane(Vertical):
    """A bordered container that ``z`` zooms; the border is bright while a child has focus."""

    ALLOW_MAXIMIZE = True

    DEFAULT_CSS = """
    Pane {
        border: round $primary 40%;
        border-title-color: $text;
    }
    Pane:focus-within { border: round $primary; }
    """
