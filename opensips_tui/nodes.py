"""Many OpenSIPS at once: node specs, one :class:`Node` per OpenSIPS, and the :class:`Fleet`.

A node is one OpenSIPS the monitor watches, named by the operator (``--node edge1=TARGET``, or
a profile's ``nodes`` list). Each node has everything of its own: an MI client and an event
handler (its :class:`~opensips_tui.backend.Backend`, pushing into the shared
:class:`~opensips_tui.feed.Feed` with ``node=name``), a health state from its own pings, and a
statistics poller started only while something shows it. Nothing is shared between nodes but
the feed, so a node that hangs costs its own threads their timeouts and nobody else a thing.

A run without ``--node`` is a fleet of one node named after its MI target; its backend pushes
with ``node=None``, so the app behaves exactly as it did before fleets.

No Textual here: screens read a node's attributes (copied under its lock) and are told about
changes through ``Fleet.on_change``, called on the node's health thread.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from dataclasses import replace
from typing import Any, Callable, Iterator

from opensips.event.handler import route_ip
from opensips.mi import OpenSIPSMI, OpenSIPSMIException

from .backend import Backend, BackendError, Restarted, reason
from .config import Settings
from .feed import Feed
from .node_spec import NodeError, NodeSpec, check_names, describe_target, parse_node, parse_target

__all__ = ["HEALTH_STATES", "Node", "Fleet", "NodeSpec", "NodeError", "parse_node", "parse_target",
           "check_names", "listen_settings", "spread"]

HEALTH_STATES = ("connecting", "up", "down", "restarted")
CLOSE_WITHIN = 2.0       # seconds Fleet.close waits for all nodes together
RESTARTED_FOR = 5.0      # seconds a node reads "restarted" after a restart was seen


def listen_settings(event: dict[str, Any], remote_host: str | None) -> dict[str, Any]:
    """The event settings of a node whose MI is at ``remote_host``.

    OpenSIPS sends notifications to the address it is told, from its own host: a node on
    another machine must be told (and sent to) the local address the kernel routes to that
    machine, never 127.0.0.1. An explicit ``listen_ip`` (or a UNIX socket) is kept as given."""
    if event.get("listen_ip") or event.get("socket_path"):
        return dict(event)
    return {**event, "listen_ip": route_ip(remote_host)}


def uptime_seconds(answer: dict[str, Any]) -> float | None:
    """``uptime``'s "Up time" (``"123 [sec]"``) in seconds; None when absent or unreadable."""
    match = re.match(r"^\s*(\d+(?:\.\d+)?)", str(answer.get("Up time", "")))
    return float(match.group(1)) if match else None


