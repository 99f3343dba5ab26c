"""opensips-tui: a full-screen terminal monitor of OpenSIPS events (Textual).

Layers: ``feed`` (thread-safe ring + counters fed by listener threads), ``backend`` (the MI
client and the event handler, used from worker threads), ``widgets`` (each owns its state),
``app`` (composition, bindings). Run it with ``opensips-tui`` or ``python -m opensips_tui``.
"""

from opensips import __version__

__all__ = ["__version__"]
