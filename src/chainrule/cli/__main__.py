"""``python -m chainrule.cli``: the ``chainrule`` command."""

import sys

from . import main

if __name__ == "__main__":  # not when a tool merely imports every module
    sys.exit(main())
