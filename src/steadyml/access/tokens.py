"""Bearer tokens for state-changing admin calls.

A token reads `stdy_<id>_<secret>`. Only the sha256 of the whole token is stored: the token
is shown once, when it is created, and cannot be recovered from the store.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from steadyml.core.clock import Clock, SystemClock
from steadyml.core.errors import NotFoundError
from steadyml.core.ids import check_name
from steadyml.store import audit
from steadyml.store.engine import MetadataStore
from steadyml.store.tables import api_tokens

PREFIX = "stdy"


@dataclass(frozen=True)
class Token:
    id: str
    name: str
    actor: str
    created_ms: int
    revoked_ms: int | None

    @property
    def is_active(self) -> bool:
        return self.revoked_ms is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TokenNotFoundError(NotFoundError):
    def __init__(self, token_id: str) -> None:
        super().__init__(f"No token with id {token_id!r}. List them with `steady token list`.")


class Tokens:
    """Create, check and revoke admin tokens."""

    def __init__(self, store: MetadataStore, *, actor: str, clock: Clock | None = None) -> None:
        self.store = store
        self.actor = actor
        self.clock = clock or SystemClock()

    def create(self, name: str) -> tuple[Token, str]:
        """Create a token; return it and its secret, which is never shown again."""
        check_name(name, "token")
        token_id = secrets.token_hex(6)
        secret = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        now = self.clock.now_ms()
        with self.store.write() as conn:
            conn.execute(api_tokens.insert().values(
                id=token_id, name=name, secret_hash=_hash(secret), actor=self.actor,
                created_ms=now))
            audit.append(conn, self.clock, actor=self.actor, action="token.created",
                         subject=f"token:{token_id}", after={"name": name})
        return Token(token_id, name, self.actor, now, None), secret

    def verify(self, presented: str) -> Token | None:
        """Return the active token `presented` is, or None."""
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        with self.store.read() as conn:
            row = conn.execute(sa.select(api_tokens).where(api_tokens.c.id == parts[1])).first()
        if row is None or row.revoked_ms is not None:
            return None
        if not hmac.compare_digest(row.secret_hash, _hash(presented)):
            return None
        return _token(row)

    def revoke(self, token_id: str) -> Token:
        now = self.clock.now_ms()
        with self.store.write() as conn:
            row = conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id)).first()
            if row is None:
                raise TokenNotFoundError(token_id)
            if row.revoked_ms is None:
                conn.execute(api_tokens.update().where(api_tokens.c.id == token_id)
                             .values(revoked_ms=now))
                audit.append(conn, self.clock, actor=self.actor, action="token.revoked",
                             subject=f"token:{token_id}", before={"name": row.name})
            return _token(conn.execute(sa.select(api_tokens)
                                       .where(api_tokens.c.id == token_id)).first())

    def list(self) -> list[Token]:
        with self.store.read() as conn:
            rows = conn.execute(sa.select(api_tokens).order_by(api_tokens.c.created_ms))
            return [_token(r) for r in rows]

    def has_active(self) -> bool:
        return any(t.is_active for t in self.list())


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _token(row: Any) -> Token:
    return Token(id=row.id, name=row.name, actor=row.actor, created_ms=row.created_ms,
                 revoked_ms=row.revoked_ms)
