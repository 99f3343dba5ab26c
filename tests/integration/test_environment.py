"""The tier's environment: the kit's OpenSIPS runs as its own user, as in production.

Without the kit's exports this module is the only one collected, and it skips in one line.
"""

from __future__ import annotations

import os

import pytest

from .conftest import MISSING, WHY_SKIPPED

if MISSING:
    pytest.skip(WHY_SKIPPED, allow_module_level=True)


def test_opensips_runs_as_its_own_user_when_we_are_root(real) -> None:
    """As in production: the kit drops to nobody when started by root, so MI crosses users."""
    owner = os.stat(real["OPENSIPS_MI_FIFO"]).st_uid
    if os.geteuid() != 0:
        pytest.skip("not root: OpenSIPS runs as our own user")
    assert owner != 0
