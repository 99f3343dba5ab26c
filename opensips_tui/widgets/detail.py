"""The detail pane of the highlighted event: counters, rate sparkline, last payload, values seen.

Fed :class:`StatsView` copies by the app, a few times a second. Each part redraws only when
what it shows changed (a number ticking redraws one row, not the pane); the payload tree is
rebuilt at most twice a second and not while it has focus (so the operator can walk it);
every label is a ``Text`` built through :mod:`opensips_tui.safe`.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Sparkline, Static, Tree
from textual.widgets.tree import TreeNode

from ..export import pretty
from ..feed import Entry, format_time
from ..safe import clean
from ..stats import StatsView
from .pane import Pane

MAX_NODES = 400
INSPECT_NODES = 2000    # one line asked for in full: a larger budget, built once
MAX_JSON_LINES = 2000
INSPECT_VALUE_CHARS = 20_000
TREE_INTERVAL = 0.5


def _label(key: str, value: Any = None, leaf: bool = True, limit: int = 300) -> Text:
    label = Text(no_wrap=True, end="")
    label.append(clean(key, limit=60), style="bold")
    if leaf:
        label.append(": ")
        style = "cyan" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
        label.append(clean(value, limit=limit), style=style)
    return label


Planned = tuple[Text, "list[Planned] | None", bool]  # label, children (None: a leaf), expanded


def tree_plan(value: Any, budget: list[int], limit: int = 300) -> list[Planned]:
    """The nodes ``value``'s members make, spending at most ``budget[0]`` nodes.

    ``limit``: characters shown of one value (an inspected line shows far more).
    """
    plan: list[Planned] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        if budget[0] <= 0:
            plan.append((Text("…", style="dim"), None, False))
            break
        budget[0] -= 1
        key = key if isinstance(key, str) else f"[{key}]"
        if isinstance(child, (dict, list)) and child:
            plan.append((_label(key, leaf=False), tree_plan(child, budget, limit), True))
        elif isinstance(child, str) and "\n" in child.strip():
            lines = child.splitlines()
            plan.append((_label(key, f"({len(lines)} lines)"),
                         [(Text(clean(line, limit=limit), no_wrap=True), None, False) for line in lines[:200]],
                         False))
        else:
            plan.append((_label(key, child, limit=limit), None, False))
    return plan


def plant(node: TreeNode, plan: list[Planned]) -> None:
    """Add the planned nodes under ``node``."""
    for label, children, expand in plan:
        if children is None:
            node.add_leaf(label)
        else:
            plant(node.add(label, expand=expand), children)


def fill_tree(node: TreeNode, value: Any, budget: list[int], limit: int = 300) -> None:
    """Add ``value``'s members under ``node``, spending at most ``budget[0]`` nodes."""
    plant(node, tree_plan(value, budget, limit))


def same_shape(node: TreeNode, plan: list[Planned]) -> bool:
    """``node``'s children are the planned ones, labels aside."""
    children = node.children
    return len(children) == len(plan) and all(
        child.allow_expand == (sub is not None) and (sub is None or same_shape(child, sub))
        for child, (_, sub, _) in zip(children, plan))


def relabel(node: TreeNode, plan: list[Planned]) -> None:
    """Give ``node``'s children (of the same shape) the planned labels. A changed label redraws
    its own line; rebuilding lays out the screen again and folds what the operator unfolded."""
    for child, (label, sub, _) in zip(node.children, plan):
        if child.label != label:
            child.set_label(label)
        if sub is not None:
            relabel(child, sub)


