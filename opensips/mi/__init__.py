"""OpenSIPS MI (JSON-RPC 2.0) client over fifo, http and datagram."""

from .client import OpenSIPSMI
from .errors import (
    OpenSIPSMICommandError,
    OpenSIPSMIConfigError,
    OpenSIPSMIConnectionError,
    OpenSIPSMIException,
    OpenSIPSMIRequestError,
    OpenSIPSMITimeoutError,
)

__all__ = [
    "OpenSIPSMI",
    "OpenSIPSMIException",
    "OpenSIPSMICommandError",
    "OpenSIPSMIConnectionError",
    "OpenSIPSMITimeoutError",
    "OpenSIPSMIRequestError",
    "OpenSIPSMIConfigError",
]
