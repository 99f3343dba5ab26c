"""Numbers in a few characters, for columns and headlines (the CLI and the TUI share it)."""

from __future__ import annotations


def short_number(value: float, decimals: int = 0) -> str:
    """``value`` in at most about 7 characters: k, M, G above 100000 (``67108864`` -> ``67.1M``)."""
    for limit, scale, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e5, 1e3, "k")):
        if abs(value) >= limit:
            return f"{value / scale:.1f}{suffix}"
    return f"{value:.{decimals}f}"


def rate_text(rate: float | None) -> str:
    """A rate per second: ``-`` when unknown (before a second poll)."""
    return "-" if rate is None else short_number(rate, 1)
