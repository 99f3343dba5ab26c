"""Rate alerts: rules such as ``E_PIKE_BLOCKED > 5/s`` from the config, judged on event rates.

No Textual here: the app feeds :meth:`Alerts.update` the rates it already shows (the feed's
five-second sliding window, :meth:`opensips_tui.stats.EventStats.rate`) once per refresh and
draws what it returns. A rule is::

    EVENT OP NUMBER/UNIT        E_PIKE_BLOCKED > 5/s    E_UL_* >= 120/min    E_CORE_LOG > 0/s

``EVENT`` is an event name or a shell pattern (each matching event is judged on its own rate),
``OP`` is ``>`` or ``>=``, ``UNIT`` is ``s`` or ``min``. An alert fires when the rate crosses the
threshold and clears only once the rate has fallen below :data:`CLEAR_RATIO` of it, so a rate
hovering at the threshold does not blink (hysteresis). Rules for a rate that falls too low
(``<``) are refused: with nothing arriving the monitor draws nothing, so it could not notice.

Alerts are keyed by ``(node, event)``: today ``node`` is always ``None`` (one OpenSIPS); a fleet
view can pass each server's rates with its node name, and a rule may later name a node.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

CLEAR_RATIO = 0.8      # an alert clears once the rate is below 80 % of its threshold
UNITS = {"s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0}   # as written -> seconds
UNIT_NAMES = {"s": "s", "sec": "s", "min": "min", "m": "min"}
RATE_MAX = 1e9         # events/s: more is a typo

_RULE = re.compile(r"""^\s*(?P<event>[^\s<>=!]+)\s*(?P<op>>=|>|<=|<|==|=|!=)\s*
                       (?P<number>[^\s/]+)\s*(?:/\s*(?P<unit>\S+))?\s*$""", re.VERBOSE)
_EVENT = re.compile(r"^[A-Za-z0-9_.:*?\[\]!-]+$")


class RuleError(ValueError):
    """A rule that cannot be read; the message says what is wrong and shows the syntax."""


@dataclass(frozen=True)
class Rule:
    """One alert rule: ``event`` (a name or a shell pattern) ``op`` ``threshold`` events/s."""

    text: str            # as written, for messages
    event: str
    op: str              # ">" or ">="
    threshold: float     # events per second
    unit: str = "s"      # "s" or "min": how the rule was written, and how its rates are shown
    node: str | None = None   # a fleet may name a server; None matches every node

    def matches(self, event: str, node: str | None = None) -> bool:
        if self.node is not None and node != self.node:
            return False
        return event == self.event or fnmatch.fnmatchcase(event, self.event)

    def fires(self, rate: float) -> bool:
        return rate > self.threshold if self.op == ">" else rate >= self.threshold

    def holds(self, rate: float) -> bool:
        """Still firing once fired: the rate has not yet fallen below ``CLEAR_RATIO`` of it."""
        level = self.threshold * CLEAR_RATIO
        return rate > level if self.op == ">" else rate >= level

    def shown(self, rate: float) -> str:
        """``rate`` (events/s) in the rule's unit: ``7.2/s``, ``36.0/min``."""
        return f"{rate * UNITS[self.unit]:.1f}/{self.unit}"

    @property
    def limit(self) -> str:
        """The threshold in the rule's unit: ``> 5/s``, ``>= 120/min``."""
        return f"{self.op} {self.threshold * UNITS[self.unit]:g}/{self.unit}"


