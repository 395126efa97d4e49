from __future__ import annotations

import random

import pytest

import steadyml
from steadyml import Platform
from steadyml.core.errors import ExperimentNotFoundError, InvalidFilterError
from steadyml.tracking.filters import parse_filter, parse_order_by


@pytest.fixture
def logged(platform: Platform) -> list[dict]:
    rng = random.Random(3)
    truth = []
    for i in range(60):
        params = {"model": rng.choice(["rf", "gbm", "lr"]), "depth": str(rng.randint(1, 5))}
        metrics = {"acc": round(rng.random(), 6), "loss": round(rng.random(), 6)}
        if i % 10 == 0:
            metrics.pop("loss")  # some runs lack the metric used for ordering
        with steadyml.start_run("search", params=params, tags={"i": i},
                                platform=platform) as run:
            run.log_metrics(metrics)
        truth.append({"id": run.id, **params, **metrics})
    with steadyml.start_run("other", platform=platform) as run:
        run.log_metrics({"acc": 0.99})
    return truth


def test_filter_and_order_match_brute_force(platform: Platform, logged: list[dict]) -> None:
    found = steadyml.search_runs(experiment="search",
                                 filter="metrics.acc > 0.3 and params.model = 'rf'",
                                 order_by=["metrics.loss DESC"], platform=platform)
    expected = [t for t in logged if t["acc"] > 0.3 and t["model"] == "rf"]
    with_loss = sorted((t for t in expected if "loss" in t), key=lambda t: -t["loss"])
    assert [r.id for r in found][:len(with_loss)] == [t["id"] for t in with_loss]
    assert {r.id for r in found} == {t["id"] for t in expected}  # runs without loss come last
    assert all(r.params["model"] == "rf" for r in found)


def test_like_attributes_tags_and_limit(platform: Platform, logged: list[dict]) -> None:
    gb = platform.tracking.search_runs(filter="params.model LIKE 'g%'", limit=1000)
    assert {r.id for r in gb} == {t["id"] for t in logged if t["model"] == "gbm"}
    assert len(platform.tracking.search_runs(experiment="search", limit=7)) == 7
    tagged = platform.tracking.search_runs(filter="tags.i = '5'")
    assert [r.id for r in tagged] == [logged[5]["id"]]
    finished = platform.tracking.search_runs(filter="attributes.status = 'FINISHED'",
                                             limit=1000)
    assert len(finished) == 61
    by_acc = platform.tracking.search_runs(order_by=["metrics.acc"], limit=1000)
    accs = [r.metrics["acc"] for r in by_acc]
    assert accs == sorted(accs)


def test_unknown_experiment(platform: Platform) -> None:
    with pytest.raises(ExperimentNotFoundError):
        platform.tracking.search_runs(experiment="nope")


@pytest.mark.parametrize("bad", [
    "metrics.acc >",
    "metrics.acc > 'high'",
    "params.model > 'a'",
    "params.depth = 3",
    "foo.bar = 1",
    "attributes.colour = 'red'",
    "metrics.acc > 0.1 or metrics.acc < 0.05",
    "metrics.acc ~ 3",
])
def test_bad_filters_are_named(bad: str) -> None:
    with pytest.raises(InvalidFilterError):
        parse_filter(bad)


def test_parse_filter_forms() -> None:
    clauses = parse_filter("metrics.`val acc` >= 1e-3 AND params.\"opt\" = \"adam\" "
                           "and tags.note ILIKE '%it''s%'".replace("''", "\\'"))
    assert [(c.field.scope, c.field.key, c.op, c.value) for c in clauses] == [
        ("metrics", "val acc", ">=", 0.001), ("params", "opt", "=", "adam"),
        ("tags", "note", "ilike", "%it's%")]
    orders = parse_order_by(["metrics.acc DESC", "attributes.start_time"])
    assert [(o.field.key, o.descending) for o in orders] == [("acc", True), ("start_time", False)]
    with pytest.raises(InvalidFilterError):
        parse_order_by(["acc DESC"])
