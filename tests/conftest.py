"""Fixtures shared by several test modules (plain helpers are in helpers.py)."""
import os

import pytest


@pytest.fixture(scope="module")
def cluster():
    """``(LocalCluster, Client)``: 2 worker processes, one thread each, shared by a test module."""
    from distributed import Client, LocalCluster

    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      memory_limit="2GB") as lc, Client(lc) as client:
        yield lc, client
