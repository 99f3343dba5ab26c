"""The version of the ``opensips`` distribution, in one place (pyproject.toml reads it from here).

Above the PyPI ``opensips`` 0.1.11 it replaces, so pip treats installing it as an upgrade.
"""

__version__ = "0.2.0"
