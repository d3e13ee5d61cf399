"""Moved to :mod:`merlin_mlm_ops.job.run` (the job) and :mod:`merlin_mlm_ops.data.epochs` (its output read back)."""
from merlin_mlm_ops.data.epochs import epoch_datasets, epoch_paths  # noqa: F401
from merlin_mlm_ops.job.run import JobError, MaskJob, run_mask_job, start_client, validate_job  # noqa: F401
