"""Circuit breakers shared by every replica: one Redis hash per tool (`failures`, `opened`, `trial`).

A check is one Lua script: closed, the call passes; open, it fails fast with the time left; past
`reset_seconds`, the first replica to ask takes the one trial cluster-wide (the `trial` field, held at most
`reset_seconds` in case its holder dies) and every other call keeps failing fast. The outcome is written
after the call answered, by a script nobody waits for: a crash or timeout counts a failure and, at the
threshold or after the trial, opens the circuit for every replica; an answer after failures (or the trial's)
closes it. Times are Redis's (`TIME`). While Redis does not answer, this replica's own breakers decide.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from salesboost.state.redis import ERRORS, SharedRedis
from salesboost.tools.call import Call
from salesboost.tools.circuit import Breakers, health, open_error

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)"

# KEYS: the tool's hash; ARGV: reset (ms). Returns {wait ms, trial taken 0/1, failures}.
CHECK = _NOW + """
local h = redis.call('HMGET', KEYS[1], 'opened', 'trial', 'failures')
local failures = tonumber(h[3] or '0')
if not h[1] then return {0, 0, failures} end
local reset = tonumber(ARGV[1])
local waited = now - tonumber(h[1])
if waited >= reset and (not h[2] or tonumber(h[2]) < now) then
  redis.call('HSET', KEYS[1], 'trial', string.format('%d', now + reset))
  return {0, 1, failures}
end
local wait = reset - waited
if wait < 1 then wait = 1 end
return {wait, 0, failures}
"""

# KEYS: the tool's hash; ARGV: threshold.
FAIL = _NOW + """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if failures >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'opened', string.format('%d', now))
  redis.call('HDEL', KEYS[1], 'trial')
end
redis.call('PEXPIRE', KEYS[1], 86400000)
"""


class RedisBreakers:
    """`tools.circuit.BreakerState` on Redis."""

    def __init__(self, shared: SharedRedis, threshold: int, reset_seconds: float) -> None:
        self.shared = shared
        self.threshold = threshold
        self.reset_ms = max(1, round(reset_seconds * 1000))
        self.local = Breakers(threshold, reset_seconds)
        self._check = shared.client.register_script(CHECK)
        self._fail = shared.client.register_script(FAIL)
        self._seen: dict[str, str] = {}  # what the last check of each tool found (for `state`)
        self._dirty: set[str] = set()  # tools with failures counted, or a trial held here: a success closes
        self._tasks: set[asyncio.Task[Any]] = set()

    def key(self, tool: str) -> str:
        return f"{self.shared.prefix}cb:{tool}"

    def check(self, tool: str) -> Awaitable[None] | None:
        if not self.shared.up:
            self.shared.fallback("circuit")
            self.local.check(tool)
            return None
        return self._checked(tool)

    async def _checked(self, tool: str) -> None:
        try:
            wait_ms, trial, failures = await self._check(keys=[self.key(tool)], args=[self.reset_ms])
        except ERRORS as exc:
            self.shared.failed("circuit", exc)
            self.local.check(tool)
            return
        if wait_ms:
            self._seen[tool] = "open"
            raise open_error(tool, int(wait_ms) / 1000)
        self._seen[tool] = "half_open" if trial else "closed"
        if trial or failures:
            self._dirty.add(tool)

    def record(self, call: Call) -> None:
        healthy = health(call)
        if healthy is None:
            return
        if not self.shared.up:
            self.local.record(call)
            return
        tool = call.name
        if not healthy:
            self._dirty.add(tool)
            self.shared.spawn("circuit", self._fail(keys=[self.key(tool)], args=[self.threshold]), self._tasks)
        elif tool in self._dirty:
            self._dirty.discard(tool)
            self._seen[tool] = "closed"
            self.shared.spawn("circuit", self.shared.client.delete(self.key(tool)), self._tasks)

    def state(self, tool: str) -> str:
        return self._seen.get(tool, "closed") if self.shared.up else self.local.state(tool)

    async def drain(self) -> None:
        """Wait for the outcomes still being written."""
        await asyncio.gather(*self._tasks)
