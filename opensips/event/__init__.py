"""Subscribe to OpenSIPS events (event_datagram over UDP or UNIX, event_stream over TCP).

>>> hdl = OpenSIPSEventHandler(mi, "datagram")              # doctest: +SKIP
>>> ev = hdl.subscribe("E_PIKE_BLOCKED", print)              # doctest: +SKIP
>>> ev.unsubscribe()                                         # doctest: +SKIP
"""

from .aio import AsyncOpenSIPSEvent, async_subscribe
from .decode import StreamDecoder, decode_notification
from .errors import OpenSIPSEventException
from .handler import OpenSIPSEventHandler
from .subscription import OpenSIPSEvent

__all__ = [
    "OpenSIPSEventHandler",
    "OpenSIPSEvent",
    "AsyncOpenSIPSEvent",
    "OpenSIPSEventException",
    "async_subscribe",
    "decode_notification",
    "StreamDecoder",
]
