"""The ``merlin-mlm`` command: mask Parquet data on a Dask cluster, inspect masks, run the demo.

    merlin-mlm mask INPUT... --output DIR --column item_ids [--column ...] --prob 0.2 --seed N
                   [--key session_id] [--window MAX_LEN[:STEP]] [--last-ratio R] [--max-masked K]
                   [--replace MASK,RANDOM,KEEP [--vocab N | --vocab LOW:HIGH | --popularity]] [--epochs E]
                   [--workers N | --scheduler ADDR]
                   [--gpu] [--categorify] [--overwrite] [--resume] [--storage-options JSON] [--debug]
    merlin-mlm stats DIR [--plot FILE.png]
    merlin-mlm demo [--sessions N] [--output DIR]
    merlin-mlm doctor [--tf]      # versions, and which dependency fixes are active (docs/compat.md)
    merlin-mlm --version

Problems with the input or the output (missing files, a bad file anywhere in the input, an
existing or overlapping output, another run on the same output, a full disk, an unreachable
scheduler) end with a one-line ``merlin-mlm: error: ...`` and exit code 2.  SIGINT ends with
exit code 130, SIGTERM with 143, after stopping the workers and removing the temporary folder.
An unexpected failure prints one line and exits with 1.  ``--debug`` (or ``MERLIN_MLM_DEBUG=1``)
prints the full traceback instead.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
import warnings

EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
DEBUG_ENV = "MERLIN_MLM_DEBUG"


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that the job cleans up as for Ctrl-C."""


def _raise_terminated(signum, frame):
    raise Terminated()


def _mask_parser(sub, common):
    p = sub.add_parser("mask", parents=[common], help="mask list columns of Parquet data on a Dask cluster",
                       description="Read Parquet files, folders or globs; write E masked epochs as Parquet.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="Parquet files, folders or globs: local paths or fsspec URLs (s3://, gs://, ...)")
    p.add_argument("--output", "-o", required=True,
                   help="output folder or s3:// URL (written atomically; docs/object-storage.md)")
    p.add_argument("--column", "-c", dest="columns", action="append", required=True,
                   help="list column to mask (repeat for aligned sequence columns; the first holds the ids)")
    p.add_argument("--prob", type=float, default=0.2, help="masking probability (default 0.2)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: drawn once and printed)")
    p.add_argument("--key", help="column with one session id per row; masks then ignore partitioning")
    p.add_argument("--min-masked", type=int, default=1, help="minimum masked positions per row (default 1)")
    p.add_argument("--max-masked", type=int, default=None, help="maximum masked positions per row")
    p.add_argument("--pad-id", type=int, default=0, help="padding id, never masked (default 0)")
    p.add_argument("--epochs", type=int, default=1, help="independently masked copies to write (default 1)")
    p.add_argument("--window", type=_window, default=None, metavar="MAX_LEN[:STEP]",
                   help="cut rows longer than MAX_LEN into BERT4Rec's sliding windows before masking (STEP "
                        "default MAX_LEN // 2; needs --key; masks are then keyed by <key>_window)")
    p.add_argument("--last-ratio", type=float, default=0.0,
                   help="share of rows masked on their last item only, per epoch (RecBole's ft_ratio; default 0)")
    p.add_argument("--replace", default=None, metavar="MASK,RANDOM,KEEP",
                   help="BERT's corruption of the masked positions, e.g. 0.8,0.1,0.1: [MASK], a random item, "
                        "the item kept; writes the input ids as <column>_input beside the mask")
    p.add_argument("--vocab", default=None, metavar="N|LOW:HIGH",
                   help="ids the random items of --replace are drawn from, uniformly: [LOW, HIGH), or N for "
                        "[0, N); never --pad-id (default: the ids Categorify assigned to real items)")
    p.add_argument("--popularity", action="store_true",
                   help="draw the random items of --replace by popularity, with the item counts of "
                        "Categorify's fit (needs --categorify)")
    p.add_argument("--categorify", action="store_true", help="encode the columns with Categorify first")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, help="local Dask workers (default 2)")
    where.add_argument("--scheduler", help="address of a running Dask scheduler")
    p.add_argument("--gpu", action="store_true", help="cuDF partitions on a dask_cuda.LocalCUDACluster")
    p.add_argument("--memory-limit", default="2GB", help="memory limit per local worker (default 2GB)")
    p.add_argument("--part-size", default="32MB",
                   help="target size of a partition in memory, estimated from the Parquet footers; a "
                        "partition is whole row groups of one file (default 32MB)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output folder (only the output of an earlier job, or an empty folder)")
    p.add_argument("--resume", action="store_true",
                   help="keep the verified partitions of an interrupted run with the same arguments")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--storage-options", metavar="JSON", default=None,
                   help="fsspec options for URL inputs and output, as pandas and Dask spell them "
                        "(default: each filesystem's own configuration, e.g. the AWS_* environment)")


