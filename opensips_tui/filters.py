"""The log filter: words, and conditions on the params of a notification.

Terms are separated by spaces; a line is kept when every term holds:

- ``pike 127.0.0.2``: words found (case-insensitively) in the event name or its params;
- ``ip=203.0.113.7``: the param ``ip`` equals that text (case-insensitively; ``a.b`` walks
  into an object param);
- ``ua~^linphone/5``: the param matches that regular expression (case-insensitively; one that
  does not compile is taken as plain text);
- ``time>1000``, ``expires<=60``, ``>=``, ``<``: numeric comparisons (numbers, or text that is
  one); a param that is absent or not a number never matches;
- ``node:edge*``: the notification came from a node whose name matches that shell pattern
  (``*``, ``?``, ``[ab]``; case-insensitively); an entry with no node (a single-node app)
  never matches it;
- ``-word``, ``-ip=10.0.0.1``, ``-node:edge1``: any term, negated.

Pure, so it is tested without Textual and applied on listener threads (compiled once).
"""

from __future__ import annotations

import fnmatch
import math
import operator
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

_CONDITION = re.compile(r"^([A-Za-z0-9_.:-]+?)(>=|<=|!=|=|~|>|<)(.*)$")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le}
_MISSING = object()

# A compiled term: (negated, test(haystack, params) -> bool)
Term = tuple[bool, Callable[[str, Any], bool]]
# A node term: (negated, the node's name (lowercased) matches it)
NodeTerm = tuple[bool, Callable[[str], Any]]
NODE_PREFIX = "node:"


def _param(params: Any, path: str) -> Any:
    """``params[a][b]`` for ``a.b`` (a key holding a dot is tried whole first)."""
    if isinstance(params, dict) and path in params:
        return params[path]
    value = params
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _compile(word: str) -> Callable[[str, Any], bool]:
    match = _CONDITION.match(word)
    if match is None or (match.group(2) != "~" and not match.group(3)):
        lowered = word.lower()
        return lambda haystack, params: lowered in haystack
    key, op, wanted = match.groups()
    if op in ("=", "!="):
        target = wanted.lower()
        equal = op == "="
        return lambda haystack, params: ((v := _param(params, key)) is not _MISSING
                                         and (_text(v).lower() == target) == equal)
    if op == "~":
        try:
            pattern = re.compile(wanted, re.IGNORECASE)
        except re.error:
            pattern = re.compile(re.escape(wanted), re.IGNORECASE)
        return lambda haystack, params: ((v := _param(params, key)) is not _MISSING
                                         and pattern.search(_text(v)) is not None)
    limit = _number(wanted)
    compare = _COMPARE[op]
    if limit is None:  # "a>b": not a comparison after all, a word
        lowered = word.lower()
        return lambda haystack, params: lowered in haystack
    return lambda haystack, params: ((n := _number(_param(params, key))) is not None
                                     and compare(n, limit))


@dataclass(frozen=True)
class LogFilter:
    text: str = ""

    @cached_property
    def active(self) -> bool:
        """Any terms at all (asked once per notification by the feed, so computed once)."""
        return bool(self.text.strip())

    @cached_property
    def _compiled(self) -> tuple[tuple[Term, ...], tuple[NodeTerm, ...]]:
        terms: list[Term] = []
        node_terms: list[NodeTerm] = []
        for word in self.text.split():
            negated = word.startswith("-") and len(word) > 1
            if negated:
                word = word[1:]
            if word[:len(NODE_PREFIX)].lower() == NODE_PREFIX and len(word) > len(NODE_PREFIX):
                pattern = fnmatch.translate(word[len(NODE_PREFIX):].lower())
                node_terms.append((negated, re.compile(pattern, re.DOTALL).match))
            else:
                terms.append((negated, _compile(word)))
        return tuple(terms), tuple(node_terms)

    def matches(self, haystack: str, params: Any = None, node: str | None = None) -> bool:
        """``haystack`` is an entry's search text (event name + compact params), ``params`` its
        params (for ``key=value``, ``key~regex`` and comparisons), ``node`` the name of the
        OpenSIPS it came from (for ``node:PATTERN``; None: no node)."""
        if not self.active:
            return True
        terms, node_terms = self._compiled
        if node_terms:
            name = None if node is None else node.lower()
            for negated, match in node_terms:
                if (name is not None and match(name) is not None) == negated:
                    return False
        haystack = haystack.lower()
        return all(test(haystack, params) != negated for negated, test in terms)
