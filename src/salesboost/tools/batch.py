"""Batches that keep their meaning: reads run side by side, a write is a barrier, a deadline stops what has not
started.

The rule (docs/architecture.md, batches): the calls are cut into steps in input order. Consecutive calls that
change nothing share a step and run concurrently, at most `limit` at once; a side-effecting call is a step of its
own, so everything listed before it has finished when it starts, and everything listed after it starts once it
has finished (a read after a write sees it). Whether a call writes comes from its tool's policy and its
*validated* input (`RegisteredTool.is_write`: a CRM `search` reads, an `update` writes), never from a name; a call
whose tool is unknown or whose input does not validate changes nothing (it fails at validation) and runs with the
reads. A call not started by the batch's deadline answers `TOOL_TIMEOUT` without running (the executor still
records it, like any refused call). The executor answers each call's envelope, so one failing call never stops
the others; results come back in input order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from salesboost.tools.errors import TOOL_TIMEOUT, ToolError
from salesboost.tools.registry import ToolRegistry
from salesboost.tools.result import ToolResult

Spec = Mapping[str, Any]  # {"tool", "payload", "tool_call_id"?, "idempotency_key"?}


class BatchDeadlineError(ToolError):
    """The batch's deadline passed before this call started: nothing ran, so trying again is safe."""

    code = TOOL_TIMEOUT
    retryable = True


def tool_of(spec: Spec) -> str:
    return str(spec.get("tool", spec.get("name", "")))


def writes(registry: ToolRegistry, spec: Spec) -> bool:
    """Whether this call has a side effect, by its tool's policy and its validated input."""
    entry = registry.lookup(tool_of(spec))
    if entry is None:
        return False
    if entry.policy.read_only:
        return False
    try:
        args = entry.parse(spec.get("payload") or {})
    except ValidationError:
        return False  # it will fail validation and do nothing
    return entry.is_write(args)


def steps(flags: Sequence[bool]) -> list[list[int]]:
    """Indexes grouped into steps run one after the other: a run of reads, or one write alone."""
    out: list[list[int]] = []
    for i, write in enumerate(flags):
        if write:
            out.append([i])
            out.append([])
        elif out:
            out[-1].append(i)
        else:
            out.append([i])
    return [step for step in out if step]


async def run_batch(
    specs: Sequence[Spec],
    *,
    registry: ToolRegistry,
    run: Callable[[Spec, BatchDeadlineError | None], Awaitable[ToolResult]],
    limit: int,
    deadline_s: float | None = None,
) -> list[ToolResult]:
    """Run `specs` by the rule above, `run` answering each one's envelope (refused with the error it is given:
    the call did not start by the deadline)."""
    loop = asyncio.get_running_loop()
    ends_at = None if deadline_s is None else loop.time() + deadline_s
    gate = asyncio.Semaphore(limit)
    results: list[ToolResult | None] = [None] * len(specs)

    async def one(i: int) -> None:
        spec = specs[i]
        async with gate:
            late = ends_at is not None and loop.time() >= ends_at
            results[i] = await run(spec, _not_started(deadline_s) if late else None)

    for step in steps([writes(registry, spec) for spec in specs]):
        if len(step) == 1:
            await one(step[0])
        else:
            await asyncio.gather(*(one(i) for i in step))
    answered = [r for r in results if r is not None]
    assert len(answered) == len(specs)  # every step ran every one of its calls
    return answered


def _not_started(deadline_s: float | None) -> BatchDeadlineError:
    return BatchDeadlineError(
        f"the batch's deadline ({deadline_s} s) passed before this call started: it did not run; "
        "send it again, alone or in a new batch",
        details={"deadline_s": deadline_s, "started": False},
    )
