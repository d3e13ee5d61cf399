"""Inputs of the masking job: find the Parquet files, check every footer before any task runs,
cut the files into partitions at row groups, and read one partition on a worker.

Every check here reads metadata only (``pyarrow.parquet.read_metadata``: the footer), so a bad
file anywhere in a thousand is reported, naming the file and the column, before anything is
written.  Errors that only show in the data (corrupt pages, null item ids) surface while a task
reads or masks its partition; they are raised as :class:`InputDataError`, which names the file,
and the row in that file where one is at fault.
"""
from __future__ import annotations

import glob
import os
import traceback
from dataclasses import dataclass
from typing import List, Optional, Tuple

from merlin_mlm_ops.errors import InputDataError, JobError, MaskInputError
from merlin_mlm_ops.job.storage import describe_error, filesystem, is_url, local_path, normalize_url


@dataclass(frozen=True)
class Partition:
    """Row groups ``row_groups`` of ``file``: rows ``first_row`` .. ``first_row + rows - 1`` of it."""

    file: str
    row_groups: Tuple[int, ...]
    first_row: int
    rows: int


@dataclass
class CheckedInputs:
    """What :func:`check_inputs` found: the files, the partitions, and a fingerprint of the files
    (path, size, modification time) that a resumed job compares with the interrupted one's."""

    files: List[str]
    partitions: List[Partition]
    fingerprint: List[list]


def find_parquet_files(inputs, storage_options=None):
    """Parquet files named by ``inputs`` (files, folders, globs; local paths or fsspec URLs),
    sorted; raises JobError.  ``storage_options`` (default None): fsspec options for URLs."""
    files = []
    for item in inputs:
        if is_url(item):
            files += _find_url(item, storage_options)
            continue
        item = local_path(item)
        if any(ch in item for ch in "*?["):
            matched = sorted(glob.glob(item, recursive=True))
            if not matched:
                raise JobError(f"no input matches {item!r}")
            candidates = matched
        elif os.path.isdir(item):
            candidates = sorted(glob.glob(os.path.join(item, "**", "*.parquet"), recursive=True))
        elif os.path.exists(item):
            candidates = [item]
        else:
            raise JobError(f"input not found: {item}")
        for path in candidates:
            if os.path.isdir(path):
                files += sorted(glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True))
            elif path.endswith(".parquet") or item == path:
                files.append(path)
    if not files:
        raise JobError(f"no Parquet files in {' '.join(inputs)}")
    return files


def _find_url(item, storage_options):
    fs, path = filesystem(item, storage_options)
    try:
        if any(ch in path for ch in "*?["):
            matched = sorted(fs.glob(path))
            if not matched:
                raise JobError(f"no input matches {item!r}")
        elif fs.isdir(path):
            matched = [p for p in sorted(fs.find(path)) if p.endswith(".parquet")]
        elif fs.exists(path):
            return [fs.unstrip_protocol(path)]
        else:
            raise JobError(f"input not found: {item}")
    except JobError:
        raise
    except Exception as exc:  # noqa: BLE001 - missing bucket, bad credentials, no endpoint
        raise JobError(f"cannot list {item}: {describe_error(exc)}") from None
    return [fs.unstrip_protocol(p) for p in matched if p.endswith(".parquet") or p == path]


def _is_within(path, folder):
    if is_url(path) != is_url(folder):
        return False
    if is_url(path):
        return path != folder and path.startswith(folder.rstrip("/") + "/")
    return path != folder and os.path.commonpath([path, folder]) == folder


def check_output_apart(output, inputs, files):
    """Raise JobError when ``output`` equals, contains or lies inside an input (file or folder).

    Local paths are compared after ``os.path.realpath``, so symlinks and ``..`` do not hide an
    overlap; URLs after :func:`~merlin_mlm_ops.job.storage.normalize_url` (``s3a://`` is ``s3://``).
    """
    out = normalize_url(output)
    named = [item for item in inputs if not any(ch in item for ch in "*?[")]
    paths = {path: normalize_url(path) for path in named + list(files)}
    for path, real in paths.items():  # the plainest message first: the output is an input
        if out == real:
            raise JobError(f"output {output} is the input {path}; choose another --output")
    for path, real in paths.items():
        if _is_within(out, real):
            raise JobError(f"output {output} lies inside the input {path}; choose another --output")
        if _is_within(real, out):
            raise JobError(f"output {output} contains the input {path}; choose another --output")


