"""The app's backend over a fleet: :class:`~opensips_tui.backend.Backend`'s methods, fleet-wide.

The app calls ``ping``/``events_list``/``subscribe``/``unsubscribe``/``states``/``close`` from
its workers as it does for one OpenSIPS; here each call goes to every node at once, each on
its own thread (:func:`~opensips_tui.nodes.spread`), so a node that does not answer costs its
own MI timeout and never holds up the others' answers.

- ``ping`` reads the nodes' health, which each node's own thread keeps (``Fleet.watch``):
  OpenSIPS is "up" while any node answers, and the detail says how many and which are not.
- ``events_list`` is the union of the nodes' lists, in first-seen order.
- ``subscribe`` subscribes on every node that has the event; a node that fails is named in a
  notice, and when a node comes back (or answers for the first time) the events wanted are
  subscribed on it from its own health thread.
- A subscription's state is the worst of its nodes' (``retrying`` while any node is not
  delivering); :meth:`FleetBackend.subscription` says "2/3 active" and who is missing.
"""

from __future__ import annotations

import threading
from typing import Callable

from .backend import Backend, BackendError
from .feed import Feed
from .nodes import Fleet, Node, spread

GRACE = 1.0   # seconds the fleet waits for slow nodes once one answered (they go on meanwhile)
# worst first: the state a subscription shows when its nodes disagree
STATE_ORDER = ("failed", "expired", "retrying", "pending", "active", "stopped")


def worst(states: list[str]) -> str:
    ranked = sorted(states, key=lambda s: STATE_ORDER.index(s) if s in STATE_ORDER else -1)
    return ranked[0] if ranked else "stopped"


