"""The event-interface README's example, run as written against the simulator on every transport.

tests/fixtures/event-interface-readme.md is a copy of the user-facing
contract. Only connection details are substituted (the MI URL and the
listener address) -- and, because the README's ``except ...:`` blocks hold
only a comment (not valid Python), each such block gets a ``pass``. The
names the example uses without importing (``OpenSIPSEventHandler``,
``some_callback``) come from a prelude, as a user's surrounding code would.
"""

from __future__ import annotations

import ast
import os
import queue
import re
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

README = Path(__file__).parent / "fixtures" / "event-interface-readme.md"


def example_code() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    return blocks[0]


def fill_comment_only_blocks(code: str) -> str:
    """Give a ``pass`` to every block whose body is only comments (as the README's excepts are)."""
    lines = code.splitlines()
    out: list[str] = []
    for i, line in enumerate(lines):
        out.append(line)
        if not line.rstrip().endswith(":") or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        body = [ln for ln in lines[i + 1:] if ln.strip()]
        inner = []
        for ln in body:
            if len(ln) - len(ln.lstrip()) <= indent and not (ln.lstrip().startswith("#")
                                                               and len(ln) - len(ln.lstrip()) > indent):
                break
            inner.append(ln)
        if not inner or all(ln.lstrip().startswith("#") for ln in inner):
            out.append(" " * (indent + 4) + "pass")
    return "\n".join(out) + "\n"


def free_port(kind: int) -> int:
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_readme_example_is_what_we_think() -> None:
    code = example_code()
    assert "OpenSIPSMI('http', url='http://localhost:8888/mi')" in code
    assert "OpenSIPSEventHandler(mi_connector, 'datagram', ip='127.0.0.1', port=50012)" in code
    with pytest.raises(SyntaxError):
        compile(code, "README", "exec")  # the comment-only except bodies
    compile(fill_comment_only_blocks(code), "README", "exec")


@pytest.mark.parametrize("kind", ["udp", "unix", "tcp"])
def test_readme_example_runs_unchanged(sim, kind: str) -> None:
    sockdir = tempfile.mkdtemp(prefix="rd-")
    before = set(threading.enumerate())
    code = example_code()
    code = code.replace("http://localhost:8888/mi", sim.http_url)
    if kind == "udp":
        listener = f"'datagram', ip='127.0.0.1', port={free_port(socket.SOCK_DGRAM)}"
    elif kind == "unix":
        listener = f"'datagram', socket_path={os.path.join(sockdir, 'ev.sock')!r}"
    else:
        listener = f"'stream', ip='127.0.0.1', port={free_port(socket.SOCK_STREAM)}"
    code = code.replace("'datagram', ip='127.0.0.1', port=50012", listener)
    code = fill_comment_only_blocks(code)

    received: queue.Queue = queue.Queue()
    prelude = {"__name__": "readme_example"}
    exec("from opensips.event import OpenSIPSEventHandler", prelude)  # noqa: S102
    prelude["some_callback"] = received.put
    ns = dict(prelude)

    delivered_to: list[str] = []
    try:
        for node in ast.parse(code).body:
            exec(compile(ast.Module([node], []), "README", "exec"), ns)  # noqa: S102
            targets = [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
            if isinstance(node, ast.Try):
                targets += [t.id for n in node.body for t in getattr(n, "targets", []) if isinstance(t, ast.Name)]
            if "ev" in targets:
                # between statements, as the user's program would: an event arrives
                ev = ns["ev"]
                assert ev.state == "active", ev
                sim.raise_event("E_PIKE_BLOCKED", {"ip": f"10.0.0.{len(delivered_to) + 1}"})
                note = received.get(timeout=3)
                assert note["method"] == "E_PIKE_BLOCKED"
                delivered_to.append(ev.socket)
        assert len(delivered_to) == 2  # hdl.subscribe(...) and OpenSIPSEvent(...)
        hdl = ns["hdl"]
        assert hdl.subscriptions == []
        assert ns["ev"].state == "stopped"
        # unsubscribed at OpenSIPS too (an expire-0 entry lingers about a second)
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline and [s for s in sim.subscribers()
                                                 if s["socket"] == delivered_to[0]]:
            time.sleep(0.05)
        assert not [s for s in sim.subscribers() if s["socket"] == delivered_to[0]]
        leftover = lambda: [t for t in threading.enumerate()  # noqa: E731
                            if t.name.startswith("opensips-event") and t.is_alive() and t not in before]
        deadline = time.monotonic() + 1
        while leftover() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not leftover()
        assert os.listdir(sockdir) == []
    finally:
        for name in ("hdl",):
            if name in ns:
                ns[name].close()
        if "mi_connector" in ns:
            ns["mi_connector"].close()
        shutil.rmtree(sockdir, ignore_errors=True)