def _list_type(field_type):
    import pyarrow as pa

    return pa.types.is_list(field_type) or pa.types.is_large_list(field_type)


def check_file_schema(path, schema, columns, key, categorify):
    """Raise JobError unless ``schema`` (of ``path``) has the columns as lists, the first of
    integers (any values with ``categorify``), and ``key`` as integers or strings."""
    import pyarrow as pa

    names = schema.names
    for i, name in enumerate(columns):
        if name not in names:
            raise JobError(f"input {path}: column {name!r} not found (columns: {', '.join(names)})")
        ftype = schema.field(name).type
        if not _list_type(ftype):
            raise JobError(f"input {path}: column {name!r} is not a list column ({ftype})")
        if i == 0 and not categorify and not pa.types.is_integer(ftype.value_type):
            raise JobError(f"input {path}: column {name!r} holds {ftype.value_type} items; item ids must "
                           "be integers (pass --categorify to encode them)")
    if key is not None:
        if key not in names:
            raise JobError(f"input {path}: key column {key!r} not found (columns: {', '.join(names)})")
        ktype = schema.field(key).type
        if _list_type(ktype):
            raise JobError(f"input {path}: key column {key!r} is a list column; it must hold one id per row")
        if not (pa.types.is_integer(ktype) or pa.types.is_string(ktype) or pa.types.is_large_string(ktype)):
            raise JobError(f"input {path}: key column {key!r} holds {ktype}; keys must be integers or strings")


def check_inputs(files, columns, key=None, categorify=False, part_size="32MB", storage_options=None):
    """Read every file's footer, check its schema, and plan the partitions; raises JobError.

    Files may be fsspec URLs (read with ``storage_options``, default None); their fingerprint is
    size and ETag (or generation) from the store, a local file's size and modification time.

    ``part_size`` (default ``"32MB"``): target size of a partition in memory (see
    :func:`memory_estimate`); a partition is one or more whole row groups of one file.
    """
    import pyarrow.parquet as pq
    from dask.utils import parse_bytes

    try:
        target = parse_bytes(part_size)
    except (ValueError, TypeError):
        raise JobError(f"--part-size {part_size!r} is not a size (e.g. 32MB)") from None
    partitions, fingerprint = [], []
    read = list(columns) + ([key] if key is not None else [])
    for path in files:
        if is_url(path):
            meta, print_ = _url_footer(path, storage_options)
        else:
            try:
                meta = pq.read_metadata(path)
            except Exception as exc:  # noqa: BLE001 - whatever pyarrow says, the file is not usable Parquet
                raise JobError(f"input {path}: not a readable Parquet file ({first_line(exc)})") from None
            stat = os.stat(path)
            print_ = [os.path.realpath(path), stat.st_size, stat.st_mtime_ns]
        try:
            schema = meta.schema.to_arrow_schema()
        except Exception as exc:  # noqa: BLE001
            raise JobError(f"input {path}: not a readable Parquet file ({first_line(exc)})") from None
        check_file_schema(path, schema, columns, key, categorify)
        fingerprint.append(print_)
        group, size, first, row = [], 0, 0, 0
        for rg in range(meta.num_row_groups):
            info = meta.row_group(rg)
            rg_size = memory_estimate(info, set(read))
            if group and size + rg_size > target:
                partitions.append(Partition(path, tuple(group), first, row - first))
                group, size, first = [], 0, row
            group.append(rg)
            size += rg_size
            row += info.num_rows
        if group:
            partitions.append(Partition(path, tuple(group), first, row - first))
    return CheckedInputs(list(files), partitions, fingerprint)


