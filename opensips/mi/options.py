"""Coercion of connector keyword arguments.

opensips-cli hands its whole config to the connector, with every value read
from an INI file, so numbers and booleans often arrive as strings ("8080",
"2.5", "no"). These helpers accept both forms and turn nonsense into a typed
``OpenSIPSMIConfigError`` (an ``OpenSIPSMIException`` and a
``ValueError``) instead of a ``ValueError`` deep in a socket call.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import OpenSIPSMIConfigError

DEFAULT_TIMEOUT = 5.0
MAX_SECONDS = 86_400.0  # a day: more is a typo, and 1e20 overflows the socket and time_t calls

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}


def as_float(name: str, value: Any, default: float) -> float:
    """A positive, finite number of seconds (``None`` means the default)."""
    if value is None:
        return default
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise OpenSIPSMIConfigError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number) or number <= 0 or number > MAX_SECONDS:
        raise OpenSIPSMIConfigError(f"{name} must be a positive number of seconds up to {MAX_SECONDS:g}, "
                                    f"not {value!r}")
    return number


def as_int(name: str, value: Any, default: int, low: int, high: int) -> int:
    """An integer in ``[low, high]`` (``None`` means the default)."""
    if value is None:
        return default
    if isinstance(value, bool):
        raise OpenSIPSMIConfigError(f"{name} must be an integer, not {value!r}")
    try:
        number = int(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise OpenSIPSMIConfigError(f"{name} must be an integer, not {value!r}") from None
    if not low <= number <= high:
        raise OpenSIPSMIConfigError(f"{name} must be between {low} and {high}, not {value!r}")
    return number


def as_bool(name: str, value: Any, default: bool) -> bool:
    """A boolean; INI-style strings ("yes", "off", "0", ...) are accepted."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise OpenSIPSMIConfigError(f"{name} must be a boolean, not {value!r}")


def as_str(name: str, value: Any, default: str | None) -> str | None:
    """A non-empty string, or ``default`` when absent/empty."""
    if value is None:
        return default
    if not isinstance(value, str):
        value = str(value)
    value = value.strip()
    return value or default
