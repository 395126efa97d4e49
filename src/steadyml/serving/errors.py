"""HTTP statuses for steadyml's errors: the one place they are mapped."""

from __future__ import annotations

from steadyml.core.errors import (
    AuditChainError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    SteadyError,
    StoreUnavailableError,
)

_STATUS: list[tuple[type[SteadyError], int]] = [
    (NotFoundError, 404),
    (InvalidInputError, 400),
    (ConflictError, 409),
    (StoreUnavailableError, 503),
    (AuditChainError, 500),
]


def status_for(exc: SteadyError) -> int:
    """Return the HTTP status for a steadyml error (400 for the unmapped)."""
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return status
    for kind, code in _STATUS:
        if isinstance(exc, kind):
            return code
    return 400
