"""Events where OpenSIPS really runs: as its own user, sending to our UNIX socket file.

The simulator runs as ``nobody`` (``opensips-sim -u nobody -g nogroup``, see
tests/test_mi_deployment.py), so it sends to our socket with nobody's rights, as
OpenSIPS does; the suite itself runs as root in CI.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest

from opensips.event import OpenSIPSEventHandler
from opensips.mi import OpenSIPSMI
from tests.test_mi_deployment import NOBODY, TIMEOUT, as_root, run_dir, sim_as_nobody
from tests.waiting import Sink


def http_url(proc: subprocess.Popen) -> str:
    """The MI URL opensips-sim printed right after 'ready' (already buffered: no select here)."""
    assert proc.stdout is not None
    for line in proc.stdout:  # ends at EOF should it die
        kind, _, address = line.strip().partition(" ")
        if kind == "mi_http":
            return address
    raise AssertionError("opensips-sim printed no mi_http endpoint")


@as_root
@pytest.mark.parametrize("conn", ["fifo", "http"])
def test_unix_event_socket_reaches_opensips_running_as_nobody(conn: str) -> None:
    """OpenSIPS as its own user got 'Permission denied' on our 0755 socket file: no events arrived."""
    assert NOBODY is not None
    with run_dir(owner=NOBODY) as run, run_dir() as mine:
        fifo = os.path.join(run, "opensips_fifo")
        with sim_as_nobody("--mi-fifo", fifo, "--fifo-reply-dir", run, "--mi-http", "127.0.0.1:0") as proc:
            url = http_url(proc)
            kwargs = {"fifo_file": fifo, "fifo_reply_dir": run} if conn == "fifo" else {"url": url}
            mi = OpenSIPSMI(conn, timeout=TIMEOUT, **kwargs)
            path = os.path.join(mine, "ev.sock")
            h = OpenSIPSEventHandler(mi, "datagram", socket_path=path)
            try:
                sink = Sink()
                h.subscribe("E_MY_CUSTOM", sink)
                mi.execute("raise_event", {"event": "E_MY_CUSTOM", "params": json.dumps({"n": 1})})
                assert sink.take(1, timeout=TIMEOUT)[0]["params"] == {"n": 1}
                st = os.stat(path)
                if conn == "fifo":  # OpenSIPS's user is known (its FIFO's owner): private to it
                    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (NOBODY[0], 0o600)
                else:               # unknown: anyone may send, as to a UDP port; no one else reads
                    assert stat.S_IMODE(st.st_mode) == 0o622
            finally:
                h.close()
                mi.close()
            assert not os.path.exists(path)


@as_root
def test_socket_mode_still_overrides_the_default() -> None:
    assert NOBODY is not None
    with run_dir(owner=NOBODY) as run, run_dir() as mine:
        fifo = os.path.join(run, "opensips_fifo")
        with sim_as_nobody("--mi-fifo", fifo, "--fifo-reply-dir", run):
            mi = OpenSIPSMI("fifo", fifo_file=fifo, fifo_reply_dir=run, timeout=TIMEOUT)
            path = os.path.join(mine, "ev.sock")
            h = OpenSIPSEventHandler(mi, "datagram", socket_path=path, socket_mode=0o640)
            try:
                h.subscribe("E_MY_CUSTOM", Sink())
                st = os.stat(path)
                assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o640)
            finally:
                h.close()
                mi.close()
