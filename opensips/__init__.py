"""OpenSIPS Management Interface client and event subscriptions.

``opensips.mi`` talks JSON-RPC 2.0 to OpenSIPS over fifo, http or datagram;
``opensips.event`` subscribes to OpenSIPS events and receives them on a
listener thread. Names are imported lazily so ``import opensips.mi`` stays cheap.
"""

from __future__ import annotations

# typing costs milliseconds at start-up, and a Ctrl+C in that window would print a
# traceback before the tools can install their quiet handler: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from .version import __version__

__all__ = ["OpenSIPSMI", "OpenSIPSEvent", "AsyncOpenSIPSEvent", "OpenSIPSEventHandler", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "OpenSIPSMI":
        from .mi import OpenSIPSMI

        return OpenSIPSMI
    if name in ("OpenSIPSEvent", "AsyncOpenSIPSEvent", "OpenSIPSEventHandler"):
        from . import event

        return getattr(event, name)
    raise AttributeError(f"module 'opensips' has no attribute {name!r}")
