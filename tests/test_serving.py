"""Serving: the workflow (and a BERT4Rec trained on its masks) exported to Triton and tested
against a real Triton server on loopback, over HTTP and gRPC, with good and bad requests.

One server (module fixture) serves every test: the workflow ensemble, the BERT4Rec ensemble and
an ensemble whose operator always fails (a server fault)."""
import sys

import cloudpickle
import numpy as np
import nvtabular as nvt
import pandas as pd
import pytest
import tensorflow as tf
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from merlin.dag import BaseOperator
from merlin.dag.runtime import Runtime
from merlin.dataloader.tensorflow import Loader
from merlin.io import Dataset
from merlin.schema import Tags
from merlin.systems.dag import Ensemble
from tritonclient.utils import InferenceServerException

from merlin_mlm_ops import MaskRandom
from merlin_mlm_ops.serving import TritonServer, export, model_ensemble, serving_workflow, workflow_ensemble
from merlin_mlm_ops.serving.client import flat_sessions, infer_inputs, unflatten
from merlin_mlm_ops.serving.sessions import popularity_scores
from merlin_mlm_ops.data.synthetic import make_sessions
from merlin_mlm_ops.tf import SequenceMaskPrecomputed
from merlin_mlm_ops.tf.models import build_bert4rec

TOP_K = 5
MAX_ID = 10**6  # raw catalogue ids are below this by contract in these tests
SCORE = "item_ids/categorical_output"
PROTOCOLS = ["http", "grpc"]


class Explode(BaseOperator):
    """A server fault: fails on every request with a message that holds a server path."""

    def transform(self, col_selector, transformable):
        raise OSError("cannot open /srv/secret/model.bin")


cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the backend stub cannot import this test module


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
def local(trained):
    """The BERT4Rec ensemble run in process (the expected answers)."""
    wf, model, _ = trained
    ensemble = model_ensemble(wf, model, top_k=TOP_K)
    return lambda rows: ensemble.transform(pd.DataFrame({"item_ids": rows}), runtime=Runtime())


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    wf, model, _ = trained
    repo = tmp_path_factory.mktemp("repo")
    export(workflow_ensemble(wf, max_id=MAX_ID), repo, name="mlm_workflow")
    export(model_ensemble(wf, model, top_k=TOP_K, max_id=MAX_ID), repo, name="mlm_bert4rec")
    export(Ensemble(["item_ids"] >> Explode(), serving_workflow(wf).input_schema), repo, name="mlm_fault")
    with TritonServer(repo, ready_timeout=900) as running:  # model loads take minutes on a busy 2-core machine
        yield running


def request(server, model, rows, protocol="http"):
    module = httpclient if protocol == "http" else grpcclient
    client = module.InferenceServerClient(server.http_url if protocol == "http" else server.grpc_url)
    return client.infer(model, infer_inputs(module, "item_ids", *flat_sessions(rows)))


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


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_served_workflow_equals_the_in_process_workflow(server, trained, protocol):
    wf, _, df = trained
    rows = list(df["item_ids"][:20])
    result = request(server, "mlm_workflow", rows, protocol)
    assert output_names(result, protocol) == {"item_ids__values", "item_ids__offsets"}
    served = unflatten(result.as_numpy("item_ids__values"), result.as_numpy("item_ids__offsets"))
    local_out = workflow_ensemble(wf).transform(pd.DataFrame({"item_ids": rows}), runtime=Runtime())
    assert [list(a) for a in served] == [list(b) for b in local_out["item_ids"]]


def assert_same_scores(result, expected, rows=slice(None)):
    np.testing.assert_allclose(result.as_numpy(SCORE)[rows], np.stack(expected[SCORE].to_numpy()), atol=1e-5)
    np.testing.assert_array_equal(result.as_numpy(f"{SCORE}_top_ids")[rows], np.stack(expected[f"{SCORE}_top_ids"].to_numpy()))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_served_model_scores_and_top_k_equal_the_in_process_model(server, trained, local, protocol):
    rows = list(trained[2]["item_ids"][:32])
    result = request(server, "mlm_bert4rec", rows, protocol)
    assert_same_scores(result, local(rows))
    assert result.as_numpy(f"{SCORE}_top_ids").shape == (32, TOP_K)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_empty_session_gets_the_popularity_scores_and_the_others_their_own(server, trained, local, protocol):
    wf, _, df = trained
    rows = list(df["item_ids"][:6])
    with_empty = rows[:2] + [[]] + rows[2:] + [[]]
    result = request(server, "mlm_bert4rec", with_empty, protocol)
    assert_same_scores(result, local(rows), rows=[0, 1, 3, 4, 5, 6])
    popularity = popularity_scores(serving_workflow(wf), "item_ids")
    for row in (2, 7):
        np.testing.assert_allclose(result.as_numpy(SCORE)[row], popularity)
        assert list(result.as_numpy(f"{SCORE}_top_ids")[row]) == list(np.argsort(-popularity, kind="stable")[:TOP_K])
    assert_same_scores(result, local(with_empty))  # the same rules in process
    only_empty = request(server, "mlm_bert4rec", [[], []], protocol)
    np.testing.assert_allclose(only_empty.as_numpy(SCORE), [popularity, popularity])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_sessions_longer_than_the_model_keep_their_most_recent_511_items(server, trained, local, protocol):
    items = np.concatenate(list(trained[2]["item_ids"]))
    long_rows = [items[:511], items[:512], items[:2000], items[:3]]
    result = request(server, "mlm_bert4rec", long_rows, protocol)
    assert_same_scores(result, local([r[-511:] for r in long_rows]))
    assert not np.allclose(result.as_numpy(SCORE)[1], local([items[:511]])[SCORE][0])  # 512 lost its first, not its last item


