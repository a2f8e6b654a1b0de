"""Idempotency keys: the same key with the same payload replays the first outcome; with another payload it
is refused, because the caller reused a key by mistake and would otherwise get an unrelated answer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from salesboost.tools.errors import ToolDomainError, ToolInputError

IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
MAX_KEY_LENGTH = 200  # the width of the key columns, and what the HTTP API accepts


def checked_key(key: str | None) -> str | None:
    """The caller's idempotency key, refused when it cannot be stored."""
    if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise ToolInputError(
            f"the idempotency key must be 1 to {MAX_KEY_LENGTH} characters long",
            details={"errors": [{"field": "idempotency_key", "message": "1 to 200 characters", "type": "length"}]},
        )
    return key


def request_hash(payload: Mapping[str, Any]) -> str:
    """A stable hash of a JSON-able payload (key order and whitespace do not matter)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ensure_same_request(stored_hash: str, new_hash: str, key: str) -> None:
    """Refuse a key that was first used for a different payload."""
    if stored_hash != new_hash:
        raise ToolDomainError(
            IDEMPOTENCY_KEY_REUSED,
            f"idempotency key {key!r} was already used for a different request; use a new key for a new request",
            details={"idempotency_key": key},
        )
