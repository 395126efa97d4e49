from __future__ import annotations

from steadyml.serving.breaker import CircuitBreaker


def test_opens_once_at_the_threshold_over_enough_requests() -> None:
    breaker = CircuitBreaker(window=10, min_requests=4, error_rate=0.5)
    assert [breaker.record(ok) for ok in (False, False, False)] == [False, False, False]
    assert breaker.record(True) is True  # 3 of 4 failed: this outcome opens it
    assert breaker.is_open
    assert breaker.record(False) is False  # already open: reported once only
    assert breaker.evidence()["failures"] == 3


def test_stays_closed_below_the_rate_and_forgets_old_outcomes() -> None:
    breaker = CircuitBreaker(window=4, min_requests=4, error_rate=0.5)
    for ok in (False, True, True, True, False, True, True, True):
        assert breaker.record(ok) is False
    assert not breaker.is_open and list(breaker.outcomes) == [False, True, True, True]
