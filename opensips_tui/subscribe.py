"""What ``--subscribe`` (and the list's pattern key) asks for, checked against ``events_list``.

OpenSIPS answers an unknown event with a generic "Bad parameter value", and a name that was
never valid would otherwise be retried after every reconnect as a permanent phantom row. So
the names asked for are matched against the events OpenSIPS lists: exact names, or shell
patterns (``E_UL_*``, ``E_CORE_?HM_*``, ``E_DLG_[SL]*``); what matches nothing gets a
"did you mean". No Textual here.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from typing import Iterable

PATTERN_CHARS = "*?["


def is_pattern(text: str) -> bool:
    return any(c in text for c in PATTERN_CHARS)


def suggest(name: str, known: Iterable[str]) -> str | None:
    """The listed event ``name`` was probably meant to be (case first, then spelling)."""
    known = list(known)
    by_case = {k.upper(): k for k in known}
    if name.upper() in by_case:
        return by_case[name.upper()]
    close = difflib.get_close_matches(name.upper(), list(by_case), n=1, cutoff=0.6)
    return by_case[close[0]] if close else None


@dataclass
class Resolved:
    """The events to subscribe, in the order asked, and one message per name that matched nothing."""

    events: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def resolve(asked: Iterable[str], listed: Iterable[str]) -> Resolved:
    """Match names and patterns in ``asked`` against the events OpenSIPS ``listed``."""
    listed = list(listed)
    known = set(listed)
    out = Resolved()
    for name in asked:
        if name in known:  # listed as it is, even with pattern characters in it
            out.events.append(name)
        elif is_pattern(name):
            hits = [e for e in listed if fnmatch.fnmatchcase(e, name)]
            if not hits:
                hits = [e for e in listed if fnmatch.fnmatchcase(e.upper(), name.upper())]
            if hits:
                out.events.extend(hits)
            else:
                out.problems.append(f"{name}: matches no event on this OpenSIPS")
        else:
            hint = suggest(name, listed)
            out.problems.append(f"{name}: not an event on this OpenSIPS"
                                + (f"; did you mean {hint}?" if hint else ""))
    out.events = list(dict.fromkeys(out.events))
    return out
