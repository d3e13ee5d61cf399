"""Transformers4Rec BERT4Rec on ETL masks against T4R's in-model masking, on MovieLens-1M, over several seeds.

The same data, split, row order, model and seeds for both variants; only the masking differs:

1. Data and split: ``examples/movielens_bert4rec.py``'s (MovieLens-1M fetched at run time, 5-core,
   one chronological session per user, Categorify, leave-one-out: the last item is the test target,
   the second to last the validation target; training sequences keep their last ``--max-len`` items).
2. ETL masks: ``MaskRandom(prob=0.2, key="user_id", epoch=k)``, a fresh mask every epoch, served by
   :class:`merlin_mlm_ops.torch.EpochLoaders` to one T4R ``Trainer.train()`` run
   (:mod:`merlin_mlm_ops.torch.t4r`: the masked-LM task trains on the mask column).
3. In-model masks: T4R's own ``MaskedLanguageModeling(mlm_probability=0.2)`` (its Bernoulli draw, plus
   one forced label per row) on the same rows in the same order.
4. Model: T4R's BERT (:func:`merlin_mlm_ops.torch.t4r.bert4rec`), next-item task with weight tying,
   AdamW at a constant learning rate; weights initialised identically for both variants of a seed.
5. Evaluation, as the MovieLens example: T4R's inference path (a [MASK] appended after the user's
   sequence) scores every movie; Recall@10 / NDCG@10 with full ranking and against 100
   popularity-sampled negatives, on the test targets; mean ± standard deviation over ``--seeds``.

    python examples/torch_t4r_masks.py --users 300 --epochs 1 --seeds 0   # a smoke run
    nice -n 10 python examples/torch_t4r_masks.py --write                 # the documented run
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = {"etl": "T4R BERT4Rec, ETL masks (MaskRandom)", "in-model": "T4R BERT4Rec, in-model masking (T4R's own)"}


def movielens_example():
    """``examples/movielens_bert4rec.py`` as a module: its data, split, masking and evaluation are reused."""
    spec = importlib.util.spec_from_file_location("movielens_bert4rec", os.path.join(ROOT, "examples",
                                                                                       "movielens_bert4rec.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def epoch_datasets(ml, data, args, seed, etl):
    """One training Dataset per epoch: the rows in that epoch's order, with that epoch's ETL mask if ``etl``."""
    from merlin.io import Dataset

    out = []
    for epoch in range(args.epochs):
        order = ml.batch_order(data["train_lengths"], args.batch_size, seed + epoch)
        if etl:  # the masks vary with the seed, as T4R's draws do
            seeded = argparse.Namespace(**{**vars(args), "mask_seed": 1000 + seed})
            frame, schema = ml.masked_epoch(data["train"], data, seeded, "etl", epoch), ml.mask_schema(data, seeded, "etl")
        else:
            frame, schema = data["train"][["item_ids"]], data["seq_schema"]
        frame = frame.iloc[order].reset_index(drop=True)
        out.append(Dataset(frame, cpu=True, schema=schema.select_by_name([c for c in frame.columns if c != "user_id"])))
    return out


def loader(schema, ds, args):
    from transformers4rec.torch.utils.data_utils import MerlinDataLoader

    return MerlinDataLoader.from_schema(schema, ds, args.batch_size, max_sequence_length=args.max_len, shuffle=False)


def train(ml, data, args, seed, key, workdir):
    """One variant, one seed: a fresh model trained for ``args.epochs`` in one ``Trainer.train()``."""
    import torch
    from transformers4rec.config.trainer import T4RecTrainingArguments
    from transformers4rec.torch import Trainer

    from merlin_mlm_ops.torch import EpochLoaders
    from merlin_mlm_ops.torch.t4r import bert4rec, t4r_schema

    etl = key == "etl"
    datasets = epoch_datasets(ml, data, args, seed, etl)
    schema = t4r_schema(datasets[0].schema, args.max_len)
    torch.manual_seed(seed)  # both variants build the same modules in the same order: the same initial weights
    model = bert4rec(schema, args.max_len, d_model=args.dim, n_head=args.heads, n_layer=args.layers,
                     dropout=args.dropout, precomputed=etl, mlm_probability=args.prob)
    targs = T4RecTrainingArguments(
        output_dir=workdir, max_sequence_length=args.max_len, per_device_train_batch_size=args.batch_size,
        num_train_epochs=args.epochs, learning_rate=args.lr, lr_scheduler_type="constant", report_to=[],
        no_cuda=True, save_strategy="no", logging_strategy="no", seed=seed, data_seed=seed,
        disable_tqdm=True, predict_top_k=10)
    trainer = Trainer(model=model, args=targs, schema=schema,
                      train_dataloader=EpochLoaders(datasets, lambda ds: loader(schema, ds, args)))
    torch.manual_seed(seed)  # the same dropout (and, in-model, mask) draws for every run of this seed
    t0 = time.perf_counter()
    result = trainer.train()
    return model, result.training_loss, time.perf_counter() - t0


def scores(model, ml, data, args, split):
    """T4R's inference scores of every movie after each user's ``split`` sequence, in user order."""
    import torch

    from merlin_mlm_ops.torch.t4r import t4r_schema

    (ds, order), _ = data[split]
    schema = t4r_schema(ds.schema, args.max_len)
    out = np.empty((len(order), data["cardinality"]), dtype=np.float32)
    model.eval()
    chunks = []
    with torch.no_grad():
        for batch, _ in loader(schema, ds, args):
            chunks.append(model(batch).numpy())
    out[order] = np.concatenate(chunks)
    return out


def summarise(values):
    """``mean ± std`` of a list of floats (std with one degree of freedom; '' for a single seed)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{values.mean():.4f} ± {values.std(ddof=1):.4f}"


