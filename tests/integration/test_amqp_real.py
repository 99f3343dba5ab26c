"""A real OpenSIPS 4.0.1 publishing with event_rabbitmq to a real broker, consumed by AMQPSource.

Needs the kit's OpenSIPS built with event_rabbitmq (librabbitmq-dev at build time) and
Debian's rabbitmq-server (tests/broker.py starts one on free ports). The subscription is made
over MI here only because the test owns this OpenSIPS: made so, it never expires and
``expire 0`` does not remove it (README), so a deployment makes it in opensips.cfg.
"""

from __future__ import annotations

import json
import uuid

import pytest

from opensips.event.amqp import AMQPSource
from tests.broker import broker  # noqa: F401 (a fixture)
from tests.integration.conftest import raise_event
from tests.waiting import Sink


@pytest.fixture
def rabbitmq_module(mi) -> None:
    if "RabbitMQ" not in json.dumps(mi.execute("ps")):
        pytest.skip("this OpenSIPS has no event_rabbitmq (built without librabbitmq-dev)")


def test_real_opensips_notifications_arrive_with_their_node(real, mi, broker, rabbitmq_module) -> None:
    exchange = f"it-{uuid.uuid4().hex[:8]}"
    sink = Sink()
    src = AMQPSource(broker.url, exchange=exchange, binding_keys=["#"],
                     on_notification=lambda node, n: sink((node, n)))
    src.start()      # declares the exchange: OpenSIPS would drop into a missing one silently
    try:
        socket = f"rabbitmq:guest:guest@127.0.0.1:{broker.port}/exchange={exchange}?edge-real.custom"
        assert mi.execute("event_subscribe", {"event": "E_MY_CUSTOM", "socket": socket}) == "OK"
        raise_event(mi, "E_MY_CUSTOM", {"callid": "it-amqp-1@127.0.0.1", "n": 7})
        raise_event(mi, "E_MY_CUSTOM", {"callid": "it-amqp-2@127.0.0.1", "n": 8})
        got = sink.take(2, timeout=15)
        assert got == [("edge-real", {"jsonrpc": "2.0", "method": "E_MY_CUSTOM",
                                      "params": {"callid": f"it-amqp-{i}@127.0.0.1", "n": 6 + i}})
                       for i in (1, 2)]
        assert src.stats["garbage"] == 0
    finally:
        src.stop()
