"""One MI answer on screen: a sortable, filterable table, an expandable tree, or raw JSON.

The widget keeps what it shows (the outcome's value, its table, the mode, the sort and the
filter) and redraws itself; the console screen only hands it answers. Every string in an
answer comes from the network: labels and cells go through :mod:`opensips_tui.safe`, so
nothing is read as markup or terminal control sequences.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, DataTable, Input, Static, Tree
from textual.widgets.tree import TreeNode

from opensips.console import Table, cell_text, filter_rows, sort_rows

from ..export import finite
from ..safe import clean, text

Mode = Literal["table", "tree", "json"]
TREE_NODES = 5000        # a tree bigger than this stops with "… N more" (it is built at once)
CELL_WIDTH = 48          # characters of a cell before the ellipsis (the tree and JSON show all)


def _label(key: Any, value: Any) -> Text:
    label = Text(no_wrap=True, end="")
    if key is not None:
        label.append(clean(key, 80), style="bold")
    if isinstance(value, dict):
        label.append(f" {{{len(value)}}}" if key is not None else f"{{{len(value)}}}", style="dim")
    elif isinstance(value, list):
        label.append(f" [{len(value)}]" if key is not None else f"[{len(value)}]", style="dim")
    else:
        if key is not None:
            label.append(": ")
        label.append(clean(cell_text(value) if value is not None else "null", 200),
                     style="green" if isinstance(value, str) else "cyan")
    return label


class MIResult(Vertical):
    """The result area of the console screen."""

    DEFAULT_CSS = """
    MIResult { height: 1fr; }
    MIResult #result-filter { display: none; height: 3; }
    MIResult #result-filter.-open { display: block; }
    MIResult ContentSwitcher { height: 1fr; }
    MIResult DataTable, MIResult Tree, MIResult VerticalScroll { height: 1fr; }
    MIResult #result-json { width: auto; }
    """
    BINDINGS = [
        Binding("s", "sort", "Sort by column", id="console.sort"),
        Binding("slash", "filter", "Filter rows", id="console.filter"),
        Binding("escape", "close_filter", "Clear filter", show=False, id="console.close_filter"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.value: Any = None
        self.table: Table | None = None
        self.mode: Mode = "tree"
        self.sort_column: int | None = None
        self.sort_reverse = False
        self.filter_text = ""
        self.shown_rows: list[tuple[Any, ...]] = []

    def compose(self) -> ComposeResult:
        box = Input(placeholder="filter rows: words (any case), -word excludes", id="result-filter")
        box.cursor_blink = False      # no redraws while idle
        yield box
        with ContentSwitcher(initial="result-tree"):
            yield DataTable(id="result-table", cursor_type="cell", zebra_stripes=True)
            yield Tree(Text("no answer yet", end=""), id="result-tree")
            with VerticalScroll(id="result-json-scroll"):
                yield Static("", id="result-json")

    # -- what to show ------------------------------------------------------------------
    def show(self, value: Any, table: Table | None, keep_view: bool = False) -> None:
        """Show ``value`` (and its ``table`` when tabular). ``keep_view``: a refresh of the
        same view keeps the mode, sort, filter and cursor."""
        self.value = value
        self.table = table
        if not keep_view:
            self.sort_column, self.sort_reverse = None, False
            self.mode = "table" if table is not None and table.columns else "tree"
        elif self.mode == "table" and (table is None or not table.columns):
            self.mode = "tree"
        self._draw(keep_cursor=keep_view)

    def toggle(self) -> Mode:
        """table -> tree -> JSON -> table (the table only when the answer is tabular)."""
        order: list[Mode] = ["table", "tree", "json"] if self.table is not None and self.table.columns \
            else ["tree", "json"]
        self.mode = order[(order.index(self.mode) + 1) % len(order)] if self.mode in order else order[0]
        self._draw()
        return self.mode

    def current_row(self) -> dict[str, Any] | None:
        """The highlighted row of the table as ``{column: value}``."""
        if self.mode != "table" or self.table is None or not self.shown_rows:
            return None
        row = self.query_one(DataTable).cursor_row
        if not 0 <= row < len(self.shown_rows):
            return None
        return dict(zip(self.table.columns, self.shown_rows[row]))

    # -- drawing -------------------------------------------------------------------------
    def _draw(self, keep_cursor: bool = False) -> None:
        switcher = self.query_one(ContentSwitcher)
        filter_box = self.query_one("#result-filter", Input)
        filter_box.set_class(self.mode == "table" and bool(self.filter_text or filter_box.has_focus), "-open")
        if self.mode == "table":
            self._draw_table(keep_cursor)
            switcher.current = "result-table"
        elif self.mode == "tree":
            self._draw_tree()
            switcher.current = "result-tree"
        else:
            body = json.dumps(finite(self.value), indent=2, ensure_ascii=False, default=str)
            lines = Text("\n".join(clean(line) for line in body.splitlines()), no_wrap=True, end="")
            self.query_one("#result-json", Static).update(lines)
            switcher.current = "result-json-scroll"

    def _draw_table(self, keep_cursor: bool) -> None:
        grid = self.query_one(DataTable)
        assert self.table is not None
        cursor = grid.cursor_coordinate if keep_cursor else None
        rows = filter_rows(self.table.rows, self.filter_text) if self.filter_text else list(self.table.rows)
        if self.sort_column is not None:
            rows = sort_rows(rows, self.sort_column, self.sort_reverse)
        self.shown_rows = rows
        grid.clear(columns=True)
        for index, name in enumerate(self.table.columns):
            arrow = "" if index != self.sort_column else (" ▼" if self.sort_reverse else " ▲")
            grid.add_column(text(name, CELL_WIDTH, style="bold").append(arrow), key=str(index))
        grid.add_rows([[text(cell_text(cell), CELL_WIDTH) for cell in row] for row in rows])
        if cursor is not None and rows:
            grid.move_cursor(row=min(cursor.row, len(rows) - 1), column=cursor.column, animate=False)

    def _draw_tree(self) -> None:
        tree = self.query_one(Tree)
        tree.clear()
        tree.root.set_label(_label(None, self.value))
        budget = [TREE_NODES]
        self._add(tree.root, self.value, budget)
        tree.root.expand()
        for child in list(tree.root.children)[:1]:       # the first level of the first entry
            child.expand()

    def _add(self, node: TreeNode, value: Any, budget: list[int]) -> None:
        items = list(value.items()) if isinstance(value, dict) else \
            list(enumerate(value)) if isinstance(value, list) else []
        for shown, (key, child) in enumerate(items):
            if budget[0] <= 0:
                node.add_leaf(Text(f"… {len(items) - shown} more (raw JSON shows all)", style="dim", end=""))
                return
            budget[0] -= 1
            if isinstance(child, (dict, list)) and child:
                self._add(node.add(_label(key, child)), child, budget)
            else:
                node.add_leaf(_label(key, child))

    # -- actions ---------------------------------------------------------------------------
    def action_sort(self) -> None:
        """Sort by the cursor's column; again on the same column reverses."""
        if self.mode != "table" or self.table is None or not self.table.columns:
            return
        column = self.query_one(DataTable).cursor_column
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, False
        self._draw(keep_cursor=True)

    def action_filter(self) -> None:
        if self.mode != "table":
            return
        box = self.query_one("#result-filter", Input)
        box.add_class("-open")
        box.focus()

    def action_close_filter(self) -> None:
        box = self.query_one("#result-filter", Input)
        if not box.has_class("-open"):
            return
        box.value = ""
        box.remove_class("-open")
        self.query_one(DataTable).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "result-filter":
            event.stop()
            self.filter_text = event.value
            if self.mode == "table":
                self._draw_table(keep_cursor=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "result-filter":
            event.stop()
            self.query_one(DataTable).focus()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        grid = self.query_one(DataTable)
        grid.cursor_coordinate = grid.cursor_coordinate._replace(column=event.column_index)
        self.action_sort()
