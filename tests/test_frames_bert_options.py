"""mask_random's BERT4Rec options (last_ratio, replace, vocab, item_counts, input_column) on every frame kind.

Without NVTabular: every kind gives the masking core's masks and input ids (NumPy reference rules),
the rules of the input ids hold, and bad arguments raise MaskRandom's errors (one checker,
masking/bert_params.py).  With NVTabular: the same rows give the operator's columns bit for bit.
"""
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from helpers import as_mask_lists, flat_rows, session_rows

from merlin_mlm_ops import mask_last, mask_random
from merlin_mlm_ops.masking import bert_params, engine, hashing

ROWS = session_rows(80, seed=3, vocab=40)
KEYS = np.arange(500, 580)
ARGS = dict(prob=0.4, seed=21, epoch=3, min_masked=1, max_masked=4, pad_id=0)
OPTIONS = [
    dict(replace=(0.8, 0.1, 0.1), vocab=(1, 40)),
    dict(replace=(0.5, 0.3, 0.2), vocab=(0, 1000), last_ratio=0.25),
    dict(replace=(0.0, 1.0, 0.0), item_counts=np.arange(40) % 7),
    dict(replace=(0.6, 0.0, 0.4)),  # no random item: no vocabulary needed
    dict(last_ratio=0.5),  # no replace: no input column
]


def _lists(values):
    return [[int(x) for x in v] if hasattr(v, "__len__") else None for v in values]


def expected(rows, keys, options, **args):
    """(masks, input ids or None) of the NumPy reference rules, as lists."""
    values, offsets = flat_rows([r if r is not None else [] for r in rows])
    replace = options.get("replace")
    draw = bert_params.item_draw("t", replace=replace, vocab=options.get("vocab"),
                                 item_counts=options.get("item_counts"), pad_id=args["pad_id"])
    mask, ids = engine.random_mask_extended(values, offsets, hashing.integer_row_keys(np.asarray(keys)),
                                            last_ratio=options.get("last_ratio", 0.0), replace=replace, draw=draw,
                                            backend="reference", **args)
    cut = lambda a: [None if r is None else a[offsets[i]:offsets[i + 1]].tolist() for i, r in enumerate(rows)]
    return cut(mask), None if ids is None else cut(ids)


def kinds():
    """The rows as every frame kind of this environment, with readers of a column as Python lists."""
    arrow = pa.array(ROWS, type=pa.list_(pa.int64()))
    table = pa.table({"session": KEYS, "item_ids": arrow})
    frame = pd.DataFrame({"session": KEYS, "item_ids": pd.Series(ROWS, dtype=object)})
    out = {
        "pandas object": (frame, lambda o, c: list(o[c])),
        "pandas ArrowDtype": (frame.assign(item_ids=pd.Series(pd.arrays.ArrowExtensionArray(arrow))),
                              lambda o, c: o[c].tolist()),
        "pyarrow": (table, lambda o, c: o.column(c).to_pylist()),
    }
    try:
        import polars as pl

        out["polars"] = (pl.from_arrow(table), lambda o, c: o.get_column(c).to_list())
        out["polars lazy"] = (pl.from_arrow(table).lazy(), lambda o, c: o.collect().get_column(c).to_list())
    except ImportError:
        pass
    return out


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o))
def test_every_kind_gives_the_masks_and_input_ids_of_the_rules(options):
    want_mask, want_ids = expected(ROWS, KEYS, options, **ARGS)
    for kind, (data, read) in kinds().items():
        out = mask_random(data, "item_ids", key="session", **ARGS, **options)
        assert as_mask_lists(read(out, "item_ids_mask")) == want_mask, kind
        if want_ids is None:
            columns = out.collect_schema().names() if kind == "polars lazy" else list(out.columns if kind != "pyarrow"
                                                                                      else out.column_names)
            assert "item_ids_input" not in columns, kind
        else:
            assert _lists(read(out, "item_ids_input")) == want_ids, kind


