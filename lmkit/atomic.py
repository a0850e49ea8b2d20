"""One way to write a file so that a crash never leaves it half-written.

The bytes go to a temporary file in the target's folder, are flushed to disk (``fsync``), and the
temporary file is then renamed over the target: a reader sees the old file or the new one, never a
mix. Checkpoints, vocabularies and the corpus cache are all written through :func:`atomic_write`.
"""
import contextlib
import os
import tempfile

import numpy as np


@contextlib.contextmanager
def atomic_write(path, mode="wb", encoding=None):
    """``with atomic_write(path) as fh: ...`` writes ``path`` all at once, or leaves it as it was.

    ``mode`` is ``"wb"`` or ``"w"`` (text, with ``encoding``). The folder is created if needed; the new
    file gets the usual permissions (``0666`` less the umask), not ``mkstemp``'s ``0600``. A ``path`` that
    is a symbolic link writes its target.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = os.path.realpath(path)  # through a symbolic link: the target is written, the link stays
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    # Named after the target, so that the run owning the target removes what a killed write left behind
    # (lmkit.checkpoint.remove_orphans).
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{os.path.basename(path)}-", suffix=os.path.splitext(path)[1],
                               dir=folder)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_savez(path, arrays):
    """Write ``arrays`` (name -> ndarray) to ``path`` as an ``.npz``, atomically."""
    with atomic_write(path) as fh:
        np.savez(fh, **arrays)