def bad_requests():
    good_values, good_offsets = flat_sessions([[100007, 100014], [100021]])
    ids = lambda m, values, offsets: infer_inputs(m, "item_ids", np.array(values, np.int64), np.array(offsets, np.int32))
    return {
        # Triton itself answers this one; before ~2.40 its message counts inputs instead of naming them
        "missing input": (lambda m: infer_inputs(m, "item_ids", good_values, good_offsets)[:1],
                          ("item_ids__offsets", "expected 2 inputs but got 1 inputs")),
        "wrong dtype": (lambda m: infer_inputs(m, "item_ids", good_values.astype(np.float32), good_offsets), "FP32"),
        "offsets past the values": (lambda m: ids(m, good_values, [0, 2, 7]), "offsets must start at 0 and end at the number of values (3), got 0 .. 7"),
        "decreasing offsets": (lambda m: ids(m, good_values, [0, 2, 1, 3]), "column 'item_ids', row 1: offsets decrease"),
        "negative id": (lambda m: ids(m, [100007, 100014, -5], good_offsets), "column 'item_ids', row 1: id -5 is out of range"),
        "out-of-range id": (lambda m: ids(m, [10**7, 100014, 100021], good_offsets), "column 'item_ids', row 0: id 10000000 is out of range"),
        "empty batch": (lambda m: ids(m, [], [0]), "column 'item_ids': empty batch"),
        "empty offsets": (lambda m: ids(m, [], []), "column 'item_ids': offsets must be a 1-D array of batch size + 1 entries"),
    }


CLIENT_ERROR = {"http": "400", "grpc": "StatusCode.INVALID_ARGUMENT"}
SERVER_ERROR = {"http": "500", "grpc": "StatusCode.INTERNAL"}


def call_and_fail(server, model_name, protocol, inputs_for):
    module = httpclient if protocol == "http" else grpcclient
    client = module.InferenceServerClient(server.http_url if protocol == "http" else server.grpc_url)
    with pytest.raises(InferenceServerException) as err:
        client.infer(model_name, inputs_for(module))
    return err.value


def codes_supported(server):
    """Whether this Triton's python backend can answer with an error code (400 vs 500): >= 2.40."""
    version = httpclient.InferenceServerClient(server.http_url).get_server_metadata()["version"]
    return tuple(int(x) for x in version.split(".")[:2]) >= (2, 40)


def assert_one_clean_line(message):
    assert "\n" not in message.strip() and "Traceback" not in message and ".py" not in message and "/srv" not in message


@pytest.mark.parametrize("case", list(bad_requests()))
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("model_name", ["mlm_workflow", "mlm_bert4rec"])
def test_a_bad_request_is_a_client_error_and_the_server_keeps_serving(server, trained, case, protocol, model_name):
    inputs_for, message = bad_requests()[case]
    error = call_and_fail(server, model_name, protocol, inputs_for)
    if case == "missing input" or codes_supported(server):
        assert error.status() == CLIENT_ERROR[protocol], (error.status(), error.message())
    else:  # an old python backend gives every model error one status: our one line says which it is
        assert error.status() in (CLIENT_ERROR[protocol], SERVER_ERROR[protocol]), (error.status(), error.message())
    assert any(m in error.message() for m in ((message,) if isinstance(message, str) else message)), error.message()
    assert_one_clean_line(error.message())
    ok = request(server, model_name, list(trained[2]["item_ids"][:4]), protocol)
    assert all(ok.as_numpy(name) is not None for name in output_names(ok, protocol))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_server_fault_stays_a_server_error_without_its_details(server, trained, protocol):
    good = lambda m: infer_inputs(m, "item_ids", *flat_sessions([[100007, 100014]]))
    error = call_and_fail(server, "mlm_fault", protocol, good)
    # an old python backend gives every model error one status (400): only the message tells them apart
    expected = (SERVER_ERROR[protocol],) if codes_supported(server) else (SERVER_ERROR[protocol], CLIENT_ERROR[protocol])
    assert error.status() in expected, (error.status(), error.message())
    assert "internal server error (OSError); the server log has the details" in error.message()
    assert_one_clean_line(error.message())
    assert "cannot open /srv/secret/model.bin" in server.log_text()  # the details are in the server log
    ok = request(server, "mlm_bert4rec", list(trained[2]["item_ids"][:4]), protocol)
    assert ok.as_numpy(SCORE).shape[0] == 4