def test_input_ids_follow_the_rules():
    """[MASK] positions hold pad_id, random ones an id of the vocabulary (never pad_id), the rest their item."""
    data = pd.DataFrame({"session": KEYS, "item_ids": pd.Series(ROWS, dtype=object)})
    out = mask_random(data, "item_ids", key="session", **ARGS, replace=(0.4, 0.4, 0.2), vocab=(0, 5))
    values = np.concatenate([np.asarray(r, dtype=np.int64) for r in out["item_ids"] if r is not None])
    mask = np.concatenate([np.asarray(m, dtype=bool) for m in out["item_ids_mask"] if m is not None])
    ids = np.concatenate([np.asarray(i, dtype=np.int64) for i in out["item_ids_input"] if i is not None])
    assert (ids[~mask] == values[~mask]).all()
    changed = mask & (ids != values)
    assert (ids[changed] < 5).all() and (ids[mask] == 0).any() and ((ids[mask] != 0) & (ids[mask] != values[mask])).any()
    assert [r is None for r in out["item_ids_input"]] == [r is None for r in ROWS]  # null rows stay null


def test_item_counts_draw_only_counted_items():
    counts = np.zeros(40, dtype=np.int64)
    counts[[7, 9]] = [1, 3]
    out = mask_random(pa.table({"item_ids": pa.array(ROWS)}), "item_ids", **ARGS, replace=(0.0, 1.0, 0.0),
                      item_counts=counts)
    masked = [i for ids, m in zip(out.column("item_ids_input").to_pylist(), out.column("item_ids_mask").to_pylist())
              if ids is not None for i, b in zip(ids, m) if b]
    assert masked and set(masked) <= {7, 9}


def test_last_ratio_one_gives_mask_lasts_masks():
    table = pa.table({"item_ids": pa.array(ROWS)})
    got = mask_random(table, "item_ids", **ARGS, last_ratio=1.0).column("item_ids_mask").to_pylist()
    assert got == mask_last(table, "item_ids").column("item_ids_mask").to_pylist()


def test_defaults_give_the_plain_masks_and_input_column_names_the_column():
    table = pa.table({"session": KEYS, "item_ids": pa.array(ROWS)})
    plain = mask_random(table, "item_ids", key="session", **ARGS)
    same = mask_random(table, "item_ids", key="session", **ARGS, last_ratio=0.0, replace=None)
    assert plain.equals(same) and plain.column_names == ["session", "item_ids", "item_ids_mask"]
    out = mask_random(table, "item_ids", key="session", **ARGS, replace=(1.0, 0.0, 0.0), input_column="x")
    assert out.column_names == ["session", "item_ids", "item_ids_mask", "x"]
    assert out.column("item_ids_mask").equals(plain.column("item_ids_mask"))  # replace changes no mask


def test_the_input_column_has_the_item_columns_type():
    for item_type in (pa.list_(pa.int32()), pa.large_list(pa.int64())):
        table = pa.table({"item_ids": pa.array(ROWS, type=item_type)})
        out = mask_random(table, "item_ids", **ARGS, replace=(0.5, 0.3, 0.2), vocab=(1, 40))
        assert out.schema.field("item_ids_input").type == item_type
        frame = pd.DataFrame({"item_ids": pd.Series(pd.arrays.ArrowExtensionArray(table.column("item_ids")))})
        got = mask_random(frame, "item_ids", **ARGS, replace=(0.5, 0.3, 0.2), vocab=(1, 40))["item_ids_input"]
        assert got.dtype == pd.ArrowDtype(item_type)
    frame = pd.DataFrame({"item_ids": pd.Series([np.array(r, dtype=np.int32) if r is not None else None for r in ROWS],
                                                dtype=object)})
    got = mask_random(frame, "item_ids", **ARGS, replace=(0.5, 0.3, 0.2), vocab=(1, 40))["item_ids_input"]
    assert got.dtype == object and next(r for r in got if r is not None).dtype == np.int32


@pytest.mark.parametrize("options", [
    dict(last_ratio=1.5), dict(last_ratio="x"), dict(replace=(0.5, 0.5)), dict(replace=(0.5, 0.6, -0.1)),
    dict(replace=(0.5, 0.5, 0.5)), dict(replace=(0.8, 0.1, 0.1), vocab=(5, 5)),
    dict(replace=(0.8, 0.1, 0.1), vocab=(1, 5), item_counts=[1, 2]), dict(vocab=(1, 5)),
    dict(replace=(0.8, 0.1, 0.1), item_counts=[0, 0]), dict(replace=(0.8, 0.1, 0.1), item_counts=[1.5]),
    dict(replace=(0.8, 0.1, 0.1), pad_id=None, vocab=(1, 5)), dict(input_column="x"),
    dict(replace=(0.8, 0.1, 0.1), vocab=(1, 5), input_column=""),
])
def test_bad_options_raise_the_operators_errors(options):
    """The same checker as MaskRandom's (masking/bert_params.py): same type, same words."""
    kw = {"last_ratio": 0.0, "replace": None, "vocab": None, "item_counts": None, "pad_id": 0, **options}
    input_column = kw.pop("input_column", None)
    with pytest.raises((TypeError, ValueError)) as want:
        bert_params.check_bert_options(**kw)
        bert_params.check_input_column(input_column, bert_params.check_replace(kw["replace"]))
    with pytest.raises(want.type) as got:
        mask_random(pa.table({"item_ids": pa.array(ROWS)}), "item_ids", seed=1, **options)
    assert str(got.value) == str(want.value)


