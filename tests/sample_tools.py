"""Small tools that exercise each rule of the executor, and an executor wired to a real SQLite audit table.

Loaded as a pytest plugin by conftest.py, so every test folder can use `executor` and `make_executor`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Literal

import pytest
from prometheus_client import CollectorRegistry
from pydantic import Field

from salesboost.assembly import create_backends, executor_parts
from salesboost.config import Settings
from salesboost.observability.metrics import ToolMetrics
from salesboost.tools.base import RateLimit, Tool, ToolBackends, ToolContext, ToolInput, ToolOutput, ToolPolicy
from salesboost.tools.errors import ToolDomainError, TransientToolError
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.permissions import Permissions, ToolPermission
from salesboost.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

EVERYONE = frozenset({"coach", "npc", "admin"})


class EchoInput(ToolInput):
    text: str = Field(min_length=1, max_length=50)
    times: int = Field(1, ge=1, le=3)


class EchoOutput(ToolOutput):
    text: str
    contact: str = ""


class EchoTool(Tool[EchoInput, EchoOutput]):
    """Read-only and cached; counts its real runs."""

    name = "echo"
    description = "Repeat the text."
    Input = EchoInput
    Output = EchoOutput
    policy = ToolPolicy(roles=EVERYONE, cache_ttl=60)

    def __init__(self) -> None:
        self.runs = 0

    async def run(self, args: EchoInput, ctx: ToolContext) -> EchoOutput:
        self.runs += 1
        return EchoOutput(text=args.text * args.times, contact="call +1 415 555 0100 or jane@example.com")

    def cache_tags(self, args: EchoInput) -> tuple[str, ...]:
        return (f"text:{args.text}",)

    def preview(self, output: EchoOutput) -> str:
        return f"Echoed {output.text!r}; {output.contact}"


class FlakyInput(ToolInput):
    failures: int = Field(ge=0)
    kind: Literal["connection", "transient", "value", "timeout"] = "connection"


class CountOutput(ToolOutput):
    attempts: int


class FlakyTool(Tool[FlakyInput, CountOutput]):
    """Fails `failures` times, then answers with the number of attempts."""

    name = "flaky"
    description = "Fails a few times first."
    Input = FlakyInput
    Output = CountOutput
    policy = ToolPolicy(roles=EVERYONE, timeout=0.2)

    def __init__(self) -> None:
        self.attempts = 0

    async def run(self, args: FlakyInput, ctx: ToolContext) -> CountOutput:
        self.attempts += 1
        if self.attempts <= args.failures:
            if args.kind == "connection":
                raise ConnectionError("backend reset the connection")
            if args.kind == "transient":
                raise TransientToolError("backend busy")
            if args.kind == "timeout":
                await asyncio.sleep(1)
            raise ValueError("a bug, not an accident")
        return CountOutput(attempts=self.attempts)


class WriteInput(ToolInput):
    failures: int = 0


class WriteTool(FlakyTool):
    """Side-effecting and not idempotent: retried only with an idempotency key."""

    name = "write"
    description = "Changes the world."
    Input = WriteInput  # type: ignore[assignment]
    policy = ToolPolicy(roles=EVERYONE, read_only=False)

    async def run(self, args: WriteInput, ctx: ToolContext) -> CountOutput:  # type: ignore[override]
        self.attempts += 1
        if self.attempts <= args.failures:
            raise ConnectionError("provider unreachable")
        return CountOutput(attempts=self.attempts)


class SleepInput(ToolInput):
    seconds: float = Field(ge=0)


class SleepTool(Tool[SleepInput, CountOutput]):
    name = "sleepy"
    description = "Sleeps."
    Input = SleepInput
    Output = CountOutput
    policy = ToolPolicy(roles=EVERYONE, timeout=0.1, retry=False)

    async def run(self, args: SleepInput, ctx: ToolContext) -> CountOutput:
        await asyncio.sleep(args.seconds)
        return CountOutput(attempts=1)


class BlockingTool(Tool[SleepInput, CountOutput]):
    """A sync tool that blocks: runs in the thread pool."""

    name = "blocking"
    description = "Blocks a thread."
    Input = SleepInput
    Output = CountOutput
    policy = ToolPolicy(roles=EVERYONE, timeout=2.0)

    def run(self, args: SleepInput, ctx: ToolContext) -> CountOutput:
        time.sleep(args.seconds)
        return CountOutput(attempts=1)


class QueuedTool(BlockingTool):
    """A blocking tool with a short deadline that counts the runs that really started."""

    name = "queued"
    policy = ToolPolicy(roles=EVERYONE, timeout=1.0, retry=False)

    def __init__(self) -> None:
        self.runs = 0

    def run(self, args: SleepInput, ctx: ToolContext) -> CountOutput:
        self.runs += 1
        return super().run(args, ctx)


class InlineTool(Tool[SleepInput, CountOutput]):
    name = "inline"
    description = "Cheap sync work, run inline."
    Input = SleepInput
    Output = CountOutput
    policy = ToolPolicy(roles=EVERYONE, inline=True)

    def run(self, args: SleepInput, ctx: ToolContext) -> CountOutput:
        return CountOutput(attempts=1)


class LookupInput(ToolInput):
    key: str


class LookupTool(Tool[LookupInput, EchoOutput]):
    """Answers a domain failure for an unknown key."""

    name = "lookup"
    description = "Looks a key up."
    Input = LookupInput
    Output = EchoOutput
    policy = ToolPolicy(roles=EVERYONE, cache_ttl=60)
    error_codes = ("THING_NOT_FOUND",)

    def __init__(self) -> None:
        self.runs = 0

    async def run(self, args: LookupInput, ctx: ToolContext) -> EchoOutput:
        self.runs += 1
        if args.key != "known":
            raise ToolDomainError("THING_NOT_FOUND", f"no thing {args.key!r}", details={"key": args.key})
        return EchoOutput(text="found")


class ActionInput(ToolInput):
    action: Literal["read", "update"] = "read"
    value: str = ""


class ActionTool(Tool[ActionInput, EchoOutput]):
    """Per-action roles come from the permissions; `update` is a write action that drops cached echoes."""

    name = "actions"
    description = "Reads or updates."
    Input = ActionInput
    Output = EchoOutput
    policy = ToolPolicy(read_only=False, action_field="action", write_actions=frozenset({"update"}))

    async def run(self, args: ActionInput, ctx: ToolContext) -> EchoOutput:
        if args.action == "update":
            ctx.backends.invalidate(f"text:{args.value}")
        return EchoOutput(text=f"{args.action}:{ctx.caller_role}:{ctx.session_id}:{ctx.idempotency_key}")


class WhoAmITool(EchoTool):
    """Its answer depends on the caller's role, so its cache is kept per role."""

    name = "whoami"
    policy = ToolPolicy(roles=EVERYONE, cache_ttl=60, cache_by_role=True)

    async def run(self, args: EchoInput, ctx: ToolContext) -> EchoOutput:
        self.runs += 1
        return EchoOutput(text=f"{args.text}:{ctx.caller_role}")


