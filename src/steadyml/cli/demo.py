"""`steady demo`: the whole loop on bundled data, narrated step by step."""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.panel import Panel

from steadyml.cli.app import app, settings_of
from steadyml.cli.lineage import lineage_tree
from steadyml.cli.output import console, table
from steadyml.core.errors import ConfigurationError
from steadyml.platform import Platform
from steadyml.sdk import start_run

MODEL = "diagnosis"
EXPERIMENT = "diagnosis-demo"
DEPLOYMENT = "diagnosis-api"


@app.command()
def demo(ctx: typer.Context) -> None:
    """Run the end-to-end walk-through on bundled data (the embedded default is enough)."""
    try:
        import pandas as pd  # noqa: F401
        from sklearn.datasets import load_breast_cancer  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError("The demo trains scikit-learn models: "
                                 "pip install 'steadyml[sklearn]'.") from exc
    settings = settings_of(ctx)
    started = time.perf_counter()
    with Platform(settings) as platform:
        test = _walk(platform)
        _serve(platform, test)
        from steadyml.cli.demo_control import run_controller_demo

        run_controller_demo(platform, deployment=DEPLOYMENT, model=MODEL,
                            features=list(test.columns), first_step=13, step=_step,
                            client_factory=_Client, wait_for_revision=_wait_for_revision)
    console.print(Panel(f"Demo finished in {time.perf_counter() - started:.1f} s. Everything "
                        f"above is in {settings.resolved_db_url} and "
                        f"{settings.resolved_artifacts}.\nTry: [bold]steady runs list[/], "
                        f"[bold]steady models show {MODEL}[/], [bold]steady lineage "
                        f"{MODEL}@champion --json[/], [bold]steady audit --verify[/], "
                        f"[bold]steady deployments history {DEPLOYMENT}[/], "
                        f"[bold]steady server[/].",
                        border_style="green"))


