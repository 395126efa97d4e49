"""Access control for the admin API: bearer tokens stored as hashes."""

from steadyml.access.tokens import Token, TokenNotFoundError, Tokens

__all__ = ["Token", "TokenNotFoundError", "Tokens"]
