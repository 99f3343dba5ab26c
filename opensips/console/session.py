"""One console over one MI client: the catalog, hints, the safety check and timed calls.

Blocking: call it from a worker thread, never from a UI loop. Every call returns an
:class:`Outcome` (what was sent, the result or the error, how long it took); MI errors are
in the outcome, not raised, so a DOWN server is a result to show. Refusals (read-only, not
confirmed, a line that does not parse) are raised: nothing was sent.

The client is anything with ``execute(cmd, params)`` (an ``OpenSIPSMI``, or one node of a
fleet); a console holds one, so a fleet holds one console per node.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from opensips.mi import OpenSIPSMIException

from .catalog import Catalog, recipes_of
from .errors import NeedsConfirmation, ReadOnlyError
from .params import request_text
from .safety import Verdict, classify
from .views import View

__all__ = ["MIConsole", "Outcome"]


@dataclass(frozen=True)
class Outcome:
    """One request and its answer."""

    command: str
    params: dict[str, Any] | list[Any] | None
    request: str                      # the JSON-RPC request (id as encoded for display)
    result: Any = None
    error: OpenSIPSMIException | None = None
    elapsed: float = 0.0              # seconds, from sending to the answer (or the failure)
    at: float = 0.0                   # wall-clock time it was sent

    @property
    def ok(self) -> bool:
        return self.error is None


class MIConsole:
    """Runs console lines against one MI client; safe to share between worker threads."""

    def __init__(self, mi: Any, *, read_only: bool = False,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.mi = mi
        self.read_only = read_only
        self.catalog: Catalog | None = None
        self._clock = clock
        self._wall = wall
        self._recipes: dict[str, list[list[str]]] = {}
        self._lock = threading.Lock()

    # -- what the server offers ----------------------------------------------------------
    def load_catalog(self) -> Catalog:
        """Ask ``which`` (works under both namings); raises OpenSIPSMIException on failure."""
        catalog = Catalog.from_which(self.mi.execute("which"))
        with self._lock:
            self.catalog = catalog
        return catalog

    def recipes(self, command: str) -> list[list[str]]:
        """The parameter sets of ``command`` (``which {"command": X}``), cached per name."""
        with self._lock:
            known = self._recipes.get(command)
        if known is not None:
            return known
        recipes = recipes_of(self.mi.execute("which", {"command": command}))
        with self._lock:
            self._recipes[command] = recipes
        return recipes

    # -- safety ----------------------------------------------------------------------------
    def check(self, command: str, params: dict[str, Any] | list[Any] | None) -> Verdict:
        return classify(command, params, self.catalog)

    # -- calls -----------------------------------------------------------------------------
    def call(self, command: str, params: dict[str, Any] | list[Any] | None = None, *,
             confirmed: bool = False) -> Outcome:
        """Send one request. A state-changing one is refused when read-only, and needs
        ``confirmed=True`` otherwise (the caller showed the operator the request)."""
        verdict = self.check(command, params)
        if not verdict.read_only:
            if self.read_only:
                raise ReadOnlyError(f"read-only: {verdict.why}")
            if not confirmed:
                raise NeedsConfirmation(verdict.why)
        return self._send(command, params)

    def _send(self, command: str, params: dict[str, Any] | list[Any] | None) -> Outcome:
        request = request_text(command, params)
        at, start = self._wall(), self._clock()
        try:
            result = self.mi.execute(command, params)
        except OpenSIPSMIException as exc:
            return Outcome(command, params, request, error=exc, elapsed=self._clock() - start, at=at)
        return Outcome(command, params, request, result=result, elapsed=self._clock() - start, at=at)

    def view(self, view: View) -> list[Outcome]:
        """Every call of ``view`` in its server's naming (read-only by construction);
        stops at the first failure, which is the last outcome."""
        outcomes = []
        for call in view.calls:
            outcome = self.call(call.name(self.catalog), call.params)
            outcomes.append(outcome)
            if not outcome.ok:
                break
        return outcomes