def table(results, n_seeds):
    lines = ["| variant | full Recall@10 | full NDCG@10 | sampled Recall@10 | sampled NDCG@10 |",
             "|---|---|---|---|---|"]
    for name, runs in results.items():
        cells = [summarise([r[split][k] for r in runs]) for split in ("full", "sampled") for k in (0, 1)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse(argv, ml):
    """This example's options; every other one is ``examples/movielens_bert4rec.py``'s (data, model, optimiser)."""
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Any other option is examples/movielens_bert4rec.py's: --inter, --cache, --users, --min-count, "
               "--max-len (here 50), --dim, --layers, --heads, --dropout, --lr, --batch-size (here 128), --prob "
               "(ETL and T4R), --negatives.")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--workdir", default=None, help="ETL output (default <cache>/movielens-etl-t4r)")
    p.add_argument("--write", action="store_true", help="write the table into --docs and --readme")
    p.add_argument("--docs", default=os.path.join(ROOT, "docs", "torch.md"))
    p.add_argument("--readme", default="", help="also write the block into this file (default: none; the table lives in --docs)")
    own, rest = p.parse_known_args(argv)
    try:
        own.seeds = [int(s) for s in own.seeds.split(",")]
    except ValueError:
        p.error(f"--seeds: comma-separated integers, got {own.seeds!r}")
    if own.epochs < 1:
        p.error("--epochs must be at least 1")
    args = ml.parse(["--max-len", "50", "--batch-size", "128", "--seed", "0", *rest])  # later options win
    args.workdir = own.workdir or os.path.join(args.cache, "movielens-etl-t4r")
    for name, value in vars(own).items():
        if name != "workdir":
            setattr(args, name, value)
    return args


def main(argv=None):
    import tempfile

    import torch

    ml = movielens_example()
    args = parse(argv, ml)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    data = ml.prepare(args)
    print(f"data: {data['n_users']:,} users, {data['cardinality'] - ml.N_SPECIAL:,} items, {data['train_items']:,} "
          f"training items (max length {args.max_len}); ETL {data['etl_seconds']:.1f} s", flush=True)
    results = {"most popular": [ml.evaluate(ml.most_popular_scores(data), data, "test", args)]}
    seconds = {key: [] for key in VARIANTS}
    with tempfile.TemporaryDirectory() as workdir:
        for seed in args.seeds:
            for key, name in VARIANTS.items():
                model, loss, trained = train(ml, data, args, seed, key, workdir)
                metrics = ml.evaluate(scores(model, ml, data, args, "test"), data, "test", args)
                results.setdefault(name, []).append(metrics)
                seconds[key].append(trained)
                print(f"  seed {seed} {key}: loss {loss:.4f}, test NDCG@10 {metrics['full'][1]:.4f} "
                      f"Recall@10 {metrics['full'][0]:.4f} (training {trained:.0f} s)", flush=True)
    wall = time.perf_counter() - t0
    text = table(results, len(args.seeds))
    train_time = ", ".join(f"{k} {np.mean(v):.0f} s" for k, v in seconds.items())
    import transformers4rec

    summary = (f"MovieLens-1M ({data['n_users']:,} users, {data['cardinality'] - ml.N_SPECIAL:,} movies), test split, "
               f"max length {args.max_len}, {args.epochs} epochs, batch {args.batch_size}, d={args.dim}, "
               f"{args.layers} layers, {args.heads} heads, dropout {args.dropout}, AdamW lr {args.lr} (constant), "
               f"masking probability {args.prob}; mean ± standard deviation over {len(args.seeds)} seeds "
               f"({', '.join(map(str, args.seeds))}). Training per run (mean): {train_time}; this process "
               f"{wall / 60:.1f} min; torch {torch.__version__} on {args.threads} CPU thread(s), "
               f"Transformers4Rec {transformers4rec.__version__}; {time.strftime('%Y-%m-%d', time.gmtime())}.")
    print("\n" + text + "\n\n" + summary)
    if args.write:
        from merlin_mlm_ops.doc_blocks import replace_block

        replace_block(args.docs, "t4r-table", text + "\n\n" + summary, section="## Transformers4Rec: ETL masks against in-model masking")
        print(f"wrote {args.docs}")
        if args.readme:
            replace_block(args.readme, "t4r-table", text + "\n\n" + summary)
            print(f"wrote {args.readme}")
    return results


if __name__ == "__main__":
    main()
    sys.exit(0)
