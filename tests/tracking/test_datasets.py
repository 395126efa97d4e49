from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import steadyml
from steadyml import Platform
from steadyml.core.errors import UnsupportedDataError
from steadyml.tracking.datasets import fingerprint, to_table


def _frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "amount": rng.lognormal(3, 1, n),
        "age": rng.integers(18, 90, n),
        "country": rng.choice(["fr", "de", "us", "jp"], n),
        "flag": rng.random(n) > 0.7,
        "ts": pd.date_range("2026-01-01", periods=n, freq="min"),
    })
    frame.loc[::17, "amount"] = np.nan
    frame.loc[::23, "country"] = None
    return frame


def test_same_data_same_fingerprint_whatever_the_source(tmp_path) -> None:
    frame = _frame()
    from_pandas = fingerprint(to_table(frame)[0])
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pandas(frame), path, row_group_size=300)  # many chunks
    from_parquet = fingerprint(to_table(path)[0])
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    rechunked = pa.Table.from_batches(arrow.to_batches(max_chunksize=77))
    categorical = frame.assign(country=frame["country"].astype("category"))
    reordered = frame[list(reversed(frame.columns))]
    assert {from_pandas, from_parquet, fingerprint(to_table(rechunked)[0]),
            fingerprint(to_table(categorical)[0]), fingerprint(to_table(reordered)[0])} \
        == {from_pandas}


def test_any_change_changes_the_fingerprint() -> None:
    frame = _frame()
    base = fingerprint(to_table(frame)[0])
    changed_value = frame.copy()
    changed_value.loc[5, "amount"] = 1.0
    changed_null = frame.copy()
    changed_null.loc[1, "age"] = None
    renamed = frame.rename(columns={"age": "years"})
    fewer = frame.iloc[:-1]
    swapped_strings = frame.copy()
    swapped_strings.loc[[1, 2], "country"] = ["fr", "defr"]  # same bytes, other boundaries
    others = [changed_value, changed_null, renamed, fewer, swapped_strings]
    prints = {fingerprint(to_table(f)[0]) for f in others}
    assert base not in prints and len(prints) == len(others)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=5)), min_size=1, max_size=40),
       st.integers(min_value=1, max_value=10))
def test_string_fingerprint_ignores_chunking(values: list[str | None], chunk: int) -> None:
    table = pa.table({"s": pa.array(values, pa.string())})
    rechunked = pa.Table.from_batches(table.to_batches(max_chunksize=chunk))
    assert fingerprint(to_table(table)[0]) == fingerprint(to_table(rechunked)[0])


def test_unsupported_inputs_are_named(tmp_path) -> None:
    with pytest.raises(UnsupportedDataError, match="list"):
        to_table([1, 2, 3])
    with pytest.raises(UnsupportedDataError, match="does not exist"):
        to_table(tmp_path / "missing.parquet")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(UnsupportedDataError, match="Parquet"):
        to_table(tmp_path / "bad.parquet")
    nested = pa.table({"xs": pa.array([[1, 2], [3]])})
    with pytest.raises(UnsupportedDataError, match="'xs'"):
        to_table(nested)


def test_log_dataset_records_fingerprint_profile_and_copy(platform: Platform) -> None:
    frame = _frame()
    with steadyml.start_run("e", platform=platform) as run:
        ds = run.log_dataset(frame, name="train")
        again = run.log_dataset(pa.Table.from_pandas(frame), name="train", context="validation")
    assert ds.id == again.id  # same name and content: one dataset record
    assert ds.num_rows == len(frame) and ds.num_columns == 5
    assert ds.schema["country"] == "large_string"
    assert ds.digest is not None and ds.uri.endswith(ds.digest)
    stored = pq.read_table(platform.artifacts.path_of(ds.digest))
    assert fingerprint(to_table(stored)[0]) == ds.fingerprint
    details = platform.tracking.run_details(run.id)
    assert sorted(c for c, _ in details["datasets"]) == ["training", "validation"]
    assert set(ds.profile["columns"]) == set(frame.columns)


def test_parquet_path_is_recorded_by_uri(platform: Platform, tmp_path) -> None:
    path = tmp_path / "data.parquet"
    pq.write_table(pa.Table.from_pandas(_frame()), path)
    with steadyml.start_run("e", platform=platform) as run:
        ds = run.log_dataset(path, name="raw")
    assert ds.digest is None and ds.uri == path.absolute().as_uri()
