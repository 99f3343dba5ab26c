"""A RabbitMQ source: the notifications OpenSIPS's ``event_rabbitmq`` publishes, consumed.

Big fleets send events to a broker instead of to each monitor. OpenSIPS publishes the same
compact JSON-RPC notification as ``event_datagram`` (no trailing newline, every AMQP
property unset), so each message body goes through the datagram decoder
(:func:`~opensips.event.decode.decode_notification`) and the callbacks get what a
datagram listener would give them. Facts from captures of OpenSIPS 4.0.1 that shape it:

- subscriptions are made in ``opensips.cfg`` (``subscribe_event("E_...",
  "rabbitmq:host/exchange=opensips?edge1")``): made over MI they never expire and
  ``expire 0`` does not remove them. So this source consumes; it never subscribes;
- OpenSIPS publishes only to vhost ``/``;
- a message to an exchange or queue that does not exist is dropped without a word, so the
  source declares the exchange (``exchange_type``, topic by default) when it is missing.

It runs on a daemon thread with pika's BlockingConnection (pika: the ``[amqp]`` extra), like
the datagram and stream listeners: a :class:`~opensips.event.listener.Listener` with the
same ``routes`` (event name -> callbacks), ``on_garbage`` after ten unparsable messages in a
row, ``stats``, ``on_death``/``error`` when a callback ends the thread, and ``stop()``. The
node each notification came from is taken from the message's routing key with
``node_pattern``; ``on_notification(node, notification)`` gets every one of them.

:meth:`AMQPSource.start` connects first, so a bad URL, an unreachable broker or refused
credentials raise typed errors there. Once running, a lost connection (the broker restarts)
is retried with exponential backoff (``reconnect_delay`` to ``max_reconnect_delay``, with
jitter), told through ``on_state``; ``stop()`` closes it cleanly.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from typing import Any, Callable, Iterable
from urllib.parse import unquote, urlsplit

from .decode import decode_notification
from .errors import OpenSIPSEventArgumentError, OpenSIPSEventException
from .listener import Listener

__all__ = ["AMQPSource", "AMQPError", "AMQPUnavailable", "AMQPURLError", "AMQPConnectError",
           "AMQPAuthError", "DEFAULT_NODE_PATTERN", "node_from_key"]

log = logging.getLogger("opensips.event")

DEFAULT_NODE_PATTERN = r"^(?P<node>[^.]+)"   # the routing key's first dot-separated word
POLL_SECONDS = 0.25                          # the stop flag is looked at least this often
ACK_EVERY = 100                              # messages acknowledged together (prefetch bounds them)
PREFETCH = 1000
MISSING = "the RabbitMQ source needs pika: pip install 'opensips[amqp]'"


class AMQPError(OpenSIPSEventException):
    """The RabbitMQ source could not start or run."""


class AMQPUnavailable(AMQPError, ImportError):
    """pika, the ``[amqp]`` extra, is not installed."""


class AMQPURLError(AMQPError, OpenSIPSEventArgumentError):
    """The broker URL, exchange, queue, keys or node pattern cannot be used."""


class AMQPConnectError(AMQPError):
    """The broker could not be reached, or closed the connection while it was set up."""


class AMQPAuthError(AMQPConnectError):
    """The broker refused the user name, the password, or access to the vhost."""


def _pika() -> Any:
    try:
        import pika
    except ImportError as exc:
        raise AMQPUnavailable(MISSING, exc) from None
    return pika


def node_from_key(pattern: re.Pattern[str], routing_key: str) -> str:
    """The node named by ``routing_key``: the ``node`` group of ``pattern``, else its first
    group, else the whole match; the routing key itself when the pattern does not match."""
    m = pattern.search(routing_key)
    if m is None:
        return routing_key
    if "node" in pattern.groupindex:
        return m.group("node") or routing_key
    return (m.group(1) if pattern.groups else m.group(0)) or routing_key


def _check_url(url: str) -> str:
    """A readable description of ``url`` (no password); AMQPURLError when it is not amqp(s)://host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AMQPURLError(f"bad broker URL {url!r}: {exc}") from None
    if parts.scheme not in ("amqp", "amqps"):
        raise AMQPURLError(f"bad broker URL {url!r}: it must start with amqp:// or amqps://")
    if not parts.hostname:
        raise AMQPURLError(f"bad broker URL {url!r}: no host")
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    user = f"{unquote(parts.username)}@" if parts.username else ""
    return f"{parts.scheme}://{user}{parts.hostname}:{port or (5671 if parts.scheme == 'amqps' else 5672)}" + \
        ("" if vhost == "/" else f"/{vhost}")


