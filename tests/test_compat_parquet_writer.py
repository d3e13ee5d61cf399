"""merlin_mlm_ops.compat.parquet_writer: merlin-core's CPU Parquet writer closes the files it opened."""
import pandas as pd
import pyarrow.parquet as pq
import pytest
from merlin.io.parquet import CPUParquetWriter

from merlin_mlm_ops.compat import parquet_writer as parquet_compat


def _write_and_close(out_dir):
    writer = CPUParquetWriter(str(out_dir), num_out_files=1, fs=None)
    writer._write_table(0, pd.DataFrame({"a": [1, 2, 3], "b": [[1], [2, 3], []]}))
    writer._close_writers()
    return writer


@pytest.fixture
def original_writer():
    parquet_compat.undo()
    yield
    parquet_compat.apply()


def test_merlin_core_23_8_leaves_the_files_open(original_writer, tmp_path):
    # what the fix is for: the original closes the pyarrow writer, not the file under it
    writer = _write_and_close(tmp_path)
    assert writer.data_files and not any(f.closed for f in writer.data_files)


def test_with_the_fix_every_file_is_closed_and_readable_at_once(tmp_path):
    assert parquet_compat.apply() and parquet_compat.apply()  # active, idempotent
    writer = _write_and_close(tmp_path)
    assert all(f.closed for f in writer.data_files)
    table = pq.read_table(writer.data_paths[0])
    assert table.to_pydict() == {"a": [1, 2, 3], "b": [[1], [2, 3], []]}
