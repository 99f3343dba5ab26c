"""The statistics core and its CLI import no Textual or Rich (they run where no UI is wanted)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["opensips.stats", "opensips.cli.stats", "opensips.record",
                                    "opensips.event.amqp"])
def test_no_ui_imports(module: str) -> None:
    code = (f"import sys, {module}; bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
