"""Which API key owns which session: a non-admin key calls in, watches and reads the activity of its own only.

A session belongs to the first key whose call in it is *accepted*, i.e. passes every check of the caller's own
doing (the tool exists and is on, the role may call it, the input is valid, a write has its idempotency key, the
rate limit allows it): the executor awaits the claim just before the circuit breaker and the tool. So a refused
call claims nothing. Neither does a WebSocket subscription: a key may subscribe to a session nobody owns yet
(to see the events of its own first call), but it only ever receives the events of its own calls, so a key that
subscribes first and another that calls later never share anything. In a session another key owns, a non-admin
key is refused (`SESSION_FORBIDDEN`: 403, WebSocket close 4403); admin keys may call and watch every session.

Ownership is durable (`session_owners`, shared by every replica and kept across restarts). The claim is one
`INSERT ... ON CONFLICT DO NOTHING` and a read of the row that won, so two keys racing for one session, on one
replica or two, get one owner. An owner never changes, so each process keeps the owners it has read in a
bounded cache (`SALESBOOST_API_MAX_SESSIONS`): a known session costs a dictionary lookup, an unknown one a
primary-key read, and forgetting one only costs that read again.

A key may claim at most `SALESBOOST_MAX_SESSIONS_PER_KEY` new sessions per `SALESBOOST_SESSIONS_WINDOW_SECONDS`,
counted in the table: past it a claim is refused with `SESSION_LIMIT_REACHED` (429, `Retry-After`). Within a
process one key claims one session at a time, so the limit is exact there; replicas claiming for the same key
at the same moment may pass it by one each. A database that does not answer is `SESSION_UNAVAILABLE` (503),
never counted as the tool's failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from salesboost.api.auth import ApiKey
from salesboost.api.errors import SESSION_FORBIDDEN, SESSION_LIMIT_REACHED, SESSION_UNAVAILABLE
from salesboost.clock import as_utc, utcnow
from salesboost.store.db import writing
from salesboost.store.sessions import SessionOwner
from salesboost.tools.errors import ToolError
from salesboost.tools.executor import Claim

log = logging.getLogger(__name__)


class SessionForbiddenError(ToolError):
    code = SESSION_FORBIDDEN


class SessionLimitError(ToolError):
    code = SESSION_LIMIT_REACHED
    retryable = True


class SessionUnavailableError(ToolError):
    code = SESSION_UNAVAILABLE
    retryable = True


class SessionOwners:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        max_per_key: int,
        window_seconds: float,
        cache_size: int = 100_000,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self.max_per_key = max_per_key
        self.window_seconds = window_seconds
        self.cache_size = cache_size
        self._clock = clock
        self._owners: OrderedDict[str, str] = OrderedDict()  # session id -> key id, least recently used first
        self._claiming: dict[str, asyncio.Lock] = {}  # by key id: the configured keys bound it

    async def admit(self, session_id: str, key: ApiKey) -> Claim | None:
        """May the key use this session? None: yes, as it is (its own, or an admin key in any owned one); a
        `Claim` for the executor to await once the call is accepted: nobody owns it yet. Raises
        `SessionForbiddenError` in another key's session."""
        owner = self._cached(session_id)
        if owner is None:
            async with self._database() as session:
                owner = await session.scalar(select(SessionOwner.key_id).where(SessionOwner.session_id == session_id))
            if owner is None:
                return partial(self.claim, session_id, key)
            self._remember(session_id, owner)
        _check(session_id, owner, key)
        return None

    async def claim(self, session_id: str, key: ApiKey) -> None:
        """Make the key the session's owner, unless another key was first (`SessionForbiddenError`, except for an
        admin key) or the key has started its share of new sessions (`SessionLimitError`)."""
        owner = self._cached(session_id)
        if owner is None:
            async with self._claiming.setdefault(key.id, asyncio.Lock()):
                owner = self._cached(session_id) or await self._insert(session_id, key.id)
        _check(session_id, owner, key)

    async def _insert(self, session_id: str, key_id: str) -> str:
        """The session's owner once this key tried to claim it."""
        now = self._clock()
        window = timedelta(seconds=self.window_seconds)
        async with self._database(write=True) as session:
            started, oldest = (
                await session.execute(
                    select(func.count(), func.min(SessionOwner.created_at)).where(
                        SessionOwner.key_id == key_id, SessionOwner.created_at > now - window
                    )
                )
            ).one()
            if started >= self.max_per_key:
                wait = max(round((as_utc(oldest) + window - now).total_seconds(), 3), 0.001)
                raise SessionLimitError(
                    f"this API key started {started} new sessions in the last {self.window_seconds:g} s, its limit "
                    "(SALESBOOST_MAX_SESSIONS_PER_KEY): go on in one of its sessions, or start a new one after "
                    f"{wait:g} s",
                    details={"limit": self.max_per_key, "window_seconds": self.window_seconds, "retry_after": wait},
                )
            insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
            await session.execute(
                insert(SessionOwner)
                .values(session_id=session_id, key_id=key_id, created_at=now)
                .on_conflict_do_nothing(index_elements=[SessionOwner.session_id])
            )
            owner = await session.scalar(select(SessionOwner.key_id).where(SessionOwner.session_id == session_id))
        assert owner is not None  # inserted now, or by whoever was first
        self._remember(session_id, owner)
        return owner

    @asynccontextmanager
    async def _database(self, *, write: bool = False) -> AsyncIterator[AsyncSession]:
        try:
            async with writing(self._sessions) if write else self._sessions() as session:
                yield session
        except (SQLAlchemyError, OSError) as exc:
            log.error("session ownership: the database failed (%s)", type(exc).__name__, exc_info=exc)
            raise SessionUnavailableError(
                "the owner of this session cannot be checked right now (the database did not answer); retry"
            ) from None

    def _cached(self, session_id: str) -> str | None:
        owner = self._owners.get(session_id)
        if owner is not None:
            self._owners.move_to_end(session_id)
        return owner

    def _remember(self, session_id: str, owner: str) -> None:
        self._owners[session_id] = owner
        if len(self._owners) > self.cache_size:
            self._owners.popitem(last=False)


def _check(session_id: str, owner: str, key: ApiKey) -> None:
    if owner != key.id and not key.is_admin:
        raise SessionForbiddenError(
            f"session {session_id!r} belongs to another API key; use a session id of your own"
        )