class DetailPane(Pane):
    """Counters, sparkline, payload tree and distinct values of one event."""

    DEFAULT_CSS = """
    DetailPane { height: 2fr; }
    DetailPane > #summary { height: 1; }
    DetailPane > Sparkline { height: 1; margin: 0 0 0 0; }
    DetailPane > Horizontal { height: 1fr; }
    DetailPane #values { text-wrap: nowrap; text-overflow: ellipsis; }
    DetailPane Tree { width: 1fr; height: 1fr; padding: 0; scrollbar-size-vertical: 1; }
    DetailPane #values-box { width: 1fr; height: 1fr; border-left: vkey $primary 30%; scrollbar-size-vertical: 1; }
    """

    def __init__(self, utc: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.utc = utc
        self.event: str | None = None
        self.inspected: Entry | None = None   # a log line shown in full; stats wait meanwhile
        self._payload_seen: tuple[int, float | None] | None = None  # (count, last_seen) drawn
        self._tree_built = 0.0
        self._shown: dict[str, object] = {}  # part -> what it shows now (redraw on change only)
        self.border_title = "Detail"

    def compose(self) -> ComposeResult:
        yield Static(id="summary")
        yield Sparkline([], id="spark")
        with Horizontal():
            tree: Tree[None] = Tree(Text("last payload"), id="payload")
            tree.show_root = False
            yield tree
            with VerticalScroll(id="values-box"):
                yield Static(id="values")

    def on_mount(self) -> None:
        # Kept as attributes: queries fail while the app shuts down, these objects do not.
        self._summary_w = self.query_one("#summary", Static)
        self._spark = self.query_one("#spark", Sparkline)
        self._values = self.query_one("#values", Static)
        self._tree = self.query_one("#payload", Tree)

    def show(self, view: StatsView | None, hint: str = "Highlight an event in the list") -> None:
        """Render ``view`` (``None``: nothing highlighted, ``hint`` says what to do); ignored
        while a line is inspected."""
        if self.inspected is not None:
            return
        if view is None:
            self.event = None
            self._title("Detail")
            self._update(self._summary_w, Text(hint, style="dim", no_wrap=True, overflow="ellipsis"))
            self._spark.data = []  # a flat line, not one full-height bar of a single 0
            return
        if view.name != self.event:
            self.event = view.name
            self._payload_seen = None
            self._tree_built = 0.0
            self._tree.clear()  # never show the previous event's payload under this one's title
        self._title(f"Detail: {clean(view.name, limit=40)}")
        self._update(self._summary_w, self._summary(view))
        self._spark.data = view.history  # a reactive: an equal list does not redraw
        self._show_values(view)
        self._show_tree(view)

    # -- one log line in full ----------------------------------------------------------
    def inspect(self, entry: Entry, via: str | None) -> None:
        """Show one notification: time, event, how it arrived, its whole tree and its JSON."""
        self.inspected = entry
        self._shown.clear()  # what show() drew is replaced: it draws everything again after
        self.border_title = Text(f"Line #{entry.seq}: {clean(entry.event, limit=40)}")
        self.border_subtitle = "esc: back  y: save+copy"
        head = Text(no_wrap=True, end="", overflow="ellipsis")
        head.append(format_time(entry.ts, self.utc), style="bold cyan")
        head.append(f"  {clean(entry.event, limit=60)}", style="bold")
        head.append(f"  via {clean(via, limit=60)}" if via else "", style="dim")
        self._summary_w.update(head)
        self._spark.display = False
        tree = self._tree
        tree.clear()
        params = entry.params
        if isinstance(params, (dict, list)) and params:
            fill_tree(tree.root, params, [INSPECT_NODES], limit=INSPECT_VALUE_CHARS)
        else:
            tree.root.add_leaf(_label("params", params if params is not None else "(none)"))
        tree.root.expand()
        raw = Text(end="", no_wrap=True, overflow="ellipsis")
        raw.append("raw JSON\n", style="bold")
        for line in pretty(entry).splitlines()[:MAX_JSON_LINES]:
            raw.append(clean(line, limit=INSPECT_VALUE_CHARS) + "\n")
        self._values.update(raw)
        self._payload_seen = None  # the stats view rebuilds its tree when inspection ends

    def uninspect(self) -> bool:
        """Back to the highlighted event's stats; False when no line was inspected."""
        if self.inspected is None:
            return False
        self.inspected = None
        self.border_subtitle = ""
        self._spark.display = True
        self.event = None  # show() starts afresh
        return True

    def _title(self, title: str) -> None:
        if self._shown.get("title") != title:
            self._shown["title"] = title
            self.border_title = Text(title)  # setting it redraws the frame, even when equal

    def _update(self, widget: Static, text: Text) -> None:
        """``widget.update(text)`` unless it already shows that; lays out again only when the
        number of lines changes (the summary is always one row)."""
        key = widget.id or ""
        before = self._shown.get(key)
        if before == text:
            return
        self._shown[key] = text
        lines = text.plain.count("\n")
        widget.update(text, layout=not isinstance(before, Text) or before.plain.count("\n") != lines)

    def _summary(self, view: StatsView) -> Text:
        out = Text(no_wrap=True, end="")
        out.append(f"{view.count}", style="bold cyan")
        out.append(" events  ")
        out.append(f"{view.rate:.1f}/s", style="bold cyan")
        if view.first_seen is not None and view.last_seen is not None:
            # "seen first–last": fits the 44 columns the pane has at 80 (first/last labels did not)
            out.append(f"  seen {format_time(view.first_seen, self.utc, millis=False)}")
            out.append(f"–{format_time(view.last_seen, self.utc, millis=False)}")
        else:
            out.append("  nothing received yet", style="dim")
        return out

    def _show_values(self, view: StatsView) -> None:
        out = Text(end="", no_wrap=True, overflow="ellipsis")
        if not view.distinct:
            out.append("no repeated values", style="dim")
        for key, values in view.distinct.items():
            out.append(clean(key, limit=30) or '""', style="bold")
            out.append("\n")
            for value, count in values:
                out.append(f"{count:>4} ", style="cyan")
                out.append(clean(value, limit=60) if value != "" else '""')
                out.append("\n")
        self._update(self._values, out)

    def _show_tree(self, view: StatsView) -> None:
        tree = self._tree
        now = time.monotonic()
        # the count, not the time alone: two payloads can carry the same timestamp (a coarse or
        # fixed clock), and the second one must still be drawn
        seen = (view.count, view.last_seen) if view.last_seen is not None else None  # None: nothing yet
        if seen == self._payload_seen or tree.has_focus:
            return
        if now - self._tree_built < TREE_INTERVAL and self._payload_seen is not None:
            return
        self._payload_seen = seen
        self._tree_built = now
        params = view.last_params
        if isinstance(params, (dict, list)) and params:
            plan = tree_plan(params, [MAX_NODES])
        else:
            plan = [(_label("params", params if params is not None else "(none)"), None, False)]
        if same_shape(tree.root, plan):  # the usual case: the same event's next payload
            relabel(tree.root, plan)
            return
        tree.clear()
        plant(tree.root, plan)
        tree.root.expand()
