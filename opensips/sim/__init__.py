"""A simulated OpenSIPS speaking the real MI and Event Interface wire formats (stdlib only).

Used by the tests, `opensips-tui --demo` and the `opensips-sim` console script.
"""

from .server import SimulatedOpenSIPS

__all__ = ["SimulatedOpenSIPS"]