class FleetBackend:
    """See the module docstring. ``on_change(node)``: a node's health changed (any thread)."""

    def __init__(self, fleet: Fleet, health_every: float = 1.0) -> None:
        self.fleet = fleet
        self.feed: Feed = fleet.feed
        self.settings = fleet.nodes[0].settings
        self.health_every = health_every
        self.wanted: set[str] = set()
        self.on_change: Callable[[Node], None] | None = None
        self._lock = threading.Lock()
        self._node_states: dict[str, dict[str, str]] = {}   # event -> node -> state
        self._failed: dict[str, dict[str, str]] = {}        # event -> node -> why not subscribed
        self._was_up: dict[str, bool] = {}
        self._healing: set[str] = set()
        self._node_locks = {node.name: threading.Lock() for node in fleet}  # one subscribe at a time
        for node in fleet:
            node.backend.on_state = (lambda n: lambda event, state: self._state(n, event, state))(node.name)
        fleet.on_change = self._changed
        self.target = self.current_target()

    def start(self) -> None:
        """Start every node's health thread (the app does, once mounted)."""
        self.fleet.watch(self.health_every)

    def current_target(self) -> str:
        names = self.fleet.names
        self.target = f"{len(names)} nodes: {', '.join(names)}"
        return self.target

    # -- health ---------------------------------------------------------------------------
    def ping(self) -> str:
        """"3/3 up", "2/3 up · edge2 DOWN: why"; BackendError when no node answers."""
        nodes = self.fleet.nodes
        waiting = [n for n in nodes if n.health == "connecting"]
        if waiting:   # the first look: never call a node DOWN before it was asked
            spread(waiting, lambda node: node.check(wait=True), grace=GRACE)
        up = [n for n in nodes if n.up]
        others = [n for n in nodes if not n.up]
        notes = [f"{n.name} {'DOWN' if n.health == 'down' else n.health}"
                 + (f": {n.reason}" if n.reason else "") for n in others]
        notes += [f"{n.name} restarted" for n in up if n.health == "restarted"]
        detail = f"{len(up)}/{len(nodes)} up" + "".join(f" · {note}" for note in notes)
        if not up:
            raise BackendError(detail)
        return detail

    def _changed(self, node: Node) -> None:
        """A node's health changed (its own health thread): subscribe what it misses once it
        answers again, then tell the app."""
        was, self._was_up[node.name] = self._was_up.get(node.name, False), node.up
        if node.up and (not was or node.health == "restarted"):
            self._heal(node)
        if self.on_change is not None:
            self.on_change(node)

    def _heal(self, node: Node) -> None:
        """Subscribe on ``node`` the wanted events it has and is not subscribed to."""
        if node.name in self._healing:
            return
        self._healing.add(node.name)
        try:
            try:
                names = set(node.list_events())
            except BackendError:
                return
            for event in sorted(self.wanted):
                if event in names:
                    try:
                        self._subscribe_on(node, event)
                    except BackendError:
                        pass   # remembered as failed on this node; the next recovery tries again
        finally:
            self._healing.discard(node.name)

    # -- events -----------------------------------------------------------------------------
    def events_list(self) -> list[str]:
        results = spread(self.fleet.nodes, Node.list_events, grace=GRACE)
        merged: dict[str, None] = {}
        errors = []
        for name, result in results.items():
            if isinstance(result, BaseException):
                errors.append(f"{name}: {result}")
            else:
                merged.update(dict.fromkeys(result))
        if not merged and errors:
            raise BackendError("; ".join(errors))
        return list(merged)

    def _targets(self, event: str) -> list[Node]:
        """The nodes to subscribe ``event`` on: those listing it (or not listed yet)."""
        return [n for n in self.fleet.nodes if n.events is None or event in n.events]

    def _subscribe_on(self, node: Node, event: str) -> str:
        """Subscribe ``event`` on ``node`` unless it is already: the app's subscribe and a
        node's healing (its health thread) may ask at once, and must not subscribe twice
        (each subscription would deliver every notification once more)."""
        with self._node_locks[node.name]:
            state = node.backend.states().get(event)
            if state is None or state == "stopped":
                try:
                    state = node.backend.subscribe(event)
                except BackendError as exc:
                    with self._lock:
                        self._failed.setdefault(event, {})[node.name] = str(exc)
                    raise
        with self._lock:
            self._failed.get(event, {}).pop(node.name, None)
            self._node_states.setdefault(event, {})[node.name] = state
        return state

    def subscribe(self, event: str) -> str:
        """Subscribe ``event`` on every node that has it; its merged state. BackendError only
        when no node could be subscribed; a partial failure is a notice naming the nodes."""
        self.wanted.add(event)
        results = spread(self._targets(event), lambda node: self._subscribe_on(node, event), grace=GRACE)
        states = [r for r in results.values() if isinstance(r, str)]
        errors = [f"{name}: {r}" for name, r in results.items() if isinstance(r, BaseException)]
        if not states:
            raise BackendError("; ".join(errors) or "no node has this event")
        if errors:
            self.feed.notice(event, "not subscribed on " + "; ".join(errors))
        return self.merged(event)

    def unsubscribe(self, event: str) -> None:
        self.wanted.discard(event)
        with self._lock:
            self._failed.pop(event, None)
        nodes = [n for n in self.fleet.nodes if event in n.backend.states()]
        results = spread(nodes, lambda node: node.backend.unsubscribe(event), grace=GRACE)
        with self._lock:
            self._node_states.pop(event, None)
        errors = [f"{name}: {r}" for name, r in results.items() if isinstance(r, BaseException)]
        if errors:
            raise BackendError("; ".join(errors))

    def _state(self, node: str, event: str, state: str) -> None:
        """A node's handler changed a subscription's state (its listener/refresher thread)."""
        with self._lock:
            per_node = self._node_states.setdefault(event, {})
            if state == "stopped":
                per_node.pop(node, None)
            else:
                per_node[node] = state
        self.feed.set_state(event, self.merged(event))

    def merged(self, event: str) -> str:
        with self._lock:
            states = list(self._node_states.get(event, {}).values())
        return worst(states)

    def states(self) -> dict[str, str]:
        events: set[str] = set()
        for node in self.fleet.nodes:
            for event, state in node.backend.states().items():
                events.add(event)
                with self._lock:
                    self._node_states.setdefault(event, {})[node.name] = state
        return {event: self.merged(event) for event in events}

    def subscription(self, event: str) -> tuple[int, int, dict[str, str]]:
        """``(active, nodes, {node: why not active})`` for ``event``: "2/3 active" and who is
        missing (a failed subscribe, or a subscription not active)."""
        with self._lock:
            per_node = dict(self._node_states.get(event, {}))
            failed = dict(self._failed.get(event, {}))
        targets = self._targets(event)
        active = sum(1 for n in targets if per_node.get(n.name) == "active")
        missing = {n.name: failed.get(n.name) or per_node.get(n.name) or "not subscribed"
                   for n in targets if per_node.get(n.name) != "active"}
        return active, len(targets), missing

    def story(self) -> list[str]:
        """One line per node for the connection story (``d``): health, version or reason,
        its listener, and how many of the wanted subscriptions it holds."""
        lines = []
        for node in self.fleet.nodes:
            states = node.backend.states()
            active = sum(1 for event in self.wanted if states.get(event) == "active")
            what = node.reason if node.health == "down" else (node.version or "")
            lines.append(f"{node.name}: {node.health}{f', {what}' if what else ''} · "
                         f"listener {node.backend.listen_address or 'not started'} · "
                         f"{active}/{len(self.wanted)} subscriptions active")
        return lines

    @property
    def listen_address(self) -> str | None:
        addresses = [a for a in (n.backend.listen_address for n in self.fleet.nodes) if a]
        return ", ".join(dict.fromkeys(addresses)) or None

    def close(self, timeout: float = 2.0) -> None:
        self.fleet.close(timeout)


def backend_of(fleet: Fleet) -> "Backend | FleetBackend":
    """What the app calls: the one node's own Backend (exactly the app of one OpenSIPS), or a
    FleetBackend over every node."""
    return FleetBackend(fleet) if fleet.multi else fleet.current.backend
