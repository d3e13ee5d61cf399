"""Load test of the served BERT4Rec ensemble on a real Triton server, on loopback only.

Builds the serving artifacts (synthetic sessions -> Categorify + MaskRandom -> a small BERT4Rec
trained on the ETL masks -> `model_ensemble` with top-10), starts Triton on 127.0.0.1 with free
ports, then runs a bounded load: --clients threads x --requests requests of --batch sessions each
(default 8 x 300 x 32), over HTTP or gRPC.  It stops by itself and prints throughput,
p50/p95/p99 latency and the error count; --write puts them into docs/serving.md.

    python benchmarks/serve_load.py [--protocol grpc] [--clients 8 --requests 300 --batch 32]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

from merlin_mlm_ops.doc_blocks import read_block, replace_block  # noqa: E402

DOCS = os.path.join(os.path.dirname(__file__), "..", "docs", "serving.md")
BLOCK = "serve-load"


def build_repository(path, sessions=2000):
    import nvtabular as nvt
    import tensorflow as tf
    from merlin.dataloader.tensorflow import Loader
    from merlin.io import Dataset
    from merlin.schema import Tags

    from merlin_mlm_ops import MaskRandom
    from merlin_mlm_ops.serving import export, model_ensemble
    from merlin_mlm_ops.synthetic import make_sessions
    from merlin_mlm_ops.tf import SequenceMaskPrecomputed
    from merlin_mlm_ops.tf.models import build_bert4rec

    df = make_sessions(sessions, n_items=300, mean_length=12, max_length=20, transition=0.8, seed=0)
    df = df[["session_id", "item_ids"]]
    items = ["item_ids"] >> nvt.ops.Categorify(out_path=path) >> nvt.ops.AddTags([Tags.ITEM_ID, Tags.SEQUENCE])
    wf = nvt.Workflow(items >> MaskRandom(prob=0.3, seed=1, key="session_id"))
    ds = Dataset(wf.fit_transform(Dataset(df, cpu=True)).to_ddf().compute(), cpu=True, schema=wf.output_schema)
    tf.keras.utils.set_random_seed(0)
    model, bert = build_bert4rec(ds.schema.select_by_name(["item_ids"]), dim=64)
    model.compile(optimizer="adam")
    model.fit(Loader(ds, batch_size=64), epochs=1, pre=SequenceMaskPrecomputed(ds.schema, "item_ids", transformer=bert),
              verbose=0)
    repo = os.path.join(path, "repo")
    name = export(model_ensemble(wf, model, top_k=10), repo, name="mlm_bert4rec")
    return repo, name, list(df["item_ids"])


def run_load(server, name, sessions, protocol, clients, requests, batch, timeout_s):
    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    from merlin_mlm_ops.serving.client import flat_sessions, infer_inputs

    module = httpclient if protocol == "http" else grpcclient
    url = server.http_url if protocol == "http" else server.grpc_url
    latencies, errors, lock = [], [], threading.Lock()
    deadline = time.monotonic() + timeout_s

    def worker(index):
        client = module.InferenceServerClient(url)
        rng = np.random.default_rng(index)
        for _ in range(requests):
            if time.monotonic() > deadline:
                break
            rows = [sessions[i] for i in rng.integers(0, len(sessions), batch)]
            inputs = infer_inputs(module, "item_ids", *flat_sessions(rows))
            start = time.perf_counter()
            error = None
            try:
                result = client.infer(name, inputs)
                if result.as_numpy("item_ids/categorical_output_top_ids").shape != (batch, 10):
                    error = "wrong output shape"
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                error = f"{type(exc).__name__}: {str(exc)[-200:]}"
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if error:
                    errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, np.array(latencies), errors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=["http", "grpc"], default="http")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=300, help="requests per client")
    parser.add_argument("--batch", type=int, default=32, help="sessions per request")
    parser.add_argument("--timeout", type=float, default=600, help="stop sending after this many seconds")
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/serving.md")
    args = parser.parse_args(argv)

    from merlin_mlm_ops.serving import TritonServer

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        repo, name, sessions = build_repository(tmp)
        print(f"trained and exported the ensemble in {time.perf_counter() - t:.0f} s")
        with TritonServer(repo) as server:
            run_load(server, name, sessions, args.protocol, 2, 5, args.batch, 60)  # warm-up
            wall, lat, errors = run_load(server, name, sessions, args.protocol, args.clients, args.requests,
                                         args.batch, args.timeout)
    sent = len(lat)
    p50, p95, p99 = (np.percentile(lat, q) * 1e3 for q in (50, 95, 99))
    print(f"{args.protocol}: {args.clients} clients x {args.requests} requests x {args.batch} sessions: "
          f"{sent} requests in {wall:.1f} s")
    print(f"throughput {sent / wall:.1f} requests/s ({sent * args.batch / wall:,.0f} sessions/s); "
          f"latency p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms; errors {len(errors)}")
    for e in errors[:5]:
        print("  error:", e)
    if args.write:
        row = (f"| {args.protocol} | {args.clients} x {args.requests} x {args.batch} | {sent} | {wall:.1f} | "
               f"{sent / wall:.1f} | {sent * args.batch / wall:,.0f} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {len(errors)} |")
        old = read_block(open(DOCS).read(), BLOCK)
        rows = [line for line in old.splitlines() if line.startswith(("| http ", "| grpc "))]
        rows = [r for r in rows if not r.startswith(f"| {args.protocol} ")] + [row]
        header = [f"Measured {time.strftime('%Y-%m-%d')} with `python benchmarks/serve_load.py --write` "
                  f"(Triton 2.51 python backend, {os.cpu_count()} cores, server and clients on the same machine).", "",
                  "| protocol | clients x requests x sessions | requests | seconds | requests/s | sessions/s | "
                  "p50 ms | p95 ms | p99 ms | errors |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        replace_block(DOCS, BLOCK, "\n".join(header + sorted(rows)))
        print(f"wrote {os.path.normpath(DOCS)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
