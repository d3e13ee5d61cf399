"""The ``merlin-mlm`` command: mask Parquet data on a Dask cluster, inspect masks, run the demo.

    merlin-mlm mask INPUT... --output DIR --column item_ids [--column ...] --prob 0.2 --seed N
                   [--key session_id] [--max-masked K] [--epochs E] [--workers N | --scheduler ADDR]
                   [--gpu] [--categorify] [--overwrite]
    merlin-mlm stats DIR [--plot FILE.png]
    merlin-mlm demo [--sessions N] [--output DIR]

Problems with the input (missing files, no Parquet, a missing or non-list column, an existing
output, an unreachable scheduler) end with a one-line ``merlin-mlm: error: ...`` and exit code 2.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

EXIT_USAGE = 2


def _mask_parser(sub):
    p = sub.add_parser("mask", help="mask list columns of Parquet data on a Dask cluster",
                       description="Read Parquet files, folders or globs; write E masked epochs as Parquet.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="Parquet files, folders or globs")
    p.add_argument("--output", "-o", required=True, help="output folder (written atomically)")
    p.add_argument("--column", "-c", dest="columns", action="append", required=True,
                   help="list column to mask (repeat for aligned sequence columns; the first holds the ids)")
    p.add_argument("--prob", type=float, default=0.2, help="masking probability (default 0.2)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: drawn once and printed)")
    p.add_argument("--key", help="column with one session id per row; masks then ignore partitioning")
    p.add_argument("--min-masked", type=int, default=1, help="minimum masked positions per row (default 1)")
    p.add_argument("--max-masked", type=int, default=None, help="maximum masked positions per row")
    p.add_argument("--pad-id", type=int, default=0, help="padding id, never masked (default 0)")
    p.add_argument("--epochs", type=int, default=1, help="independently masked copies to write (default 1)")
    p.add_argument("--categorify", action="store_true", help="encode the columns with Categorify first")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, help="local Dask workers (default 2)")
    where.add_argument("--scheduler", help="address of a running Dask scheduler")
    p.add_argument("--gpu", action="store_true", help="cuDF partitions on a dask_cuda.LocalCUDACluster")
    p.add_argument("--memory-limit", default="2GB", help="memory limit per local worker (default 2GB)")
    p.add_argument("--part-size", default="32MB", help="target partition size in memory (default 32MB)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def cmd_mask(args):
    from merlin_mlm_ops.jobs import MaskJob, run_mask_job, start_client, validate_job

    job = MaskJob(inputs=args.inputs, output=args.output, columns=args.columns, prob=args.prob,
                  seed=args.seed, key=args.key, min_masked=args.min_masked, max_masked=args.max_masked,
                  pad_id=args.pad_id, epochs=args.epochs, categorify=args.categorify, gpu=args.gpu,
                  overwrite=args.overwrite, part_size=args.part_size)
    validate_job(job)  # before starting a cluster; run_mask_job checks again for library callers
    client = start_client(args.workers, args.scheduler, args.gpu, args.memory_limit)
    bar = None
    try:
        def progress(done, total):
            nonlocal bar
            if args.no_progress:
                return
            if bar is None:
                from tqdm import tqdm

                bar = tqdm(total=total, unit="partition", desc="masking", file=sys.stderr)
            bar.update(done - bar.n)

        summary = run_mask_job(job, client, progress)
    finally:
        if bar is not None:
            bar.close()
        client.close()
    print(f"wrote {args.output}: {summary['rows']:,} rows x {summary['epochs']} epoch(s), "
          f"{summary['items']:,} items, {summary['partitions']} partitions")
    print(f"masked fraction {summary['masked_fraction']:.4f}, seed {summary['seed']}, "
          f"{summary['seconds']:.1f} s, {summary['rows_per_second']:,.0f} rows/s")
    return 0


def cmd_stats(args):
    from merlin_mlm_ops import report
    from merlin_mlm_ops.jobs import JobError

    if not os.path.isdir(args.path):
        raise JobError(f"not a folder: {args.path}")
    try:
        rep = report.collect(args.path, args.column)
    except (FileNotFoundError, ValueError) as exc:
        raise JobError(str(exc)) from None
    print("\n".join(report.summary_lines(rep)))
    if args.plot:
        report.plot(rep, args.plot)
        print(f"plot: {args.plot}")
    return 0


def cmd_demo(args):
    from merlin_mlm_ops.demo import run_demo

    run_demo(args.output, n_sessions=args.sessions, partitions=args.partitions, prob=args.prob, seed=args.seed)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="merlin-mlm", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _mask_parser(sub)
    st = sub.add_parser("stats", help="masked fraction, per-row counts and positions of a masked folder")
    st.add_argument("path", metavar="DIR")
    st.add_argument("--column", help="item column (default: from mlm-job.json)")
    st.add_argument("--plot", metavar="FILE.png", help="also draw a PNG figure")
    demo = sub.add_parser("demo", help="run the README's main job on synthetic sessions")
    demo.add_argument("--output", default="out/demo")
    demo.add_argument("--sessions", type=int, default=100_000)
    demo.add_argument("--partitions", type=int, default=4)
    demo.add_argument("--prob", type=float, default=0.2)
    demo.add_argument("--seed", type=int, default=42)
    return parser


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore")
    parser = build_parser()
    args = parser.parse_args(argv)
    from merlin_mlm_ops.jobs import JobError

    try:
        return {"mask": cmd_mask, "stats": cmd_stats, "demo": cmd_demo}[args.command](args)
    except JobError as exc:
        print(f"merlin-mlm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("merlin-mlm: interrupted; no output folder was completed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