def _window(text):
    """``MAX_LEN[:STEP]`` as ``(max_len, step)``; STEP defaults to MAX_LEN // 2 (BERT4Rec's 0.5)."""
    parts = text.split(":")
    try:
        if len(parts) > 2:
            raise ValueError
        max_len = int(parts[0])
        step = int(parts[1]) if len(parts) == 2 else max(1, max_len // 2)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MAX_LEN or MAX_LEN:STEP (integers), got {text!r}") from None
    return max_len, step


def _numbers(option, text, cast, sep, counts, expected):
    """``text`` split at ``sep`` into ``counts`` numbers made by ``cast``, or a one-line JobError naming
    ``option`` (the values are checked with MaskRandom's rules in validate_job)."""
    from merlin_mlm_ops.errors import JobError

    try:
        values = tuple(cast(x) for x in text.split(sep))
    except ValueError:
        values = ()
    if len(values) not in counts:
        raise JobError(f"{option}: expected {expected}, got {text!r}")
    return values


def _replace(text):
    """``--replace MASK,RANDOM,KEEP`` as three floats (None when not given)."""
    if text is None:
        return None
    return _numbers("--replace", text, float, ",", (3,), "MASK,RANDOM,KEEP (three numbers, e.g. 0.8,0.1,0.1)")


def _vocab(text):
    """``--vocab N`` as ``(0, N)``, ``LOW:HIGH`` as ``(LOW, HIGH)`` (None when not given)."""
    if text is None:
        return None
    bounds = _numbers("--vocab", text, int, ":", (1, 2), "N or LOW:HIGH (integers)")
    return (0, bounds[0]) if len(bounds) == 1 else bounds


def cmd_mask(args):
    from merlin_mlm_ops.job.output import OutputLock
    from merlin_mlm_ops.job.run import MaskJob, close_client, run_mask_job, start_client, validate_job
    from merlin_mlm_ops.job.storage import is_url, parse_storage_options

    job = MaskJob(inputs=args.inputs, output=args.output, columns=args.columns, prob=args.prob,
                  seed=args.seed, key=args.key, min_masked=args.min_masked, max_masked=args.max_masked,
                  pad_id=args.pad_id, epochs=args.epochs, categorify=args.categorify, gpu=args.gpu,
                  overwrite=args.overwrite, part_size=args.part_size, window=args.window,
                  last_ratio=args.last_ratio, replace=_replace(args.replace), vocab=_vocab(args.vocab), popularity=args.popularity,
                  storage_options=parse_storage_options(args.storage_options))
    checked = validate_job(job)  # every input footer, before the lock and the cluster
    bar = None

    def progress(done, total):
        nonlocal bar
        if args.no_progress:
            return
        if bar is None:
            from merlin_mlm_ops.job.plain import progress_bar

            bar = progress_bar(total)
        bar.update(done - bar.n)

    def log(line):
        print(f"merlin-mlm: {line}", file=sys.stderr)

    if is_url(job.output):  # an object store: a lease object instead of flock (job/remote.py)
        from merlin_mlm_ops.job.remote import run_remote_job as run_job, take_lease

        owner = take_lease(job)
    else:
        owner, run_job = OutputLock(job.output), run_mask_job
    with owner as lock:
        client = start_client(args.workers, args.scheduler, args.gpu, args.memory_limit, quiet=not args.debug)
        try:
            summary = run_job(job, client, progress, resume=args.resume, log=log, lock=lock, checked=checked)
        finally:
            if bar is not None:
                bar.close()
            close_client(client)
    print(f"wrote {args.output}: {summary['rows']:,} rows x {summary['epochs']} epoch(s), "
          f"{summary['items']:,} items, {summary['partitions']} partitions")
    print(f"masked fraction {summary['masked_fraction']:.4f}, seed {summary['seed']}, "
          f"{summary['seconds']:.1f} s, {summary['rows_per_second']:,.0f} rows/s")
    return 0


def cmd_stats(args):
    from merlin_mlm_ops.job import report
    from merlin_mlm_ops.errors import JobError

    from merlin_mlm_ops.job.storage import is_url, parse_storage_options

    if not is_url(args.path) and not os.path.isdir(args.path):
        raise JobError(f"not a folder: {args.path}")
    try:
        rep = report.collect(args.path, args.column, storage_options=parse_storage_options(args.storage_options))
    except (FileNotFoundError, ValueError) as exc:
        raise JobError(str(exc)) from None
    print("\n".join(report.summary_lines(rep)))
    if args.plot:
        report.plot(rep, args.plot)
        print(f"plot: {args.plot}")
    return 0


def cmd_demo(args):
    from merlin_mlm_ops.job.demo import run_demo

    run_demo(args.output, n_sessions=args.sessions, partitions=args.partitions, prob=args.prob, seed=args.seed)
    return 0


#: Distributions whose versions ``merlin-mlm doctor`` prints.
DOCTOR_DISTRIBUTIONS = ("merlin-core", "nvtabular", "merlin-dataloader", "merlin-models", "merlin-systems",
                        "tensorflow", "tensorflow-cpu", "torch", "transformers4rec", "pandas", "numpy", "pyarrow",
                        "dask", "distributed", "numba", "cupy-cuda12x", "cudf")


def cmd_doctor(args):
    """Print the versions that matter and the state of every dependency fix in a process that
    imported the operators (as ``merlin-mlm mask`` does); ``--tf`` also imports the merlin-models
    integration (TensorFlow: slower)."""
    import merlin_mlm_ops
    import merlin_mlm_ops.ops  # noqa: F401 - applies the operators' fixes, as every job does
    from merlin_mlm_ops.compat.registry import ENV_VAR, status_lines, version_of

    if args.tf:
        import merlin_mlm_ops.tf.merlin_models  # noqa: F401
    print(f"merlin-mlm-ops {merlin_mlm_ops.__version__}")
    for name in DOCTOR_DISTRIBUTIONS:
        version = version_of(name)
        if version is not None:
            print(f"  {name:<18} {version}")
    print(f"dependency fixes ({ENV_VAR}={os.environ.get(ENV_VAR, '')!r}):")
    print("\n".join(status_lines()))
    return 0


def build_parser():
    from merlin_mlm_ops import __version__

    parser = argparse.ArgumentParser(prog="merlin-mlm", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"merlin-mlm-ops {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=os.environ.get(DEBUG_ENV, "") not in ("", "0"),
                        help=f"print full tracebacks (also: {DEBUG_ENV}=1)")
    sub = parser.add_subparsers(dest="command", required=True)
    _mask_parser(sub, common)
    st = sub.add_parser("stats", parents=[common],
                        help="masked fraction, per-row counts and positions of a masked folder")
    st.add_argument("path", metavar="DIR")
    st.add_argument("--column", help="item column (default: from mlm-job.json)")
    st.add_argument("--plot", metavar="FILE.png", help="also draw a PNG figure")
    st.add_argument("--storage-options", metavar="JSON", default=None, help="fsspec options for a URL DIR")
    demo = sub.add_parser("demo", parents=[common], help="the main job on synthetic sessions (docs/job.md)")
    demo.add_argument("--output", default="out/demo")
    demo.add_argument("--sessions", type=int, default=100_000)
    demo.add_argument("--partitions", type=int, default=4)
    demo.add_argument("--prob", type=float, default=0.2)
    demo.add_argument("--seed", type=int, default=42)
    doctor = sub.add_parser("doctor", parents=[common], help="versions, and which dependency fixes are active")
    doctor.add_argument("--tf", action="store_true", help="also import the merlin-models integration (TensorFlow)")
    return parser


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore")
    parser = build_parser()
    args = parser.parse_args(argv)
    from merlin_mlm_ops.errors import JobError

    # Schedulers and containers stop a job with SIGTERM: clean up as for Ctrl-C (signal handlers
    # can only be set from the main thread; elsewhere SIGTERM keeps its default action).
    handles_sigterm = _is_main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if handles_sigterm else None
    try:
        return {"mask": cmd_mask, "stats": cmd_stats, "demo": cmd_demo, "doctor": cmd_doctor}[args.command](args)
    except JobError as exc:
        if args.debug:
            traceback.print_exc()
            if exc.detail:
                print(exc.detail, file=sys.stderr)
        print(f"merlin-mlm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("merlin-mlm: interrupted (SIGINT); workers stopped, no output folder was completed", file=sys.stderr)
        return EXIT_SIGINT
    except Terminated:
        print("merlin-mlm: terminated (SIGTERM); workers stopped, no output folder was completed", file=sys.stderr)
        return EXIT_SIGTERM
    except Exception as exc:  # noqa: BLE001 - a bug or an unforeseen failure: one line unless --debug
        if args.debug:
            raise
        text = str(exc).strip().splitlines()
        print(f"merlin-mlm: unexpected error: {type(exc).__name__}: {text[0] if text else ''} "
              f"(rerun with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        if handles_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _is_main_thread():
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
