"""`python -m sidecar.fakesf ARGS...` runs the fake CLI like the `bin/sf` launcher does."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
