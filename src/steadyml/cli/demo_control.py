"""The demo's second half: a policy, and the controller keeping the deployment healthy alone."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from steadyml.cli.output import console, table
from steadyml.control import Controller, LogReader, online_metrics
from steadyml.monitoring import parse_policy
from steadyml.platform import Platform

POLICY = """\
deployment: {deployment}
evaluate_every: 1s
window: 10m
min_samples: 60
slo:
  error_rate: 0.02
  metric: {{name: accuracy, min: 0.85, min_outcomes: 50}}
canary:
  steps: [25, 50, 100]
  min_samples: 60
  min_duration: 0s
  max_error_rate_increase: 0.02
  max_latency_ratio: 10
drift:
  reference: training
  window: 3s
  persistence: 2
actions:
  promote: true
  rollback: true
  alert: {{repeat_after: 1h}}
  retrain:
    pipeline: {pipeline}
    params: {{path: {batch}}}
    cooldown: 3s
    estimated_cost: 2.0
    budget: 4.0
"""


class Flaky:
    """The champion's answers, but it fails on the largest tumours: a bad release."""

    def __init__(self, model: Any, limit: float) -> None:
        self.model, self.limit = model, limit

    def predict(self, X: Any) -> np.ndarray:
        import warnings

        if (np.asarray(X, dtype=float)[:, 0] > self.limit).any():
            raise RuntimeError("unsupported input range")
        with warnings.catch_warnings():  # an array, where the pipeline saw named columns
            warnings.simplefilter("ignore", UserWarning)
            return self.model.predict(X)


