"""A circuit breaker for a candidate arm: too many failures and its traffic goes to stable."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class CircuitBreaker:
    """Open when at least `error_rate` of the last `window` requests (and `min_requests` of
    them) failed or timed out. It never closes again: a new revision brings a new breaker."""

    window: int = 50
    min_requests: int = 20
    error_rate: float = 0.5
    outcomes: deque[bool] = field(default_factory=deque)
    is_open: bool = False

    def record(self, ok: bool) -> bool:
        """Record one outcome; return True exactly when this outcome opens the breaker."""
        if self.is_open:
            return False
        self.outcomes.append(ok)
        if len(self.outcomes) > self.window:
            self.outcomes.popleft()
        failures = self.outcomes.count(False)
        if len(self.outcomes) >= self.min_requests and \
                failures / len(self.outcomes) >= self.error_rate:
            self.is_open = True
            return True
        return False

    def evidence(self) -> dict[str, float | int]:
        failures = self.outcomes.count(False)
        return {"requests": len(self.outcomes), "failures": failures,
                "error_rate": round(failures / max(len(self.outcomes), 1), 4),
                "threshold": self.error_rate, "min_requests": self.min_requests}
