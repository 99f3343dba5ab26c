"""HEP (Homer Encapsulation Protocol): what OpenSIPS's tracer module sends.

``opensips.hep.packet`` decodes one packet into a ``HepPacket``. Standard
library only, like the rest of the core packages: no Textual here.
"""

from opensips.hep.packet import HepDecodeError, HepPacket, decode, encode

__all__ = ["HepPacket", "HepDecodeError", "decode", "encode"]
