"""Per-call overhead of the executor beside a bare await, pydantic validation and other runtimes, in ONE run.

Each contender calls the same trivial tool (add two ints). Every round times one block of each contender in
turn; the table reports the median of each contender's blocks, and each ratio is the median over the rounds of
that round's own ratio, so that a ratio compares blocks run moments apart, whatever the machine's mood.
The audit trail is on: a call only queues its record, and the writer's batched inserts run between blocks
(its thread's own flushes are spaced out of the way, so none overlaps a timed block); their cost per record is
printed apart. Blocks are short (2,000 calls): 20,000 records piling up inside one block would measure the
garbage collector walking them rather than a server's steady state, where the writer drains the queue every
flush interval.

    python bench/executor_overhead.py [--repeats 21] [--quick]

"tracing on" is the same executor with SALESBOOST_TRACING=true: a real SDK provider and batch span processor,
over an exporter that drops the spans (what a span costs the call, not what sending it costs the network).

The last line is for scripts:
RESULT executor_us=... floor_ratio=... langchain_speedup=... mcp_speedup=... cache_hit_us=... cache_hit_ratio=...
       openai_speedup=... tracing_us=... tracing_overhead_us=... tracing_overhead_floors=... audit_us=...

`audit_us` is the audit writer's wall time per record of the flushes timed between blocks (building the rows:
canonical JSON, hashes, masked preview; and inserting them), on the writer's thread while the loop waits.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from salesboost.assembly import Runtime, build_runtime, create_backends, executor_parts
from salesboost.config import Settings, load_settings
from salesboost.observability.metrics import ToolMetrics
from salesboost.store.db import upgrade
from salesboost.tools.base import Tool, ToolContext, ToolInput, ToolOutput, ToolPolicy
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.permissions import Permissions
from salesboost.tools.registry import ToolRegistry


class AddInput(ToolInput):
    a: int
    b: int


class AddOutput(ToolOutput):
    sum: int


class AddTool(Tool[AddInput, AddOutput]):
    name = "add"
    description = "Add two integers."
    Input = AddInput
    Output = AddOutput
    policy = ToolPolicy(roles=frozenset({"coach"}))

    async def run(self, args: AddInput, ctx: ToolContext) -> AddOutput:
        return AddOutput(sum=args.a + args.b)


class CachedAddTool(AddTool):
    name = "add_cached"
    policy = ToolPolicy(roles=frozenset({"coach"}), cache_ttl=3600)


async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


Bench = Callable[[], Awaitable[Any]]


@dataclass
class Contender:
    fn: Bench
    calls: int  # per block
    between: Callable[[], Awaitable[Any]] | None = None  # run before each block, untimed
    samples: list[float] = field(default_factory=list)


async def measure(contenders: dict[str, Contender], repeats: int) -> dict[str, float]:
    """Median over `repeats` rounds of µs per call. Each round times one block of every contender, one after
    the other, so that a ratio compares blocks run within moments of each other, whatever the machine is
    doing meanwhile (`ratio`)."""
    for c in contenders.values():
        for _ in range(min(c.calls, 200)):  # warm up
            await c.fn()
    for _ in range(repeats):
        for c in contenders.values():
            if c.between is not None:
                await c.between()
            gc.collect()
            start = time.perf_counter()
            for _ in range(c.calls):
                await c.fn()
            c.samples.append((time.perf_counter() - start) / c.calls * 1e6)
    return {name: statistics.median(c.samples) for name, c in contenders.items()}


def ratio(contenders: dict[str, Contender], a: str, b: str) -> float:
    """The median over the rounds of a's block time over b's in the same round. On a shared machine whose speed
    drifts by a third within a minute, the ratio of two medians taken over the whole run pairs blocks run at
    different speeds; each round's own ratio does not."""
    return statistics.median(x / y for x, y in zip(contenders[a].samples, contenders[b].samples, strict=True))


def traced_executor(settings: Settings) -> ToolExecutor:
    """The bench's executor with tracing on: spans through a real SDK pipeline, dropped at the exporter."""
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    registry = ToolRegistry(permissions=Permissions.allow_all(["coach"]), backends=create_backends(settings))
    registry.register(AddTool())
    parts = executor_parts(registry, metrics=ToolMetrics(CollectorRegistry()), tracer_provider=provider)
    return ToolExecutor(registry, parts=parts)


