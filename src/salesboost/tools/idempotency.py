"""The one idempotency-key rule: 1 to 200 visible ASCII characters, for the header, batch bodies and tools."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

from salesboost.tools.errors import ToolInputError

IDEMPOTENCY_KEY_MAX = 200  # the width of the key columns
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]+$"

IdempotencyKey = Annotated[
    str, StringConstraints(min_length=1, max_length=IDEMPOTENCY_KEY_MAX, pattern=IDEMPOTENCY_KEY_PATTERN)
]

_VALID = re.compile(IDEMPOTENCY_KEY_PATTERN)
RULE = f"1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters (no spaces)"


def check_idempotency_key(key: str) -> str:
    """The key when it follows the rule, else `ToolInputError` naming it."""
    if len(key) > IDEMPOTENCY_KEY_MAX or not _VALID.match(key):
        raise ToolInputError(
            f"the idempotency key must be {RULE}",
            details={"errors": [{"field": "idempotency_key", "message": RULE, "type": "idempotency_key"}]},
        )
    return key
