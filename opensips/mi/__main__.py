"""``python -m opensips.mi``: the ``opensips-mi`` command (see ``opensips.cli.mi``)."""

import sys

from opensips.cli.mi import main

if __name__ == "__main__":
    sys.exit(main())