class LimitedTool(InlineTool):
    name = "limited"
    policy = ToolPolicy(roles=EVERYONE, inline=True, rate_limit=RateLimit(calls=2, per_seconds=60))


PERMISSIONS = Permissions(
    roles=frozenset({"coach", "npc", "admin"}),
    tools={
        "actions": ToolPermission(
            roles=frozenset({"coach", "admin"}),
            actions={"read": frozenset({"coach", "admin"}), "update": frozenset({"admin"})},
        )
    },
)


def make_registry(backends: ToolBackends) -> ToolRegistry:
    registry = ToolRegistry(permissions=PERMISSIONS, backends=backends)
    for tool in (EchoTool(), FlakyTool(), WriteTool(), SleepTool(), BlockingTool(), QueuedTool(), InlineTool(),
                 LookupTool(), ActionTool(), LimitedTool(), WhoAmITool()):
        registry.register(tool)
    return registry


@pytest.fixture
async def sqlite_backends(settings: Settings) -> AsyncIterator[ToolBackends]:
    backends = create_backends(settings)
    yield backends
    await backends.aclose()


MakeExecutor = Callable[..., ToolExecutor]


def private_executor(
    registry: ToolRegistry,
    *,
    require_idempotency_key: bool = False,
    clock: Callable[[], float] = time.monotonic,
    tracer_provider: TracerProvider | None = None,
) -> ToolExecutor:
    """An executor assembled as the service's is, with metrics of its own (so tests do not add up) and, when
    its settings trace, spans to `tracer_provider`."""
    parts = executor_parts(
        registry, metrics=ToolMetrics(CollectorRegistry()), clock=clock, tracer_provider=tracer_provider
    )
    return ToolExecutor(registry, parts=parts, require_idempotency_key=require_idempotency_key)


@pytest.fixture
async def make_executor(sqlite_backends: ToolBackends) -> AsyncIterator[MakeExecutor]:
    """Executors over the test tools, with settings overridden by keyword (and a `clock` for the limits and
    breakers); closed after the test."""
    made: list[ToolExecutor] = []

    def make(clock: Callable[[], float] = time.monotonic, **overrides: object) -> ToolExecutor:
        sqlite_backends.settings = sqlite_backends.settings.model_copy(update=overrides)
        ex = private_executor(make_registry(sqlite_backends), clock=clock)
        made.append(ex)
        return ex

    yield make
    for ex in made:
        await ex.aclose()


@pytest.fixture
def executor(make_executor: MakeExecutor) -> ToolExecutor:
    return make_executor()
