"""Subscribe to OpenSIPS events (event_datagram over UDP or UNIX, event_stream over TCP).

>>> hdl = OpenSIPSEventHandler(mi, "datagram")              # doctest: +SKIP
>>> ev = hdl.subscribe("E_PIKE_BLOCKED", print)              # doctest: +SKIP
>>> ev.unsubscribe()                                         # doctest: +SKIP
"""

from .aio import AsyncSubscription, subscribe_iter
from .asyncevent import AsyncOpenSIPSEvent
from .decode import StreamDecoder, decode_notification
from .errors import (OpenSIPSEventArgumentError, OpenSIPSEventException, OpenSIPSEventMIError,
                     OpenSIPSEventNotSubscribed)
from .handler import OpenSIPSEventHandler
from .subscription import OpenSIPSEvent

__all__ = [
    "OpenSIPSEventHandler",
    "OpenSIPSEvent",
    "AsyncOpenSIPSEvent",
    "OpenSIPSEventException",
    "OpenSIPSEventMIError",
    "OpenSIPSEventArgumentError",
    "OpenSIPSEventNotSubscribed",
    "AsyncSubscription",
    "subscribe_iter",
    "decode_notification",
    "StreamDecoder",
]
