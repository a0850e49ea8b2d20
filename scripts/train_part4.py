#!/usr/bin/env python
"""``rnnlm part4``, run as a script (see rnnlm/part4.py): ``python scripts/train_part4.py --help``."""
import sys

from rnnlm.cli import main

if __name__ == "__main__":
    main(["part4", *sys.argv[1:]])
