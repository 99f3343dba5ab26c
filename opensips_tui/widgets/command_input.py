"""The console's command line: Tab completion from the catalog, Up/Down history, Ctrl+R search.

It owns its recall state (where Up/Down is in the history, the draft being typed, the
search text) and posts small messages; the screen owns the catalog and the MI calls.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from textual.binding import Binding
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input

from opensips.console import Catalog, History


class CatalogSuggester(Suggester):
    """Ghost text for the command name: the first completion of what is typed (→/End accepts)."""

    def __init__(self, owner: "CommandInput") -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.owner = owner

    async def get_suggestion(self, value: str) -> str | None:
        catalog = self.owner.catalog
        if catalog is None or not value or " " in value or self.owner.searching:
            return None
        names = [n for n in catalog.complete(value) if n.startswith(value)]
        return names[0] if names else None


class CommandInput(Input):
    """Type ``command key=value ...``; Enter runs it (the screen hears ``Input.Submitted``)."""

    BINDINGS = [
        Binding("tab", "complete", "Complete", id="console.complete"),
        Binding("up", "older", "Older line", show=False, id="console.history_older"),
        Binding("down", "newer", "Newer line", show=False, id="console.history_newer"),
        Binding("ctrl+r", "search", "Search history", id="console.history_search"),
        Binding("escape", "leave", "Results", show=False, id="console.leave_input"),
    ]

    @dataclass
    class Hint(Message):
        """What the hint line under the input should say now (plain text, cleaned there)."""

        text: str
        command: str | None = None      # a command whose params hints are wanted

    @dataclass
    class Leave(Message):
        """Escape: the operator wants the results (table keys) rather than the line."""

    def __init__(self, history: History, **kwargs: Any) -> None:
        super().__init__(placeholder="MI command, e.g. dialog:list (tab completes, ctrl+r searches)",
                         **kwargs)
        self.cursor_blink = False     # a console idle on the server it watches draws nothing
        self.suggester = CatalogSuggester(self)
        self.history = history
        self.catalog: Catalog | None = None
        self.recall: int | None = None      # index in history.lines while walking it
        self.draft = ""                     # what was typed before walking the history
        self.searching = False
        self.query_text = ""
        self.found: int | None = None

    # -- completion -----------------------------------------------------------------------
    def action_complete(self) -> None:
        if self.searching:
            self._accept_search()
            return
        value = self.value
        if self.catalog is None:
            self.post_message(self.Hint("no command list yet (which has not answered)"))
            return
        if " " in value.strip():
            self.post_message(self.Hint("", command=value.split()[0]))
            return
        word = value.strip()
        names = self.catalog.complete(word)
        if not names:
            self.post_message(self.Hint(f"no command matches {word!r}"))
            return
        if len(names) == 1:
            self.value = names[0] + " "
            self.cursor_position = len(self.value)
            self.post_message(self.Hint("", command=names[0]))
            return
        common = os.path.commonprefix([n for n in names if n.startswith(word)] or [word])
        if len(common) > len(word):
            self.value = common
            self.cursor_position = len(common)
        self.post_message(self.Hint(f"{len(names)} commands: " + "  ".join(names)))

    # -- history --------------------------------------------------------------------------
    def remember(self, line: str) -> None:
        self.history.add(line)
        self.recall, self.draft = None, ""

    def action_older(self) -> None:
        lines = self.history.lines
        if not lines:
            return
        if self.recall is None:
            self.draft, self.recall = self.value, len(lines)
        if self.recall > 0:
            self.recall -= 1
            self._put(lines[self.recall])

    def action_newer(self) -> None:
        if self.recall is None:
            return
        self.recall += 1
        if self.recall >= len(self.history.lines):
            self.recall = None
            self._put(self.draft)
        else:
            self._put(self.history.lines[self.recall])

    def _put(self, line: str) -> None:
        self.value = line
        self.cursor_position = len(line)

    # -- Ctrl+R ---------------------------------------------------------------------------
    def action_search(self) -> None:
        """First Ctrl+R: search mode (what is typed searches); again: the next older match."""
        if not self.searching:
            self.searching, self.draft, self.query_text, self.found = True, self.value, "", None
            self.value = ""
            self.post_message(self.Hint("history search: type to search, ctrl+r older, enter takes, esc cancels"))
            return
        self._find(before=self.found)

    def _find(self, before: int | None = None) -> None:
        self.found = self.history.search(self.query_text, before) if self.query_text else None
        if self.found is None:
            self.post_message(self.Hint(f"history search {self.query_text!r}: no match"))
        else:
            self.post_message(self.Hint(f"history search {self.query_text!r}: {self.history.lines[self.found]}"))

    def _accept_search(self) -> None:
        line = self.history.lines[self.found] if self.found is not None else self.draft
        self.searching = False
        self._put(line)
        self.post_message(self.Hint("", command=line.split()[0] if line.strip() else None))

    def watch_value(self, value: str) -> None:
        if self.searching:
            self.query_text = value
            self._find()

    def action_leave(self) -> None:
        if self.searching:
            self.searching = False
            self._put(self.draft)
            self.post_message(self.Hint(""))
            return
        self.post_message(self.Leave())

    async def action_submit(self) -> None:
        if self.searching:
            self._accept_search()
            return
        await super().action_submit()
