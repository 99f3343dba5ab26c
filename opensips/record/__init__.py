"""Recordings: every notification of one or many OpenSIPS, as JSON Lines, played back later.

>>> with Recorder("fleet.jsonl") as rec:                       # doctest: +SKIP
...     hdl.subscribe("E_PIKE_BLOCKED", rec.callback("edge1"))
>>> Player(Recording("fleet.jsonl"), print, speed=10).start()  # doctest: +SKIP

The format is described in docs/recording-format.md. No Textual here.
"""

from .errors import RecordingError, RecordingExistsError, RecordingFormatError, RecordingWriteError
from .format import FORMAT, VERSION, Gap, Header, Record
from .player import Player
from .reader import Recording, recording_files
from .writer import Recorder, rotated_paths

__all__ = ["Recorder", "Recording", "Player", "Record", "Header", "Gap", "FORMAT", "VERSION",
           "RecordingError", "RecordingExistsError", "RecordingFormatError", "RecordingWriteError",
           "recording_files", "rotated_paths"]
