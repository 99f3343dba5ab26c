#!/usr/bin/env python3
"""The RabbitMQ source's receive cost against a bare pika consumer, on a real broker.

Starts Debian's rabbitmq-server as the tests do (tests/broker.py: own ports, epmd, data dir),
then, ``--rounds`` times, for each consumer in turn:

* bare:   pika's BlockingConnection, prefetch 1000, ``auto_ack``, ``json.loads`` of each body,
          a count;
* source: ``AMQPSource(queue=..., on_notification=count)`` (prefetch 1000 and grouped acks,
          the datagram decoder, the node from the routing key; its connect counted in).

Each round first fills one queue per consumer with ``--count`` captured event_rabbitmq bodies
(every property unset, routing keys ``edge0`` ... ``edge19``; a pika publisher manages only about
2,000/s on the loaded test machine, so consuming live would measure the publisher), then each
consumer drains its queue: messages/s and the process's CPU microseconds per message are printed.

    python bench/amqp.py [--count 50000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opensips.event.amqp import AMQPSource  # noqa: E402
from tests.broker import Broker  # noqa: E402

CAPTURE = ROOT / "tests" / "fixtures" / "opensips-wire" / "4.0.1" / "rabbitmq" / "deliveries.json"

def bodies() -> list[bytes]:
    out = []
    for case in json.loads(CAPTURE.read_text())["cases"].values():
        for messages in case.get("delivered", {}).values():
            out += [m["body_raw"].encode() for m in messages]
    return out


def fill(broker: Broker, queues: list[str], count: int) -> None:
    """Publish ``count`` bodies to an exchange every queue is bound to, and wait until they hold them."""
    import pika
    conn = pika.BlockingConnection(pika.URLParameters(broker.url))
    ch = conn.channel()
    ch.exchange_declare("bench", exchange_type="topic")
    for q in queues:
        ch.queue_declare(q, auto_delete=False)
        ch.queue_bind(q, "bench", routing_key="#")
    payloads = bodies()
    for i in range(count):
        ch.basic_publish("bench", f"edge{i % 20}", payloads[i % len(payloads)])
    for q in queues:
        while ch.queue_declare(q, passive=True).method.message_count < count:
            time.sleep(0.05)
    conn.close()


def bare(broker: Broker, queue: str, count: int) -> tuple[float, float]:
    import pika
    conn = pika.BlockingConnection(pika.URLParameters(broker.url))
    ch = conn.channel()
    seen = [0]
    loads = json.loads

    def on_message(channel, method, props, body) -> None:
        loads(body)
        seen[0] += 1

    ch.basic_qos(prefetch_count=1000)
    ch.basic_consume(queue, on_message, auto_ack=True)
    wall, cpu = time.perf_counter(), time.process_time()
    while seen[0] < count:
        conn.process_data_events(time_limit=0.25)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    conn.close()
    return count / wall, cpu / count * 1e6


def source(broker: Broker, queue: str, count: int) -> tuple[float, float]:
    done = threading.Event()
    seen = [0]

    def on_notification(node: str, notification: dict) -> None:
        seen[0] += 1
        if seen[0] == count:
            done.set()

    src = AMQPSource(broker.url, queue=queue, on_notification=on_notification)
    wall, cpu = time.perf_counter(), time.process_time()
    src.start()
    if not done.wait(600):
        raise SystemExit(f"only {seen[0]} of {count} arrived")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    src.stop()
    return count / wall, cpu / count * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    broker = Broker()
    broker.start()
    print(f"rabbitmq-server started in {broker.started_in:.1f} s")
    results: dict[str, list[tuple[float, float]]] = {"bare": [], "source": []}
    try:
        for r in range(args.rounds):
            fill(broker, [f"bare{r}", f"source{r}"], args.count)
            for name, run in (("bare", bare), ("source", source)):
                results[name].append(run(broker, f"{name}{r}", args.count))
            print(f"round {r + 1}: " + "  ".join(f"{k} {v[-1][0]:8,.0f} msg/s {v[-1][1]:5.1f} us CPU/msg"
                                                 for k, v in results.items()))
    finally:
        broker.close()
    for name, values in results.items():
        rates, cpus = [v[0] for v in values], [v[1] for v in values]
        print(f"{name:6s} median {statistics.median(rates):8,.0f} msg/s ({min(rates):,.0f}-{max(rates):,.0f}); "
              f"CPU {statistics.median(cpus):.1f} us/msg ({min(cpus):.1f}-{max(cpus):.1f}); "
              f"{args.rounds} rounds of {args.count:,}")


if __name__ == "__main__":
    main()