class Node:
    """One OpenSIPS: its backend, health from its own pings, an on-demand statistics poller."""

    def __init__(self, spec: NodeSpec, settings: Settings, backend: Backend) -> None:
        self.name = spec.name
        self.spec = spec
        self.settings = settings        # the app's settings with this node's MI and listener
        self.backend = backend
        self.health = "connecting"      # one of HEALTH_STATES
        self.reason = ""                # why down (or what restarted), one line
        self.version: str | None = None  # version's "Server", e.g. "OpenSIPS (4.0.1 (x86_64/linux))"
        self.uptime: float | None = None  # seconds, as of checked_at
        self.checked_at: float | None = None  # time.time() of the last answer
        self.health_at: float | None = None   # time.time() of the last check, answered or not
        self.restarts = 0
        self.events: list[str] | None = None  # its events_list (None: not asked or failed)
        self._restarted_at = 0.0
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._poller: Any = None
        self._stats_users: set[object] = set()
        self._stats_listeners: list[Callable[[Any], None]] = []

    @classmethod
    def from_spec(cls, spec: NodeSpec, settings: Settings, feed: Feed, *, named: bool = True,
                  owned: list[Any] | None = None) -> "Node":
        """A node on ``spec`` with the app's ``settings`` otherwise; ``named``: its notifications
        carry its name (a fleet)."""
        remote = _remote_host(spec)
        node_settings = replace(settings, conn=spec.conn, mi=dict(spec.mi),
                                event=listen_settings(settings.event, remote))
        backend = Backend(node_settings, feed, owned, node=spec.name if named else None)
        return cls(spec, node_settings, backend)

    def __repr__(self) -> str:
        return f"Node({self.name!r}, {self.health})"

    @property
    def up(self) -> bool:
        return self.health in ("up", "restarted")

    # -- health -------------------------------------------------------------------------
    def check(self, wait: bool = False) -> bool:
        """Ping once (blocking, bounded by the MI timeout); True when the health changed.

        A check already running (a hung node) is not queued behind: this one returns False at
        once, or (``wait``) once that one is done."""
        if not self._check_lock.acquire(blocking=wait):
            return False
        try:
            server: str | None
            try:
                server = self.backend.ping()
            except Restarted as exc:
                health, why, server = "restarted", str(exc), self.backend.server
            except BackendError as exc:
                health, why, server = "down", str(exc), None
            else:
                health, why = "up", ""
            now = time.time()
            with self._lock:
                before = (self.health, self.reason)
                if health == "restarted":
                    self.restarts += 1
                    self._restarted_at = time.monotonic()
                elif health == "up" and self.health == "restarted" \
                        and time.monotonic() - self._restarted_at < RESTARTED_FOR:
                    health, why = "restarted", self.reason   # keep it visible a few seconds
                self.health, self.reason = health, why
                self.health_at = now
                if server is not None:
                    self.version = server
                    self.uptime = uptime_seconds(self.backend.uptime)
                    self.checked_at = now
            return (health, why) != before
        finally:
            self._check_lock.release()

    def list_events(self) -> list[str]:
        """Its events_list (remembered for subscribing only where an event exists)."""
        names = self.backend.events_list()
        self.events = names
        return names

    # -- statistics ---------------------------------------------------------------------
    def start_stats(self, user: object, on_sample: Callable[[Any], None] | None = None) -> Any:
        """Poll this node's statistics (every ``settings.stats_interval`` s) while any ``user``
        wants them; returns the :class:`~opensips.stats.StatsPoller` (``.latest``)."""
        from opensips.stats import StatsPoller

        with self._lock:
            if on_sample is not None:
                self._stats_listeners.append(on_sample)
            self._stats_users.add(user)
            if self._poller is None:
                mi = OpenSIPSMI(self.spec.conn, **self.spec.mi)
                self._poller = StatsPoller(mi, interval=self.settings.stats_interval,
                                           on_sample=self._sample)
            poller = self._poller
        poller.start()
        return poller

    def stop_stats(self, user: object, on_sample: Callable[[Any], None] | None = None) -> None:
        """``user`` no longer needs the statistics; the poller stops with the last user."""
        with self._lock:
            if on_sample is not None and on_sample in self._stats_listeners:
                self._stats_listeners.remove(on_sample)
            self._stats_users.discard(user)
            poller = self._poller if not self._stats_users else None
        if poller is not None:
            poller.stop(timeout=0)

    @property
    def stats(self) -> Any:
        """The latest statistics sample (None before the first poll, or never polled)."""
        poller = self._poller
        return poller.latest if poller is not None else None

    def _sample(self, sample: Any) -> None:
        for listener in list(self._stats_listeners):
            listener(sample)

    def close(self, timeout: float = CLOSE_WITHIN) -> None:
        with self._lock:
            poller, self._poller = self._poller, None
            self._stats_users.clear()
        if poller is not None:
            poller.stop(timeout=0)
            try:
                poller.mi.close()
            except Exception:
                pass
        self.backend.close(timeout)


def _remote_host(spec: NodeSpec) -> str | None:
    try:
        mi = OpenSIPSMI(spec.conn, **spec.mi)
    except (OpenSIPSMIException, ValueError, TypeError):
        return None
    try:
        return mi.remote_host
    finally:
        mi.close()