def _url_footer(url, storage_options):
    """The footer of the Parquet object at ``url`` and its fingerprint [url, size, version]:
    the ETag (S3, Azure) or generation (GCS), the modification time only where neither exists."""
    import pyarrow.parquet as pq

    fs, path = filesystem(url, storage_options)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        raise JobError(f"input not found: {url}") from None
    except Exception as exc:  # noqa: BLE001
        raise JobError(f"input {url}: cannot read ({describe_error(exc)})") from None
    version = info.get("ETag") or info.get("etag") or info.get("generation") or str(info.get("mtime")
                                                                                   or info.get("LastModified"))
    try:
        with fs.open(path, "rb") as fh:
            meta = pq.read_metadata(fh)
    except Exception as exc:  # noqa: BLE001 - whatever pyarrow says, the object is not usable Parquet
        raise JobError(f"input {url}: not a readable Parquet file ({first_line(exc)})") from None
    return meta, [normalize_url(url), info.get("size"), str(version).strip('"')]


# pandas holds each row of a list column as a NumPy array: ~100 bytes of object and header.
ROW_OVERHEAD_BYTES = 100


def memory_estimate(row_group, columns):
    """Bytes a row group's ``columns`` take in a pandas frame, from the footer alone: 8 bytes per
    value (or the uncompressed size, if larger: strings) plus ``ROW_OVERHEAD_BYTES`` per row of
    each list column."""
    size = 0
    for i in range(row_group.num_columns):
        chunk = row_group.column(i)
        path = chunk.path_in_schema.split(".")
        if path[0] in columns:
            size += max(8 * chunk.num_values, chunk.total_uncompressed_size)
            if len(path) > 1:  # name.list.element: a list column
                size += ROW_OVERHEAD_BYTES * row_group.num_rows
    return size


def first_line(exc):
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def read_partition(part: Partition, columns, gpu=False, storage_options=None):
    """The partition's ``columns`` as a pandas (or, with ``gpu``, cuDF) frame whose index is the
    row number in the file, so that errors name the row a user can find; raises InputDataError.
    A URL is read through fsspec with ``storage_options`` (default None)."""
    try:
        if is_url(part.file) and not gpu:
            import pandas as pd
            import pyarrow.parquet as pq

            fs, path = filesystem(part.file, storage_options)
            with fs.open(path, "rb") as fh:
                table = pq.ParquetFile(fh).read_row_groups(list(part.row_groups), columns=list(columns))
            df = table.to_pandas()
            df.index = pd.RangeIndex(part.first_row, part.first_row + len(df))
        elif gpu:
            import cudf

            df = cudf.read_parquet(part.file, columns=list(columns), row_groups=[list(part.row_groups)],
                                   storage_options=storage_options)
            df.index = cudf.RangeIndex(part.first_row, part.first_row + len(df))
        else:
            import pandas as pd
            import pyarrow.parquet as pq

            table = pq.ParquetFile(part.file).read_row_groups(list(part.row_groups), columns=list(columns))
            df = table.to_pandas()
            df.index = pd.RangeIndex(part.first_row, part.first_row + len(df))
    except Exception as exc:  # noqa: BLE001 - corrupt pages and the like: name the file
        raise InputDataError(f"input {part.file}: cannot read rows {part.first_row}.."
                             f"{part.first_row + part.rows - 1} ({first_line(exc)})",
                             traceback.format_exc()) from None
    return df


def data_error(part: Partition, exc: Exception) -> Optional[InputDataError]:
    """The InputDataError for an exception raised while masking ``part`` (None for OSError:
    disk problems are the output's, not the input's)."""
    if isinstance(exc, (OSError, JobError)):
        return None
    return named_error(part, exc)


def named_error(part: Partition, exc: Exception) -> InputDataError:
    """``exc`` as an InputDataError naming ``part``'s file (MaskInputError already names the row)."""
    if isinstance(exc, MaskInputError):
        return InputDataError(f"input {part.file}: {exc}", traceback.format_exc())
    return InputDataError(f"input {part.file}: {first_line(exc)}", traceback.format_exc())
