"""The widgets of the monitor; each owns its state and its CSS."""

from .detail import DetailPane
from .event_log import EventLog
from .events_list import EventsList
from .filter_bar import FilterBar
from .help_screen import HelpScreen
from .log_view import LogView
from .status_bar import StatusBar

__all__ = ["DetailPane", "EventLog", "EventsList", "FilterBar", "HelpScreen", "LogView", "StatusBar"]
