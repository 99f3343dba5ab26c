"""Where 0.1.11 kept ``OpenSIPSMI`` and ``OpenSIPSMIException`` (imports keep working)."""

from .client import OpenSIPSMI
from .errors import OpenSIPSMIException

__all__ = ["OpenSIPSMI", "OpenSIPSMIException"]
