"""PyArrow tables and Polars frames: both hold list columns in Arrow's layout, read without copying."""
from __future__ import annotations

from merlin_mlm_ops.errors import MaskInputError
from merlin_mlm_ops.frames import arrow_lists


def _mask_arrays(columns, spec, n_rows):
    """``{name: Arrow array}`` of the mask (and the input ids, under ``replace``), from
    ``columns(name)`` -> the Arrow data of a column."""
    labels = range(n_rows)
    source = columns(spec.columns[0])
    first = arrow_lists.flatten(source, spec.columns[0], spec.label, labels)
    others = [(c, arrow_lists.flatten(columns(c), c, spec.label, labels, False)) for c in spec.columns[1:]]
    spec.aligned(first, others, labels)
    keys = None
    if spec.random and spec.key:
        keys = arrow_lists.row_keys(columns(spec.key), spec.key, spec.label, labels)
    mask, ids = spec.mask(first, keys)
    out = {spec.mask_name: arrow_lists.bool_lists(mask, first, source.type)}
    if ids is not None:
        out[spec.input_name] = arrow_lists.value_lists(ids, first, source.type)
    return out


def apply_table(table, spec):
    """A ``pyarrow.Table`` with the mask column appended (``list`` in: ``list<bool>``; ``large_list``: large)."""
    spec.check_columns(table.column_names)
    for name, array in _mask_arrays(table.column, spec, table.num_rows).items():
        table = table.append_column(name, array)
    return table


def apply_polars(frame, spec):
    """A Polars DataFrame with the mask column (``List(Boolean)``) appended; a LazyFrame maps its batches.

    A LazyFrame runs the mask on the whole collected frame (``streamable=False``), so masks drawn
    without ``key`` use the same row ordinals as on the eager frame; no filter, slice or projection
    written after the mask is pushed below it (Polars 1.x allowed all three by default).
    """
    import polars as pl

    if isinstance(frame, pl.LazyFrame):
        schema = frame.collect_schema()
        spec.check_columns(schema.names())
        out_schema = dict(schema)
        out_schema[spec.mask_name] = pl.List(pl.Boolean)
        if spec.input_name is not None:
            out_schema[spec.input_name] = schema[spec.columns[0]]
        return map_whole(frame, lambda batch: apply_polars(batch, spec), out_schema)
    spec.check_columns(frame.columns)
    arrays = _mask_arrays(lambda name: _polars_arrow(frame.get_column(name), name, spec), spec, frame.height)
    return frame.with_columns([pl.from_arrow(array).alias(name) for name, array in arrays.items()])


def map_whole(lazy, function, schema):
    """``lazy`` with ``function`` (eager DataFrame -> DataFrame) run on the whole collected frame when it is
    collected; ``schema`` is the output's, known before.

    Not streamed (``streamable=False``): the function sees every row at once, as on the eager frame.
    No filter, slice or projection written after it is pushed below it: Polars 1.x's ``map_batches``
    allows all three by default, which would change which rows (or columns) the function sees.
    """
    return lazy.map_batches(function, schema=schema, streamable=False,
                            predicate_pushdown=False, projection_pushdown=False, slice_pushdown=False)


def _polars_arrow(series, name, spec):
    """A Polars column as Arrow (zero-copy), or a MaskInputError naming it (Int128: pyarrow cannot import it)."""
    try:
        return series.to_arrow()
    except (ValueError, TypeError, NotImplementedError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise MaskInputError(spec.label, name, f"Polars dtype {series.dtype} cannot be read through Arrow "
                             f"({type(exc).__name__}: {exc}); cast it to 64-bit integers "
                             "(or strings, for a key)") from exc
