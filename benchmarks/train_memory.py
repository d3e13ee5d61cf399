"""Memory of a long BERT4Rec training: RSS after epoch 5 and after the last epoch, two protocols.

A small model trained for --epochs epochs on synthetic sessions, a fresh ETL mask every epoch
(MaskRandom(epoch=k), one distinct copy per epoch) and a validation every --every epochs
(next-item Recall@10/NDCG@10 with mm.SequenceMaskLast), as a user would train:

- one fit:       ``fit(EpochMasks(copies), epochs=E, pre=SequenceMaskPrecomputed(...),
                 validation_data=..., validation_freq=N, callbacks=[ValidationPre(mask_last)])``
- fit per epoch: E calls ``fit(Loader(copy k), epochs=1, pre=SequenceMaskPrecomputed(...))``
                 with a new pre and Loader each, and ``evaluate(pre=SequenceMaskLast(...))``
                 every N epochs

Each protocol runs in its own process (RSS is per process), side by side.  Prints RSS (MB) after epoch 5,
after the last epoch, their ratio, and the number of times the train and validation steps were
traced.  The protocol "fit per epoch, compile cache reset" turns off this package's fix of
merlin-models' compile-cache reset on every call (merlin_mlm_ops.tf.compat), to show the growth
it causes.

    python benchmarks/train_memory.py                  # 50 epochs, ~5 min on 2 cores
    python benchmarks/train_memory.py --write          # also rewrite the table in docs/training.md
    python benchmarks/train_memory.py --epochs 12      # quick
    python benchmarks/train_memory.py --protocols "fit per epoch, compile cache reset" --epochs 12
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore")

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "training.md")
SECTION = "## Memory over long training"
PROTOCOLS = ("one fit", "fit per epoch", "fit per epoch, compile cache reset")


def rss_mb():
    """Resident set size of this process in MB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def train(protocol, args, report):
    """Train with ``protocol``; ``report(epoch, rss)`` is called after every epoch (1-based).

    Returns ``(train traces, validation traces, last validation metrics)``.
    """
    import gc

    import merlin.models.tf as mm
    import tensorflow as tf
    from merlin.dataloader.tensorflow import Loader
    from merlin.io import Dataset

    from merlin_mlm_ops.tf import EpochMasks, SequenceMaskPrecomputed
    from merlin_mlm_ops.tf.epochs import ValidationPre
    from merlin_mlm_ops.tf.models import build_bert4rec
    from merlin_mlm_ops.data.toy import masked_epochs

    with tempfile.TemporaryDirectory() as tmp:
        datasets, schema = masked_epochs(tmp, args.epochs, sessions=args.sessions, n_items=args.items)
    seq = schema.select_by_name(["item_ids"])
    valid = Dataset(datasets[0].to_ddf().compute()[["item_ids"]].head(args.sessions // 4), cpu=True, schema=seq)
    tf.keras.utils.set_random_seed(0)
    model, bert = build_bert4rec(seq, dim=args.dim, layers=1)
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3), metrics=[mm.RecallAt(10), mm.NDCGAt(10)])
    traces = {"train": 0, "validation": 0}

    class Counting(SequenceMaskPrecomputed):  # Python runs in call() only while tracing
        def call(self, *a, **k):
            traces["train"] += 1
            return super().call(*a, **k)

    class CountingLast(mm.SequenceMaskLast):
        def call(self, *a, **k):
            traces["validation"] += 1
            return super().call(*a, **k)

    def mask_last():
        return CountingLast(schema=seq, target="item_ids", transformer=bert)

    metrics = {}
    if protocol == "one fit":
        class Report(tf.keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                metrics.update({k: v for k, v in (logs or {}).items() if k.startswith("val_")})
                gc.collect()
                report(epoch + 1, rss_mb())

        model.fit(EpochMasks(datasets, batch_size=args.batch_size, shuffle=True), epochs=args.epochs,
                  pre=Counting(schema, "item_ids", transformer=bert), verbose=0,
                  validation_data=Loader(valid, batch_size=args.batch_size), validation_freq=args.every,
                  callbacks=[ValidationPre(mask_last()), Report()])
    else:
        for epoch, ds in enumerate(datasets, start=1):
            model.fit(Loader(ds, batch_size=args.batch_size, shuffle=True), epochs=1, verbose=0,
                      pre=Counting(schema, "item_ids", transformer=bert))
            if epoch % args.every == 0:
                metrics = model.evaluate(Loader(valid, batch_size=args.batch_size), pre=mask_last(),
                                         return_dict=True, verbose=0)
            gc.collect()
            report(epoch, rss_mb())
    return traces["train"], traces["validation"], {k: round(float(v), 3) for k, v in metrics.items()
                                                    if "recall" in k or "ndcg" in k}


def child(protocol, args):
    if protocol.endswith("compile cache reset"):
        from merlin_mlm_ops.tf.compat import CompiledFunctions

        CompiledFunctions.enabled = False
    seen = {}
    t0 = time.perf_counter()

    def report(epoch, rss):
        seen[epoch] = rss
        print(f"  {protocol}, epoch {epoch:3d}: RSS {rss:7.0f} MB, {time.perf_counter() - t0:6.1f} s", file=sys.stderr, flush=True)

    train_traces, val_traces, metrics = train(protocol, args, report)
    first, last = seen[min(5, args.epochs)], seen[args.epochs]
    print(f"RESULT|{protocol}|{first:.0f}|{last:.0f}|{last / first:.3f}|{train_traces}|{val_traces}|"
          f"{time.perf_counter() - t0:.0f}|{metrics}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--every", type=int, default=5, help="validate every N epochs")
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--protocols", default=",".join(PROTOCOLS[:2]),
                        help=f"comma-separated, of: {', '.join(PROTOCOLS)}")
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/training.md (block train-memory)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args)

    # one process per protocol (RSS is per process), run side by side
    children = []
    for protocol in args.protocols.split(","):
        cmd = [sys.executable, __file__, "--child", protocol] + [a for a in (argv or sys.argv[1:]) if a != "--write"]
        children.append((protocol, subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)))
    rows = []
    for protocol, proc in children:
        out, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"protocol '{protocol}' failed (exit {proc.returncode})")
        rows.append(next(line for line in out.splitlines() if line.startswith("RESULT|")).split("|")[1:])
    e5 = min(5, args.epochs)
    lines = [f"| protocol | RSS after epoch {e5} (MB) | after epoch {args.epochs} (MB) | ratio | "
             "train step traced | validation traced | wall (s) | last validation |",
             "|---|---|---|---|---|---|---|---|"]
    for protocol, first, last, ratio, tt, vt, wall, metrics in rows:
        lines.append(f"| {protocol} | {first} | {last} | {ratio} | {tt}x | {vt}x | {wall} | {metrics} |")
    lines += ["", f"({args.epochs} epochs, a fresh mask every epoch, validation every {args.every}; "
              f"{args.sessions:,} sessions, d={args.dim}, 1 layer, batch {args.batch_size}; "
              f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} shared cores, wall times noisy.)"]
    print("\n" + "\n".join(lines))
    if args.write:
        from merlin_mlm_ops.doc_blocks import replace_block

        replace_block(DOC, "train-memory", "\n".join(lines), section=SECTION)
    return rows


if __name__ == "__main__":
    main()
