"""Start and stop a real Triton Inference Server on this machine, from PyPI's nvidia-pytriton.

``nvidia-pytriton`` bundles Triton 2.51 with the python backend and a backend stub per Python
version; it runs on a CPU-only machine.  :class:`TritonServer` lays out a private copy of the
server's folders, starts ``tritonserver`` on 127.0.0.1 with free ports, waits until it is ready
(its log goes into the error if it is not), and stops it by its own PID.  The stub runs the first
``python`` on ``PATH``, so the environment that holds this package goes first.

    with TritonServer("repo/") as server:
        client = tritonclient.http.InferenceServerClient(server.http_url)
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request


class TritonError(RuntimeError):
    """The server could not be started or did not become ready."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pytriton_root():
    try:
        import pytriton
    except ImportError:
        raise TritonError("nvidia-pytriton is not installed (pip install nvidia-pytriton==0.7.0)") from None
    return os.path.join(os.path.dirname(pytriton.__file__), "tritonserver")


class TritonServer:
    """A tritonserver process serving ``model_repository`` on loopback.

    Parameters
    ----------
    model_repository : str
        The Triton model repository (e.g. written by :func:`merlin_mlm_ops.serving.export`).
    ready_timeout : float, default 180
        Seconds to wait for ``/v2/health/ready``.
    stub_timeout : int, default 300
        Seconds the python backend waits for a backend stub before declaring it dead
        (Triton's default, 30 s, is too short while several stubs import TensorFlow on 2 cores).
    """

    def __init__(self, model_repository, ready_timeout=180.0, stub_timeout=300):
        self.model_repository = str(model_repository)
        self.ready_timeout = ready_timeout
        self.stub_timeout = int(stub_timeout)
        self.http_port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()
        self.process = None
        self._workdir = None
        self._log = None

    @property
    def http_url(self):
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc_url(self):
        return f"127.0.0.1:{self.grpc_port}"

    def log_text(self):
        if self._log is None or not os.path.exists(self._log):
            return ""
        with open(self._log, errors="replace") as fh:
            return fh.read()

    def _layout(self):
        root = _pytriton_root()
        work = tempfile.mkdtemp(prefix="merlin-mlm-triton-")
        for folder in ("bin", "backends", "caches"):
            shutil.copytree(os.path.join(root, folder), os.path.join(work, folder), symlinks=True)
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        stub = os.path.join(root, "python_backend_stubs", version, "triton_python_backend_stub")
        if not os.path.exists(stub):
            raise TritonError(f"nvidia-pytriton has no python backend stub for Python {version}")
        shutil.copy(stub, os.path.join(work, "backends", "python"))
        return work, root

    def start(self):
        work, root = self._layout()
        self._workdir = work
        self._log = os.path.join(work, "tritonserver.log")
        site = os.path.dirname(os.path.dirname(root))
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [
            os.path.join(site, "nvidia_pytriton.libs"), sysconfig.get_config_var("LIBDIR"), env.get("LD_LIBRARY_PATH")]))
        env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env.setdefault("PYTHONWARNINGS", "ignore")
        cmd = [os.path.join(work, "bin", "tritonserver"), f"--model-repository={self.model_repository}",
               f"--backend-directory={os.path.join(work, 'backends')}",
               f"--cache-directory={os.path.join(work, 'caches')}",
               "--http-address=127.0.0.1", f"--http-port={self.http_port}",
               "--grpc-address=127.0.0.1", f"--grpc-port={self.grpc_port}",
               "--metrics-address=127.0.0.1", f"--metrics-port={self.metrics_port}",
               "--allow-gpu-metrics=false", "--pinned-memory-pool-byte-size=0", "--exit-timeout-secs=5",
               # The python backend's shared-memory regions are named by a prefix, by default the
               # same for every server: two servers on one machine then share (and corrupt) each
               # other's regions (boost::interprocess::lock_exception).  One prefix per server.
               f"--backend-config=python,shm-region-prefix-name=merlin_mlm_{os.getpid()}_{self.http_port}_",
               # a stub that is slow to answer (a busy machine) is not declared dead after 30 s
               f"--backend-config=python,stub-timeout-seconds={self.stub_timeout}"]
        with open(self._log, "w") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True)
        self._wait_ready()
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + self.ready_timeout
        url = f"http://{self.http_url}/v2/health/ready"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise TritonError(f"tritonserver exited with code {self.process.returncode}; log:\n"
                                  f"{self.log_text()[-6000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        log = self.log_text()[-6000:]
        self.stop()
        raise TritonError(f"tritonserver not ready after {self.ready_timeout:.0f} s; log:\n{log}")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)  # the server and its backend stubs
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
