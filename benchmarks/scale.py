"""Scale benchmark: the masking job on 1 and on 2 Dask workers over >= 5M sessions on disk.

Generates the sessions as Parquet files (in chunks, never all in memory), runs the same job
(`merlin-mlm mask` semantics: read, MaskRandom with a key, write 2 epochs) on a LocalCluster of
1 and of 2 worker processes with a 2 GB memory limit each, samples every worker's resident
memory while it runs, and prints rows/s, the speed-up, and the peak memory per worker.  With
--write it puts the table into docs/benchmarks.md.

    python benchmarks/scale.py                       # 5M sessions under /tmp/merlin-mlm-scale
    python benchmarks/scale.py --sessions 1000000    # quicker
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONWARNINGS", "ignore")
warnings.filterwarnings("ignore")

from merlin_mlm_ops.doc_blocks import replace_block  # noqa: E402

DOCS = os.path.join(os.path.dirname(__file__), "..", "docs", "benchmarks.md")
BLOCK = "scale-benchmark"


def generate(path, sessions, chunk):
    from merlin_mlm_ops.data.parquet import write_partitioned
    from merlin_mlm_ops.data.synthetic import make_sessions

    if os.path.exists(os.path.join(path, "_complete")):
        return
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    for i, lo in enumerate(range(0, sessions, chunk)):
        df = make_sessions(min(chunk, sessions - lo), n_items=100_000, seed=i)
        df["session_id"] += lo
        write_partitioned(df[["session_id", "item_ids"]], os.path.join(path, f"chunk_{i:04d}"), 1,
                          row_group_size=50_000)
    open(os.path.join(path, "_complete"), "w").close()


class PeakMemory:
    """Samples the RSS of every worker process of a client every ``interval`` seconds."""

    def __init__(self, client, interval=0.5):
        self.client, self.interval, self.peak = client, interval, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import psutil

        while not self._stop.is_set():
            try:
                for addr, rss in self.client.run(lambda: psutil.Process().memory_info().rss).items():
                    self.peak[addr] = max(self.peak.get(addr, 0), rss)
            except Exception:  # noqa: BLE001 - a worker restarting between samples
                pass
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run(workers, data, out, memory_limit, epochs, part_size):
    from distributed import Client, LocalCluster

    from merlin_mlm_ops.job.run import MaskJob, run_mask_job

    job = MaskJob(inputs=[data], output=out, columns=["item_ids"], prob=0.2, seed=1, key="session_id",
                  epochs=epochs, overwrite=True, part_size=part_size)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.run(lambda: __import__("merlin_mlm_ops.ops.mask_random"))  # imports outside the timing
        import psutil

        baseline = max(client.run(lambda: psutil.Process().memory_info().rss).values())
        print(f"  worker RSS after imports: {baseline / 2**30:.2f} GiB")
        with PeakMemory(client) as mem:
            summary = run_mask_job(job, client)
    return summary, max(mem.peak.values()) if mem.peak else float("nan")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5_000_000)
    parser.add_argument("--chunk", type=int, default=250_000, help="sessions per input file")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--part-size", default="16MB", help="Dataset partition size (default 16MB)")
    parser.add_argument("--dir", default="/tmp/merlin-mlm-scale")
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/benchmarks.md")
    args = parser.parse_args(argv)

    data = os.path.join(args.dir, f"sessions_{args.sessions}")
    t = time.perf_counter()
    generate(data, args.sessions, args.chunk)
    print(f"data: {args.sessions:,} sessions in {args.sessions // args.chunk} files under {data} "
          f"(generated in {time.perf_counter() - t:.0f} s or reused)")
    results = {}
    for workers in (1, 2):
        summary, peak = run(workers, data, os.path.join(args.dir, f"out_{workers}"), args.memory_limit, args.epochs, args.part_size)
        results[workers] = (summary, peak)
        print(f"{workers} worker(s): {summary['seconds']:.1f} s, {summary['rows_per_second']:,.0f} rows/s "
              f"({summary['rows']:,} rows x {args.epochs} epochs, {summary['partitions']} partitions), "
              f"peak worker memory {peak / 2**30:.2f} GiB (limit {args.memory_limit})")
    speedup = results[1][0]["seconds"] / results[2][0]["seconds"]
    print(f"speed-up 2 vs 1 worker: {speedup:.2f}x")
    if args.write:
        lines = [f"Measured {time.strftime('%Y-%m-%d')} with `python benchmarks/scale.py --write` "
                 f"({os.cpu_count()} cores): {args.sessions:,} sessions (mean length 25) in "
                 f"{args.sessions // args.chunk} Parquet files, MaskRandom with a key, {args.epochs} epochs "
                 f"written, LocalCluster worker processes with a {args.memory_limit} memory limit.", "",
                 "| workers | seconds | rows/s (all epochs) | peak RSS per worker |", "|---:|---:|---:|---:|"]
        for workers, (summary, peak) in results.items():
            lines.append(f"| {workers} | {summary['seconds']:.1f} | {summary['rows_per_second']:,.0f} | "
                         f"{peak / 2**30:.2f} GiB |")
        lines += ["", f"Speed-up, 2 workers against 1: {speedup:.2f}x."]
        replace_block(DOCS, BLOCK, "\n".join(lines), section="## Scale: the masking job on Dask workers")
        print(f"wrote {os.path.normpath(DOCS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