async def bench_runtime() -> Runtime:
    """The runtime the benches time: the add tools on a fresh SQLite file, the audit flushed only when asked."""
    tmp = Path(tempfile.mkdtemp(prefix="salesboost-bench-"))
    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = load_settings(
        database_url=url, audit_flush_interval=60, audit_batch_size=1_000_000, audit_max_pending=10_000_000
    )
    registry = ToolRegistry(permissions=Permissions.allow_all(["coach"]), backends=create_backends(settings))
    registry.register(AddTool())
    registry.register(CachedAddTool())
    return build_runtime(registry=registry, metrics=ToolMetrics(CollectorRegistry()))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--quick", action="store_true", help="fewer calls per block (a smoke run)")
    opts = parser.parse_args()
    fast_calls = 500 if opts.quick else 2_000
    slow_calls = 50 if opts.quick else 200

    runtime = await bench_runtime()
    settings = runtime.settings
    executor = runtime.executor
    audit = executor.audit
    assert audit is not None
    flushed = {"records": 0, "seconds": 0.0}

    async def flush_audit() -> None:
        start = time.perf_counter()
        flushed["records"] += await audit.flush()
        flushed["seconds"] += time.perf_counter() - start

    traced = traced_executor(settings.model_copy(update={"tracing": True}))
    traced_audit = traced.audit
    assert traced_audit is not None

    async def flush_traced_audit() -> None:
        await traced_audit.flush()

    payload = {"a": 1, "b": 2}

    async def bare() -> int:
        return await add(1, 2)

    async def validated() -> int:
        args = AddInput.model_validate(payload)
        return await add(args.a, args.b)

    async def ours() -> Any:
        return await executor.execute("add", payload, "coach")

    async def cache_hit() -> Any:
        return await executor.execute("add_cached", payload, "coach")

    async def tracing_on() -> Any:
        return await traced.execute("add", payload, "coach")

    check = await ours()
    if check.result != {"sum": 3}:
        raise SystemExit(f"the executor answered wrongly: {check}")
    await cache_hit()
    if (await tracing_on()).result != {"sum": 3}:
        raise SystemExit("the traced executor answered wrongly")

    from langchain_core.tools import StructuredTool

    lc_tool = StructuredTool.from_function(coroutine=add, name="add", description="Add two integers.")

    async def langchain() -> Any:
        return await lc_tool.ainvoke(payload)

    from agents import function_tool
    from agents.tool_context import ToolContext as AgentsToolContext

    agents_tool = function_tool(add)
    raw = json.dumps(payload)

    async def openai_agents() -> Any:
        ctx = AgentsToolContext(context=None, tool_name="add", tool_call_id="c1", tool_arguments=raw)
        return await agents_tool.on_invoke_tool(ctx, raw)

    from mcp.server.mcpserver import MCPServer

    server: MCPServer[Any] = MCPServer("bench")
    server.add_tool(add)

    async def mcp_call() -> Any:
        return await server.call_tool("add", payload)

    full, floor, hit, traced_name = (
        "salesboost execute (full pipeline)", "pydantic validate + await", "salesboost execute (cache hit)",
        "salesboost execute (tracing on)",
    )
    contenders = {
        "bare await": Contender(bare, fast_calls),
        floor: Contender(validated, fast_calls),
        full: Contender(ours, fast_calls, flush_audit),
        hit: Contender(cache_hit, fast_calls, flush_audit),
        traced_name: Contender(tracing_on, fast_calls, flush_traced_audit),
        "langchain StructuredTool.ainvoke": Contender(langchain, slow_calls),
        "openai-agents FunctionTool.on_invoke_tool": Contender(openai_agents, slow_calls),
        "mcp MCPServer.call_tool": Contender(mcp_call, slow_calls),
    }
    results = await measure(contenders, opts.repeats)
    await flush_audit()
    audit_us = flushed["seconds"] / max(flushed["records"], 1) * 1e6
    await runtime.aclose()
    await traced.aclose()

    executor_us = results[full]
    print(f"{'contender':45} {'µs/call':>9} {'× executor':>11} {'× floor':>8}")
    for name in results:
        print(f"{name:45} {results[name]:9.2f} {ratio(contenders, name, full):11.2f} "
              f"{ratio(contenders, name, floor):8.2f}")
    print(f"(ratios: the median of each round's own ratio; µs: the median of each contender's blocks; "
          f"{opts.repeats} rounds)")
    print(f"audit trail, batched write per record (off the call path): {audit_us:.2f} µs")
    tracing_overhead = statistics.median(
        t - f for t, f in zip(contenders[traced_name].samples, contenders[full].samples, strict=True)
    )
    # The span's cost in floors (the µs figure follows the machine's speed; this one much less).
    tracing_floors = statistics.median(
        (t - f) / v for t, f, v in zip(
            contenders[traced_name].samples, contenders[full].samples, contenders[floor].samples, strict=True
        )
    )
    print(
        f"RESULT executor_us={executor_us:.2f} floor_ratio={ratio(contenders, full, floor):.2f} "
        f"langchain_speedup={ratio(contenders, 'langchain StructuredTool.ainvoke', full):.1f} "
        f"mcp_speedup={ratio(contenders, 'mcp MCPServer.call_tool', full):.1f} "
        f"cache_hit_us={results[hit]:.2f} cache_hit_ratio={ratio(contenders, hit, floor):.2f} "
        f"openai_speedup={ratio(contenders, 'openai-agents FunctionTool.on_invoke_tool', full):.2f} "
        f"tracing_us={results[traced_name]:.2f} tracing_overhead_us={tracing_overhead:.2f} "
        f"tracing_overhead_floors={tracing_floors:.2f} audit_us={audit_us:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
