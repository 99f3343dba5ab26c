"""The RabbitMQ source against a real broker, fed as OpenSIPS's event_rabbitmq feeds it.

The messages are the captured ones (tests/fixtures/opensips-wire/4.0.1/rabbitmq/): the same
bodies, exchanges and routing keys, published with every property unset as the module does.
One broker serves the whole module (tests/broker.py); its startup time is printed (-s).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

from opensips.event.amqp import (DEFAULT_NODE_PATTERN, AMQPAuthError, AMQPConnectError, AMQPSource,
                                 AMQPURLError)
from opensips.event.decode import decode_notification
from opensips.event.listener import MAX_GARBAGE
from tests.broker import Broker, broker, free_port, unavailable  # noqa: F401 (broker: a fixture)
from tests.waiting import Sink, wait_until

CAPTURE = Path(__file__).parent / "fixtures" / "opensips-wire" / "4.0.1" / "rabbitmq" / "deliveries.json"

_why_not = unavailable()


def _captured() -> list[dict]:
    """Every captured delivery: queue, exchange, routing_key, body_raw, properties."""
    out = []
    for case in json.loads(CAPTURE.read_text())["cases"].values():
        for messages in case.get("delivered", {}).values():
            out += messages
    return out


class Publisher:
    """Publishes as event_rabbitmq does: the body, an exchange and a key, no property set."""

    def __init__(self, url: str) -> None:
        import pika
        self.conn = pika.BlockingConnection(pika.URLParameters(url))
        self.ch = self.conn.channel()

    def __call__(self, exchange: str, key: str, body: bytes) -> None:
        self.ch.basic_publish(exchange=exchange, routing_key=key, body=body)

    def close(self) -> None:
        if self.conn.is_open:
            self.conn.close()


@pytest.fixture
def publish(broker) -> Iterator[Publisher]:
    pub = Publisher(broker.url)
    yield pub
    pub.close()


@pytest.fixture
def sources() -> Iterator[list[AMQPSource]]:
    started: list[AMQPSource] = []
    yield started
    for s in started:
        s.stop()


def _start(sources: list, **kwargs) -> AMQPSource:
    src = AMQPSource(**kwargs)
    src.start()
    sources.append(src)
    return src


def test_the_captured_messages_arrive_decoded_with_their_node(broker, publish, sources) -> None:
    messages = _captured()
    assert all(not any(m["properties"].values()) for m in messages)   # as captured: all unset
    sink = Sink()
    by_queue = _start(sources, url=broker.url, queue="opensips_custom",
                      on_notification=lambda node, n: sink((node, n)))
    by_exchange = _start(sources, url=broker.url, exchange="opensips_ex", binding_keys=["ex_key"],
                         exchange_type="direct", on_notification=lambda node, n: sink((node, n)))
    for m in messages:
        if m["exchange"] == "opensips_ex" or m["queue"] == "opensips_custom":
            publish(m["exchange"], m["routing_key"], m["body_raw"].encode())
    wanted = [(m["routing_key"], decode_notification(m["body_raw"].encode())) for m in messages
              if m["exchange"] == "opensips_ex" or m["queue"] == "opensips_custom"]
    got = sink.take(len(wanted), timeout=10)
    assert sorted(map(repr, got)) == sorted(map(repr, wanted))
    assert ("opensips_custom", {"jsonrpc": "2.0", "method": "E_MY_CUSTOM",
                                "params": ["unnamed-a", "unnamed-b"]}) in got
    assert sink.empty_for(0.2)
    assert by_queue.stats["delivered"] + by_exchange.stats["delivered"] == len(wanted)
    assert by_queue.state == by_exchange.state == "connected"


def test_a_fleet_on_one_exchange_named_by_routing_key(broker, publish, sources) -> None:
    """The exchange is missing (OpenSIPS would drop into it silently): the source declares it."""
    body = next(m["body_raw"] for m in _captured() if "E_PIKE" in m["body_raw"] or "callid" in m["body_raw"])
    sink = Sink()
    _start(sources, url=broker.url, exchange="fleet", binding_keys=["#"],
           on_notification=lambda node, n: sink(node))
    custom = _start(sources, url=broker.url, exchange="fleet", binding_keys=["opensips.*.events"],
                    node_pattern=r"^opensips\.(?P<node>[^.]+)\.", on_notification=lambda node, n: sink(node))
    for key in ("edge1", "edge2.E_PIKE_BLOCKED", "opensips.registrar-3.events"):
        publish("fleet", key, body.encode())
    got = sink.take(4, timeout=10)
    assert sorted(got) == ["edge1", "edge2", "opensips", "registrar-3"]
    assert custom.stats["delivered"] == 1
    assert DEFAULT_NODE_PATTERN == r"^(?P<node>[^.]+)"


def test_routes_get_the_notification_like_a_listener(broker, publish, sources) -> None:
    sink = Sink()
    src = AMQPSource(url=broker.url, queue="routes_q")
    src.routes["E_MY_CUSTOM"] = (sink,)
    src.start()
    sources.append(src)
    publish("", "routes_q", b'{"jsonrpc":"2.0","method":"E_MY_CUSTOM","params":{"a":1}}')
    publish("", "routes_q", b'{"jsonrpc":"2.0","method":"E_OTHER"}')
    assert sink.take(1, timeout=10) == [{"jsonrpc": "2.0", "method": "E_MY_CUSTOM", "params": {"a": 1}}]
    assert wait_until(lambda: src.stats["unrouted"] == 1)


def test_garbage_is_counted_and_reported_and_the_source_goes_on(broker, publish, sources) -> None:
    garbage_runs = Sink()
    sink = Sink()
    src = _start(sources, url=broker.url, queue="garbage_q", on_garbage=lambda: garbage_runs(None),
                 on_notification=lambda node, n: sink(n))
    for i in range(MAX_GARBAGE):
        publish("", "garbage_q", [b"", b"\xff\xfe", b"[1,2]", b"{\"jsonrpc\":", b"null"][i % 5] + b" ")
    publish("", "garbage_q", b'{"jsonrpc":"2.0","method":"E_AFTER"}')
    assert sink.take(1, timeout=10) == [{"jsonrpc": "2.0", "method": "E_AFTER"}]
    assert garbage_runs.take(1) == [None]
    assert src.stats["garbage"] == MAX_GARBAGE and src.running


def test_a_broker_restart_is_survived(broker, publish, sources) -> None:
    states = Sink()
    sink = Sink()
    src = _start(sources, url=broker.url, exchange="restart_ex", binding_keys=["#"],
                 reconnect_delay=0.1, max_reconnect_delay=1.0,
                 on_notification=lambda node, n: sink((node, n)), on_state=lambda s, why: states(s))
    publish("restart_ex", "before", b'{"jsonrpc":"2.0","method":"E_X"}')
    assert sink.take(1, timeout=10)[0][0] == "before"
    publish.close()
    broker.restart()
    assert wait_until(lambda: src.reconnects == 1 and src.state == "connected", timeout=60)
    seen = [states.q.get_nowait() for _ in range(states.q.qsize())]
    assert "reconnecting" in seen and seen[-1] == "connected"
    again = Publisher(broker.url)
    try:
        again("restart_ex", "after", b'{"jsonrpc":"2.0","method":"E_X"}')
        assert sink.take(1, timeout=10)[0][0] == "after"
    finally:
        again.close()
    assert src.running and src.error is None


@pytest.mark.skipif(_why_not is not None and "pika" in _why_not, reason=_why_not or "")
def test_typed_errors_for_bad_arguments() -> None:
    with pytest.raises(AMQPURLError, match="amqp://"):
        AMQPSource(url="http://127.0.0.1/", queue="q")
    with pytest.raises(AMQPURLError, match="port"):
        AMQPSource(url="amqp://127.0.0.1:notaport/", queue="q")
    with pytest.raises(AMQPURLError, match="exchange"):
        AMQPSource(url="amqp://127.0.0.1/")
    with pytest.raises(AMQPURLError, match="node pattern"):
        AMQPSource(url="amqp://127.0.0.1/", queue="q", node_pattern="(")
    with pytest.raises(ValueError):     # also a ValueError, as every bad argument of opensips.event
        AMQPSource(url="amqp://127.0.0.1/", exchange="x", binding_keys=[])


def test_typed_errors_for_broker_and_credentials(broker) -> None:
    nobody = AMQPSource(url=f"amqp://127.0.0.1:{free_port()}/", queue="q")
    with pytest.raises(AMQPConnectError, match="cannot reach the broker") as err:
        nobody.start()
    assert not isinstance(err.value, AMQPAuthError) and not nobody.running
    wrong = AMQPSource(url=f"amqp://guest:wrong@127.0.0.1:{broker.port}/", queue="q")
    with pytest.raises(AMQPAuthError, match="refused the credentials"):
        wrong.start()
    assert wrong.state == "stopped" and not wrong.running


def test_stop_closes_and_stop_from_a_callback(broker, publish) -> None:
    import pika
    got = Sink()
    holder: list[AMQPSource] = []

    def once(node: str, n: dict) -> None:
        got(n)
        holder[0].stop()

    src = AMQPSource(url=broker.url, exchange="stop_ex", on_notification=once)
    holder.append(src)
    src.start()
    queue = src.consuming
    publish("stop_ex", "k", b'{"jsonrpc":"2.0","method":"E_X"}')
    publish("stop_ex", "k", b'{"jsonrpc":"2.0","method":"E_Y"}')
    assert got.take(1, timeout=10) == [{"jsonrpc": "2.0", "method": "E_X"}]
    assert wait_until(lambda: not src.running, timeout=10)
    src.stop()
    src.stop()
    assert src.state == "stopped" and src.error is None
    # our exclusive queue went with the connection
    with pytest.raises(pika.exceptions.ChannelClosedByBroker):
        publish.conn.channel().queue_declare(queue, passive=True)


def test_a_callback_ending_the_thread_is_never_silent(broker, publish, sources) -> None:
    died = threading.Event()

    def fatal(node: str, n: dict) -> None:
        raise SystemExit(4)

    src = _start(sources, url=broker.url, queue="fatal_q", on_notification=fatal)
    src.on_death = lambda exc: died.set()
    publish("", "fatal_q", b'{"jsonrpc":"2.0","method":"E_X"}')
    assert died.wait(10)
    assert isinstance(src.error, SystemExit) and not src.running


def test_without_pika_one_clear_line() -> None:
    """The [amqp] extra missing: a typed error whose message says what to install."""
    code = ("import sys; sys.modules['pika'] = None\n"
            "from opensips.event.amqp import AMQPSource, AMQPUnavailable\n"
            "try:\n    AMQPSource(queue='q')\nexcept AMQPUnavailable as exc:\n"
            "    print(type(exc).__mro__[1].__name__, isinstance(exc, ImportError), exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "AMQPError True the RabbitMQ source needs pika: pip install 'opensips[amqp]'\n"
