"""Idempotency keys: the one rule of what a key may be (for the header, batch bodies and tools), and the step
that requires one for a side-effecting call where the caller's surface asks for it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, StringConstraints

from salesboost.tools.errors import ToolIdempotencyKeyRequiredError, ToolInputError

if TYPE_CHECKING:
    from salesboost.tools.registry import RegisteredTool

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


def check_call(entry: RegisteredTool, args: BaseModel, key: str | None, *, required: bool) -> None:
    """A given key must follow the rule; a write must carry one when `required` (the service, MCP)."""
    if key is not None:
        check_idempotency_key(key)
    elif required and entry.is_write(args):
        raise ToolIdempotencyKeyRequiredError(
            f"{entry.name} changes data here: give the call an idempotency key (over HTTP the Idempotency-Key "
            "header, in a batch the call's idempotency_key, over MCP the request's _meta.idempotency_key) so that "
            "a retry does the work only once"
        )