class Fleet:
    """The nodes, in the operator's order, and which one the screens act on (``selected``).

    ``on_change(node)`` is called on a node's health thread when its health changes (the app
    posts a message from there). Health threads run only between :meth:`watch` and
    :meth:`close`; a fleet of one is checked by the app's own health worker instead.
    """

    def __init__(self, nodes: list[Node], feed: Feed) -> None:
        if not nodes:
            raise ValueError("a fleet has at least one node")
        self.nodes = list(nodes)
        self.feed = feed
        self._by_name = {n.name: n for n in self.nodes}
        self.selected = self.nodes[0].name
        self.on_change: Callable[[Node], None] | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._closed = False

    # -- building -------------------------------------------------------------------------
    @classmethod
    def single(cls, backend: Backend) -> "Fleet":
        """A fleet of the one OpenSIPS of ``backend`` (no --node): exactly the app of old."""
        settings = backend.settings
        spec = NodeSpec("", settings.conn, dict(settings.mi))
        spec = replace(spec, name=describe_target(spec), target=describe_target(spec))
        return cls([Node(spec, settings, backend)], backend.feed)

    @classmethod
    def from_settings(cls, settings: Settings, feed: Feed, owned: list[Any] | None = None) -> "Fleet":
        """``settings.nodes`` as a fleet (``owned``, e.g. demo simulators, stop with the first
        node); without nodes, a fleet of one on ``settings.conn``/``settings.mi``."""
        specs: list[NodeSpec] = list(getattr(settings, "nodes", None) or [])
        if not specs:
            return cls.single(Backend(settings, feed, owned))
        named = len(specs) > 1   # one --node is the app of one OpenSIPS, with its name
        nodes = [Node.from_spec(spec, settings, feed, named=named, owned=owned if i == 0 else None)
                 for i, spec in enumerate(specs)]
        return cls(nodes, feed)

    # -- lookups ------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @property
    def names(self) -> list[str]:
        return [n.name for n in self.nodes]

    @property
    def multi(self) -> bool:
        """More than one node: notifications carry node names, screens are per node."""
        return len(self.nodes) > 1

    def node(self, name: str | None = None) -> Node:
        """The node called ``name`` (default: the selected one); KeyError when there is none."""
        return self._by_name[self.selected if name is None else name]

    @property
    def current(self) -> Node:
        return self._by_name[self.selected]

    def select(self, name: str) -> Node:
        node = self._by_name[name]  # KeyError for an unknown name
        self.selected = name
        return node

    def counts(self) -> dict[str, int]:
        """How many nodes are in each health state."""
        out = {state: 0 for state in HEALTH_STATES}
        for node in self.nodes:
            out[node.health] += 1
        return out

    # -- health threads ---------------------------------------------------------------------
    def watch(self, every: float) -> None:
        """Check every node every ``every`` seconds, each on its own thread (a hung node only
        delays its own checks)."""
        if self._threads or self._closed:
            return
        for node in self.nodes:
            thread = threading.Thread(target=self._watch, args=(node, every), daemon=True,
                                      name=f"opensips-tui-health-{node.name}")
            self._threads.append(thread)
            thread.start()

    def _watch(self, node: Node, every: float) -> None:
        while not self._stop.is_set():
            try:
                changed = node.check()
            except Exception:  # noqa: BLE001 - a bug in one check must not end the watch
                changed = False
            if changed and self.on_change is not None and not self._stop.is_set():
                self.on_change(node)
            if self._stop.wait(every):
                break

    def close(self, timeout: float = CLOSE_WITHIN) -> None:
        """Close every node in parallel, waiting ``timeout`` seconds at most for all of them:
        a dead node's unsubscribes time out in the background, quitting does not wait."""
        self._closed = True
        self._stop.set()
        threads = [threading.Thread(target=node.close, args=(timeout,), daemon=True,
                                    name=f"opensips-tui-close-{node.name}") for node in self.nodes]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def spread(nodes: list[Node], call: Callable[[Node], Any], grace: float | None = None) -> dict[str, Any]:
    """``call(node)`` for every node at once, each on its own thread; ``{name: result}``, where
    a result is the exception the call raised (BackendError, worded for the operator).

    Each call is bounded by its node's MI timeout. ``grace``: once one call has succeeded,
    wait at most that many seconds more for the others (a hung node must not hold up the
    answers of the healthy ones); a call still running is left out of the result and goes
    on in the background."""
    results: dict[str, Any] = {}
    done: queue.SimpleQueue[bool] = queue.SimpleQueue()

    def run(node: Node) -> None:
        ok = False
        try:
            results[node.name] = call(node)
            ok = True
        except BackendError as exc:
            results[node.name] = exc
        except Exception as exc:  # noqa: BLE001 - worded like the backend's
            results[node.name] = BackendError(reason(exc))
        finally:
            done.put(ok)

    for node in nodes:
        threading.Thread(target=run, args=(node,), daemon=True, name=f"opensips-tui-{node.name}").start()
    deadline: float | None = None
    for _ in nodes:
        try:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ok = done.get(timeout=wait)
        except queue.Empty:
            break
        if ok and grace is not None and deadline is None:
            deadline = time.monotonic() + grace
    return {node.name: results[node.name] for node in nodes if node.name in results}
