"""Content hashes: sha256 over canonical encodings."""

from __future__ import annotations

import hashlib
import json
from typing import Any

CHUNK_BYTES = 1 << 20


def canonical_json(value: Any) -> str:
    """Encode `value` as JSON with sorted keys and no whitespace, so equal values hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=True, default=str)


def sha256_hex(data: bytes | str) -> str:
    """Return the hex sha256 of bytes, or of a string's UTF-8 encoding."""
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()


def sha256_json(value: Any) -> str:
    """Return the hex sha256 of a value's canonical JSON."""
    return sha256_hex(canonical_json(value))
