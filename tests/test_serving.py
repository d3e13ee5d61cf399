"""Serving: the workflow (and a BERT4Rec trained on its masks) exported to Triton and tested
against a real Triton server on loopback, over HTTP and gRPC, with good and bad requests."""
import numpy as np
import nvtabular as nvt
import pandas as pd
import pytest
import tensorflow as tf
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from merlin.dag.runtime import Runtime
from merlin.io import Dataset
from merlin.schema import Tags
from tritonclient.utils import InferenceServerException

from merlin.dataloader.tensorflow import Loader

from merlin_mlm_ops import MaskRandom
from merlin_mlm_ops.serving import TritonServer, export, model_ensemble, serving_workflow, workflow_ensemble
from merlin_mlm_ops.serving.client import flat_sessions, infer_inputs, unflatten
from merlin_mlm_ops.synthetic import make_sessions
from merlin_mlm_ops.tf import SequenceMaskPrecomputed
from merlin_mlm_ops.tf.models import build_bert4rec

TOP_K = 5
MAX_ID = 10**6  # raw catalogue ids are below this by contract in these tests


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A workflow (Categorify + MaskRandom) and a tiny BERT4Rec trained on its masks."""
    path = tmp_path_factory.mktemp("serving")
    df = make_sessions(300, n_items=50, mean_length=6, max_length=12, transition=0.8, seed=1)[["session_id", "item_ids"]]
    items = ["item_ids"] >> nvt.ops.Categorify(out_path=str(path)) >> nvt.ops.AddTags([Tags.ITEM_ID, Tags.SEQUENCE])
    wf = nvt.Workflow(items >> MaskRandom(prob=0.3, seed=1, key="session_id"))
    out = wf.fit_transform(Dataset(df, cpu=True)).to_ddf().compute()
    ds = Dataset(out, cpu=True, schema=wf.output_schema)
    tf.keras.utils.set_random_seed(0)
    model, bert = build_bert4rec(ds.schema.select_by_name(["item_ids"]), dim=16, layers=1)
    model.compile(optimizer="adam")
    model.fit(Loader(ds, batch_size=64), epochs=1, pre=SequenceMaskPrecomputed(ds.schema, "item_ids", transformer=bert), verbose=0)
    return wf, model, df


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    wf, model, _ = trained
    repo = tmp_path_factory.mktemp("repo")
    export(workflow_ensemble(wf, max_id=MAX_ID), repo, name="mlm_workflow")
    export(model_ensemble(wf, model, top_k=TOP_K, max_id=MAX_ID), repo, name="mlm_bert4rec")
    with TritonServer(repo) as running:
        yield running


def request(server, model, rows, protocol="http", values=None, offsets=None):
    module = httpclient if protocol == "http" else grpcclient
    client = module.InferenceServerClient(server.http_url if protocol == "http" else server.grpc_url)
    if values is None:
        values, offsets = flat_sessions(rows)
    return client.infer(model, infer_inputs(module, "item_ids", values, offsets))


def output_names(result, protocol):
    response = result.get_response()
    return {o.name for o in response.outputs} if protocol == "grpc" else {o["name"] for o in response["outputs"]}


def test_the_serving_workflow_drops_masking_and_keeps_the_fitted_encoding(trained):
    wf, _, df = trained
    swf = serving_workflow(wf)
    assert swf.input_schema.column_names == ["item_ids"] and swf.output_schema.column_names == ["item_ids"]
    assert "item_ids_mask" in wf.output_schema.column_names  # the training workflow is untouched
    served = swf.transform(Dataset(df[["item_ids"]], cpu=True)).to_ddf().compute()
    trained_out = wf.transform(Dataset(df, cpu=True)).to_ddf().compute()
    assert [list(a) for a in served["item_ids"]] == [list(b) for b in trained_out["item_ids"]]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_served_workflow_equals_the_in_process_workflow(server, trained, protocol):
    wf, _, df = trained
    rows = list(df["item_ids"][:20])
    result = request(server, "mlm_workflow", rows, protocol)
    assert output_names(result, protocol) == {"item_ids__values", "item_ids__offsets"}
    served = unflatten(result.as_numpy("item_ids__values"), result.as_numpy("item_ids__offsets"))
    local = workflow_ensemble(wf).transform(pd.DataFrame({"item_ids": rows}), runtime=Runtime())
    assert [list(a) for a in served] == [list(b) for b in local["item_ids"]]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_served_model_scores_and_top_k_equal_the_in_process_model(server, trained, protocol):
    wf, model, df = trained
    rows = list(df["item_ids"][:32])
    result = request(server, "mlm_bert4rec", rows, protocol)
    local = model_ensemble(wf, model, top_k=TOP_K).transform(pd.DataFrame({"item_ids": rows}), runtime=Runtime())
    score = "item_ids/categorical_output"
    np.testing.assert_allclose(result.as_numpy(score), np.stack(local[score].to_numpy()), atol=1e-5)
    np.testing.assert_array_equal(result.as_numpy(f"{score}_top_ids"), np.stack(local[f"{score}_top_ids"].to_numpy()))
    assert result.as_numpy(f"{score}_top_ids").shape == (32, TOP_K)


def bad_requests():
    good_values, good_offsets = flat_sessions([[100007, 100014], [100021]])
    return {
        "missing input": lambda m: [m.InferInput("item_ids__values", [3], "INT64")],
        "wrong dtype": lambda m: infer_inputs(m, "item_ids", good_values.astype(np.float32), good_offsets),
        "offsets that do not match the values": lambda m: infer_inputs(m, "item_ids", good_values, np.array([0, 2, 7], np.int32)),
        "decreasing offsets": lambda m: infer_inputs(m, "item_ids", good_values, np.array([0, 2, 1, 3], np.int32)),
        "negative id": lambda m: infer_inputs(m, "item_ids", np.array([100007, -5, 100021], np.int64), good_offsets),
        "out-of-range id": lambda m: infer_inputs(m, "item_ids", np.array([100007, 10**7, 100021], np.int64), good_offsets),
        "empty batch": lambda m: infer_inputs(m, "item_ids", np.zeros(0, np.int64), np.array([0], np.int32)),
    }


@pytest.mark.parametrize("case", list(bad_requests()))
@pytest.mark.parametrize("model_name", ["mlm_workflow", "mlm_bert4rec"])
def test_a_bad_request_gets_an_error_and_the_server_keeps_serving(server, trained, case, model_name):
    client = httpclient.InferenceServerClient(server.http_url)
    inputs = bad_requests()[case](httpclient)
    if case == "missing input":
        inputs[0].set_data_from_numpy(np.array([1, 2, 3], np.int64))
    with pytest.raises(InferenceServerException) as err:
        client.infer(model_name, inputs)
    assert str(err.value)
    if case in ("negative id", "out-of-range id"):
        assert "column 'item_ids', row 0: id" in str(err.value) and "out of range" in str(err.value)
    if case == "empty batch":
        assert "empty batch" in str(err.value)
    ok = request(server, model_name, list(trained[2]["item_ids"][:4]))
    assert all(ok.as_numpy(name) is not None for name in output_names(ok, "http"))
    assert client.is_server_live() and client.is_model_ready(model_name)
