"""Adaptive batching: concurrent requests to one model are coalesced into one vectorised call.

A batch closes when it holds `max_rows` rows or `max_wait_s` has passed since its first
request; under light load a request waits at most `max_wait_s`, under heavy load batches
fill up at once. A failing batch fails only its own requests.

Where a batch runs adapts too: while the model's batches are cheap (a moving average under
`inline_max_s`) they run inline on the event loop, which saves a thread hand-off per batch
(measured: about 4x the throughput for a small scikit-learn model). A model whose batches
take longer is moved to a worker thread, so it cannot stall the loop that serves every
other deployment.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_log = logging.getLogger("steadyml.serving")
_STOP = object()  # put on the queue by stop(): finish what is queued, then return


@dataclass(slots=True)
class Pending:
    features: Any  # a 2-D matrix or a DataFrame of one request's rows
    rows: int
    future: asyncio.Future[Any]
    request_id: str = ""
    started: float = field(default_factory=time.perf_counter)  # when the request arrived


# Called after each successful model call with its requests, their features and outputs:
# how the prediction log gets one entry per batch instead of one per request.
PredictedHook = Callable[[list[Pending], Any, np.ndarray, float], None]  # ..., CPU seconds


@dataclass(slots=True)
class BatchStats:
    batches: int = 0
    rows: int = 0
    cpu_s: float = 0.0  # CPU seconds spent in predict: the basis of cost per prediction


class Batcher:
    """Queue requests for one predict function and run them in batches."""

    def __init__(self, predict: Callable[[Any], np.ndarray], *, max_rows: int,
                 max_wait_s: float, concat: Callable[[list[Any]], Any],
                 on_batch: Callable[[int, float], None] | None = None,
                 on_predicted: PredictedHook | None = None,
                 inline_max_s: float = 0.002) -> None:
        self._predict = predict
        self._concat = concat
        self.max_rows = max_rows
        self.max_wait_s = max_wait_s
        self.inline_max_s = inline_max_s
        self.batch_s = 0.0  # moving average of a batch's wall time
        self.inline = True
        self._queue: asyncio.Queue[Any] = asyncio.Queue()  # Pending items, or _STOP
        self._task: asyncio.Task[None] | None = None
        self._on_batch = on_batch
        self._on_predicted = on_predicted
        self.stats = BatchStats()

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Answer everything queued so far, then stop (nothing in flight is abandoned)."""
        if self._task is None:
            return
        task, self._task = self._task, None  # from now on submit() answers directly
        self._queue.put_nowait(_STOP)
        await task

    async def submit(self, features: Any, rows: int, *, request_id: str = "",
                     started: float | None = None) -> np.ndarray:
        """Queue one request's rows; return their predictions."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        pending = Pending(features, rows, future, request_id,
                          time.perf_counter() if started is None else started)
        if self._task is None:  # stopped, or not started: no batching, answer directly
            await self._execute([pending], rows)
        else:
            self._queue.put_nowait(pending)
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not (stopping and self._queue.empty()):
            first = await self._queue.get()
            if first is _STOP:
                stopping = True
                continue
            batch, rows = [first], first.rows
            deadline = loop.time() + self.max_wait_s
            while rows < self.max_rows and not stopping:
                if self._queue.empty():
                    left = deadline - loop.time()
                    if left <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(self._queue.get(), left)
                    except TimeoutError:
                        break
                else:
                    item = self._queue.get_nowait()
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
                rows += item.rows
            await self._execute(batch, rows)

    async def _execute(self, batch: list[Pending], rows: int) -> None:
        try:
            features = batch[0].features if len(batch) == 1 else self._concat(
                [p.features for p in batch])
            started = time.perf_counter()
            if self.inline:
                outputs, cpu_s = _timed(self._predict, features)
            else:
                outputs, cpu_s = await asyncio.to_thread(_timed, self._predict, features)
            self._adapt(time.perf_counter() - started)
            if len(outputs) != rows:
                raise RuntimeError(f"the model returned {len(outputs)} predictions for "
                                   f"{rows} rows")
        except Exception as exc:  # the model failed: fail this batch's requests only
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        self.stats.batches += 1
        self.stats.rows += rows
        self.stats.cpu_s += cpu_s
        if self._on_batch is not None:
            self._on_batch(rows, cpu_s)
        if self._on_predicted is not None:
            try:
                self._on_predicted(batch, features, outputs, cpu_s)
            except Exception:  # logging must never fail a prediction
                _log.exception("could not record a batch of predictions")
        start = 0
        for pending in batch:
            if not pending.future.done():
                pending.future.set_result(outputs[start:start + pending.rows])
            start += pending.rows


    def _adapt(self, wall_s: float) -> None:
        self.batch_s = wall_s if self.stats.batches == 0 else 0.8 * self.batch_s + 0.2 * wall_s
        # Hysteresis: leave the loop above the limit, come back well below it.
        if self.inline and self.batch_s > self.inline_max_s:
            self.inline = False
        elif not self.inline and self.batch_s < self.inline_max_s / 2:
            self.inline = True


def _timed(predict: Callable[[Any], np.ndarray], features: Any) -> tuple[np.ndarray, float]:
    cpu = time.thread_time()
    outputs = np.asarray(predict(features))
    return outputs, time.thread_time() - cpu
