"""Data for the masking job, the examples and the benchmarks.

- :mod:`~merlin_mlm_ops.data.synthetic`: synthetic sessions (Zipf items, Markov transitions);
- :mod:`~merlin_mlm_ops.data.movielens`: MovieLens-1M fetched at run time (sha256-checked), as sessions;
- :mod:`~merlin_mlm_ops.data.parquet`: writing a frame as partitioned Parquet;
- :mod:`~merlin_mlm_ops.data.epochs`: a job's output read back, one dataset per epoch;
- :mod:`~merlin_mlm_ops.data.toy`: tiny encoded sessions with one ETL mask per epoch (tests, benchmarks);
- :mod:`~merlin_mlm_ops.data.files`: file checksums and atomic writes.
"""