def _walk(platform: Platform) -> Any:
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _step(1, "Load bundled data",
          "scikit-learn's breast-cancer dataset: 569 tumours, 30 numeric features, a binary "
          "diagnosis. No download.")
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    train, test = train_test_split(frame, test_size=0.3, random_state=7,
                                   stratify=frame["target"])
    features = [c for c in frame.columns if c != "target"]
    console.print(f"train {len(train)} rows, test {len(test)} rows, {len(features)} features")

    candidates: list[tuple[str, Any, dict[str, Any]]] = [
        ("logistic-regression",
         make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=500)),
         {"model": "logistic_regression", "C": 0.05, "scaler": "standard"}),
        ("gradient-boosting",
         HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, random_state=7),
         {"model": "hist_gradient_boosting", "max_iter": 150, "learning_rate": 0.1}),
    ]
    versions = []
    for n, (label, model, params) in enumerate(candidates, start=2):
        _step(n, f"Train and track '{label}'",
              "start_run captures the git commit, dirty flag, diff hash and the installed "
              "packages; log_dataset fingerprints and profiles the data.")
        with start_run(EXPERIMENT, name=label, params=params, platform=platform) as run:
            train_ds = run.log_dataset(train, name="cancer-train", context="training")
            run.log_dataset(test, name="cancer-test", context="evaluation")
            model.fit(train[features], train["target"])
            proba = model.predict_proba(test[features])[:, 1]
            metrics = {"accuracy": accuracy_score(test["target"], proba > 0.5),
                       "roc_auc": roc_auc_score(test["target"], proba),
                       "log_loss": log_loss(test["target"], proba)}
            run.log_metrics(metrics)
            version = run.register_model(MODEL, model, input_example=train[features].head(50),
                                         description=f"{label} on cancer-train")
        versions.append(version)
        console.print(f"run {run.id[:12]}  dataset cancer-train sha256:"
                      f"{train_ds.fingerprint[:16]}…  "
                      + "  ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
        console.print(f"registered [bold]{version.ref}[/] ({version.flavor}, artifact "
                      f"sha256:{version.artifact_digest[:16]}…)")

    _step(4, "Compare versions and set aliases",
          "The better ROC AUC on the held-out set becomes champion, the other challenger. "
          "Each alias move is an audited state change.")
    ranked = sorted(versions, key=lambda v: v.metrics["roc_auc"], reverse=True)
    console.print(table(None, ["version", "accuracy", "roc_auc", "log_loss"], [
        [v.ref, v.metrics["accuracy"], v.metrics["roc_auc"], v.metrics["log_loss"]]
        for v in versions]))
    champion = platform.registry.set_alias(ranked[0].ref, "champion")
    platform.registry.set_alias(ranked[1].ref, "challenger")
    console.print(f"[bold]{MODEL}@champion[/] → version {champion.version}, "
                  f"[bold]{MODEL}@challenger[/] → version {ranked[1].version}")

    _step(5, "Load the champion and predict",
          "The artifact is verified against its sha256 before it is unpickled; the input "
          "is checked against the signature.")
    loaded = platform.registry.load(f"{MODEL}@champion")
    predictions = loaded.predict(test[features])
    accuracy = float(np.mean(predictions == test["target"].to_numpy()))
    console.print(f"{loaded.ref}: {len(predictions)} predictions, accuracy {accuracy:.4f}")

    _step(6, f"Lineage of {MODEL}@champion",
          "Which data and code produced the model: one command, `steady lineage`.")
    doc = platform.lineage(f"{MODEL}@champion")
    console.print(lineage_tree(doc))

    _step(7, "Audit log",
          "Every state change, hash-chained: `steady audit --verify` detects an edited or "
          "deleted entry.")
    report = platform.verify_audit()
    entries = platform.audit_entries(limit=8)
    console.print(table(None, ["#", "action", "subject", "actor"],
                        [[e.seq, e.action, e.subject, e.actor] for e in entries]))
    status = "[green]intact[/]" if report.ok else "[red]BROKEN[/]"
    console.print(f"chain {status}: {report.entries} entries, head {report.head_hash[:16]}…")
    return test[features]


def _serve(platform: Platform, test: Any) -> None:
    from steadyml.serving.server import BackgroundServer, create_app

    _step(8, f"Serve the champion as '{DEPLOYMENT}'",
          "A deployment is a named endpoint speaking the Open Inference Protocol (V2). "
          "`steady server` serves every deployment; here it runs in this process.")
    platform.deployments.deploy(DEPLOYMENT, f"{MODEL}@champion")
    rows = test.to_numpy()
    app = create_app(platform, poll_interval_s=0.1)
    with BackgroundServer(app) as url:
        client = _Client(url)
        answered = _traffic(client, rows, 300)
        console.print(f"{url}/v2/models/{DEPLOYMENT}/infer answered 300 single-row requests: "
                      + _shares(answered))
        _print_status(client)

        _step(9, "Canary the challenger at 25 %",
              "Requests with the same routing key (header x-routing-key) always reach the "
              "same arm, so a user sees one model. The server picks up the new revision "
              "from the store, loads and warms the model, then switches atomically.")
        canary = platform.deployments.deploy(DEPLOYMENT, f"{MODEL}@challenger", canary=25)
        _wait_for_revision(client, canary.revision)
        answered = _traffic(client, rows, 400)
        console.print(f"revision {canary.revision}: 400 requests, " + _shares(answered))
        _print_status(client)

        _step(10, "Roll back", "One command, `steady rollback`, drops the candidate. The "
              "watcher polls every 0.1 s here (0.2 s by default).")
        started = time.perf_counter()
        rolled = platform.deployments.rollback(DEPLOYMENT)
        _wait_for_revision(client, rolled.revision)
        elapsed_ms = (time.perf_counter() - started) * 1000
        answered = _traffic(client, rows, 200)
        console.print(f"revision {rolled.revision} live {elapsed_ms:.0f} ms after the "
                      f"rollback; next 200 requests: " + _shares(answered))

        _step(11, "What is serving right now", "`steady lineage "
              f"{DEPLOYMENT}`: the versions taking traffic, since when, and their lineage.")
        doc = platform.lineage(DEPLOYMENT)
        for arm in doc["arms"]:
            lineage = arm["lineage"]
            data = ", ".join(f"{d['name']} sha256:{d['fingerprint'][:12]}…"
                             for d in lineage["datasets"])
            console.print(f"{arm['arm']} {arm['model']} ({arm['traffic_percent']:g} %) since "
                          f"{doc['since']}: commit {(lineage['code'] or {}).get('commit')}, "
                          f"data {data}")
    _step(12, "Prediction log", "Every prediction, shadow ones included, lands in Parquet "
          "segments (query them with DuckDB); the graceful shutdown above flushed them.")
    import pyarrow.dataset as pads

    logged = pads.dataset(f"{platform.settings.resolved_logs}/predictions", format="parquet",
                          partitioning="hive").to_table(columns=["arm", "model_version"])
    counts = logged.group_by(["arm", "model_version"]).aggregate([("arm", "count")]).to_pylist()
    console.print(table(None, ["arm", "model version", "rows"], [
        [c["arm"], c["model_version"], c["arm_count"]] for c in counts]))


class _Client:
    """A keep-alive HTTP client on the standard library (the demo needs no extra package)."""

    def __init__(self, url: str) -> None:
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        import http.client
        import json

        payload = None if body is None else json.dumps(body)
        for attempt in (1, 2):  # the server closes a connection left idle past its keep-alive
            try:
                self.connection.request(method, path, payload,
                                        {"content-type": "application/json", **(headers or {})})
                response = self.connection.getresponse()
                return response.status, json.loads(response.read() or b"null")
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _traffic(client: _Client, rows: Any, count: int) -> dict[str, int]:
    answered: dict[str, int] = {}
    for i in range(count):
        row = rows[i % len(rows)]
        status, body = client.call(
            "POST", f"/v2/models/{DEPLOYMENT}/infer",
            {"inputs": [{"name": "input-0", "shape": [1, len(row)], "datatype": "FP64",
                         "data": row.tolist()}]}, {"x-routing-key": f"user-{i}"})
        version = body["model_version"] if status == 200 else f"HTTP {status}"
        answered[version] = answered.get(version, 0) + 1
    return answered


def _shares(answered: dict[str, int]) -> str:
    total = sum(answered.values())
    return ", ".join(f"{MODEL}:{v} answered {n} ({100 * n / total:.0f} %)"
                     for v, n in sorted(answered.items()))


def _wait_for_revision(client: _Client, revision: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status, body = client.call("GET", f"/api/v1/deployments/{DEPLOYMENT}")
        if status == 200 and body.get("serving_revision") == revision:
            return
        time.sleep(0.02)
    raise RuntimeError(f"The server did not switch to revision {revision} in {timeout_s} s.")


def _print_status(client: _Client) -> None:
    _, status = client.call("GET", f"/api/v1/deployments/{DEPLOYMENT}")
    rows = [[arm["arm"], arm["model"], arm["requests"], arm["rate_per_s"], arm["p50_ms"],
             arm["p99_ms"], arm["error_rate"],
             None if arm["cost_per_1k"] is None else f"{arm['cost_per_1k']:.6f}"]
            for arm in status["live"].values()]
    console.print(table(f"steady status {DEPLOYMENT}: revision {status['revision']} "
                           "(last 60 s)", ["arm", "model", "requests", "req/s", "p50 ms",
                                           "p99 ms", "error rate", "cost / 1k"], rows))


def _step(n: int, title: str, why: str) -> None:
    console.rule(f"[bold]Step {n}[/] · {title}", align="left")
    console.print(f"[dim]{why}[/]")
