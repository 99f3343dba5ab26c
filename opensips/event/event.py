"""Where 0.1.11 kept ``OpenSIPSEvent`` and ``OpenSIPSEventException`` (imports keep working)."""

from .errors import OpenSIPSEventException
from .subscription import OpenSIPSEvent

__all__ = ["OpenSIPSEvent", "OpenSIPSEventException"]
