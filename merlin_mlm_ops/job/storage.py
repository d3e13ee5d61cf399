"""Where the masking job reads and writes: local paths (today's folder protocol) or fsspec URLs.

A job's INPUT and ``--output`` may be local paths, ``file://`` URLs (both handled as local
paths) or any fsspec URL (``s3://``, ``gs://``, ``abfs://``); credentials and endpoints come from
each filesystem's own configuration (for S3 the ``AWS_*`` environment, ``AWS_ENDPOINT_URL``
included, and ``~/.aws``) plus ``storage_options`` as pandas and Dask spell them.

Local outputs keep the protocol of :mod:`merlin_mlm_ops.job.output` (``flock`` + ``rename``).
An object store has neither, so an output URL ``OUT`` follows the commit protocol of Hadoop's
S3A committers and of Delta Lake / Iceberg instead::

    OUT/_mlm-lease.json                 one writer: created with a conditional put
                                        (If-None-Match: *), refreshed by a heartbeat (If-Match)
    OUT/_attempts/<attempt>/...         a run's data, under a prefix no reader looks at
    OUT/mlm-manifest.json               the commit: written last with a conditional put; it names
                                        the committed attempt and every file's size and SHA-256

Readers (:func:`merlin_mlm_ops.data.epochs.epoch_datasets`, ``merlin-mlm stats``) read the
manifest and only the files it lists, so they see the old or the new output, never a mix.
Conditional writes are implemented for ``s3://`` (S3 and compatible stores that honour
``If-None-Match``; the lease checks that the store does); other protocols are refused.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timezone

from merlin_mlm_ops.errors import JobError

LEASE = "_mlm-lease.json"
ATTEMPTS = "_attempts"
MANIFEST = "mlm-manifest.json"
RUN_FILE = ".mlm-run.json"
PARTS_DIR = ".mlm-parts"
# Seconds between lease heartbeats, and the age after which a lease whose heartbeat stopped is
# stale (its run is gone: a live run refreshes it HEARTBEAT_S apart).
HEARTBEAT_ENV = "MERLIN_MLM_LEASE_HEARTBEAT_S"
TTL_ENV = "MERLIN_MLM_LEASE_TTL_S"
HEARTBEAT_S = 10.0
TTL_S = 60.0
CONDITIONAL_PROTOCOLS = ("s3", "s3a")


def is_url(path) -> bool:
    """True for a URL that is not a local file (``file://`` counts as a local path)."""
    path = str(path)
    return "://" in path and not path.startswith(("file://", "local://"))


def local_path(path) -> str:
    """``path`` with a ``file://`` prefix removed (other strings unchanged)."""
    path = str(path)
    for prefix in ("file://", "local://"):
        if path.startswith(prefix):
            return path[len(prefix):]
    return path


def filesystem(url, storage_options=None):
    """``(fs, path)`` of ``url`` through fsspec; a bad protocol or option is a JobError."""
    import fsspec.core

    try:
        return fsspec.core.url_to_fs(url, **(storage_options or {}))
    except (ImportError, ValueError, TypeError) as exc:
        raise JobError(f"cannot open {url}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") \
            from None


def normalize_url(url) -> str:
    """``url`` as ``protocol://path`` without a trailing ``/``; local paths as ``os.path.realpath``."""
    if not is_url(url):
        return os.path.realpath(local_path(url))
    protocol, rest = str(url).split("://", 1)
    protocol = {"s3a": "s3", "gcs": "gs", "az": "abfs"}.get(protocol, protocol)
    return f"{protocol}://{rest.strip('/')}"


def join(root, *parts) -> str:
    if not is_url(root):
        return os.path.join(root, *parts)
    return "/".join([str(root).rstrip("/"), *parts])


def parse_storage_options(text):
    """The ``--storage-options`` JSON object as a dict (None for None); JobError otherwise."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise JobError(f"--storage-options is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise JobError("--storage-options must be a JSON object, e.g. '{\"anon\": false}'")
    return value


def describe_error(exc) -> str:
    """One line for a store's failure (missing bucket, bad credentials, unreachable endpoint)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _s3_error_code(exc):
    """The S3 error code of ``exc`` (botocore ClientError, possibly translated by s3fs), or None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code") or response.get("ResponseMetadata", {})
                       .get("HTTPStatusCode"))
        exc = exc.__cause__ or exc.__context__
    return None


PRECONDITION_CODES = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


class ObjectStore:
    """Conditional puts and plain object access under ``url`` (an ``s3://`` prefix).

    ``storage_options`` (default None): fsspec options for the filesystem. Pickles without its
    filesystem: a Dask worker makes its own from its own configuration plus these options.
    """

    def __init__(self, url, storage_options=None):
        self.url = normalize_url(url)
        self.storage_options = storage_options or {}
        self.protocol = self.url.split("://", 1)[0]
        self._fs = None

    def __getstate__(self):
        return {"url": self.url, "storage_options": self.storage_options, "protocol": self.protocol, "_fs": None}

    @property
    def fs(self):
        if self._fs is None:
            self._fs = filesystem(self.url, self.storage_options)[0]
        return self._fs

    def key(self, *parts):
        return join(self.url, *parts)

    def _bucket_key(self, url):
        path = self.fs._strip_protocol(url)
        bucket, _, key = path.partition("/")
        return bucket, key

    def require_conditional_writes(self):
        if self.protocol not in CONDITIONAL_PROTOCOLS:
            raise JobError(f"output {self.url}: merlin-mlm needs conditional writes (put-if-absent, "
                           f"If-None-Match: *) for one writer and an atomic commit; they are implemented for "
                           f"s3:// only, not {self.protocol}://; write to s3:// or a local path")

    # ---- conditional writes (S3 PutObject with If-None-Match / If-Match) ---------------------

    def put_if_absent(self, url, data: bytes):
        """Create ``url`` holding ``data`` unless it exists: its ETag, or None when it existed."""
        return self._put(url, data, IfNoneMatch="*")

    def put_if_match(self, url, data: bytes, etag):
        """Replace ``url`` if its ETag is still ``etag``: the new ETag, or None when it changed."""
        return self._put(url, data, IfMatch=etag)

    def _put(self, url, data, **condition):
        bucket, key = self._bucket_key(url)
        try:
            response = self.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data, **condition)
        except Exception as exc:  # noqa: BLE001 - precondition failures are answers, the rest errors
            if _s3_error_code(exc) in PRECONDITION_CODES or "PreconditionFailed" in str(exc) \
                    or "ConditionalRequestConflict" in str(exc):
                return None
            raise
        finally:
            self.fs.invalidate_cache(url)
        return response.get("ETag")

    def head(self, url):
        """``{"etag", "size", "modified"}`` of ``url`` read from the store (no cache), or None."""
        bucket, key = self._bucket_key(url)
        try:
            response = self.fs.call_s3("head_object", Bucket=bucket, Key=key)
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001
            if _s3_error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return {"etag": response.get("ETag"), "size": response.get("ContentLength"),
                "modified": response.get("LastModified")}

    # ---- plain access --------------------------------------------------------------------------

    def read(self, url):
        self.fs.invalidate_cache(url)
        return self.fs.cat_file(url)

    def read_json(self, url):
        """The JSON object at ``url``, or None when absent or unreadable."""
        try:
            return json.loads(self.read(url))
        except (FileNotFoundError, ValueError):
            return None

    def write(self, url, data: bytes):
        """A plain put: an object is whole or absent, also when two tasks write the same key."""
        self.fs.pipe_file(url, data)

    def list(self, url):
        """Every object under the prefix ``url``, as URLs (nothing when absent)."""
        self.fs.invalidate_cache()
        try:
            return [self.fs.unstrip_protocol(p) for p in self.fs.find(url)]
        except FileNotFoundError:
            return []

    def remove_prefix(self, url):
        found = self.list(url)
        if found:
            self.fs.rm(found)
        self.fs.invalidate_cache()
        return len(found)


class Lease:
    """One writer per output on an object store: ``OUT/_mlm-lease.json``.

    Created with a conditional put; a heartbeat thread rewrites it every ``heartbeat_s``
    (default ``MERLIN_MLM_LEASE_HEARTBEAT_S`` or 10 s) with ``If-Match`` on its last ETag. A
    lease not refreshed for ``ttl_s`` (default ``MERLIN_MLM_LEASE_TTL_S`` or 60 s, by the store's
    LastModified, never by a pid) is stale and taken over with ``If-Match`` on the stale ETag,
    so of several runs taking it over one wins. Example::

        with Lease(ObjectStore("s3://bucket/masked")) as lease:
            ...  # the only run writing s3://bucket/masked
            lease.check()  # raises JobError if another run took the lease over
    """

    def __init__(self, store: ObjectStore, heartbeat_s=None, ttl_s=None):
        self.store = store
        self.url = store.key(LEASE)
        self.heartbeat_s = float(heartbeat_s or os.environ.get(HEARTBEAT_ENV) or HEARTBEAT_S)
        self.ttl_s = float(ttl_s or os.environ.get(TTL_ENV) or TTL_S)
        self.etag = None
        self.lost = None
        self.taken_over = None
        self._stop = threading.Event()
        self._lock = threading.Lock()  # a heartbeat's put and its new ETag, seen together by check()
        self._thread = None
        self.record = {"holder": f"pid {os.getpid()} on {socket.gethostname()}", "host": socket.gethostname(),
                       "pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                       "started_s": time.time(), "id": uuid.uuid4().hex}

    def _body(self):
        return json.dumps(self.record | {"heartbeat_s": time.time()}, sort_keys=True).encode()

    def acquire(self):
        self.store.require_conditional_writes()
        for _ in range(5):
            self.etag = self.store.put_if_absent(self.url, self._body())
            if self.etag is not None:
                self._check_store_honours_conditions()
                break
            current = self.store.head(self.url)
            if current is None:
                continue  # released meanwhile: try again
            age = (datetime.now(timezone.utc) - current["modified"]).total_seconds()
            holder = self.store.read_json(self.url) or {}
            if age < self.ttl_s:
                raise JobError(f"output {self.store.url} is being written by another run "
                               f"({holder.get('holder', 'unknown')}, started {holder.get('started', '?')}, "
                               f"heartbeat {age:.0f} s ago; lease {self.url}); wait for it or choose another --output")
            self.etag = self.store.put_if_match(self.url, self._body(), current["etag"])
            if self.etag is not None:
                self.taken_over = (holder, age)
                break
        else:
            raise JobError(f"output {self.store.url}: could not take the lease {self.url}")
        self._thread = threading.Thread(target=self._beat, name="mlm-lease-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _check_store_honours_conditions(self):
        """A second put-if-absent of the lease must be refused; a store that accepts it ignores
        If-None-Match and can give neither one writer nor an atomic commit."""
        again = self.store.put_if_absent(self.url, self._body())
        if again is not None:
            self.store.fs.rm(self.url)
            raise JobError(f"output {self.store.url}: the store ignores conditional writes (If-None-Match: *), "
                           "so neither one writer per output nor an atomic commit can be guaranteed; use a store "
                           "that supports them (AWS S3 since 2024, MinIO, moto) or a local path")

    def _beat(self):
        while not self._stop.wait(self.heartbeat_s):
            with self._lock:
                try:
                    etag = self.store.put_if_match(self.url, self._body(), self.etag)
                except Exception:  # noqa: BLE001 - a transient store error: try again at the next beat
                    continue
                if etag is None:
                    self.lost = f"the lease {self.url} was taken over by another run"
                    return
                self.etag = etag

    def check(self):
        """Raise JobError if the lease was lost (another run took it over): the heartbeat's
        record, and the lease object's ETag read again from the store just before a commit."""
        with self._lock:
            if not self.lost and self.etag is not None:
                current = self.store.head(self.url)
                if current is None or current["etag"] != self.etag:
                    self.lost = f"the lease {self.url} was taken over by another run"
        if self.lost:
            raise JobError(f"output {self.store.url}: {self.lost}; this run's result was discarded")

    def release(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.etag is not None and self.lost is None:
            current = self.store.head(self.url)
            if current is not None and current["etag"] == self.etag:
                self.store.fs.rm(self.url)
                self.store.fs.invalidate_cache()
        self.etag = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def new_attempt() -> str:
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def committed(url, storage_options=None):
    """``(root, manifest)`` of the committed output at ``url``: ``root`` is the committed
    attempt's URL, ``manifest`` its ``mlm-manifest.json``; None when nothing is committed."""
    store = ObjectStore(url, storage_options)
    manifest = store.read_json(store.key(MANIFEST))
    if manifest is None or "attempt" not in manifest:
        return None
    return store.key(manifest["attempt"]), manifest


class LocalTarget:
    """Where a task writes on local disk: ``root`` (the run's temporary folder)."""

    def __init__(self, root):
        self.root = root

    def check_alive(self, rel_folder):
        folder = os.path.join(self.root, rel_folder)
        if not os.path.isdir(folder):  # the job was abandoned: never recreate its folder
            raise JobError(f"output folder {folder} is gone; the job was cancelled")

    def location(self, rel):
        """The path of ``rel`` under the target."""
        return os.path.join(self.root, rel)

    def write(self, rel, data):
        from merlin_mlm_ops.data.files import write_atomic

        write_atomic(self.location(rel), data)


class ObjectTarget:
    """Where a task writes on an object store: the attempt prefix ``root`` (a URL)."""

    def __init__(self, root, storage_options=None):
        self.root = root
        self.store = ObjectStore(root, storage_options)

    def check_alive(self, rel_folder):
        # The run record is removed first when a run is abandoned: never write into a dead attempt.
        if self.store.head(self.store.key(RUN_FILE)) is None:
            raise JobError(f"attempt {self.root} is gone; the job was cancelled")

    def location(self, rel):
        """The URL of ``rel`` under the target."""
        return self.store.key(rel)

    def write(self, rel, data):
        self.store.write(self.location(rel), data)


def write_partition_file(target, rel, data):
    """Write one data file of a partition, ``rel`` under ``target`` (a :class:`LocalTarget` or an
    :class:`ObjectTarget`), whole or absent; returns its manifest entry ``[size, sha256]``."""
    target.write(rel, data)
    return [len(data), sha256_bytes(data)]


def check_output(job):
    """Raise JobError unless ``job.output`` is a reachable object-store prefix that may be
    written: absent or empty, or (with ``--overwrite``) a committed output of an earlier job."""
    store = ObjectStore(job.output, job.storage_options)
    store.require_conditional_writes()
    if job.categorify:
        raise JobError("--categorify with an object-store output is not supported yet (its vocabularies are "
                       "written by NVTabular to a local path); encode first or write to a local path")
    bucket, _ = store._bucket_key(store.url)
    try:
        store.fs.call_s3("list_objects_v2", Bucket=bucket, Prefix="", MaxKeys=1)
        manifest = store.read_json(store.key(MANIFEST))
        others = [url for url in store.list(store.url) if not _ours(store, url)]
    except JobError:
        raise
    except Exception as exc:  # noqa: BLE001 - missing bucket, bad credentials, no endpoint
        raise JobError(f"output {store.url}: cannot access the store ({describe_error(exc)})") from None
    if manifest is not None or others:
        if not job.overwrite:
            raise JobError(f"output {store.url} exists (pass --overwrite to replace it)")
        if manifest is None:
            raise JobError(f"output {store.url} is not the output of an earlier job (no {MANIFEST}); "
                           "--overwrite replaces only those or an empty prefix")
    return manifest


def _ours(store, url):
    rel = url[len(store.url) + 1:]
    return rel in (LEASE, MANIFEST) or rel.startswith(ATTEMPTS + "/")
