"""Idempotent replay of side-effecting calls (CRM creates, SMS sends): one algorithm on one table.

A key belongs to the caller that sent it (its API key id, else its role): the same key with the same payload
from the same caller replays the first outcome; with another payload it is refused (IDEMPOTENCY_KEY_REUSED),
because the caller reused a key by mistake and would otherwise get an unrelated answer. Another caller's
use of the same key is another call.

The record is written first in the transaction that does the work, so it is the claim on the key: a
concurrent call with the same key waits for it (PostgreSQL's unique index, SQLite's write lock), then fails on
the primary key, rolls back all it did and replays the first outcome. A call that fails leaves no record, so
its retry runs again. Keys are validated by the runtime before a tool runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from salesboost.tools.base import ToolContext
from salesboost.tools.errors import ToolDomainError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"

T = TypeVar("T")


def request_hash(payload: Mapping[str, Any]) -> str:
    """A stable hash of a JSON-able payload (key order and whitespace do not matter)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def owner_of(ctx: ToolContext) -> str:
    """Whose keys these are: the caller's API key id, or its role when it came without one."""
    return ctx.caller_id if ctx.caller_id is not None else f"role:{ctx.caller_role}"


@dataclass(frozen=True, slots=True)
class Claim:
    """A call's claim on its idempotency key, within a scope (the tool and action)."""

    scope: str
    owner: str
    key: str
    request_hash: str


def claim_of(ctx: ToolContext, scope: str, payload: Mapping[str, Any]) -> Claim | None:
    """The claim of a call made with a key and this payload; None for a call without a key."""
    if ctx.idempotency_key is None:
        return None
    return Claim(scope, owner_of(ctx), ctx.idempotency_key, request_hash(payload))


async def run_once(
    sessions: async_sessionmaker[AsyncSession],
    claim: Claim | None,
    now: datetime,
    work: Callable[[AsyncSession], Awaitable[tuple[T, str]]],
    replay: Callable[[AsyncSession, str], Awaitable[T]],
) -> T:
    """Run `work` (its outcome and the id of what it made) in one transaction with the `claim`; or, when
    its key was used with this payload before, `replay` the outcome from the id of what the first call made."""
    # The database's parts, imported by the first write (the tools that write import this module at start-up).
    from sqlalchemy.exc import IntegrityError

    from salesboost.store.db import writing
    from salesboost.store.idempotency import IdempotencyRecord

    if claim is not None and (first := await _replayed(sessions, claim, replay)) is not None:
        return first
    try:
        async with writing(sessions) as session:
            record = None
            if claim is not None:
                # The id is not known yet: the row is updated below, unseen by others before the commit.
                record = IdempotencyRecord(
                    scope=claim.scope, owner=claim.owner, key=claim.key, request_hash=claim.request_hash,
                    resource_id="", created_at=now,
                )
                session.add(record)
                await session.flush()
            outcome, resource_id = await work(session)
            if record is not None:
                record.resource_id = resource_id
    except IntegrityError:
        # A concurrent call with the same key committed first: answer with its outcome.
        first = await _replayed(sessions, claim, replay) if claim is not None else None
        if first is None:
            raise
        return first
    return outcome


async def _replayed(
    sessions: async_sessionmaker[AsyncSession], claim: Claim, replay: Callable[[AsyncSession, str], Awaitable[T]]
) -> T | None:
    from salesboost.store.idempotency import IdempotencyRecord

    async with sessions() as session:
        record = await session.get(IdempotencyRecord, (claim.scope, claim.owner, claim.key))
        if record is None:
            return None
        if record.request_hash != claim.request_hash:
            raise ToolDomainError(
                IDEMPOTENCY_KEY_REUSED,
                f"idempotency key {claim.key!r} was already used for a different request; use a new key for a new "
                "request",
                details={"idempotency_key": claim.key},
            )
        return await replay(session, record.resource_id)
