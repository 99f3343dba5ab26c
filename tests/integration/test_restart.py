"""OpenSIPS restarted with the kit's start.sh: MI connectors keep working on every transport, and
permanent subscriptions are back within 2 s of MI answering again (the issue's promise)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from opensips.event import OpenSIPSEventHandler
from tests.waiting import Sink, wait_until

from .conftest import connector, raise_event, restart, subscribers

EVENT = "E_MY_CUSTOM"
BACK_WITHIN = 2.0  # seconds after MI answers again (issue 9)


def attendant(mi) -> int:
    """The PID of OpenSIPS's main process: a restart changes it (``Up since`` has 1 s steps)."""
    return int(mi.execute("ps")["Processes"][0]["PID"])


class RestartWatch:
    """Polls ``ps`` on its own connector until another attendant answers: when the new OpenSIPS is up."""

    def __init__(self, real: dict[str, str]) -> None:
        self.mi = connector(real, "datagram", datagram_timeout=0.2)
        self.before = attendant(self.mi)
        self.answered_at: float | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            try:
                pid: int | None = attendant(self.mi)
            except Exception:  # noqa: BLE001 - down, or still starting
                pid = None
            if pid is not None and pid != self.before:
                self.answered_at = time.monotonic()
                return
            time.sleep(0.01)

    def close(self) -> None:
        self._done.set()
        self._thread.join(5)
        self.mi.close()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["udp", "unix", "tcp"])
def test_permanent_subscription_back_within_two_seconds_of_mi_answering(real, mi, reachable_dir, kind) -> None:
    sink = Sink()
    if kind == "unix":
        hdl = OpenSIPSEventHandler(mi, "datagram", socket_path=os.path.join(reachable_dir, "events.sock"))
    else:
        hdl = OpenSIPSEventHandler(mi, "stream" if kind == "tcp" else "datagram", ip="127.0.0.1")
    with hdl:
        ev = hdl.subscribe(EVENT, sink)
        watch = RestartWatch(real)
        try:
            restart(real)
            assert wait_until(lambda: watch.answered_at is not None, 30)
            assert watch.answered_at is not None
            assert wait_until(lambda: ev.socket in subscribers(mi, EVENT), 60), "never resubscribed"
            back = time.monotonic() - watch.answered_at
        finally:
            watch.close()
        print(f"{kind}: subscription back {back:.2f} s after MI answered again")
        assert back <= BACK_WITHIN, f"subscription back {back:.2f} s after MI answered (want <= {BACK_WITHIN})"
        assert ev.state == "active"
        raise_event(mi, EVENT, {"after": "restart"})
        assert sink.take(1, timeout=5)[0]["params"] == {"after": "restart"}


@pytest.mark.timeout(300)
def test_every_mi_transport_works_across_a_restart(real) -> None:
    """The same connectors (a FIFO that was removed and made again, pooled datagram sockets,
    kept-alive http connections) answer the new server."""
    conns = {conn: connector(real, conn) for conn in ("fifo", "http", "datagram")}
    try:
        before = {conn: attendant(mi) for conn, mi in conns.items()}
        restart(real)
        after = {conn: attendant(mi) for conn, mi in conns.items()}
    finally:
        for mi in conns.values():
            mi.close()
    assert len(set(before.values())) == 1 and len(set(after.values())) == 1
    assert set(before.values()) != set(after.values())
