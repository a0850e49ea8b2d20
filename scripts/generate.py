#!/usr/bin/env python
"""``rnnlm generate``, run as a script (see rnnlm/generate.py): ``python scripts/generate.py --help``."""
import sys

from rnnlm.cli import main

if __name__ == "__main__":
    main(["generate", *sys.argv[1:]])
