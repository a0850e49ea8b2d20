#!/usr/bin/env python
"""``rnnlm stats``, run as a script (see rnnlm/stats.py): ``python scripts/stats.py --help``."""
import sys

from rnnlm.cli import main

if __name__ == "__main__":
    main(["stats", *sys.argv[1:]])
