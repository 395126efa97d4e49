"""Which arm answers a request: weighted canary, sticky by routing key, shadow mirroring."""

from __future__ import annotations

import random
import zlib
from enum import StrEnum

BUCKETS = 10_000


class ArmName(StrEnum):
    STABLE = "stable"
    CANDIDATE = "candidate"
    SHADOW = "shadow"


def bucket_of(routing_key: bytes | None) -> int:
    """Map a routing key to one of BUCKETS; no key gets a random bucket.

    crc32 is stable across processes and restarts (unlike hash()), so a key reaches the same
    arm on every worker for as long as the canary weight stays the same.
    """
    if not routing_key:
        return random.randrange(BUCKETS)
    return zlib.crc32(routing_key) % BUCKETS


def answers(candidate_percent: float, routing_key: bytes | None) -> ArmName:
    """Return the arm that answers: the candidate for `candidate_percent` % of buckets."""
    if candidate_percent <= 0:
        return ArmName.STABLE
    threshold = int(round(candidate_percent * BUCKETS / 100))
    return ArmName.CANDIDATE if bucket_of(routing_key) < threshold else ArmName.STABLE
