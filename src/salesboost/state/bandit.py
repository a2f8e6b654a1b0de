"""The bandit's statistics (`tools.selection.BanditStore`): in this process, or in Redis shared by every replica.

Both apply the same update (`BanditStore.update`): the in-process store with numpy, the Redis store in one Lua
script, so that an update is atomic however many executors share the hash. The Redis layout, one hash at
`TOOL_BANDIT_REDIS_KEY`: `<tool>|pulls` and `<tool>|reward` (floats, `HINCRBYFLOAT`), `<tool>|A` and
`<tool>|b` (LinUCB's matrix and vector as JSON arrays, row-major; Lua's cjson keeps 14 significant digits). An
arm whose `a` and `b` have another dimension than the update's context (the configured roles changed) starts
again from the prior.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from salesboost.tools.selection import ArmStats

if TYPE_CHECKING:
    from redis.asyncio import Redis  # built by the composition root only when Redis is configured

    from salesboost.tools.selection import Vector


class LocalBanditStore:
    """The statistics of one process (an executor without Redis)."""

    kind = "memory"

    def __init__(self) -> None:
        self._arms: dict[str, ArmStats] = {}

    async def read(self, arms: Sequence[str]) -> dict[str, ArmStats]:
        return {name: self._arms.get(name) or ArmStats() for name in arms}

    async def update(
        self, arm: str, reward: float, x: Vector | None, candidates: Sequence[str], discount: float
    ) -> None:
        stats = self._arms.setdefault(arm, ArmStats())
        stats.pulls += 1
        stats.reward_sum += reward
        if x is None:
            return
        import numpy as np  # imported by the features of `x` already

        d = len(x)
        for name in dict.fromkeys((*candidates, arm)):
            other = self._arms.setdefault(name, ArmStats())
            if other.a is None or other.b is None or other.b.shape != (d,):  # the prior
                other.a, other.b = np.identity(d), np.zeros(d)
            if discount < 1.0:
                other.a *= discount
                other.a.flat[:: d + 1] += 1.0 - discount
                other.b *= discount
        assert stats.a is not None
        assert stats.b is not None
        stats.a += np.outer(x, x)
        stats.b += reward * x

    async def snapshot(self) -> dict[str, ArmStats]:
        return dict(self._arms)

    async def aclose(self) -> None:
        return None


# KEYS[1] the hash; ARGV: arm, reward, discount, dimension, x as JSON ('' for none), then the candidates.
_UPDATE = """
local key, arm, r = KEYS[1], ARGV[1], tonumber(ARGV[2])
redis.call('HINCRBYFLOAT', key, arm .. '|pulls', 1)
redis.call('HINCRBYFLOAT', key, arm .. '|reward', ARGV[2])
if ARGV[5] == '' then return 1 end
local g, d, x = tonumber(ARGV[3]), tonumber(ARGV[4]), cjson.decode(ARGV[5])
local seen = {}
for i = 6, #ARGV do
  local name = ARGV[i]
  if not seen[name] then
    seen[name] = true
    local A = redis.call('HGET', key, name .. '|A')
    local b = redis.call('HGET', key, name .. '|b')
    A = A and cjson.decode(A) or nil
    b = b and cjson.decode(b) or nil
    if not A or #A ~= d * d or not b or #b ~= d then
      A, b = {}, {}
      for j = 1, d * d do A[j] = 0 end
      for j = 0, d - 1 do A[j * d + j + 1] = 1 end
      for j = 1, d do b[j] = 0 end
    end
    if g < 1 then
      for j = 1, d * d do A[j] = g * A[j] end
      for j = 0, d - 1 do A[j * d + j + 1] = A[j * d + j + 1] + (1 - g) end
      for j = 1, d do b[j] = g * b[j] end
    end
    if name == arm then
      for p = 1, d do
        local row = (p - 1) * d
        for q = 1, d do A[row + q] = A[row + q] + x[p] * x[q] end
        b[p] = b[p] + r * x[p]
      end
    end
    redis.call('HSET', key, name .. '|A', cjson.encode(A), name .. '|b', cjson.encode(b))
  end
end
return 1
"""


class RedisBanditStore:
    """The statistics in one Redis hash, shared by every executor that names it."""

    kind = "redis"

    def __init__(self, redis: Redis, key: str) -> None:
        self.redis = redis
        self.key = key
        self._update = redis.register_script(_UPDATE)

    async def read(self, arms: Sequence[str]) -> dict[str, ArmStats]:
        fields = [f"{name}|{part}" for name in arms for part in ("pulls", "reward", "A", "b")]
        values = await self.redis.hmget(self.key, fields)
        return {name: _arm(values[4 * i: 4 * i + 4]) for i, name in enumerate(arms)}

    async def update(
        self, arm: str, reward: float, x: Vector | None, candidates: Sequence[str], discount: float
    ) -> None:
        encoded = "" if x is None else json.dumps(x.tolist())
        d = 0 if x is None else len(x)
        args: list[str | int] = [arm, repr(float(reward)), repr(float(discount)), d, encoded, arm, *candidates]
        await self._update(keys=[self.key], args=args)

    async def snapshot(self) -> dict[str, ArmStats]:
        grouped: dict[str, dict[str, bytes | str]] = {}
        for fieldname, value in (await self.redis.hgetall(self.key)).items():
            text = fieldname.decode() if isinstance(fieldname, bytes) else fieldname
            name, _, part = text.rpartition("|")
            grouped.setdefault(name, {})[part] = value
        return {name: _arm([parts.get(p) for p in ("pulls", "reward", "A", "b")]) for name, parts in grouped.items()}

    async def aclose(self) -> None:
        await self.redis.aclose()


def _arm(values: Sequence[Any]) -> ArmStats:
    pulls, total, a, b = values
    arm = ArmStats(float(pulls or 0), float(total or 0))
    if a is not None and b is not None:
        import numpy as np  # only statistics with a context have these

        matrix, vector = np.array(json.loads(a), dtype=np.float64), np.array(json.loads(b), dtype=np.float64)
        d = vector.size
        if matrix.size == d * d:
            arm.a, arm.b = matrix.reshape(d, d), vector
    return arm
