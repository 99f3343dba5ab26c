"""The integration tier: the library against a real OpenSIPS, started by the real-opensips kit.

Runs when the kit's ``start.sh`` exports are in the environment (``OPENSIPS_MI_URL`` and
friends); every test here is skipped, in one line, otherwise. The restart tests also need
``OPENSIPS_KIT``, the kit's directory, to run its ``start.sh`` again::

    export OPENSIPS_RUN_DIR=/tmp/opensips-run OPENSIPS_KIT=/path/to/real-opensips
    eval "$("$OPENSIPS_KIT/start.sh" 4.0.1)"
    pytest tests/integration -v -rs
    "$OPENSIPS_KIT/stop.sh"
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opensips.mi import OpenSIPSMI

NEEDED = ("OPENSIPS_MI_URL", "OPENSIPS_MI_FIFO", "OPENSIPS_MI_FIFO_REPLY_DIR", "OPENSIPS_MI_DATAGRAM")
MISSING = [name for name in NEEDED if not os.environ.get(name)]
WHY_SKIPPED = (f"integration tier needs a real OpenSIPS: {', '.join(MISSING)} not set "
               "(eval the real-opensips kit's start.sh, see tests/integration/conftest.py)")
TIMEOUT = 5.0

# Without a real OpenSIPS only test_environment.py is collected, and it skips: one line, not one per test.
if MISSING:
    collect_ignore = [p.name for p in Path(__file__).parent.glob("test_*.py") if p.name != "test_environment.py"]


@pytest.fixture(scope="session")
def real() -> dict[str, str]:
    """The kit's exports (OPENSIPS_*)."""
    if MISSING:  # a module named on the command line is collected all the same
        pytest.skip(WHY_SKIPPED)
    return {name: os.environ[name] for name in os.environ if name.startswith("OPENSIPS_")}


def connector(real: dict[str, str], conn: str, **extra: Any) -> OpenSIPSMI:
    """An ``OpenSIPSMI`` to the kit's server over ``conn`` (fifo, http or datagram)."""
    if conn == "fifo":
        kwargs: dict[str, Any] = {"fifo_file": real["OPENSIPS_MI_FIFO"],
                                  "fifo_reply_dir": real["OPENSIPS_MI_FIFO_REPLY_DIR"]}
    elif conn == "http":
        kwargs = {"url": real["OPENSIPS_MI_URL"]}
    else:
        host, _, port = real["OPENSIPS_MI_DATAGRAM"].rpartition(":")
        kwargs = {"datagram_ip": host, "datagram_port": int(port)}
    return OpenSIPSMI(conn, timeout=TIMEOUT, **kwargs, **extra)


@pytest.fixture
def mi(real: dict[str, str]) -> Iterator[OpenSIPSMI]:
    """MI over http, the kit's readiness check: used to raise events and list subscribers."""
    conn = connector(real, "http")
    yield conn
    conn.close()


def raise_event(mi: OpenSIPSMI, event: str, params: dict[str, Any]) -> None:
    """``raise_event`` as OpenSIPS wants it: the params as a JSON *string* holding an object."""
    mi.execute("raise_event", {"event": event, "params": json.dumps(params)})


def subscribers(mi: OpenSIPSMI, event: str) -> dict[str, dict]:
    """socket -> its entry, of ``event``'s subscribers in OpenSIPS."""
    reply = mi.execute("subscribers_list", {"event": event})
    return {s["socket"]: s for s in reply["Event"].get("Subscribers", [])}


@pytest.fixture
def reachable_dir() -> Iterator[str]:
    """A directory OpenSIPS's user can reach (pytest's tmp_path may be private to us)."""
    path = tempfile.mkdtemp(prefix="opensips-it-")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def restart(real: dict[str, str]) -> None:
    """Restart OpenSIPS with the kit: ``start.sh`` again stops the old one and waits for MI http."""
    kit = os.environ.get("OPENSIPS_KIT")
    if not kit:
        pytest.skip("restart tests need OPENSIPS_KIT, the real-opensips kit's directory")
    out = subprocess.run([os.path.join(kit, "start.sh"), real.get("OPENSIPS_VERSION", "4.0.1")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
