"""Load test of the served BERT4Rec ensemble on a real Triton server, against the same model in process.

Builds the serving artifacts (synthetic sessions -> Categorify + MaskRandom -> a small BERT4Rec
trained on the ETL masks -> `model_ensemble` with top-10), then, in one run:

- **in process** (the floor the server adds to): the same ensemble, run with merlin's local
  runtime on the same batches of --batch sessions, one batch after another;
- **served**, for each entry-model instance count in --instances: Triton on 127.0.0.1 with free
  ports, a bounded load of --clients threads x --requests requests of --batch sessions each
  (default 8 x 150 x 32), over HTTP or gRPC.

It stops by itself and prints sessions/s, the served throughput as a fraction of the in-process
one, p50/p95/p99 latency and the error count; --write puts them into docs/serving.md.

    nice -n 10 python benchmarks/serve_load.py [--protocol grpc] [--instances 1 2] [--write]
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

from merlin_mlm_ops.doc_blocks import replace_block  # noqa: E402

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
    from merlin_mlm_ops.data.synthetic import make_sessions
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
    return repo, name, list(df["item_ids"]), in_process_ensemble(model_ensemble(wf, model, top_k=10), repo, name)


def in_process_ensemble(ensemble, repo, name):
    """``ensemble`` with the model the server runs: the exported SavedModel, called through its
    serving signature (the Keras model itself would retrace for every new batch shape)."""
    from merlin.dag.node import iter_nodes

    from merlin_mlm_ops.serving.ops import PredictSavedModel

    for node in iter_nodes([ensemble.graph.output_node]):
        if isinstance(node.op, PredictSavedModel):
            node.op.load_artifacts(os.path.join(repo, name, "1", "ensemble"))
    return ensemble


def batches(sessions, clients, requests, batch):
    """The request batches every run sends: client ``i`` sends ``batches[i]`` (fixed seeds)."""
    out = []
    for index in range(clients):
        rng = np.random.default_rng(index)
        out.append([[sessions[i] for i in rng.integers(0, len(sessions), batch)] for _ in range(requests)])
    return out


def run_in_process(ensemble, plan):
    """Sessions/s of ``ensemble`` run in this process on every batch of ``plan``, one after another."""
    from merlin.dag.runtime import Runtime
    from merlin.table import TensorTable

    from merlin_mlm_ops.serving.client import flat_sessions

    requests = [rows for client in plan for rows in client]  # every client's batches, in turn
    tables = [TensorTable({"item_ids__values": v, "item_ids__offsets": o})
              for v, o in map(flat_sessions, requests)]
    for table in tables[:5]:  # warm-up
        ensemble.transform(table, runtime=Runtime())
    t0 = time.perf_counter()
    for table in tables:
        ensemble.transform(table, runtime=Runtime())
    wall = time.perf_counter() - t0
    return sum(map(len, requests)) / wall, wall


def run_load(server, name, plan, protocol, timeout_s):
    """Each client thread sends its batches of ``plan`` in turn; ``(wall, latencies, errors)``."""
    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    from merlin_mlm_ops.serving.client import flat_sessions, infer_inputs

    module = httpclient if protocol == "http" else grpcclient
    url = server.http_url if protocol == "http" else server.grpc_url
    latencies, errors, lock = [], [], threading.Lock()
    deadline = time.monotonic() + timeout_s

    def worker(requests):
        client = module.InferenceServerClient(url)
        for rows in requests:
            if time.monotonic() > deadline:
                break
            inputs = infer_inputs(module, "item_ids", *flat_sessions(rows))
            start = time.perf_counter()
            error = None
            try:
                result = client.infer(name, inputs)
                if result.as_numpy("item_ids/categorical_output_top_ids").shape != (len(rows), 10):
                    error = "wrong output shape"
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                error = f"{type(exc).__name__}: {str(exc)[-200:]}"
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if error:
                    errors.append(error)

    threads = [threading.Thread(target=worker, args=(requests,)) for requests in plan]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, np.array(latencies), errors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=["http", "grpc"], default="grpc")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=150, help="requests per client")
    parser.add_argument("--batch", type=int, default=32, help="sessions per request")
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2],
                        help="entry-model instance counts to measure, one server each")
    parser.add_argument("--timeout", type=float, default=300, help="stop sending after this many seconds")
    parser.add_argument("--note", default="", help="a sentence added under the table (e.g. other load)")
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/serving.md")
    args = parser.parse_args(argv)

    from merlin_mlm_ops.serving import TritonServer
    from merlin_mlm_ops.serving.ensembles import set_instances

    rows, failed = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        repo, name, sessions, local = build_repository(tmp)
        print(f"trained and exported the ensemble in {time.perf_counter() - t:.0f} s")
        plan = batches(sessions, args.clients, args.requests, args.batch)
        floor, floor_wall = run_in_process(local, plan)
        print(f"in process: {args.clients * args.requests} batches of {args.batch} in {floor_wall:.1f} s: "
              f"{floor:,.0f} sessions/s")
        for instances in args.instances:
            for model in (name, "0_transformworkflowtriton"):  # the entry model and the workflow it calls
                set_instances(os.path.join(repo, model, "config.pbtxt"), instances)
            with TritonServer(repo, ready_timeout=900) as server:
                run_load(server, name, [p[:5] for p in plan[:2]], args.protocol, 60)  # warm-up
                wall, lat, errors = run_load(server, name, plan, args.protocol, args.timeout)
            sent = len(lat)
            rate = sent * args.batch / wall
            p50, p95, p99 = (np.percentile(lat, q) * 1e3 for q in (50, 95, 99))
            print(f"served, {instances} instance(s), {args.protocol}: {sent} requests in {wall:.1f} s: "
                  f"{rate:,.0f} sessions/s = {rate / floor:.2f} x in process; latency p50 {p50:.1f} ms, "
                  f"p95 {p95:.1f} ms, p99 {p99:.1f} ms (p99/p50 {p99 / p50:.2f}); errors {len(errors)}")
            for e in errors[:5]:
                print("  error:", e)
            failed += len(errors)
            rows.append(f"| served, {instances} instance{'s' if instances > 1 else ''} | {sent} | {wall:.1f} | "
                        f"{rate:,.0f} | {rate / floor:.2f} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {p99 / p50:.2f} | "
                        f"{len(errors)} |")
    if args.write:
        command = " ".join(["python", "benchmarks/serve_load.py", *(sys.argv[1:] if argv is None else argv)])
        header = [f"Measured {time.strftime('%Y-%m-%d')} with `{command.split(' --note ')[0]}` "
                  f"(Triton 2.51 python backend, {os.cpu_count()} cores, "
                  f"server and clients on the same machine; {args.clients} clients x {args.requests} requests x "
                  f"{args.batch} sessions, the same batches in every row).", "",
                  "| run | requests | seconds | sessions/s | x in process | p50 ms | p95 ms | p99 ms | p99/p50 | errors |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
                  f"| in process, one batch after another | {args.clients * args.requests} | {floor_wall:.1f} | "
                  f"{floor:,.0f} | 1.00 | | | | | |"]
        body = "\n".join(header + rows + ([f"\n{args.note}"] if args.note else []))
        replace_block(DOCS, BLOCK, body)
        print(f"wrote {os.path.normpath(DOCS)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
