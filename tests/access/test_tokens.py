from __future__ import annotations

import pytest

from steadyml import Platform
from steadyml.access import TokenNotFoundError
from steadyml.store.tables import api_tokens


def test_token_is_shown_once_stored_hashed_and_revocable(platform: Platform) -> None:
    token, secret = platform.tokens.create("ci")
    assert secret.startswith(f"stdy_{token.id}_") and len(secret) > 40
    with platform.store.read() as conn:
        stored = conn.execute(api_tokens.select()).first()
    assert secret not in stored.secret_hash and len(stored.secret_hash) == 64
    assert platform.tokens.verify(secret).id == token.id
    for wrong in ("", "stdy", secret[:-1] + ("A" if secret[-1] != "A" else "B"),
                  f"stdy_{token.id}_x", "Bearer " + secret, "stdy_nope_x"):
        assert platform.tokens.verify(wrong) is None
    assert platform.tokens.revoke(token.id).revoked_ms is not None
    assert platform.tokens.verify(secret) is None
    assert not platform.tokens.has_active()
    actions = [e.action for e in platform.audit_entries(subject=f"token:{token.id}")]
    assert actions == ["token.revoked", "token.created"]
    assert all(secret not in str(e.after) for e in platform.audit_entries())
    with pytest.raises(TokenNotFoundError):
        platform.tokens.revoke("missing")
