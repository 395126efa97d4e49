from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from steadyml.serving.batching import Batcher


def make(predict, **options) -> Batcher:
    return Batcher(predict, concat=np.concatenate, **{"max_rows": 64, "max_wait_s": 0.05,
                                                      **options})


def test_concurrent_requests_share_one_model_call() -> None:
    calls: list[int] = []

    def predict(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        return x[:, 0] * 2

    async def scenario() -> list[np.ndarray]:
        batcher = make(predict)
        batcher.start()
        rows = [np.full((i % 3 + 1, 2), float(i)) for i in range(10)]
        answers = await asyncio.gather(*(batcher.submit(r, len(r)) for r in rows))
        await batcher.stop()
        return answers

    answers = asyncio.run(scenario())
    assert calls == [sum(i % 3 + 1 for i in range(10))]  # one vectorised call
    for i, answer in enumerate(answers):
        assert answer.tolist() == [2.0 * i] * (i % 3 + 1)  # each gets its own rows back


def test_a_failing_batch_fails_only_its_requests() -> None:
    def predict(x: np.ndarray) -> np.ndarray:
        if (x < 0).any():
            raise ValueError("negative input")
        return x[:, 0]

    async def scenario() -> tuple[object, np.ndarray]:
        batcher = make(predict, max_wait_s=0.0)
        batcher.start()
        bad = await asyncio.gather(batcher.submit(np.array([[-1.0]]), 1),
                                   return_exceptions=True)
        good = await batcher.submit(np.array([[3.0]]), 1)
        await batcher.stop()
        return bad[0], good

    bad, good = asyncio.run(scenario())
    assert isinstance(bad, ValueError) and good.tolist() == [3.0]


def test_slow_models_move_off_the_event_loop_and_back() -> None:
    delay = {"s": 0.01}

    def predict(x: np.ndarray) -> np.ndarray:
        time.sleep(delay["s"])
        return x[:, 0]

    async def scenario() -> list[bool]:
        batcher = make(predict, max_wait_s=0.0, inline_max_s=0.002)
        batcher.start()
        seen = [batcher.inline]
        for _ in range(3):
            await batcher.submit(np.zeros((1, 1)), 1)
        seen.append(batcher.inline)
        delay["s"] = 0.0
        for _ in range(30):
            await batcher.submit(np.zeros((1, 1)), 1)
        seen.append(batcher.inline)
        await batcher.stop()
        return seen

    assert asyncio.run(scenario()) == [True, False, True]


def test_stop_answers_everything_queued_and_later_requests_directly() -> None:
    async def scenario() -> tuple[list[np.ndarray], np.ndarray, int]:
        batcher = make(lambda x: x[:, 0], max_rows=4, max_wait_s=0.01)
        batcher.start()
        pending = [asyncio.ensure_future(batcher.submit(np.array([[float(i)]]), 1))
                   for i in range(20)]
        await asyncio.sleep(0)
        await batcher.stop()
        late = await batcher.submit(np.array([[99.0]]), 1)  # after stop: unbatched
        return await asyncio.gather(*pending), late, batcher.stats.rows

    answered, late, rows = asyncio.run(scenario())
    assert [a.tolist() for a in answered] == [[float(i)] for i in range(20)]
    assert late.tolist() == [99.0] and rows == 21


def test_wrong_number_of_outputs_is_an_error_not_a_mixup() -> None:
    async def scenario() -> None:
        batcher = make(lambda x: np.zeros(len(x) + 1), max_wait_s=0.0)
        batcher.start()
        try:
            await batcher.submit(np.zeros((2, 1)), 2)
        finally:
            await batcher.stop()

    with pytest.raises(RuntimeError, match="3 predictions for 2 rows"):
        asyncio.run(scenario())
