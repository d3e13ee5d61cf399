"""Faults injected into the masking job's writes, from the tests only.

The product writes every data file of a partition through one function,
``merlin_mlm_ops.job.run.write_partition_file(target, rel, data)``.  :func:`install` replaces it
in the current process with one that, for the first epoch's file of each partition
(``epoch_0000/part_NNNNN.parquet``), sleeps ``delay`` seconds before writing and raises
``OSError(ENOSPC)`` naming the file for partition ``enospc`` (a full disk); :func:`uninstall`
puts the product's function back.  Where the writes happen:

- in this process: ``install(...)`` / ``uninstall()``;
- on the workers of a Dask client: ``on_workers(client, ...)`` (a context manager);
- in the workers of a separate ``merlin-mlm`` process that starts its own cluster:
  ``subprocess_env(...)``, the environment that makes Dask preload this file into every worker
  (``distributed.worker.preload``), with the faults' parameters in :data:`DELAY_ENV` and
  :data:`ENOSPC_ENV`, read here by :func:`dask_setup`.

The fixture ``faults`` in conftest.py gives these functions and uninstalls what a test left.
"""
import contextlib
import errno
import os
import re
import sys
import time

#: Read by :func:`dask_setup` in a preloaded worker: seconds of sleep, index of the full partition.
DELAY_ENV = "MLM_TESTS_FAULT_DELAY_S"
ENOSPC_ENV = "MLM_TESTS_FAULT_ENOSPC_PARTITION"
_FIRST_EPOCH_FILE = re.compile(r"epoch_0000/part_(\d+)\.parquet")


def install(delay=None, enospc=None):
    """Make this process's partition writes slow (``delay`` s) and/or fail for partition ``enospc``."""
    from merlin_mlm_ops.job import run

    write = getattr(run.write_partition_file, "product", run.write_partition_file)

    def faulty_write(target, rel, data):
        match = _FIRST_EPOCH_FILE.fullmatch(rel)
        if match is not None:
            if delay:
                time.sleep(float(delay))
            if enospc is not None and int(match.group(1)) == int(enospc):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), target.location(rel))
        return write(target, rel, data)

    faulty_write.product = write
    run.write_partition_file = faulty_write


def uninstall():
    """Restore the product's partition writes in this process (a no-op when none was installed)."""
    from merlin_mlm_ops.job import run

    run.write_partition_file = getattr(run.write_partition_file, "product", run.write_partition_file)


@contextlib.contextmanager
def on_workers(client, delay=None, enospc=None):
    """``with on_workers(client, delay=1.5):`` the faults on every worker of ``client``.

    The functions travel by value, so workers that cannot import the tests folder run them too."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    client.run(install, delay, enospc)
    try:
        yield
    finally:
        client.run(uninstall)


def subprocess_env(delay=None, enospc=None):
    """Environment variables for a ``merlin-mlm`` process whose own Dask workers get the faults."""
    # distributed 2023.1 (Merlin 23.08's) logs each preload at INFO on the workers' stderr: the command's
    env = {"DASK_DISTRIBUTED__WORKER__PRELOAD": repr([os.path.abspath(__file__)]), "DASK_LOGGING__DISTRIBUTED": "warning"}
    if delay is not None:
        env[DELAY_ENV] = str(delay)
    if enospc is not None:
        env[ENOSPC_ENV] = str(enospc)
    return env


def dask_setup(worker):
    """Dask's preload entry point, in a worker started with :func:`subprocess_env`."""
    install(os.environ.get(DELAY_ENV), os.environ.get(ENOSPC_ENV))