class AMQPSource(Listener):
    """Consume OpenSIPS notifications from a RabbitMQ exchange or queue (see the module doc).

    ``url``: ``amqp://user:password@host:port/`` (guest/guest and 5672 by default, as
    OpenSIPS's; vhost ``/``, the only one OpenSIPS publishes to). ``exchange`` and
    ``binding_keys``: the exchange OpenSIPS publishes to (``exchange=`` in its socket) and
    the keys to bind a queue of our own with (exclusive, removed when we disconnect, at most
    ``max_queue`` messages: the oldest go first when we fall behind). ``queue``: consume
    that existing queue instead (with the default exchange ``""``, OpenSIPS's
    ``rabbitmq:host/QUEUE`` form publishes straight to it; it is declared if missing).
    """

    kind = "amqp"

    def __init__(self, url: str = "amqp://guest:guest@127.0.0.1:5672/", exchange: str = "",
                 binding_keys: Iterable[str] = ("#",), queue: str = "",
                 node_pattern: str | re.Pattern[str] = DEFAULT_NODE_PATTERN,
                 on_notification: Callable[[str, dict], None] | None = None,
                 on_garbage: Callable[[], None] | None = None,
                 on_state: Callable[[str, str], None] | None = None,
                 exchange_type: str = "topic", max_queue: int = 100_000,
                 reconnect_delay: float = 0.5, max_reconnect_delay: float = 30.0,
                 connect_timeout: float = 5.0) -> None:
        super().__init__(on_garbage=on_garbage)
        self.pika = _pika()
        self.url = url
        self.target = _check_url(url)
        self.exchange = exchange
        self.binding_keys = tuple(binding_keys)
        self.queue = queue
        if not exchange and not queue:
            raise AMQPURLError("give an exchange to bind to, or a queue to consume "
                               "(OpenSIPS's rabbitmq:host/QUEUE publishes to the default exchange)")
        if exchange and not queue and not self.binding_keys:
            raise AMQPURLError(f"no binding keys for exchange {exchange!r}: nothing would arrive")
        try:
            self.node_pattern = re.compile(node_pattern) if isinstance(node_pattern, str) else node_pattern
        except re.error as exc:
            raise AMQPURLError(f"bad node pattern {node_pattern!r}: {exc}") from None
        self.on_notification = on_notification
        self.on_state = on_state
        self.exchange_type = exchange_type
        self.max_queue = max_queue
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_delay = max_reconnect_delay
        self.connect_timeout = connect_timeout
        self.state = "stopped"
        self.reason = ""
        self.reconnects = 0
        self.consuming = ""          # the queue being consumed (a server-made name for our own)
        self._conn: Any = None
        self._channel: Any = None
        self._stop = threading.Event()
        self._bad = 0
        self._unacked = 0
        self._last_tag = 0

    def describe(self) -> str:
        where = f"exchange {self.exchange!r}" if self.exchange else f"queue {self.queue!r}"
        return f"amqp:{self.target} {where}"

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        """Connect (typed errors: AMQPConnectError, AMQPAuthError), then consume on a thread."""
        self._stopping = False
        self._stop.clear()
        self._set_state("connecting", self.target)
        try:
            self._connect()
        except AMQPError as exc:
            self._set_state("stopped", str(exc))
            raise
        super().start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop consuming and close the connection (idempotent; from a callback too, where
        the consumer thread closes it as it returns: pika's connection is not closed from
        inside its own callback)."""
        self._stop.set()
        self._stopping = True
        if self._thread is threading.current_thread():
            return
        super().stop(timeout)
        self._set_state("stopped", "")

    def _wake(self) -> None:
        conn = self._conn
        if conn is not None:
            try:
                conn.add_callback_threadsafe(lambda: None)
            except Exception:   # closed meanwhile: the loop looks at the flag within POLL_SECONDS
                pass

    def _close(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None:
            try:
                if conn.is_open:
                    conn.close()
            except Exception as exc:   # a broken connection may fail to close: it is gone anyway
                log.debug("%s: close: %s", self.describe(), exc)

    def _set_state(self, state: str, reason: str) -> None:
        if (state, reason) == (self.state, self.reason):
            return
        self.state, self.reason = state, reason
        if self.on_state is not None:
            try:
                self.on_state(state, reason)
            except Exception:
                log.exception("amqp on_state callback raised")

    # -- connection ------------------------------------------------------------
    def _connect(self) -> None:
        pika = self.pika
        exc_mod = pika.exceptions
        try:
            params = pika.URLParameters(self.url)
        except Exception as exc:   # pika raises several types for a bad query string
            raise AMQPURLError(f"bad broker URL {self.url!r}: {exc}") from None
        params.connection_attempts = 1
        params.retry_delay = 0
        params.socket_timeout = self.connect_timeout
        params.blocked_connection_timeout = 30
        try:
            conn = pika.BlockingConnection(params)
        except (exc_mod.ProbableAuthenticationError, exc_mod.AuthenticationError,
                exc_mod.ProbableAccessDeniedError) as exc:
            raise AMQPAuthError(f"{self.target}: the broker refused the credentials or the vhost "
                                f"({_why(exc)})", exc) from None
        except (exc_mod.AMQPError, OSError) as exc:
            raise AMQPConnectError(f"cannot reach the broker at {self.target}: {_why(exc)}", exc) from None
        try:
            self._channel = self._setup(conn)
        except (exc_mod.AMQPError, OSError) as exc:
            try:
                conn.close()
            except Exception:
                pass
            raise AMQPConnectError(f"{self.describe()}: {_why(exc)}", exc) from None
        self._conn = conn
        self._unacked = 0
        self._set_state("connected", self.consuming)

    def _setup(self, conn: Any) -> Any:
        """Exchange, queue, bindings and the consumer on a new channel; returns the channel."""
        ch = conn.channel()
        if self.exchange:
            ch = self._ensure(conn, ch, lambda c: c.exchange_declare(self.exchange, passive=True),
                              lambda c: c.exchange_declare(self.exchange, exchange_type=self.exchange_type),
                              f"exchange (type {self.exchange_type}): OpenSIPS's messages to it were being dropped")
        if self.queue:
            ch = self._ensure(conn, ch, lambda c: c.queue_declare(self.queue, passive=True),
                              lambda c: c.queue_declare(self.queue),
                              "queue: OpenSIPS's messages to it were being dropped")
            name = self.queue
        else:
            result = ch.queue_declare("", exclusive=True, auto_delete=True,
                                      arguments={"x-max-length": self.max_queue})
            name = result.method.queue
        if self.exchange:
            for key in self.binding_keys:
                ch.queue_bind(name, self.exchange, routing_key=key)
        ch.basic_qos(prefetch_count=PREFETCH)
        ch.basic_consume(name, self._on_message, auto_ack=False)
        self.consuming = name
        return ch

    def _ensure(self, conn: Any, ch: Any, exists: Callable[[Any], Any], declare: Callable[[Any], Any],
                what: str) -> Any:
        """``exists`` (a passive declare) on ``ch``; when the broker answers 404, ``declare`` on a new
        channel (the 404 closed ``ch``). Returns the channel to go on with."""
        try:
            exists(ch)
            return ch
        except self.pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != 404:
                raise
        ch = conn.channel()
        declare(ch)
        log.info("%s: declared the missing %s", self.describe(), what)
        return ch

    # -- the thread --------------------------------------------------------------
    def _run(self) -> None:
        exc_mod = self.pika.exceptions
        failures = 0
        while not self._stopping:
            if self._conn is None:
                delay = min(self.max_reconnect_delay, self.reconnect_delay * (2 ** min(failures, 16)))
                delay *= random.uniform(0.8, 1.2)
                if self._stop.wait(delay):
                    break
                try:
                    self._connect()
                except AMQPError as exc:
                    failures += 1
                    self._set_state("reconnecting", str(exc))
                    continue
                failures = 0
                self.reconnects += 1
                log.info("%s: connected again", self.describe())
            try:
                self._conn.process_data_events(time_limit=POLL_SECONDS)
                self._ack()
            except (exc_mod.AMQPError, OSError) as exc:
                if self._stopping:
                    break
                log.warning("%s: connection lost (%s); reconnecting", self.describe(), _why(exc))
                self._set_state("reconnecting", f"connection lost: {_why(exc)}")
                self._close()

    def _on_message(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        self._last_tag = method.delivery_tag
        self._unacked += 1
        if self._unacked >= ACK_EVERY:
            self._ack()
        self.stats["received"] += 1
        msg = decode_notification(body)
        if msg is None:
            self.stats["garbage"] += 1
            self._bad = self._bad_read(self._bad)
            return
        self._bad = 0
        node = node_from_key(self.node_pattern, method.routing_key or "")
        if self.on_notification is not None:
            self.stats["delivered"] += 1
            try:
                self.on_notification(node, msg)
            except Exception:
                log.exception("amqp on_notification callback raised; the source continues")
            if self.routes:
                self._route(msg)
        else:
            self.deliver(msg)

    def _route(self, msg: dict) -> None:
        method = msg.get("method")
        for cb in (self.routes.get(method, ()) if type(method) is str else ()):
            try:
                cb(msg)
            except Exception:
                log.exception("event callback for %s raised; the source continues", method)

    def _ack(self) -> None:
        if self._unacked and self._channel is not None:
            self._channel.basic_ack(self._last_tag, multiple=True)
            self._unacked = 0


def _why(exc: BaseException) -> str:
    """pika's exceptions often print as a tuple or nothing; say something readable."""
    text = str(exc) or repr(exc)
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
    if inner is not None:
        text = str(inner) or repr(inner)
    return f"{type(exc).__name__}: {text}" if text and type(exc).__name__ not in text else text
