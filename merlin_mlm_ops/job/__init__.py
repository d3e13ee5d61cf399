"""The ``merlin-mlm`` command-line job: mask a Parquet dataset on a Dask cluster, one partition per task.

- :mod:`~merlin_mlm_ops.job.cli`: the ``merlin-mlm`` command (``mask``, ``stats``, ``demo``) and its exit codes;
- :mod:`~merlin_mlm_ops.job.run`: the Dask job (``MaskJob``, ``run_mask_job``);
- :mod:`~merlin_mlm_ops.job.plain`: the job without NVTabular (the dataframe API, the same files);
- :mod:`~merlin_mlm_ops.job.inputs`: input checks and the partition plan;
- :mod:`~merlin_mlm_ops.job.output`: the output lock, manifests, resume and the checked publish;
- :mod:`~merlin_mlm_ops.job.storage`: fsspec URLs, conditional puts, the lease of an object-store output;
- :mod:`~merlin_mlm_ops.job.remote`: the job on an object store (attempt prefix, resume, conditional commit);
- :mod:`~merlin_mlm_ops.job.report`: ``merlin-mlm stats`` and its plot;
- :mod:`~merlin_mlm_ops.job.demo`: the main job on embedded data (``merlin-mlm demo``).
"""