def test_random_items_need_a_vocabulary_and_names_must_not_collide():
    table = pa.table({"item_ids": pa.array(ROWS), "item_ids_input": pa.array(KEYS)})
    with pytest.raises(ValueError, match="mask_random: replace=... draws random items but the vocabulary is unknown"):
        mask_random(table, "item_ids", seed=1, replace=(0.8, 0.1, 0.1))
    with pytest.raises(ValueError, match="input column name 'item_ids_input' collides"):
        mask_random(table, "item_ids", seed=1, replace=(0.8, 0.1, 0.1), vocab=(1, 9))
    with pytest.raises(ValueError, match="input column name 'item_ids_mask' collides"):
        mask_random(table, "item_ids", seed=1, replace=(0.8, 0.1, 0.1), vocab=(1, 9), input_column="item_ids_mask")
    small = pa.table({"item_ids": pa.array([[1, 2, 3]], type=pa.list_(pa.int8()))})
    with pytest.raises(ValueError, match=r"vocab high \(1000\) does not fit the item ids' dtype int8"):
        mask_random(small, "item_ids", seed=1, replace=(0.0, 1.0, 0.0), vocab=(1, 1000))


def test_dask_gives_each_partitions_masks_and_input_ids_with_the_right_meta():
    dask = pytest.importorskip("dask")
    dd = pytest.importorskip("dask.dataframe")
    frame = pd.DataFrame({"session": KEYS, "item_ids": pd.Series(ROWS, dtype=object)})
    options = dict(replace=(0.5, 0.3, 0.2), vocab=(1, 40), last_ratio=0.2)
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = dd.from_pandas(frame, npartitions=3)
    out = mask_random(ddf, "item_ids", key="session", **ARGS, **options)
    assert list(out._meta.columns) == ["session", "item_ids", "item_ids_mask", "item_ids_input"]
    got = out.compute()
    want_mask, want_ids = expected(ROWS, KEYS, options, **ARGS)
    assert as_mask_lists(got["item_ids_mask"]) == want_mask and _lists(got["item_ids_input"]) == want_ids


def test_cudf_double_gives_the_same_masks_and_input_ids(monkeypatch):
    import fake_pylibcudf

    cudf = fake_pylibcudf.install(monkeypatch)
    gdf = cudf.DataFrame.from_arrow(pa.table({"session": KEYS, "item_ids": pa.array(ROWS, type=pa.list_(pa.int32()))}))
    options = dict(replace=(0.5, 0.3, 0.2), vocab=(1, 40), last_ratio=0.2)
    out = mask_random(gdf, "item_ids", key="session", **ARGS, **options)
    want_mask, want_ids = expected(ROWS, KEYS, options, **ARGS)
    assert as_mask_lists(out["item_ids_mask"].to_pylist()) == want_mask
    assert _lists(out["item_ids_input"].to_pylist()) == want_ids


@pytest.mark.parametrize("options", OPTIONS[:3], ids=lambda o: ",".join(o))
def test_the_operator_writes_the_same_columns(options):
    pytest.importorskip("nvtabular")
    from helpers import run_workflow

    from merlin_mlm_ops import MaskRandom

    frame = pd.DataFrame({"session": KEYS, "item_ids": pd.Series(ROWS, dtype=object)}).iloc[1:]  # first row not null
    want, _ = run_workflow(["item_ids"] >> MaskRandom(key="session", **ARGS, **options), frame, npartitions=3)
    for kind, (data, read) in kinds().items():
        data = data.iloc[1:] if kind.startswith("pandas") else data.slice(1)
        out = mask_random(data, "item_ids", key="session", **ARGS, **options)
        assert as_mask_lists(read(out, "item_ids_mask")) == as_mask_lists(want["item_ids_mask"]), kind
        assert _lists(read(out, "item_ids_input")) == _lists(want["item_ids_input"]), kind
