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


@pytest.fixture(scope="module")
def s3_server():
    """A real S3-protocol server (moto in server mode) on 127.0.0.1 with the bucket ``mlm``; the
    ``AWS_*`` environment (``AWS_ENDPOINT_URL`` included) points at it for the module's tests and
    the processes they start.  Yields the endpoint URL."""
    import logging
    import socket

    pytest.importorskip("s3fs")
    server_mod = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on the tests' stderr
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            mp.setenv(name, value)
        import fsspec

        fsspec.filesystem("s3", skip_instance_cache=True).mkdir("mlm")
        yield endpoint
    server.stop()


@pytest.fixture(scope="module")
def process_cluster(tmp_path_factory, s3_server):
    """A Dask cluster of separate processes sharing no working or temporary folder: ``dask
    scheduler`` and two ``dask worker`` subprocesses, each in its own folder.  Yields
    ``(address, client)``."""
    import subprocess
    import sys
    import time

    from distributed import Client

    from helpers import ROOT

    base = tmp_path_factory.mktemp("cluster")
    env = dict(os.environ, PYTHONWARNINGS="ignore", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                                                         if p]))
    sched_file = str(base / "scheduler.json")
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", sched_file],
                              cwd=base, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for i in range(2):
        home = base / f"worker{i}"
        (home / "tmp").mkdir(parents=True)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", sched_file, "--nthreads", "1",
             "--nworkers", "1", "--memory-limit", "2GB", "--no-dashboard", "--local-directory", str(home / "tmp")],
            cwd=home, env=dict(env, TMPDIR=str(home / "tmp")), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        deadline = time.monotonic() + 120
        while not os.path.exists(sched_file) and time.monotonic() < deadline:
            time.sleep(0.2)
        client = Client(scheduler_file=sched_file, timeout="60s")
        client.wait_for_workers(2, timeout=180)
        yield client.scheduler.address, client
        client.close()
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def faults():
    """The module ``tests/faults.py``: slow or failing partition writes, in this process
    (``install``), on a client's workers (``on_workers``) or in the workers of a ``merlin-mlm``
    subprocess (``subprocess_env``).  What a test installs in this process is removed after it."""
    import faults as module

    yield module
    module.uninstall()
