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
        _walk(platform)
    console.print(Panel(f"Demo finished in {time.perf_counter() - started:.1f} s. Everything "
                        f"above is in {settings.resolved_db_url} and "
                        f"{settings.resolved_artifacts}.\nTry: [bold]steady runs list[/], "
                        f"[bold]steady models show {MODEL}[/], [bold]steady lineage "
                        f"{MODEL}@champion --json[/], [bold]steady audit --verify[/].",
                        border_style="green"))


def _walk(platform: Platform) -> None:
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


def _step(n: int, title: str, why: str) -> None:
    console.rule(f"[bold]Step {n}[/] · {title}", align="left")
    console.print(f"[dim]{why}[/]")
