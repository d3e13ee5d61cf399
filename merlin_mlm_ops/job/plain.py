"""The masking job without NVTabular: the dataframe API (:mod:`merlin_mlm_ops.frames`) in place
of an ``nvt.Workflow``, for today's stack (pandas 3, PyArrow 26, Dask 2026) where Merlin 23.08
does not install.

Where NVTabular cannot be imported, ``merlin-mlm mask`` masks each partition with
:func:`merlin_mlm_ops.mask_random` (and cuts windows with
:func:`merlin_mlm_ops.adapters.windows.cut_windows`, the code the ``SlidingWindows`` operator
runs), and writes the same Parquet files as the NVTabular job: the same columns in the same
order, the same Arrow types, rows and masks (tests/test_job_plain.py compares both with digests
taken in the Merlin environment).  The input checks, the lock, ``--resume`` and the manifests are
the job's own (:mod:`merlin_mlm_ops.job.run`).  What differs: no ``workflow/`` folder and no
``schema.pbtxt`` (there is no Merlin schema to write); ``mlm-job.json`` says
``"transform": "plain"`` and lists them under ``"absent"``.

Options the plain transform does not implement (``--categorify``, ``--gpu``, an object-store
output, and any option added to :class:`~merlin_mlm_ops.job.run.MaskJob` later) are refused at a
non-default value, in one line.  A mask option is wired in by adding its ``MaskJob`` field to
:data:`MASK_OPTIONS` (the field name -> the keyword of :func:`merlin_mlm_ops.mask_random`).
"""
from __future__ import annotations

import dataclasses
import os
import secrets
import sys

from merlin_mlm_ops.errors import JobError

#: Set to 1 to run the plain transform where NVTabular imports too (to compare both on the same inputs).
PLAIN_ENV = "MERLIN_MLM_PLAIN"
TRANSFORM_NVTABULAR = "nvtabular"
TRANSFORM_PLAIN = "plain"
#: MaskJob field -> keyword of merlin_mlm_ops.mask_random (wiring a mask option is one line here).
MASK_OPTIONS = {"prob": "prob", "min_masked": "min_masked", "max_masked": "max_masked", "pad_id": "pad_id",
                "last_ratio": "last_ratio", "replace": "replace", "vocab": "vocab"}
#: MaskJob fields the job itself handles the same way with or without NVTabular.
JOB_FIELDS = {"inputs", "output", "columns", "seed", "key", "epochs", "overwrite", "part_size", "window",
              "storage_options"}
#: What a plain run's output lacks, as recorded in mlm-job.json's "absent".
ABSENT = ["workflow/", "epoch_*/schema.pbtxt"]

_NVTABULAR = {}


def without_nvtabular():
    """True when the job runs the plain transform: NVTabular does not import (missing, or broken on
    this stack), or :data:`PLAIN_ENV` is set."""
    if os.environ.get(PLAIN_ENV, "") not in ("", "0"):
        return True
    if "ok" not in _NVTABULAR:
        try:
            import nvtabular  # noqa: F401
        except Exception:  # noqa: BLE001 - stock NVTabular 23.8 fails on current Dask/pandas with many errors
            _NVTABULAR["ok"] = False
        else:
            _NVTABULAR["ok"] = True
    return not _NVTABULAR["ok"]


def transform_name():
    """``"plain"`` or ``"nvtabular"``: which transform this process's job runs (in the resume arguments)."""
    return TRANSFORM_PLAIN if without_nvtabular() else TRANSFORM_NVTABULAR


def _refuse(option, detail="in this version"):
    raise JobError(f"--{option.replace('_', '-')} needs NVTabular {detail}")


def check_job(job):
    """Raise JobError for an option the plain transform does not implement (at a non-default value)
    or a bad mask or window argument, with the words the NVTabular job uses."""
    from merlin_mlm_ops.job.storage import is_url

    if job.categorify:
        _refuse("categorify", "(pip install merlin-mlm-ops[nvtabular]); it is not implemented without it")
    for field in dataclasses.fields(job):
        if field.name in JOB_FIELDS or field.name in MASK_OPTIONS:
            continue
        default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
        if getattr(job, field.name) != default:
            _refuse(field.name)
    if is_url(job.output):
        raise JobError("an object-store --output needs NVTabular in this version; write to a local folder")
    try:
        PlainTransform.for_job(job, 0).check()
    except (TypeError, ValueError) as exc:
        raise JobError(str(exc)) from None


