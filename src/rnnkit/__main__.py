"""`python -m rnnkit ...`: the same command line as `rnnkit ...`."""

import sys

from rnnkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
