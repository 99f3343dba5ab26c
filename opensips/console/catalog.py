"""The command catalog: names from ``which``, completion, and which naming a server uses.

OpenSIPS 4.x answers ``which`` with canonical ``module:cmd`` names (``core:ps``,
``dialog:list``) and still accepts most 3.x names (``dlg_list``) and a bare ``cmd`` that
only one module exports; 3.x answers with flat names only
(tests/fixtures/opensips-wire/4.0.1/ops/core_which.json, 3.6.8/http/which.json).
``which {"command": X}`` answers X's accepted parameter sets (the "recipes"), e.g.
``[[], ["callid"], ["callid", "from_tag"], ["index", "counter"]]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

__all__ = ["Catalog", "recipes_of", "hint_text"]

# What a command name may look like (opensips.mi refuses anything else before sending).
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*\Z")


@dataclass(frozen=True)
class Catalog:
    """The commands one server exports, in its own naming."""

    names: tuple[str, ...]

    @classmethod
    def from_which(cls, result: Any) -> "Catalog":
        """From ``which``'s answer (a list of names); anything else in it is dropped."""
        if not isinstance(result, list):
            raise ValueError(f"which answered {type(result).__name__}, not a list of names")
        seen: dict[str, None] = {}
        for name in result:
            if isinstance(name, str) and _NAME.match(name):
                seen.setdefault(name)
        return cls(tuple(seen))

    @property
    def namespaced(self) -> bool:
        """True on 4.x (``module:cmd`` names), False on 3.x (flat names)."""
        return any(":" in name for name in self.names)

    @property
    def generation(self) -> str:
        """``"4.x"`` or ``"3.x"``: which naming this server answers with."""
        return "4.x" if self.namespaced else "3.x"

    def complete(self, prefix: str) -> list[str]:
        """Names for a partly typed one: those starting with it, then (4.x) those whose
        ``cmd`` part does (``list`` -> ``dialog:list``, ``dispatcher:list``, ...)."""
        first = [n for n in self.names if n.startswith(prefix)]
        if ":" in prefix or not self.namespaced:
            return first
        also = [n for n in self.names if n not in first and n.partition(":")[2].startswith(prefix)]
        return first + also

    def resolve(self, name: str) -> list[str]:
        """The catalog names ``name`` may mean: itself, or (4.x) every ``module:name``.

        More than one is what OpenSIPS answers -32001 "Method ambiguous" for; none means
        the name is not listed (it may still be a 3.x alias a 4.x server accepts).
        """
        if name in self.names:
            return [name]
        if self.namespaced and ":" not in name:
            return [n for n in self.names if n.partition(":")[2] == name]
        return []

    def name_for(self, canonical: str, legacy: str | None) -> str:
        """The name to send for a command known as ``canonical`` (4.x) / ``legacy`` (3.x)."""
        if self.namespaced or legacy is None:
            return canonical
        return legacy


def recipes_of(result: Any) -> list[list[str]]:
    """``which {"command": X}``'s answer as a list of parameter-name lists (junk dropped)."""
    if not isinstance(result, list):
        return []
    return [[p for p in r if isinstance(p, str)] for r in result if isinstance(r, list)]


def hint_text(command: str, recipes: Iterable[list[str]]) -> str:
    """One line for the operator: ``dialog:list  ·  (none) | callid= | callid= from_tag= | ...``."""
    forms = [" ".join(f"{p}=" for p in r) if r else "(no params)" for r in recipes]
    return f"{command}  ·  " + " | ".join(forms) if forms else f"{command}  ·  no parameter sets listed"
