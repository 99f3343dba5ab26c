"""``--amqp URL``: the notifications OpenSIPS's ``event_rabbitmq`` publishes, into the app. No Textual here.

An :class:`opensips.event.amqp.AMQPSource` consumes the broker on its own thread and hands
each notification, with the node its routing key names, to :meth:`Feed.push`: the log, the
counters, the node column and ``--record`` see it as they see an MI node's. The app never
subscribes in this mode: ``event_rabbitmq`` subscriptions live in ``opensips.cfg`` (made over
MI they never expire, and ``expire 0`` does not remove them).

A broker that is down when the app starts is not fatal, as an OpenSIPS that is down is not:
the status bar says ``AMQP down`` and a thread of ours tries again (0.5 s doubling to 30 s)
until the source connects; from then on the source reconnects by itself and says so through
``on_state``. A bad URL, exchange or node pattern, or pika missing, are the operator's to fix:
:class:`AmqpConfigError`, one line before the screen is taken.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from .feed import Feed
from .sources import ERROR, OK, WARN, SourceStatus

__all__ = ["AmqpFeed", "AmqpConfigError", "MAX_NAMES"]

MAX_NAMES = 1000          # distinct event names, and distinct nodes, taken from the broker
OTHER_EVENT = "(other events)"
OTHER_NODE = "(other nodes)"
RETRY_FIRST, RETRY_MAX = 0.5, 30.0


class AmqpConfigError(Exception):
    """pika missing, or settings the source refuses (URL, exchange, keys, node pattern): one line."""


class AmqpFeed:
    """An AMQPSource feeding ``feed``; ``amqp``: the settings' table (url, exchange, bindings,
    node_pattern, queue)."""

    def __init__(self, amqp: dict[str, Any], feed: Feed) -> None:
        from opensips.event.amqp import AMQPSource, AMQPUnavailable, AMQPURLError

        kwargs: dict[str, Any] = {"url": amqp["url"], "exchange": amqp.get("exchange", ""),
                                  "binding_keys": amqp.get("bindings") or ["#"], "queue": amqp.get("queue", "")}
        if amqp.get("node_pattern"):
            kwargs["node_pattern"] = amqp["node_pattern"]
        self.feed = feed
        self.on_change: Callable[[], None] | None = None
        self.names: list[str] | None = None
        self.state = "connecting"
        self.reason = ""
        self._events: set[str] = set()
        self._nodes: set[str] = set()
        self._stop = threading.Event()
        self._connector: threading.Thread | None = None
        try:
            self.source = AMQPSource(on_notification=self._push, on_state=self._state, **kwargs)
        except AMQPUnavailable as exc:
            raise AmqpConfigError(f"--amqp: {exc.args[0]}") from None
        except AMQPURLError as exc:
            raise AmqpConfigError(f"--amqp: {exc}") from None
        self.target = self.source.describe()

    # -- the consumer's thread -------------------------------------------------------
    def _push(self, node: str, notification: dict) -> None:
        method = notification.get("method")
        event = method if type(method) is str and method else "?"
        if event not in self._events:    # names come from the broker: keep them bounded
            if len(self._events) >= MAX_NAMES:
                event = OTHER_EVENT
            else:
                self._events.add(event)
        if node not in self._nodes:
            if len(self._nodes) >= MAX_NAMES:
                node = OTHER_NODE
            else:
                self._nodes.add(node)
        self.feed.push(event, notification, node)

    def _state(self, state: str, reason: str) -> None:
        self.state, self.reason = state, reason
        callback = self.on_change
        if callback is not None:
            callback()

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Connect on a thread of ours (retried while the broker is down), never blocking the UI."""
        if self._connector is None:
            self._connector = threading.Thread(target=self._connect, name="opensips-tui-amqp-connect",
                                               daemon=True)
            self._connector.start()

    def _connect(self) -> None:
        from opensips.event.amqp import AMQPError

        delay = RETRY_FIRST
        while not self._stop.is_set():
            try:
                self.source.start()
                return
            except AMQPError as exc:
                self._state("down", str(exc))
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, RETRY_MAX)

    def close(self) -> str | None:
        self._stop.set()
        connector = self._connector
        if connector is not None:
            connector.join(5.0)
        self.source.stop()
        return None

    # -- the status bar -------------------------------------------------------------------
    def status(self) -> SourceStatus:
        where = f"RabbitMQ {self.target}"
        if self.state == "connected":
            return SourceStatus("AMQP up", OK, f"{where}: consuming {self.source.consuming}")
        if self.state in ("down", "reconnecting", "stopped"):
            return SourceStatus("AMQP DOWN", ERROR, f"{where}: {self.reason or self.state}")
        return SourceStatus("AMQP connecting", WARN, f"{where}: connecting")
