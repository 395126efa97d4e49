"""Training–serving skew against a direct numpy computation on generated data."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from steadyml.core.errors import InvalidInputError
from steadyml.monitoring import compute_skew


def _tables(seed: int, n: int = 5000) -> tuple[pa.Table, pa.Table, dict[str, np.ndarray]]:
    """Offline rows keyed by (entity, day); served copies with known faults injected."""
    rng = np.random.default_rng(seed)
    entity, day = np.repeat(np.arange(n // 5), 5), np.tile(np.arange(5), n // 5)
    amount = rng.lognormal(3, 1, n)
    age = rng.normal(40, 10, n)
    tiny = rng.normal(0, 1, n)
    country = rng.choice(["de", "fr", "it"], n)
    offline = pa.table({"entity": entity, "day": day, "amount": amount, "age": age,
                        "tiny": tiny, "country": country})
    served_amount = amount.copy()
    cents = rng.random(n) < 0.07  # a unit bug on 7 % of rows: cents instead of euros
    served_amount[cents] *= 100
    served_age = age.copy()
    gone = rng.random(n) < 0.02  # the online store missed these: NaN served
    served_age[gone] = np.nan
    served_tiny = tiny * (1 + 1e-9)  # float noise well inside the tolerance
    served_country = country.copy()
    stale = rng.random(n) < 0.004  # a stale lookup, under the 1 % threshold
    served_country[stale] = "xx"
    order = rng.permutation(n)[: n - 100]  # served in another order; 100 keys never served
    served = pa.table({"entity": entity[order], "day": day[order],
                       "amount": served_amount[order], "age": served_age[order],
                       "tiny": served_tiny[order], "country": served_country[order]})
    truth = {"amount": served_amount[order] - amount[order], "age_served": served_age[order],
             "age": age[order], "tiny": served_tiny[order], "tiny_off": tiny[order],
             "country": served_country[order] != country[order],
             "amount_off": amount[order], "amount_served": served_amount[order]}
    return served, offline, truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_figure_matches_a_direct_numpy_computation(seed: int) -> None:
    served, offline, t = _tables(seed)
    report = compute_skew(served, offline, keys=["entity", "day"], atol=1e-6, rtol=1e-6)

    assert report.matched_rows == served.num_rows and report.unmatched_served == 0
    assert report.ambiguous_keys == 0 and report.offline_rows == offline.num_rows
    amount = report.feature("amount")
    close = np.isclose(t["amount_served"], t["amount_off"], atol=1e-6, rtol=1e-6)
    assert amount.mismatches == int((~close).sum())
    diff = np.abs(t["amount"])
    assert amount.mean_abs_diff == pytest.approx(diff.mean(), rel=1e-9)
    assert amount.max_abs_diff == pytest.approx(diff.max(), rel=1e-12)
    age = report.feature("age")
    missing = np.isnan(t["age_served"])
    assert age.mismatches == age.one_side_missing == int(missing.sum())
    assert age.mean_abs_diff == 0.0
    assert report.feature("tiny").mismatches == int(
        (~np.isclose(t["tiny"], t["tiny_off"], atol=1e-6, rtol=1e-6)).sum()) == 0
    assert report.feature("country").mismatches == int(t["country"].sum())
    # Only the cents bug and the missing ages pass 1 %; the stale countries (0.4 %) do not.
    assert report.flagged == ["age", "amount"]
    example = amount.examples[0]
    assert example["served"] == pytest.approx(example["offline"] * 100)
    assert set(example["key"]) == {"entity", "day"}


def test_mean_abs_diff_norm_uses_the_offline_standard_deviation_of_matched_rows() -> None:
    served, offline, t = _tables(4)
    report = compute_skew(served, offline, keys=["entity", "day"])
    std = np.std(t["amount_off"], ddof=1)
    assert report.feature("amount").mean_abs_diff_norm == pytest.approx(
        np.abs(t["amount"]).mean() / std, rel=1e-9)


def test_unmatched_and_ambiguous_keys_are_counted_and_left_out() -> None:
    offline = pa.table({"id": ["a", "b", "b", "c"], "x": [1.0, 2.0, 2.5, 3.0]})
    served = pa.table({"id": ["a", "b", "c", "d"], "x": [1.0, 2.0, 30.0, 4.0]})
    report = compute_skew(served, offline, keys=["id"], max_mismatch_rate=0.0)
    assert report.matched_rows == 2  # a and c; b is ambiguous, d unknown
    assert report.unmatched_served == 2 and report.ambiguous_keys == 1
    x = report.feature("x")
    assert (x.mismatches, x.mismatch_rate, x.max_abs_diff) == (1, 0.5, 27.0)
    assert x.examples == [{"key": {"id": "c"}, "served": 30.0, "offline": 3.0}]
    assert report.to_dict()["flagged"] == ["x"]


def test_a_type_changed_upstream_is_skewed_and_nulls_match_nulls() -> None:
    offline = pa.table({"id": [1, 2, 3], "amount": [1.5, None, 3.0], "tier": ["a", None, "c"]})
    served = pa.table({"id": [1, 2, 3], "amount": ["1.5", None, "3.0"],
                       "tier": ["a", None, "c"]})
    report = compute_skew(served, offline, keys=["id"])
    assert report.feature("amount").kind == "type_changed"
    assert report.flagged == ["amount"]
    tier = report.feature("tier")
    assert (tier.kind, tier.mismatches, tier.one_side_missing) == ("categorical", 0, 0)


def test_nan_and_null_both_count_as_missing() -> None:
    offline = pa.table({"id": [1, 2, 3], "x": pa.array([None, 2.0, float("nan")])})
    served = pa.table({"id": [1, 2, 3], "x": [float("nan"), None, float("nan")]})
    x = compute_skew(served, offline, keys=["id"]).feature("x")
    assert (x.mismatches, x.one_side_missing, x.mean_abs_diff) == (1, 1, None)
    assert x.examples == [{"key": {"id": 2}, "served": None, "offline": 2.0}]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"keys": []}, "at least one key"),
    ({"keys": ["nope"]}, "The served data has no column(s) 'nope'"),
    ({"keys": ["id"], "features": ["y"]}, "The offline data has no column(s) 'y'"),
    ({"keys": ["id"], "atol": -1.0}, "must be non-negative"),
    ({"keys": ["id"], "max_mismatch_rate": 2.0}, "max_mismatch_rate between 0 and 1"),
])
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    served = pa.table({"id": [1], "x": [1.0], "y": [2.0]})
    offline = pa.table({"id": [1], "x": [1.0]})
    with pytest.raises(InvalidInputError) as caught:
        compute_skew(served, offline, **kwargs)
    assert message in str(caught.value)
