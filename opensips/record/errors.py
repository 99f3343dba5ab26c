"""Errors raised by ``opensips.record``: each says what to do, none needs a traceback."""

from __future__ import annotations


class RecordingError(Exception):
    """A recording could not be written or read."""


class RecordingExistsError(RecordingError, FileExistsError):
    """The recording (or one of its rotated files) already exists: recordings never overwrite."""


class RecordingWriteError(RecordingError):
    """Records could not be written (a full disk, a removed directory...).

    ``lost`` counts the records lost so far by this recorder (never silently: the file
    also gets a ``gap`` line saying how many, as soon as writing works again); ``cause``
    is the ``OSError``, also chained as ``__cause__`` where raised.
    """

    def __init__(self, message: str, lost: int = 0, cause: OSError | None = None) -> None:
        super().__init__(message)
        self.lost = lost
        self.cause = cause


class RecordingFormatError(RecordingError, ValueError):
    """Not a recording, or made by a newer format version than this reader knows."""
