"""``python -m opensips.event``: the ``opensips-event`` command (see ``opensips.cli.event``)."""

import sys

from opensips.cli.event import main

if __name__ == "__main__":
    sys.exit(main())
