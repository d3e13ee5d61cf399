"""BERT4Rec on masks precomputed in the ETL, against in-graph masking and a popularity baseline.

1. Synthetic sessions with learnable structure: item i is followed by item i + 1 with
   probability --transition, else by a Zipf-popular item.
2. ETL with NVTabular: Categorify, then MaskRandom (one differently masked copy per training
   epoch, `epoch=k`).  Each session's last item is held out for evaluation.
3. A small merlin-models BERT4Rec trained in one `model.fit(EpochMasks(...), pre=SequenceMaskPrecomputed(...))`
   on the ETL masks (the k-th mask in epoch k), and the same model trained with `pre=mm.SequenceMaskRandom(...)` on the
   same data, epochs and seeds.
4. Next-item evaluation of the held-out last item with `pre=mm.SequenceMaskLast(...)`:
   Recall@10 and NDCG@10 for both, and for the most-popular baseline, over several seeds
   (mean and standard deviation: the run-to-run spread).

    python examples/bert4rec.py                 # default size, a few minutes on 2 cores
    python examples/bert4rec.py --seeds 1 --epochs 3 --sessions 600   # a quick look
    python examples/bert4rec.py --write         # also rewrite the table in docs/training.md
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402


def prepare(args, workdir):
    """ETL: encode items, hold out the last item, precompute one mask per epoch."""
    import nvtabular as nvt
    import pandas as pd
    from merlin.dag import ColumnSelector
    from merlin.io import Dataset
    from merlin.schema import Tags

    from merlin_mlm_ops import MaskRandom
    from merlin_mlm_ops.data.synthetic import make_sessions

    df = make_sessions(args.sessions, n_items=args.items, mean_length=args.mean_length, min_length=3,
                       max_length=args.max_length, transition=args.transition, seed=args.data_seed)
    df = df[["session_id", "item_ids"]].reset_index(drop=True)
    encode = nvt.Workflow(["session_id"] + (["item_ids"] >> nvt.ops.Categorify(out_path=workdir)
                                            >> nvt.ops.AddTags([Tags.ITEM_ID, Tags.SEQUENCE])))
    full = encode.fit_transform(Dataset(df, cpu=True)).to_ddf().compute().reset_index(drop=True)
    train = full.assign(item_ids=[r[:-1] for r in full["item_ids"]])  # the last item is held out
    schema = encode.output_schema
    masked_epochs = []
    for epoch in range(args.epochs):
        op = MaskRandom(prob=args.prob, seed=args.mask_seed, key="session_id", epoch=epoch)
        out = op.transform(ColumnSelector(["item_ids"]), train)
        masked_epochs.append(pd.concat([train[["session_id"]], out], axis=1))
    mask_schema = nvt.Workflow(["session_id"] + (["item_ids"] >> MaskRandom(seed=0, key="session_id")))
    mask_schema.fit_schema(schema)
    return {
        "schema": schema,
        "train": train,
        "test": full,
        "masked": [Dataset(m, cpu=True, schema=mask_schema.output_schema) for m in masked_epochs],
        # the model's features only: stock merlin-models does not always narrow a Loader itself
        "train_ds": Dataset(train[["item_ids"]], cpu=True, schema=schema.select_by_name(["item_ids"])),
        "test_ds": Dataset(full[["item_ids"]], cpu=True, schema=schema.select_by_name(["item_ids"])),
        "cardinality": int(schema["item_ids"].int_domain.max) + 1,
    }


def build_model(schema, args, seed):
    import merlin.models.tf as mm
    import tensorflow as tf

    from merlin_mlm_ops.tf.models import build_bert4rec

    tf.keras.utils.set_random_seed(seed)
    seq_schema = schema.select_by_name(["item_ids"])
    model, bert = build_bert4rec(seq_schema, dim=args.dim, layers=args.layers)
    model.compile(optimizer=tf.keras.optimizers.Adam(args.lr), metrics=[mm.RecallAt(10), mm.NDCGAt(10)])
    return model, bert, seq_schema


def evaluate(model, bert, seq_schema, data, args):
    import merlin.models.tf as mm
    from merlin.dataloader.tensorflow import Loader

    loader = Loader(data["test_ds"], batch_size=args.batch_size, shuffle=False)
    metrics = model.evaluate(loader, pre=mm.SequenceMaskLast(schema=seq_schema, target="item_ids", transformer=bert),
                             return_dict=True, verbose=0)
    return metrics["recall_at_10"], metrics["ndcg_at_10"]


def train_precomputed(data, args, seed):
    from merlin_mlm_ops.tf import EpochMasks, SequenceMaskPrecomputed

    model, bert, seq_schema = build_model(data["schema"], args, seed)
    # One fit; EpochMasks serves the k-th precomputed mask in epoch k (a fresh ETL mask every epoch).
    loader = EpochMasks(data["masked"], batch_size=args.batch_size, shuffle=True, seed_fn=lambda: seed)
    pre = SequenceMaskPrecomputed(loader.input_schema.select_by_name(["item_ids", "item_ids_mask"]), "item_ids",
                                  transformer=bert)
    losses = model.fit(loader, epochs=args.epochs, pre=pre, verbose=0).history["loss"]
    return evaluate(model, bert, seq_schema, data, args), losses


def train_in_graph(data, args, seed):
    import merlin.models.tf as mm
    from merlin.dataloader.tensorflow import Loader

    model, bert, seq_schema = build_model(data["schema"], args, seed)
    loader = Loader(data["train_ds"], batch_size=args.batch_size, shuffle=True, seed_fn=lambda: seed)
    pre = mm.SequenceMaskRandom(schema=seq_schema, target="item_ids", masking_prob=args.prob, transformer=bert)
    losses = model.fit(loader, epochs=args.epochs, pre=pre, verbose=0).history["loss"]
    return evaluate(model, bert, seq_schema, data, args), losses


def most_popular(data):
    """Recall@10 / NDCG@10 of recommending the 10 most frequent training items to everyone."""
    counts = np.bincount(np.concatenate(data["train"]["item_ids"].to_numpy()), minlength=data["cardinality"])
    counts[:3] = 0  # padding, null and out-of-vocabulary ids
    top = np.argsort(-counts, kind="stable")[:10]
    last = np.array([r[-1] for r in data["test"]["item_ids"]])
    rank = np.full(len(last), -1)
    for position, item in enumerate(top):
        rank[last == item] = position
    hit = rank >= 0
    return hit.mean(), np.where(hit, 1.0 / np.log2(rank + 2), 0.0).mean()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3000)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--mean-length", type=float, default=12.0)
    parser.add_argument("--max-length", type=int, default=20)
    parser.add_argument("--transition", type=float, default=0.8)
    parser.add_argument("--prob", type=float, default=0.3, help="masking probability")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=5, help="training runs per variant")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--mask-seed", type=int, default=1)
    parser.add_argument("--workdir", default="out/bert4rec")
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/training.md (block bert4rec-table)")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    os.makedirs(args.workdir, exist_ok=True)
    data = prepare(args, args.workdir)
    print(f"{args.sessions:,} sessions, {data['cardinality'] - 3} items, {args.epochs} epochs, "
          f"{args.seeds} seed(s); ETL with {args.epochs} precomputed masks in {time.perf_counter() - t0:.1f} s")
    results = {"most popular": [most_popular(data)]}
    seconds = {}  # training + evaluation wall time per variant (by its short label), all seeds
    variants = (("BERT4Rec, ETL masks (MaskRandom)", "ETL masks", train_precomputed),
                ("BERT4Rec, in-graph SequenceMaskRandom", "in-graph SequenceMaskRandom", train_in_graph))
    for name, label, _ in variants:
        results[name], seconds[label] = [], 0.0
    for seed in range(args.seeds):
        # Alternate which variant goes first, so neither always pays TensorFlow's one-time set-up.
        for name, label, train in (variants if seed % 2 == 0 else variants[::-1]):
            t = time.perf_counter()
            (recall, ndcg), losses = train(data, args, seed)
            results[name].append((recall, ndcg))
            elapsed = time.perf_counter() - t
            seconds[label] += elapsed
            print(f"  {name}, seed {seed}: recall@10 {recall:.3f}, ndcg@10 {ndcg:.3f}, "
                  f"loss {losses[0]:.2f} -> {losses[-1]:.2f} ({elapsed:.0f} s)")
    lines = ["| variant | Recall@10 | NDCG@10 |", "|---|---|---|"]
    for name, runs in results.items():
        r, n = np.array(runs).T
        spread = (lambda x: f" ± {x.std(ddof=1):.3f}") if len(runs) > 1 else (lambda x: "")
        lines.append(f"| {name} | {r.mean():.3f}{spread(r)} | {n.mean():.3f}{spread(n)} |")
    lines += ["", f"({args.sessions:,} sessions, {data['cardinality'] - 3} items, {args.epochs} epochs, mean ± standard "
              f"deviation over {args.seeds} training seeds, {time.perf_counter() - t0:.0f} s on {os.cpu_count()} cores, "
              f"{time.strftime('%Y-%m-%d')}; train + evaluate per run: "
              + ", ".join(f"{label} {s / args.seeds:.0f} s" for label, s in seconds.items())
              + ".)"]
    if args.seeds > 1:
        etl, graph = (np.array(results[k]) for k in list(results)[1:])
        for i, metric in enumerate(("Recall@10", "NDCG@10")):
            diff = etl[:, i].mean() - graph[:, i].mean()
            spread = 2 * np.sqrt(etl[:, i].var(ddof=1) / len(etl) + graph[:, i].var(ddof=1) / len(graph))
            verdict = "within" if abs(diff) <= spread else "outside"
            lines.append(f"{metric}: ETL masks - in-graph = {diff:+.3f}, {verdict} the run-to-run spread "
                         f"(two standard errors of the difference: {spread:.3f}).")
    print("\n" + "\n".join(lines))
    if args.write:
        from merlin_mlm_ops.doc_blocks import replace_block

        doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "training.md")
        replace_block(doc, "bert4rec-table", "\n".join(lines),
                      section="## BERT4Rec on synthetic sessions")
    return results


if __name__ == "__main__":
    main()
    sys.exit(0)
