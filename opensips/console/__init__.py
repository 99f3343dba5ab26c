"""An MI console without a UI: the command catalog, params, safety, tables and views.

For Python developers as much as for the TUI's console screen (``opensips_tui.screens.console``)::

    from opensips.mi import OpenSIPSMI
    from opensips.console import MIConsole, VIEWS, parse_line, table_of

    console = MIConsole(OpenSIPSMI("http", url="http://127.0.0.1:8888/mi"), read_only=True)
    console.load_catalog()                          # which: 4.x or 3.x naming
    outcome = console.call(*parse_line("dialog:list"))
    table = table_of(outcome.result)                # columns/rows, or None for a tree
    dialogs = VIEWS["dialogs"].build([o.result for o in console.view(VIEWS["dialogs"])], time.time())

Nothing here imports Textual.
"""

from __future__ import annotations

from .catalog import Catalog, hint_text, recipes_of
from .errors import ConsoleError, NeedsConfirmation, ParamsError, ReadOnlyError
from .history import History
from .params import parse_line, parse_params, request_text
from .safety import READ_ONLY, Verdict, classify
from .session import MIConsole, Outcome
from .tables import Table, cell_text, filter_rows, sort_rows, table_of
from .views import DIALOG_STATES, DISPATCHER_STATES, VIEWS, Call, View, set_state_request

__all__ = ["Catalog", "hint_text", "recipes_of", "ConsoleError", "NeedsConfirmation", "ParamsError",
           "ReadOnlyError", "History", "parse_line", "parse_params", "request_text", "READ_ONLY",
           "Verdict", "classify", "MIConsole", "Outcome", "Table", "cell_text", "filter_rows",
           "sort_rows", "table_of", "DIALOG_STATES", "DISPATCHER_STATES", "VIEWS", "Call", "View",
           "set_state_request"]