def run_controller_demo(platform: Platform, *, deployment: str, model: str, features: list[str],
                        first_step: int, step: Any, client_factory: Any,
                        wait_for_revision: Any) -> None:
    """Steps `first_step`...: policy, progressive canary, automatic rollback, late outcomes,
    drift alert and retrain, then the controller's timeline."""
    from sklearn.datasets import load_breast_cancer

    from steadyml.sdk import start_run
    from steadyml.serving.server import BackgroundServer, create_app
    from steadyml.store.predictions import PredictionLog

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns=lambda c: c.replace(" ", "_"))
    X = frame[features].to_numpy()
    y = data.target.to_numpy()
    batch_path = platform.settings.home / "demo-batch.parquet"
    policy_text = POLICY.format(
        deployment=deployment, batch=json.dumps(str(batch_path)),
        pipeline=json.dumps(f"{Path(__file__).with_name('demo_retrain.py')}:retrain"))
    step(first_step, "A policy, enforced by the controller",
         "`steady policy apply policy.yaml`: SLOs, canary steps, drift rules and the actions "
         "the controller may take on its own. It runs inside `steady server` (or standalone "
         "as `steady controller`); here, in this process.")
    platform.policies.apply(parse_policy(policy_text, source="policy.yaml"), source=policy_text)
    for name in ("steadyml.serving", "steadyml.controller"):  # the demo prints what matters
        logging.getLogger(name).setLevel(logging.ERROR)
    console.print(policy_text, style="cyan", highlight=False, markup=False)
    log = PredictionLog(platform.settings.resolved_logs, flush_interval_s=0.2)
    app = create_app(platform, poll_interval_s=0.1, prediction_log=log)
    controller = Controller(platform)
    since = platform.clock.now_ms()
    with BackgroundServer(app) as url:
        client = client_factory(url)
        sent = [0]

        def traffic(count: int, scale: float = 1.0) -> None:
            for _ in range(count):
                i = sent[0] % len(X)
                row = X[i] * scale
                client.call("POST", f"/v2/models/{deployment}/infer",
                            {"inputs": [{"name": "input-0", "shape": [1, len(row)],
                                         "datatype": "FP64", "data": row.tolist()}]},
                            {"x-request-id": f"demo-{sent[0]}", "x-routing-key": f"u{sent[0]}"})
                sent[0] += 1
            log.flush(timeout_s=30)

        def passes(rounds: int, *, until: str, scale: float = 1.0) -> list[Any]:
            seen = []
            for _ in range(rounds):
                current = platform.deployments.current(deployment)
                wait_for_revision(client, current.revision)
                traffic(150, scale)
                events = controller.run_once(force=True)
                seen += events
                for event in events:
                    console.print(f"  controller [bold]{event.kind}[/]: {event.message}")
                if any(e.kind == until for e in events):
                    break
            return seen

        step(first_step + 1, "A good challenger, promoted step by step",
             "Deployed at 25 %; at each step the controller compares it with stable on the "
             "same revision's requests and moves it on only once it has enough healthy ones.")
        canary = platform.deployments.deploy(deployment, f"{model}@challenger", canary=25)
        console.print(f"revision {canary.revision}: {canary.candidate.ref} at 25 %")
        passes(6, until="promote")

        step(first_step + 2, "A bad release, rolled back by itself",
             "This version fails on part of the inputs. Stable answers those requests "
             "instead (no client sees an error), and the controller rolls it back as soon "
             "as it has the samples to be sure, with the figures in the audit log.")
        champion = platform.deployments.current(deployment).stable
        good = platform.registry.load(champion.ref)
        inner = getattr(good.predictor, "model", good.predictor)
        with start_run("diagnosis-demo", platform=platform) as run:
            bad = run.register_model(model, Flaky(inner, float(np.quantile(X[:, 0], 0.85))),
                                     input_example=frame[features].head(3),
                                     signature=good.signature)
        canary = platform.deployments.deploy(deployment, bad.ref, canary=50)
        console.print(f"revision {canary.revision}: {bad.ref} at 50 %")
        passes(4, until="rollback")

        step(first_step + 3, "Outcomes arrive late",
             "Ground truth comes back by request id (`POST /api/v1/outcomes`, or `steady "
             "outcomes ingest FILE`); joined with the prediction log it gives online accuracy "
             "per model version.")
        ids = [f"demo-{i}" for i in range(sent[0])]
        platform.outcomes.ingest([{"request_id": rid, "value": int(y[i % len(y)])}
                                  for i, rid in enumerate(ids)] +
                                 [{"request_id": "never-served", "value": 1}])
        reader = LogReader(platform.settings.resolved_logs)
        outcomes = platform.outcomes.since(since)
        joined = reader.with_outcomes(deployment, since, platform.clock.now_ms() + 1, outcomes)
        metrics = online_metrics(joined)
        console.print(table("online metrics (outcomes joined by request id)",
                            ["arm", "version", "outcomes", "accuracy", "precision", "recall"],
                            [[arm, m["model_version"], m["n"], _f(m["accuracy"]),
                              _f(m["precision"]), _f(m["recall"])]
                             for arm, m in metrics.items()]))
        console.print(f"outcomes whose request id was never served: "
                      f"{reader.unmatched(outcomes)} (counted, not dropped)")

        step(first_step + 4, "Drift: an alert, then a retrain pipeline stopped by its data gate",
             "The inputs shift (every feature 30 % larger: a unit change upstream). Each 3 s "
             "drift window is compared with the training data's profile; after 2 drifted "
             "windows in a row the controller runs the retrain pipeline (`steady pipeline run "
             "demo_retrain.py:retrain --trigger drift`), within its cooldown and budget. The "
             "newest labelled batch arrived corrupted on purpose (an upstream bug lost 40 % of "
             "mean_radius): the data gate stops the run before training; nothing is registered.")
        labelled = frame[features].assign(target=y)
        labelled[features] = labelled[features] * 1.3
        corrupted = labelled.copy()
        corrupted.loc[corrupted.index[: int(len(corrupted) * 0.4)], features[0]] = np.nan
        corrupted.to_parquet(batch_path)
        first = drive_until_retrain(lambda: traffic(150, 1.3), controller, deployment, 0)
        _show_retrain(first)

        step(first_step + 5, "A clean batch: both gates pass, and a canary goes out",
             "The fixed batch arrives. On the next drifted window the pipeline runs again: the "
             "data gate passes, the retrained model beats the champion on the batch's holdout "
             "(the model gate), and it is registered with both gate results and its lineage, "
             "then deployed at 25 % beside stable.")
        labelled.to_parquet(batch_path)
        second = drive_until_retrain(lambda: traffic(150, 1.3), controller, deployment, 1)
        _show_retrain(second)
        released = platform.deployments.current(deployment)
        if released.candidate is not None:
            gates = platform.registry.gates(released.candidate.ref)
            console.print(f"revision {released.revision}: {released.candidate.ref} at "
                          f"{released.weight:g} %, gates: " + ", ".join(
                              f"{g.gate} {'passed' if g.passed else 'FAILED'}" for g in gates))

        step(first_step + 6, "The controller promotes the retrained model",
             "Handed over to the controller: stepped up while healthy, then promoted.")
        passes(8, until="promote", scale=1.3)

    step(first_step + 7, "What the controller saw and did",
         "`steady timeline DEPLOYMENT`; every action is also in `steady audit` with its "
         "evidence, and `steady alerts` lists what is open.")
    events = controller.recorder.timeline(deployment)
    console.print(table(f"controller timeline of {deployment}", ["time", "event", "what"], [
        [time.strftime("%H:%M:%S", time.localtime(e.ts_ms / 1000)), e.kind, e.message]
        for e in events]))
    alerts = platform.alerts.list(deployment=deployment, status="open")
    console.print(table("open alerts", ["key", "count", "message"],
                        [[a.key, a.count, a.message] for a in alerts]))


def drive_until_retrain(traffic: Any, controller: Controller, deployment: str,
                        earlier: int, timeout_s: float = 60.0) -> dict[str, Any] | None:
    """Send drifted traffic until the controller starts retrain number `earlier` + 1; wait for
    it to finish and return its record (None if none started in time)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        traffic()
        for event in controller.run_once():
            console.print(f"  controller [bold]{event.kind}[/]: {event.message}")
        retrains = controller.recorder.retrains(deployment)
        if len(retrains) > earlier:
            while retrains[earlier]["status"] == "running" and time.monotonic() < deadline:
                time.sleep(0.2)
                retrains = controller.recorder.retrains(deployment)
            return retrains[earlier]
    return None


def _show_retrain(retrain: dict[str, Any] | None) -> None:
    if retrain is None:
        console.print("[yellow]no retrain started in time[/]")
        return
    console.print(f"retrain {retrain['id']}: {retrain['status']} (exit code "
                  f"{retrain['exit_code']}); the pipeline said:")
    output = retrain["output_tail"]
    if "error:" in output:  # a failed run: its one-paragraph verdict, not the whole log
        output = " ".join(output[output.rindex("error:"):].split())
    console.print(output.strip()[-1500:], style="dim", highlight=False, markup=False)


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
