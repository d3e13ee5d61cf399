"""Object-store benchmark: the masking job on local disk and on an S3-protocol server, 1 and 2 workers.

Starts moto in server mode on 127.0.0.1 (a real S3 protocol over HTTP, in this process), puts the
sessions of benchmarks/scale.py there, runs the same job (`merlin-mlm mask` semantics: read,
MaskRandom with a key, write E epochs) from local disk to local disk and from s3:// to s3:// on a
LocalCluster of 1 and of 2 worker processes, and prints seconds, rows/s, the S3/local ratios and the
requests the server answered per partition (by method), which docs/object-storage.md turns into
request rates for 100 workers.  With --write it puts the table into docs/object-storage.md.

    python benchmarks/object_store.py                     # 500k sessions
    python benchmarks/object_store.py --sessions 100000   # quicker
"""
from __future__ import annotations

import argparse
import collections
import logging
import os
import re
import socket
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONWARNINGS", "ignore")
warnings.filterwarnings("ignore")

sys.path.insert(0, os.path.dirname(__file__))
from scale import generate  # noqa: E402

from merlin_mlm_ops.doc_blocks import replace_block  # noqa: E402

DOCS = os.path.join(os.path.dirname(__file__), "..", "docs", "object-storage.md")
BLOCK = "object-store-benchmark"


class RequestCounter(logging.Handler):
    """Counts the requests moto's server logs (``"GET /bucket/key HTTP/1.1" 200``) by method."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.counts = collections.Counter()

    def emit(self, record):
        text = re.sub(r"\x1b\[[0-9;]*m", "", record.getMessage())  # werkzeug colours the status
        if '"' in text:
            self.counts[text.split('"', 2)[1].split(" ", 1)[0]] += 1


def start_server():
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="bench",
                      AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    return server


def run(workers, data, out, epochs, part_size, counter=None):
    from distributed import Client, LocalCluster

    from merlin_mlm_ops.job.remote import run_remote_job
    from merlin_mlm_ops.job.run import MaskJob, run_mask_job
    from merlin_mlm_ops.job.storage import is_url

    job = MaskJob(inputs=[data], output=out, columns=["item_ids"], prob=0.2, seed=1, key="session_id",
                  epochs=epochs, overwrite=True, part_size=part_size)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit="2GB",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.run(lambda: __import__("merlin_mlm_ops.ops.mask_random"))  # imports outside the timing
        if counter is not None:
            counter.counts.clear()
        run_job = run_remote_job if is_url(out) else run_mask_job  # as `merlin-mlm mask` chooses
        return run_job(job, client), dict(counter.counts) if counter is not None else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=500_000)
    parser.add_argument("--chunk", type=int, default=100_000,
                        help="sessions per input file (row groups of 50,000: at least 2 per file)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--part-size", default="8MB", help="below one file's size, to count requests per partition")
    parser.add_argument("--dir", default="/tmp/merlin-mlm-object-store")
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/object-storage.md")
    args = parser.parse_args(argv)

    import fsspec

    data = os.path.join(args.dir, f"sessions_{args.sessions}")
    generate(data, args.sessions, args.chunk)
    server = start_server()
    counter = RequestCounter()
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.setLevel(logging.INFO)
    werkzeug.handlers[:] = [counter]
    werkzeug.propagate = False
    try:
        fs = fsspec.filesystem("s3", skip_instance_cache=True)
        fs.mkdir("bench")
        fs.put(data + "/", "s3://bench/sessions/", recursive=True)
        results = {}
        for workers in (1, 2):
            local, _ = run(workers, data, os.path.join(args.dir, f"out_{workers}"), args.epochs, args.part_size)
            remote, counts = run(workers, "s3://bench/sessions", f"s3://bench/out_{workers}", args.epochs,
                                 args.part_size, counter)
            results[workers] = (local, remote)
            print(f"{workers} worker(s): local disk {local['seconds']:.1f} s ({local['rows_per_second']:,.0f} rows/s), "
                  f"S3 server {remote['seconds']:.1f} s ({remote['rows_per_second']:,.0f} rows/s), "
                  f"S3/local time {remote['seconds'] / local['seconds']:.2f}x, {remote['partitions']} partitions")
        # Requests per partition: the difference between two runs that differ only in partition count
        # (the client's fixed requests, the lease, the listings and the commit, cancel out).
        whole, whole_counts = run(2, "s3://bench/sessions", "s3://bench/out_whole", args.epochs, "100GB", counter)
        extra = remote["partitions"] - whole["partitions"]
        if extra <= 0:
            raise SystemExit("--part-size must cut the files into several partitions to count requests per partition")
        per_part = {m: (counts.get(m, 0) - whole_counts.get(m, 0)) / extra
                    for m in sorted(set(whole_counts) | set(counts))}
        requests = ", ".join(f"{m} {n:.1f}" for m, n in per_part.items() if abs(n) >= 0.05)
        print(f"requests per partition ({args.epochs} epochs; {remote['partitions']} vs {whole['partitions']} "
              f"partitions): {requests}; in all, with {remote['partitions']} partitions: "
              f"{', '.join(f'{m} {n}' for m, n in sorted(counts.items()))}")
    finally:
        server.stop()
    if args.write:
        lines = [f"Measured {time.strftime('%Y-%m-%d')} with `python benchmarks/object_store.py --write` "
                 f"({os.cpu_count()} cores, moto's S3 server in the client process): {args.sessions:,} sessions, "
                 f"MaskRandom with a key, {args.epochs} epochs written, LocalCluster worker processes.", "",
                 "| workers | local disk s | S3 server s | S3 / local | partitions |",
                 "|---:|---:|---:|---:|---:|"]
        for workers, (local, remote) in results.items():
            lines.append(f"| {workers} | {local['seconds']:.1f} | {remote['seconds']:.1f} | "
                         f"{remote['seconds'] / local['seconds']:.2f}x | {remote['partitions']} |")
        lines += ["", f"Requests per partition the S3 server answered ({args.epochs} epochs): {requests}."]
        replace_block(DOCS, BLOCK, "\n".join(lines), section="## Measured: local disk against an S3 server")
        print(f"wrote {os.path.normpath(DOCS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