def parse_rule(text: str) -> Rule:
    """``"E_PIKE_BLOCKED > 5/s"`` -> :class:`Rule`; :class:`RuleError` says what is wrong."""
    if not isinstance(text, str):
        raise RuleError(f"a rule is a string such as \"E_PIKE_BLOCKED > 5/s\", not {text!r}")
    match = _RULE.match(text)
    if match is None:
        raise RuleError(f"{text!r} is not EVENT > NUMBER/s (e.g. \"E_PIKE_BLOCKED > 5/s\")")
    event, op, number, unit = match.group("event", "op", "number", "unit")
    if not _EVENT.match(event):
        raise RuleError(f"{text!r}: {event!r} is not an event name or pattern")
    if op not in (">", ">="):
        raise RuleError(f"{text!r}: only > and >= are supported (a rate falling too low cannot "
                        f"be noticed by a monitor that sleeps while nothing arrives)")
    if unit is None:
        raise RuleError(f"{text!r}: say the unit, e.g. {number}/s or {number}/min")
    if unit not in UNITS:
        raise RuleError(f"{text!r}: unknown unit /{unit} (use /s or /min)")
    try:
        value = float(number)
    except ValueError:
        raise RuleError(f"{text!r}: {number!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise RuleError(f"{text!r}: the threshold must be a number of 0 or more")
    threshold = value / UNITS[unit]
    if threshold > RATE_MAX:
        raise RuleError(f"{text!r}: more than {RATE_MAX:g} events/s cannot be reached")
    if op == ">=" and threshold == 0:
        raise RuleError(f"{text!r}: always true and never clears (use > 0/s for any event)")
    return Rule(text.strip(), event, op, threshold, UNIT_NAMES[unit])


def parse_rules(texts: Iterable[str]) -> list[Rule]:
    """Every rule of a config list; the first bad one raises :class:`RuleError`."""
    return [parse_rule(text) for text in texts]


Key = tuple["str | None", str]   # (node, event)


@dataclass(frozen=True)
class Firing:
    """An alert that is on: which event (and node), its rate now, and the rule it broke."""

    node: str | None
    event: str
    rate: float
    rule: Rule

    def describe(self) -> str:
        where = f"{self.node}: " if self.node else ""
        return f"{where}{self.event} {self.rule.shown(self.rate)} {self.rule.limit}"


@dataclass(frozen=True)
class Changes:
    """What one :meth:`Alerts.update` changed: alerts that started and that cleared."""

    started: list[Firing]
    cleared: list[Key]


class Alerts:
    """The firing state of every (node, event) under a set of rules."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = list(rules)
        self.firing: dict[Key, Firing] = {}

    def __bool__(self) -> bool:
        return bool(self.rules)

    def rule_for(self, event: str, node: str | None = None) -> Rule | None:
        """The first rule naming ``event`` (rules are tried in the order written)."""
        return next((r for r in self.rules if r.matches(event, node)), None)

    def update(self, rates: Mapping[str, float], node: str | None = None) -> Changes:
        """Judge ``{event: events/s}`` of ``node``; events missing from ``rates`` count as 0/s."""
        started: list[Firing] = []
        cleared: list[Key] = []
        for key in [k for k in self.firing if k[0] == node and k[1] not in rates]:
            del self.firing[key]
            cleared.append(key)
        for event, rate in rates.items():
            rule = self.rule_for(event, node)
            if rule is None:
                continue
            key = (node, event)
            was = self.firing.get(key)
            if was is None:
                if rule.fires(rate):
                    self.firing[key] = firing = Firing(node, event, rate, rule)
                    started.append(firing)
            elif rule.holds(rate):
                self.firing[key] = Firing(node, event, rate, rule)
            else:
                del self.firing[key]
                cleared.append(key)
        return Changes(started, cleared)

    def events(self, node: str | None = None) -> set[str]:
        """The events of ``node`` whose alert is on."""
        return {event for n, event in self.firing if n == node}

    def summary(self) -> str:
        """One line for the status bar: the worst alert (highest rate over threshold) first."""
        if not self.firing:
            return ""
        ranked = sorted(self.firing.values(),
                        key=lambda f: -(f.rate / f.rule.threshold if f.rule.threshold else math.inf))
        more = f" (+{len(ranked) - 1})" if len(ranked) > 1 else ""
        return f"ALERT {ranked[0].describe()}{more}"
