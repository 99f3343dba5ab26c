"""Errors of :mod:`opensips.console`, raised before anything is sent to OpenSIPS.

::

    ConsoleError                 base: catch it for "the console refused this line"
    ├── ParamsError (ValueError) the line does not parse (bad JSON, unclosed quote, mixed forms)
    ├── ReadOnlyError            --read-only is on and the command changes state
    └── NeedsConfirmation        the command changes state and the caller did not confirm it

What OpenSIPS answers (``OpenSIPSMICommandError``) and transport failures stay
``opensips.mi`` errors: the console reports them, it does not translate them.
"""

from __future__ import annotations


class ConsoleError(Exception):
    """Base class: the console refused a line before sending it."""


class ParamsError(ConsoleError, ValueError):
    """The typed line cannot become a request; the message says where and why."""


class ReadOnlyError(ConsoleError):
    """A state-changing command refused because the console is read-only."""


class NeedsConfirmation(ConsoleError):
    """A state-changing command sent without ``confirmed=True``."""