@dataclasses.dataclass
class PlainTransform:
    """What a task needs to mask a partition without NVTabular; picklable (sent to the workers).

    ``mask`` holds :func:`merlin_mlm_ops.mask_random`'s keywords but ``epoch``; ``window`` is
    ``(max_len, step)`` or None.  ``seed`` is also ``mask["seed"]`` (the job reads it as the
    operator's).
    """

    columns: list
    key: object
    window: object
    mask: dict

    @classmethod
    def for_job(cls, job, seed=None):
        seed = job.seed if seed is None else seed
        mask = {kw: getattr(job, field) for field, kw in MASK_OPTIONS.items()}
        mask["seed"] = secrets.randbits(63) if seed is None else seed
        return cls(list(job.columns), job.key, job.window, mask)

    @property
    def seed(self):
        return self.mask["seed"]

    @property
    def mask_key(self):
        return self.key if self.window is None else f"{self.key}_window"

    def check(self):
        """Raise TypeError/ValueError for bad mask arguments (as MaskRandom; the window is checked by the job)."""
        import pandas as pd

        from merlin_mlm_ops.frames import mask_random

        mask_random(pd.DataFrame({"x": pd.Series([], dtype=object)}), "x", **self.mask)

    def frame(self, df):
        """The partition as the NVTabular workflow outputs it before the mask: ``[key] + columns``,
        or with ``window``, ``[key, <key>_window] + columns`` with rows cut into windows."""
        from merlin_mlm_ops.adapters.windows import cut_windows

        df = _object_strings(df)
        if self.window is None:
            return df[([self.key] if self.key is not None else []) + self.columns]
        cut = cut_windows(df, self.columns, self.key, self.mask_key, *self.window, "SlidingWindows")
        return cut[[self.key, self.mask_key] + self.columns]

    def epoch_frames(self, df, columns):
        """What :func:`merlin_mlm_ops.job.run.write_epochs` needs to write a partition as the NVTabular
        job does: ``(epoch_frame, eligible, offsets)``, ``epoch_frame(epoch)`` giving the epoch's frame
        and flat mask."""
        import numpy as np

        from merlin_mlm_ops.adapters import pandas_lists
        from merlin_mlm_ops.frames.api import mask_random_flat

        base = self.frame(df)
        flat = pandas_lists.flatten(base[columns[0]], columns[0], "mask_random")
        pad_id = self.mask["pad_id"]
        eligible = np.ones(len(flat.values), dtype=bool) if pad_id is None else flat.values != pad_id

        def epoch_frame(epoch):
            # The mask's flat values come from the masking itself (no step per row to gather them back).
            return mask_random_flat(base, columns, key=self.mask_key, epoch=epoch, **self.mask)

        return epoch_frame, eligible, flat.offsets


def _object_strings(df):
    """String columns as object columns (pandas 3 reads them as ``str``, which Arrow writes as
    ``large_string``): the written Parquet then has pandas 1.5's (NVTabular's) ``string`` type."""
    import pandas as pd

    strings = [name for name in df.columns if df[name].dtype != object and pd.api.types.is_string_dtype(df[name])]
    return df.astype({name: object for name in strings}) if strings else df


def manifest_fields():
    """What mlm-job.json says about the transform: ``{"transform": ...}``, and for a plain run
    what its output lacks (``"absent"``)."""
    if not without_nvtabular():
        return {"transform": TRANSFORM_NVTABULAR}
    return {"transform": TRANSFORM_PLAIN, "absent": ABSENT}


class _TextBar:
    """Progress without tqdm: one line per tenth of the partitions (and the last) on stderr."""

    def __init__(self, total):
        self.total, self.n, self._shown = total, 0, -1

    def update(self, step):
        self.n += step
        tenth = self.n * 10 // max(self.total, 1)
        if tenth != self._shown:
            self._shown = tenth
            print(f"masking: {self.n}/{self.total} partitions", file=sys.stderr)

    def close(self):
        pass


def progress_bar(total):
    """A tqdm bar over ``total`` partitions on stderr, or lines of text where tqdm is not installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _TextBar(total)
    return tqdm(total=total, unit="partition", desc="masking", file=sys.stderr)


def announce():
    """The one line a plain run prints to stderr."""
    print("merlin-mlm: NVTabular is not available: masking with the dataframe API (no workflow/ "
          "or schema.pbtxt in the output; docs/job.md, 'Without NVTabular')", file=sys.stderr)
