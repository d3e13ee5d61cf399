"""Time per training epoch: ETL masks through one fit (EpochMasks) against in-graph masking, in one run.

The same BERT4Rec, data, batch size and epochs, three ways, interleaved over --rounds:

- in-graph:        one ``fit(loader, epochs=E, pre=mm.SequenceMaskRandom(...))``
- ETL, one fit:    one ``fit(EpochMasks(masked copies), epochs=E, pre=SequenceMaskPrecomputed(...))``
- ETL, fit/epoch:  E calls ``fit(Loader(copy k), epochs=1, pre=SequenceMaskPrecomputed(...))``
                   (the protocol before EpochMasks)

Prints the median time of epochs 2..E (steady state), the first epoch (tracing) and the wall
time of the whole training, and their ratios to in-graph masking.

    python benchmarks/train_epochs.py                       # ~2 min on 2 cores
    python benchmarks/train_epochs.py --sessions 500 --epochs 3 --rounds 1   # quick
    python benchmarks/train_epochs.py --write    # also rewrite the table in docs/training.md
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore")


class EpochTimer:
    """A Keras callback collecting the wall time of each epoch."""

    def __new__(cls):
        import tensorflow as tf

        class _Timer(tf.keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times = []

            def on_epoch_begin(self, epoch, logs=None):
                self._t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.times.append(time.perf_counter() - self._t)

        return _Timer()


def build(schema, args):
    import tensorflow as tf

    from merlin_mlm_ops.tf.models import build_bert4rec

    tf.keras.utils.set_random_seed(0)
    model, bert = build_bert4rec(schema.select_by_name(["item_ids"]), dim=args.dim, layers=args.layers)
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3))
    return model, bert


def in_graph(datasets, schema, args):
    import merlin.models.tf as mm
    from merlin.dataloader.tensorflow import Loader
    from merlin.io import Dataset

    seq = schema.select_by_name(["item_ids"])
    plain = Dataset(datasets[0].to_ddf().compute()[["item_ids"]], cpu=True, schema=seq)
    model, bert = build(schema, args)
    timer = EpochTimer()
    pre = mm.SequenceMaskRandom(schema=seq, target="item_ids", masking_prob=args.prob, transformer=bert)
    model.fit(Loader(plain, batch_size=args.batch_size, shuffle=True), epochs=args.epochs, pre=pre, verbose=0,
              callbacks=[timer])
    return timer.times


def etl_one_fit(datasets, schema, args):
    from merlin_mlm_ops.tf import EpochMasks, SequenceMaskPrecomputed

    model, bert = build(schema, args)
    timer = EpochTimer()
    model.fit(EpochMasks(datasets, batch_size=args.batch_size, shuffle=True), epochs=args.epochs,
              pre=SequenceMaskPrecomputed(schema, "item_ids", transformer=bert), verbose=0, callbacks=[timer])
    return timer.times


def etl_fit_per_epoch(datasets, schema, args):
    from merlin.dataloader.tensorflow import Loader

    from merlin_mlm_ops.tf import SequenceMaskPrecomputed

    model, bert = build(schema, args)
    times = []
    for ds in datasets:
        t = time.perf_counter()
        model.fit(Loader(ds, batch_size=args.batch_size, shuffle=True), epochs=1, verbose=0,
                  pre=SequenceMaskPrecomputed(schema, "item_ids", transformer=bert))
        times.append(time.perf_counter() - t)
    return times


VARIANTS = {"in-graph SequenceMaskRandom": in_graph, "ETL masks, one fit (EpochMasks)": etl_one_fit,
            "ETL masks, one fit per epoch": etl_fit_per_epoch}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3000)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved repetitions of the three variants")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--prob", type=float, default=0.3)
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/training.md (block train-epochs)")
    args = parser.parse_args(argv)

    from merlin_mlm_ops.data.toy import masked_epochs

    with tempfile.TemporaryDirectory() as tmp:
        datasets, schema = masked_epochs(tmp, args.epochs, sessions=args.sessions, n_items=args.items,
                                         prob=args.prob, mean_length=12, max_length=20)
        times = {name: [] for name in VARIANTS}
        for _ in range(args.rounds):
            for name, run in VARIANTS.items():
                times[name].append(run(datasets, schema, args))
    rows = {}
    for name, runs in times.items():
        steady = statistics.median(t for run in runs for t in run[1:])
        first = statistics.median(run[0] for run in runs)
        total = statistics.median(sum(run) for run in runs)
        rows[name] = (steady, first, total)
    base = rows["in-graph SequenceMaskRandom"]
    lines = ["| variant | epoch 2.. (median, s) | first epoch (s) | whole training (s) | epoch ratio | whole ratio |",
             "|---|---|---|---|---|---|"]
    for name, (steady, first, total) in rows.items():
        lines.append(f"| {name} | {steady:.2f} | {first:.2f} | {total:.1f} | {steady / base[0]:.2f}x | "
                     f"{total / base[2]:.2f}x |")
    lines += ["", f"({args.sessions:,} sessions, {args.epochs} epochs, batch {args.batch_size}, d={args.dim}, "
              f"{args.layers} layers; median over {args.rounds} interleaved round(s); ratios to in-graph masking; "
              f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} shared cores, noisy.)"]
    print("\n".join(lines))
    if args.write:
        from merlin_mlm_ops.doc_blocks import replace_block

        doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "training.md")
        replace_block(doc, "train-epochs", "\n".join(lines), section="## Time per epoch")
    return rows


if __name__ == "__main__":
    main()
