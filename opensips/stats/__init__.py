"""OpenSIPS statistics: a poller with rates, restarts, histories and diagnose thresholds.

No Textual here: the TUI's statistics screen and ``opensips-stats`` both sit on top of it.
"""

from .diagnose import Finding, Level, diagnose, worst
from .kinds import COUNTER, GAUGE, Kind, classify, guess_kind
from .poller import Sample, StatsPoller
from .select import Selection

__all__ = ["StatsPoller", "Sample", "Kind", "COUNTER", "GAUGE", "classify", "guess_kind",
           "Finding", "Level", "diagnose", "worst", "Selection"]
