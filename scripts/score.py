#!/usr/bin/env python
"""``rnnlm score``, run as a script (see rnnlm/score.py): ``python scripts/score.py --help``."""
import sys

from rnnlm.cli import main

if __name__ == "__main__":
    main(["score", *sys.argv[1:]])
