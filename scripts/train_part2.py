#!/usr/bin/env python
"""``rnnlm part2``, run as a script (see rnnlm/part2.py): ``python scripts/train_part2.py --help``."""
import sys

from rnnlm.cli import main

if __name__ == "__main__":
    main(["part2", *sys.argv[1:]])
