"""Reading an ``.npz`` file that may come from a stranger, with every size checked before anything is read.

An ``.npz`` is a zip archive of ``.npy`` files. ``np.load`` inflates a member and allocates what its header
declares before anything can be checked, so a small file could declare terabytes or inflate gigabytes of
zeros. :class:`NpzReader` reads the zip directory and each member's ``.npy`` header first, and refuses, in
one line naming the file:

- a member that is not an ``.npy`` file, or appears twice, and more than :data:`MAX_MEMBERS` members;
- a header longer than :data:`MAX_HEADER_BYTES`, of an ``.npy`` version other than 1.0 and 2.0, or of an
  object dtype (loading that would unpickle, that is run code) or any other non-numeric, non-string dtype;
- a header whose shape x item size is not the member's size in the archive (a forged header);
- compressed members that would inflate to more than :data:`INFLATION` times the file's own size (a zip
  bomb). ``np.savez``, which writes every file of this project and of the tutorial, stores members
  without compression: they cost their size on disk;
- a member larger than the caller's budget for it (``read(name, max_bytes=...)``).

Only then is a member read, straight into an array of the declared shape, and its CRC checked.
"""
import os
import zipfile

import numpy as np

from .errors import CheckpointError

MAX_MEMBERS = 4096
MAX_HEADER_BYTES = 1 << 16
INFLATION = 16
READ_CHUNK = 1 << 24
# dtype kinds a member may hold: booleans, integers, floats, complex numbers and fixed-size strings.
KINDS = set("biufcUS")


class NpzReader:
    """``with NpzReader(path) as npz: npz.read("U")``; ``npz.names`` lists the members (without ``.npy``).

    ``error`` is the exception class raised, always with a message starting with the path.
    """

    def __init__(self, path, error=CheckpointError):
        self.path, self.error = os.fspath(path), error
        if os.path.isdir(self.path):
            raise error(f"{self.path}: is a folder, not a checkpoint file")
        if not os.path.isfile(self.path):
            raise error(f"{self.path}: no such checkpoint file")
        if not zipfile.is_zipfile(self.path):
            raise error(f"{self.path}: not a readable .npz checkpoint (not a zip archive)")
        try:
            self.zip = zipfile.ZipFile(self.path)
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise error(f"{self.path}: not a readable .npz checkpoint ({exc})") from None
        if len(infos) > MAX_MEMBERS:
            self.fail(f"{len(infos)} members, more than a checkpoint may hold ({MAX_MEMBERS})")
        self.infos = {}
        for info in infos:
            if not info.filename.endswith(".npy"):
                self.fail(f"holds {info.filename!r}, which is not an .npy array")
            name = info.filename[:-4]
            if name in self.infos:
                self.fail(f"holds {name!r} twice")
            if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
                self.fail(f"{name}: its size in the archive is inconsistent")
            self.infos[name] = info
        inflated = sum(i.file_size for i in infos if i.compress_type != zipfile.ZIP_STORED)
        size = os.path.getsize(self.path)
        if inflated > INFLATION * size:
            self.fail(f"its compressed arrays would inflate to {inflated} bytes from {size} on disk "
                      f"(more than {INFLATION} times): refused")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zip.close()
        return False

    @property
    def names(self):
        return list(self.infos)

    def fail(self, message):
        raise self.error(f"{self.path}: {message}")

    def _header(self, name, fh):
        """``(shape, dtype, fortran_order, data_bytes)`` from the member's open stream, checked."""
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=MAX_HEADER_BYTES)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=MAX_HEADER_BYTES)
            else:
                self.fail(f"{name}: .npy version {version} is not read here")
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            self.fail(f"{name}: not a readable .npy header ({exc})")
        if dtype.hasobject:
            self.fail(f"refused to load {name}: it holds Python objects, and loading them would run code")
        if dtype.kind not in KINDS or dtype.itemsize == 0:
            self.fail(f"{name}: dtype {dtype} is not an array of numbers or strings")
        count = 1
        for n in shape:
            count *= int(n)
        return tuple(shape), dtype, fortran, count * dtype.itemsize

    def shape(self, name):
        """The shape and dtype the member ``name`` declares (its header only is read)."""
        with self.zip.open(self.infos[name]) as fh:
            shape, dtype, _, _ = self._header(name, fh)
        return shape, dtype

    def read(self, name, max_bytes=None):
        """The member ``name`` as an array, after every check of the module notes; ``max_bytes`` bounds it."""
        if name not in self.infos:
            self.fail(f"holds no array {name!r}")
        info = self.infos[name]
        try:
            with self.zip.open(info) as fh:
                shape, dtype, fortran, nbytes = self._header(name, fh)
                header = info.file_size - nbytes
                if not 10 <= header <= MAX_HEADER_BYTES + 12:
                    self.fail(f"{name}: its header declares {nbytes} bytes of data but the member holds "
                              f"{info.file_size} bytes in all (a forged header?)")
                if max_bytes is not None and nbytes > max_bytes:
                    self.fail(f"{name}: {nbytes} bytes, more than the {max_bytes} it may hold")
                flat = np.empty(nbytes // dtype.itemsize, dtype=dtype)
                view, done = memoryview(flat.view(np.uint8)), 0
                while done < nbytes:
                    chunk = fh.read(min(READ_CHUNK, nbytes - done))
                    if not chunk:
                        self.fail(f"{name}: the archive ends inside the array")
                    view[done:done + len(chunk)] = chunk
                    done += len(chunk)
                if fh.read(1):  # also completes the member, which checks its CRC
                    self.fail(f"{name}: more data than its header declares")
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            self.fail(f"{name}: not readable ({exc})")
        return flat.reshape(shape, order="F" if fortran else "C")


def read_all(path, error=CheckpointError):
    """Every member of the ``.npz`` file ``path`` as a dict of arrays, read with the checks of
    :class:`NpzReader` (the inflation bound is the only budget)."""
    with NpzReader(path, error) as npz:
        return {name: npz.read(name) for name in npz.names}
