"""MI where OpenSIPS really runs: as its own user, and on a wildcard (0.0.0.0) address.

The simulator runs as a separate process started as root that drops to ``nobody``,
as ``opensips -u nobody -g nogroup`` does, so its FIFO and sockets are nobody's and
it opens our reply FIFO or socket with nobody's rights. The clients that are not root
are processes too: they import as root, then drop to ``daemon`` (the suite's venv may
sit in a directory only root can read, as ``.ci/run``'s does).
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import select
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from opensips.mi import OpenSIPSMI
from tests.faultpeers import FifoPeer

TIMEOUT = 5.0  # a call that cannot get its reply waits this long, then fails


def _ids(user: str, group: str) -> tuple[int, int] | None:
    try:
        return pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
    except KeyError:
        return None


NOBODY = _ids("nobody", "nogroup")
DAEMON = _ids("daemon", "daemon")
as_root = pytest.mark.skipif(
    os.geteuid() != 0 or NOBODY is None or DAEMON is None,
    reason="needs root and the users nobody and daemon: runs OpenSIPS as its own user, like production",
)


@contextmanager
def run_dir(mode: int = 0o755, owner: tuple[int, int] | None = None) -> Iterator[str]:
    """A directory under /tmp (pytest's tmp_path is private to root), like the kit's run/."""
    path = tempfile.mkdtemp(prefix="opensips-run-")
    try:
        os.chmod(path, mode)
        if owner is not None:
            os.chown(path, *owner)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def sim_as_nobody(*args: str) -> Iterator[subprocess.Popen]:
    """``opensips-sim ARGS -u nobody -g nogroup``, stopped (SIGTERM) afterwards."""
    proc = subprocess.Popen([sys.executable, "-m", "opensips.sim", *args, "-u", "nobody", "-g", "nogroup"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
    assert proc.stdout is not None and proc.stderr is not None
    try:
        ready = ""
        if select.select([proc.stdout], [], [], 30)[0]:
            ready = proc.stdout.readline()
        assert "ready" in ready, f"opensips-sim did not start: {ready!r} {proc.stderr.read() if proc.poll() is not None else ''}"
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


CLIENT = """
import json, os, sys
from opensips.mi import OpenSIPSMI
groups, gid, uid, conn, kwargs = json.loads(sys.argv[1])
mi = OpenSIPSMI(conn, **kwargs)  # everything imported while we can read the venv
os.setgroups(groups)
os.setgid(gid)
os.setuid(uid)
print(json.dumps(mi.execute("version")))
"""


def version_as_daemon(groups: list[int], conn: str, **kwargs: object) -> dict:
    """``version`` from a client process running as ``daemon`` with supplementary ``groups``."""
    assert DAEMON is not None
    uid, gid = DAEMON
    proc = subprocess.run([sys.executable, "-c", CLIENT, json.dumps([groups, gid, uid, conn, kwargs])],
                          capture_output=True, text=True, timeout=60, cwd="/")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# -- mi_fifo across users -----------------------------------------------------------------

@as_root
def test_fifo_root_client_to_opensips_running_as_nobody() -> None:
    """The usual install: OpenSIPS runs as its user, the operator as root. 0600 reply
    FIFOs owned by root cannot be opened by OpenSIPS: the call timed out."""
    with run_dir(owner=NOBODY) as run:
        fifo = os.path.join(run, "opensips_fifo")
        with sim_as_nobody("--mi-fifo", fifo, "--fifo-reply-dir", run):
            assert os.stat(fifo).st_uid == NOBODY[0]  # type: ignore[index]
            mi = OpenSIPSMI("fifo", fifo_file=fifo, fifo_reply_dir=run, timeout=TIMEOUT)
            try:
                assert mi.execute("version")["Server"].startswith("OpenSIPS")
            finally:
                mi.close()
            assert [n for n in os.listdir(run) if n != "opensips_fifo"] == []


@as_root
def test_fifo_reply_from_root_is_given_to_opensips_and_stays_private() -> None:
    """As root, the reply FIFO belongs to OpenSIPS's user with mode 0600: no one else reads or writes it."""
    seen: list[os.stat_result] = []

    def respond(body: bytes) -> bytes:
        rid = json.loads(body)["id"]
        seen.extend(os.stat(os.path.join(peer.reply_dir, n)) for n in os.listdir(peer.reply_dir)
                    if n.startswith("opensips_mi_reply_"))
        return json.dumps({"jsonrpc": "2.0", "result": {"Server": "peer"}, "id": rid}).encode()

    with FifoPeer(respond) as peer:
        os.chown(peer.fifo_path, *NOBODY)  # type: ignore[misc]
        mi = OpenSIPSMI("fifo", fifo_file=peer.fifo_path, fifo_reply_dir=peer.reply_dir, timeout=TIMEOUT)
        try:
            assert mi.execute("version") == {"Server": "peer"}
        finally:
            mi.close()
    assert len(seen) == 1
    assert seen[0].st_uid == NOBODY[0]  # type: ignore[index]
    assert stat.S_IMODE(seen[0].st_mode) == 0o600


@as_root
def test_fifo_client_in_opensips_group_answered_through_the_group() -> None:
    """An operator in OpenSIPS's group reaches its 0660 FIFO; the reply comes back through the group (0620)."""
    assert NOBODY is not None
    with run_dir(owner=NOBODY) as run, run_dir(mode=0o1777) as replies:
        fifo = os.path.join(run, "opensips_fifo")
        with sim_as_nobody("--mi-fifo", fifo, "--fifo-reply-dir", replies):
            got = version_as_daemon([NOBODY[1]], "fifo", fifo_file=fifo, fifo_reply_dir=replies, timeout=TIMEOUT)
            assert got["Server"].startswith("OpenSIPS")
            assert os.listdir(replies) == []


@as_root
def test_fifo_client_outside_opensips_group_answered_when_the_fifo_is_open_to_all() -> None:
    """fifo_mode=0666 lets anyone send commands; the reply FIFO then lets OpenSIPS write it as 'other'."""
    with run_dir(owner=NOBODY) as run, run_dir(mode=0o1777) as replies:
        fifo = os.path.join(run, "opensips_fifo")
        with sim_as_nobody("--mi-fifo", fifo, "--fifo-reply-dir", replies, "--fifo-mode", "0666"):
            got = version_as_daemon([], "fifo", fifo_file=fifo, fifo_reply_dir=replies, timeout=TIMEOUT)
            assert got["Server"].startswith("OpenSIPS")


# -- mi_datagram on a UNIX socket across users --------------------------------------------

@as_root
def test_datagram_unix_root_client_to_opensips_running_as_nobody() -> None:
    """OpenSIPS answers to our client socket's path as its own user: it must be allowed to."""
    with run_dir(owner=NOBODY) as run:
        path = os.path.join(run, "mi_datagram.sock")
        with sim_as_nobody("--mi-datagram-unix", path):
            mi = OpenSIPSMI("datagram", datagram_unix_socket=path, timeout=TIMEOUT)
            try:
                assert mi.execute("version")["Server"].startswith("OpenSIPS")
            finally:
                mi.close()


# -- mi_datagram bound to 0.0.0.0 ---------------------------------------------------------

def _loopback_alias_works() -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.2", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _loopback_alias_works(), reason="127.0.0.2 is not a local address here")
@pytest.mark.parametrize("mode", ["pool", "shared", "percall"])
def test_datagram_wildcard_server_answers_from_another_address(sim_factory, mode: str) -> None:
    """mi_datagram on 0.0.0.0 answers a request sent to 127.0.0.2 from 127.0.0.1 (the kernel
    picks the source for the way back); a socket connected to 127.0.0.2 dropped that reply."""
    sim = sim_factory(http=False, fifo=False, datagram_unix=False, datagram_host="0.0.0.0")
    port = sim.datagram_addr[1]
    mi = OpenSIPSMI("datagram", datagram_ip="127.0.0.2", datagram_port=port, timeout=TIMEOUT,
                    datagram_socket_mode=mode)
    try:
        for _ in range(3):  # pooled sockets are reused
            assert mi.execute("version")["Server"].startswith("OpenSIPS")
    finally:
        mi.close()


def test_datagram_stranger_without_an_id_is_not_taken_for_the_reply() -> None:
    """Unconnected sockets hear anyone: a datagram with no id from another port is not our answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        server.bind(("127.0.0.1", 0))
        mi = OpenSIPSMI("datagram", datagram_ip="127.0.0.1", datagram_port=server.getsockname()[1],
                        timeout=TIMEOUT)
        try:
            def answer() -> None:
                request, client = server.recvfrom(65535)
                rid = json.loads(request)["id"]
                stranger.sendto(b"400 Parse_error", client)  # not from the server's port
                server.sendto(json.dumps({"jsonrpc": "2.0", "result": "ours", "id": rid}).encode(), client)

            t = threading.Thread(target=answer)
            t.start()
            try:
                assert mi.execute("version") == "ours"
            finally:
                t.join()
        finally:
            mi.close()
