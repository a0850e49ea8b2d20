#!/usr/bin/env python
"""``rnnlm train``, run as a script (see rnnlm/train.py): ``python scripts/train.py --help``."""
import sys

from rnnlm.cli import main

if __name__ == "__main__":
    main(["train", *sys.argv[1:]])
