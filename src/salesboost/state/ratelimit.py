"""Rate limits shared by every replica: GCRA in one Lua script, one round trip per decision.

GCRA (the generic cell rate algorithm) keeps one number per (tool, caller): the theoretical arrival time of
the next call. A call is allowed when that time, pushed one interval on, stays within the burst; the script
reads the clock with `TIME`, so replicas whose clocks disagree cannot disagree on a decision, and it runs
atomically, so exactly `calls` pass however many replicas ask at once. Same behaviour as the in-process token
bucket: `calls` at once from rest, then one per `per_seconds / calls`.

When Redis does not answer, `SALESBOOST_RATE_LIMIT_FALLBACK` decides: `local` (the in-process bucket of this
replica), `fail-open` (allow) or `fail-closed` (refuse, retry after `SALESBOOST_REDIS_RETRY_SECONDS`).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Literal

from salesboost.state.redis import ERRORS, SharedRedis
from salesboost.tools.base import RateLimit
from salesboost.tools.errors import ToolRateLimitedError
from salesboost.tools.ratelimit import RateLimiter, RoleLimits, refusal

# KEYS[1]: the bucket; ARGV[1]: the emission interval (µs), ARGV[2]: the burst (calls).
# Returns {0, remaining} when allowed, {wait µs, 0} when refused.
GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local window = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < now then tat = now end
local next_tat = tat + interval
local over = next_tat - now - window
if over > 0 then return {over, 0} end
local ttl = math.max(1, math.ceil((next_tat - now) / 1000))
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', string.format('%d', ttl))
return {0, math.floor((window - (next_tat - now)) / interval)}
"""

Fallback = Literal["fail-open", "local", "fail-closed"]


class RedisRateLimiter:
    """`Limiter` on Redis, with this replica's buckets as the `local` fallback."""

    def __init__(self, shared: SharedRedis, fallback: Fallback = "local", roles: RoleLimits | None = None) -> None:
        self.shared = shared
        self.fallback = fallback
        self.local = RateLimiter(roles=roles)
        self._roles = roles or None
        self.by_role = self._roles is not None
        self.script = shared.client.register_script(GCRA)

    def key(self, tool: str, caller: str) -> str:
        return f"{self.shared.prefix}rl:{tool}:{caller}"

    @staticmethod
    def args(limit: RateLimit) -> tuple[int, int]:
        return max(1, round(limit.per_seconds * 1e6 / limit.calls)), limit.calls

    def check(self, tool: str, caller: str, role: str, limit: RateLimit | None) -> Awaitable[None] | None:
        if self._roles is not None:
            limit = self._roles.get((tool, role), limit)
        if limit is None:
            return None
        if not self.shared.up:
            self.shared.fallback("ratelimit")
            self._fallback(tool, caller, role, limit)
            return None
        return self._check(tool, caller, role, limit)

    async def _check(self, tool: str, caller: str, role: str, limit: RateLimit) -> None:
        try:
            wait_us, _remaining = await self.script(keys=[self.key(tool, caller)], args=self.args(limit))
        except ERRORS as exc:
            self.shared.failed("ratelimit", exc)
            self._fallback(tool, caller, role, limit)
            return
        if wait_us:
            raise refusal(tool, limit, int(wait_us) / 1e6)

    def _fallback(self, tool: str, caller: str, role: str, limit: RateLimit) -> None:
        if self.fallback == "local":
            self.local.check(tool, caller, role, limit)
        elif self.fallback == "fail-closed":
            wait = self.shared.retry_seconds
            raise ToolRateLimitedError(
                f"{tool}'s rate limit cannot be checked (the shared store does not answer); retry after "
                f"{wait:.1f} s", details={"retry_after": wait, "limit": limit.calls, "remaining": 0,
                                          "window_seconds": limit.per_seconds},
            )
