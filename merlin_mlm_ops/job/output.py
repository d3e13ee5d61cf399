"""The masking job's output: one writer at a time, files that are whole or absent, a manifest
that lets ``--resume`` keep verified partitions, and a publish step that never replaces an
output it did not check.

Next to ``OUT`` (in its parent folder) a job uses:

``OUT.lock``       held with ``fcntl.flock`` for the whole run; the kernel releases it when the
                   process dies (even by ``kill -9``), so a lock that can be taken is a stale one.
``OUT.tmp``       the run's folder, renamed to ``OUT`` at the end.  One seen while holding the
                   lock was left by a run that is gone.  Its name does not depend on the run, so
                   paths recorded inside it (Categorify's ``cat_path`` in the schema) are the
                   same for a resumed run as for an uninterrupted one.
``OUT.trash-<pid>`` the replaced output, between the two renames of ``--overwrite``.

Inside the temporary folder, ``.mlm-run.json`` records the job's arguments and
``.mlm-parts/part_NNNNN.json`` is written (atomically) once all the partition's files are
complete, with each file's size and SHA-256.  The published output keeps one
``mlm-manifest.json`` with the size and SHA-256 of every data file.
"""
from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import time

from merlin_mlm_ops.data.files import sha256, write_atomic
from merlin_mlm_ops.errors import JobError

RUN_FILE = ".mlm-run.json"
PARTS_DIR = ".mlm-parts"
MANIFEST = "mlm-manifest.json"
JOB_FILE = "mlm-job.json"


def normalize(output):
    """``output`` as an absolute path without a trailing separator."""
    return os.path.normpath(os.path.abspath(output))


def tmp_folder(output):
    """The temporary folder of a run on (normalized) ``output``: ``OUT.tmp``."""
    return f"{output}.tmp"


class OutputLock:
    """An exclusive lock on ``output`` (``OUT.lock``, flock); a second holder gets JobError.

    Example::

        with OutputLock("masked") as lock:
            ...  # the only run writing masked/ and masked.tmp
    """

    def __init__(self, output):
        self.output = normalize(output)
        self.path = f"{self.output}.lock"
        self.fd = None

    def acquire(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_text(fd)
                os.close(fd)
                raise JobError(f"output {self.output} is being written by another run ({holder or 'unknown'}; "
                               f"lock {self.path}); wait for it or choose another --output") from None
            # The previous holder unlinks the file before closing it: make sure ours is still the
            # file at that path, else a third run could lock a new file at the same time.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}, started "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}".encode())
        self.fd = fd
        return self

    def release(self):
        if self.fd is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _read_text(fd):
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 400).decode(errors="replace").strip()
    except OSError:
        return ""


def check_replaceable(output, overwrite):
    """Raise JobError unless ``output`` is absent, or ``overwrite`` is set and it is an empty
    folder or the output of an earlier job (it has ``mlm-job.json``)."""
    if not os.path.lexists(output):
        return
    if not overwrite:
        raise JobError(f"output {output} exists (pass --overwrite to replace it)")
    if not os.path.isdir(output):
        raise JobError(f"output {output} is not a folder; --overwrite replaces only the output of an earlier job")
    if os.listdir(output) and not os.path.exists(os.path.join(output, JOB_FILE)):
        raise JobError(f"output {output} is not the output of an earlier job (no {JOB_FILE}); "
                       "--overwrite replaces only those or an empty folder")


def leftovers(output):
    """Temporary and trash folders of earlier runs on ``output`` (call while holding its lock):
    ``OUT.tmp``, ``OUT.tmp-<pid>`` (earlier versions) and ``OUT.trash-<pid>``; nothing else."""
    pattern = re.compile(re.escape(os.path.basename(output)) + r"\.(tmp|tmp-\d+|trash-\d+)")
    parent = os.path.dirname(output)
    return sorted(os.path.join(parent, name) for name in os.listdir(parent) if pattern.fullmatch(name))


def read_run(folder):
    """The ``.mlm-run.json`` of a temporary folder, or None when absent or unreadable."""
    try:
        with open(os.path.join(folder, RUN_FILE)) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def write_json_atomic(path, obj):
    write_atomic(path, json.dumps(obj, sort_keys=True).encode())


def part_record_path(root, index):
    return os.path.join(root, PARTS_DIR, f"part_{index:05d}.json")


def verified_parts(root, partitions):
    """{index: record} of the partitions under ``root`` whose record matches ``partitions`` and
    whose files all have the recorded size and SHA-256; other records are deleted."""
    kept = {}
    for path in sorted(glob.glob(os.path.join(root, PARTS_DIR, "part_*.json"))):
        try:
            with open(path) as fh:
                record = json.load(fh)
            index = int(record["index"])
            ok = 0 <= index < len(partitions) and record["partition"] == partition_record(partitions[index])
            ok = ok and all(_matches(os.path.join(root, rel), size, digest)
                            for rel, (size, digest) in record["files"].items())
        except (OSError, ValueError, KeyError, TypeError):
            ok = False
        if ok:
            kept[index] = record
        else:
            os.unlink(path)
    return kept


def _matches(path, size, digest):
    return os.path.getsize(path) == size and sha256(path) == digest  # size first: cheap


def partition_record(part):
    return [os.path.realpath(part.file), list(part.row_groups), part.first_row, part.rows]


def remove_strays(root, kept_files):
    """Delete data files under ``root``'s epoch folders that no verified record lists."""
    removed = 0
    for path in glob.glob(os.path.join(root, "epoch_*", "part_*")):
        if os.path.relpath(path, root) not in kept_files:
            os.unlink(path)
            removed += 1
    return removed


def tree_digest(folder):
    """SHA-256 over the relative paths and contents of every file under ``folder`` (None if absent)."""
    if not os.path.isdir(folder):
        return None
    digest = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(folder, "**", "*"), recursive=True)):
        if os.path.isfile(path):
            digest.update(os.path.relpath(path, folder).encode() + b"\0" + sha256(path).encode())
    return digest.hexdigest()


def write_manifest(root, records):
    """Merge the partition records into ``mlm-manifest.json`` and drop the run's bookkeeping."""
    files = {}
    for record in records:
        files.update({rel: {"bytes": size, "sha256": digest} for rel, (size, digest) in record["files"].items()})
    write_json_atomic(os.path.join(root, MANIFEST), {"files": dict(sorted(files.items()))})
    shutil.rmtree(os.path.join(root, PARTS_DIR), ignore_errors=True)
    os.unlink(os.path.join(root, RUN_FILE))


def publish(tmp, output, overwrite):
    """Rename ``tmp`` to ``output`` (call while holding the lock).

    Without ``overwrite`` an output that appeared during the run is left alone (JobError). With
    it, the output is checked again and replaced as a whole: renamed to ``OUT.trash-<pid>``,
    then ``tmp`` renamed in, then the trash removed; a reader sees the old or the new folder,
    never a mix.
    """
    if os.path.lexists(output):
        if not overwrite:
            raise JobError(f"output {output} appeared during the run; it was left as it is and this "
                           "run's result discarded (pass --overwrite to replace it)")
        check_replaceable(output, overwrite)
        trash = f"{output}.trash-{os.getpid()}"
        os.rename(output, trash)
        os.rename(tmp, output)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.rename(tmp, output)
