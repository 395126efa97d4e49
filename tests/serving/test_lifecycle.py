"""`steady server` as a real process: graceful SIGTERM, and zero-downtime changes under load."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow.dataset as pads
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

import steadyml
from services import free_port
from steadyml import Platform, Settings

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path: Path) -> Path:
    X, y = load_breast_cancer(return_X_y=True)
    home = tmp_path / "home"
    with Platform(Settings(home=home)) as platform:
        for c in (0.01, 1.0):
            with steadyml.start_run("e", platform=platform) as run:
                run.register_model("cancer", LogisticRegression(C=c, max_iter=5000).fit(X, y),
                                   input_example=X)
        platform.deployments.deploy("api", "cancer:1")
    return home


@pytest.fixture
def server(home: Path) -> Iterator[dict[str, Any]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "steadyml", "--home", str(home), "server", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"server did not start: {process.stdout.read()}")
        time.sleep(0.05)
    yield {"url": url, "process": process, "home": home}
    if process.poll() is None:
        process.kill()
        process.wait()


ROW = load_breast_cancer().data[0].tolist()


def body(i: int) -> dict[str, Any]:
    return {"id": f"r{i}", "inputs": [{"name": "input-0", "shape": [1, 30],
                                       "datatype": "FP64", "data": ROW}]}


async def _load(url: str, *, seconds: float, workers: int,
                during: list[tuple[float, Any]]) -> list[tuple[float, int, str | None]]:
    """Send requests from `workers` connections; run each (at_s, fn) on time, one after another.

    The load lasts `seconds`, and at least until `seconds` after the last change returned.
    """
    results: list[tuple[float, int, str | None]] = []
    start = time.monotonic()
    stop = [start + seconds + (100.0 if during else 0.0)]
    counter = iter(range(10**9))

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < stop[0]:
            i = next(counter)
            try:
                response = await client.post("/v2/models/api/infer", json=body(i))
                version = response.json().get("model_version") if response.status_code == 200 \
                    else None
                results.append((time.monotonic() - start, response.status_code, version))
            except httpx.TransportError:
                results.append((time.monotonic() - start, 0, None))

    async def changes() -> list[float]:
        done = []
        for at_s, change in during:
            await asyncio.sleep(max(0.0, start + at_s - time.monotonic()))
            await asyncio.to_thread(change)
            done.append(time.monotonic() - start)
        if during:
            stop[0] = time.monotonic() + seconds
        return done

    async with httpx.AsyncClient(base_url=url, timeout=30,
                                 limits=httpx.Limits(max_connections=workers)) as client:
        tasks = [asyncio.create_task(worker(client)) for _ in range(workers)]
        finished = await changes()
        await asyncio.gather(*tasks)
    results.append((-1.0, -1, ",".join(f"{t:.3f}" for t in finished)))
    return results


def test_sigterm_flushes_exactly_one_log_row_per_successful_response(
        server: dict[str, Any]) -> None:
    results = asyncio.run(_load(server["url"], seconds=3, workers=8, during=[]))[:-1]
    ok = [r for r in results if r[1] == 200]
    assert ok and len(ok) == len(results)
    server["process"].send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status says SIGTERM.
    assert server["process"].wait(timeout=60) in (0, -signal.SIGTERM)
    assert "Traceback" not in server["process"].stdout.read()
    table = pads.dataset(str(server["home"] / "logs" / "predictions"), format="parquet",
                         partitioning="hive").to_table(columns=["request_id"])
    ids = table.column("request_id").to_pylist()
    assert len(ids) == len(ok) and len(set(ids)) == len(ok)


def test_deploy_and_rollback_under_load_fail_no_request(server: dict[str, Any]) -> None:
    home = server["home"]

    def cli(*args: str) -> None:
        subprocess.run([sys.executable, "-m", "steadyml", "--home", str(home), *args],
                       check=True, capture_output=True, timeout=60)

    results = asyncio.run(_load(server["url"], seconds=2, workers=16, during=[
        (1.5, lambda: cli("deploy", "api", "cancer:2")),  # another process changes the store
        (4.0, lambda: cli("rollback", "api")),
    ]))
    _, _, marks = results.pop()
    deployed_at, rolled_back_at = (float(t) for t in str(marks).split(","))
    failed = [r for r in results if r[1] != 200]
    assert failed == []
    versions = np.array([r[2] for r in results])
    times = np.array([r[0] for r in results])
    assert "2" in set(versions[(times > deployed_at) & (times < rolled_back_at)])
    late = versions[times > rolled_back_at + 1.0]
    assert len(late) > 0 and set(late) == {"1"}  # the old revision is gone within 1 s
