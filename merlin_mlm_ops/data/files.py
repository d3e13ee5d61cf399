"""File checksums and atomic writes shared by the job's manifests, the dataset downloads and the docs."""
from __future__ import annotations

import errno
import hashlib
import os


def sha256(path):
    """Hex SHA-256 of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path, data: bytes):
    """Write ``data`` to ``path`` via ``path.partial-<pid>`` + rename: the file is whole or absent,
    also when two processes write the same file (a task that Dask started twice).

    A failed write (a full disk) raises OSError naming ``path``, and leaves no partial file. When
    the folder is gone (ENOENT: the job that made it was cancelled), the OSError names ``path`` too,
    and nothing is created.
    """
    partial = f"{path}.partial-{os.getpid()}"
    try:
        with open(partial, "wb") as fh:
            fh.write(data)
        os.replace(partial, path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:  # ENOENT: the folder was removed, the job is cancelled
            try:
                os.unlink(partial)
            except OSError:
                pass
        raise OSError(exc.errno, exc.strerror, path) from None
