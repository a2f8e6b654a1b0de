"""The audit table's read side: per-tool rates over a window, and the latest calls (the dashboard's data).

Portable SQL (SQLite and PostgreSQL): one grouped count, one `ORDER BY latency LIMIT 1 OFFSET k` per tool
for its 95th percentile (served by the (tool, created_at) index), and one query for the latest calls: a
non-admin key's are the calls it made itself in the sessions it owns (`session_owners`), so neither another
key's calls in its sessions nor its own in another's show (served by the (caller_id, created_at) index).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import Integer, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salesboost.clock import iso_stamp, utcnow
from salesboost.store.audit import ToolAuditRecord as A
from salesboost.store.sessions import SessionOwner

RECENT_LIMIT = 50


class ToolActivity(BaseModel):
    tool: str
    calls: int
    errors: int
    error_rate: float
    p95_latency_ms: float | None
    calls_per_minute: float
    cache_hit_rate: float | None = Field(description="Share of calls the cache answered; null if uncached.")


class RecentCall(BaseModel):
    timestamp: str = Field(description="UTC, ISO 8601 with milliseconds and Z.")
    tool: str
    caller_role: str
    status: Literal["completed", "failed"]
    latency_ms: float
    cached: bool
    error_code: str | None
    tool_call_id: str
    session_id: str | None


class Activity(BaseModel):
    window_seconds: int
    tools: list[ToolActivity]
    recent: list[RecentCall] = Field(
        description="Latest calls, newest first: everybody's (admin), else yours in your sessions."
    )


async def _p95(session: AsyncSession, tool: str, since: datetime, calls: int) -> float | None:
    if not calls:
        return None
    offset = math.ceil(0.95 * calls) - 1
    value = await session.scalar(
        select(A.latency_ms)
        .where(A.tool == tool, A.created_at >= since)
        .order_by(A.latency_ms)
        .limit(1)
        .offset(offset)
    )
    return None if value is None else float(value)


async def read_activity(
    session: AsyncSession,
    *,
    window_seconds: int,
    tools: Collection[str],
    cacheable: Collection[str],
    caller_id: str | None,
    now: datetime | None = None,
) -> Activity:
    """Rates of `tools` over the window; the latest calls of the key `caller_id` in its sessions (None: every
    call)."""
    since = (now or utcnow()) - timedelta(seconds=window_seconds)
    counts = await session.execute(
        select(
            A.tool,
            func.count(),
            func.sum(case((A.status == "failed", 1), else_=0)).cast(Integer),
            func.sum(case((A.cached.is_(True), 1), else_=0)).cast(Integer),
        )
        .where(A.created_at >= since, A.tool.in_(list(tools)))
        .group_by(A.tool)
    )
    by_tool = {tool: (int(n), int(errors or 0), int(hits or 0)) for tool, n, errors, hits in counts}
    minutes = window_seconds / 60
    rows = []
    for tool in sorted(tools):
        calls, errors, hits = by_tool.get(tool, (0, 0, 0))
        rows.append(
            ToolActivity(
                tool=tool,
                calls=calls,
                errors=errors,
                error_rate=round(errors / calls, 4) if calls else 0.0,
                p95_latency_ms=await _p95(session, tool, since, calls),
                calls_per_minute=round(calls / minutes, 3),
                cache_hit_rate=(round(hits / calls, 4) if calls else 0.0) if tool in cacheable else None,
            )
        )
    query = select(A).order_by(A.created_at.desc(), A.id.desc()).limit(RECENT_LIMIT)
    if caller_id is not None:
        owned = select(SessionOwner.session_id).where(SessionOwner.key_id == caller_id)
        query = query.where(A.caller_id == caller_id, A.session_id.in_(owned))
    recent = [
        RecentCall(
            timestamp=iso_stamp(record.created_at),
            tool=record.tool,
            caller_role=record.caller_role,
            status="completed" if record.status == "completed" else "failed",
            latency_ms=record.latency_ms,
            cached=record.cached,
            error_code=record.error_code,
            tool_call_id=record.tool_call_id,
            session_id=record.session_id,
        )
        for record in (await session.scalars(query)).all()
    ]
    return Activity(window_seconds=window_seconds, tools=rows, recent=recent)
