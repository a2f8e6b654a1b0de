"""The tool contract: what a tool declares and what it receives when it runs.

A tool is a class with a `name`, a `description` for the LLM, an `Input` and an `Output` pydantic model and a
`ToolPolicy`; its `run(args, ctx)` is `async def` for a tool that awaits I/O, or a plain `def` for a blocking
one (run in a bounded thread pool, or inline when the policy says it is cheap).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict

from salesboost.clock import utcnow
from salesboost.tools.errors import ToolError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from salesboost.config import Settings

InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)
T = TypeVar("T")


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# A caller's text that a tool stores or searches: PostgreSQL refuses a NUL in text where SQLite keeps it, so it is
# refused at validation and both databases answer alike (TOOL_INPUT_INVALID), never a crash of the tool.
StoredText = Annotated[str, AfterValidator(_storable)]


class ToolInput(BaseModel):
    """Base for tool inputs: unknown fields are an error the LLM can read, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class ToolOutput(BaseModel):
    """Base for tool outputs."""


class Heavy(Generic[T]):
    """A part too costly to build when a tool is registered (a model, a rule pack, an index): built once per
    process on first use, or ahead by `warm()` (the service warms every tool's parts in the background at start).

    Thread-safe: concurrent first uses wait for one build. A failed build is not kept: each use tries again (the
    file may have been built since) and fails the call with a `ToolError` naming the part and the cause.
    """

    __slots__ = ("_build", "_lock", "_value", "name")

    def __init__(self, name: str, build: Callable[[], T]) -> None:
        self.name = name
        self._build = build
        self._lock = threading.Lock()
        self._value: T | None = None

    @property
    def ready(self) -> bool:
        return self._value is not None

    def get(self) -> T:
        value = self._value
        if value is not None:  # the hot path: no lock once built
            return value
        with self._lock:
            if self._value is None:
                try:
                    self._value = self._build()
                except ToolError:
                    raise
                except Exception as exc:
                    raise ToolError(f"{self.name} is not available: {exc}") from exc
            return self._value

    def warm(self) -> None:
        """Build now (the error, if any, is the one `get` raises)."""
        self.get()


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `calls` per `per_seconds` for one caller of one tool."""

    calls: int
    per_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class ToolPolicy:
    """How the executor treats a tool.

    `roles` None takes the roles from the permissions file (the one place the role matrix lives).
    `cache_by_role` keeps a cached result per caller role, for a tool whose answer depends on who asks.
    A tool with actions names its `action_field`; its `write_actions` are the side-effecting ones, and the
    permissions file may give each action its own roles. `open_world` marks a tool that reaches people or
    systems outside the service (a text message leaves it for good), for clients that warn before such calls.
    """

    roles: frozenset[str] | None = None
    read_only: bool = True
    idempotent: bool = False
    cache_ttl: float | None = None
    cache_by_role: bool = False
    timeout: float = 10.0
    rate_limit: RateLimit | None = None
    retry: bool = True
    inline: bool = False
    action_field: str | None = None
    write_actions: frozenset[str] = frozenset()
    open_world: bool = False

    def __post_init__(self) -> None:
        if self.cache_ttl is not None and not self.read_only:
            raise ValueError("only read-only tools may be cached")
        if self.write_actions and self.read_only:
            raise ValueError("a tool with write actions is not read-only")
        if self.write_actions and self.action_field is None:
            raise ValueError("write_actions need an action_field")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")


OpenedDatabase = tuple["AsyncEngine", "async_sessionmaker[AsyncSession]"]


@dataclass(slots=True)
class ToolBackends:
    """What tools share, chosen once from settings at start-up."""

    settings: Settings
    session_factory: async_sessionmaker[AsyncSession] | None = None
    # The engine behind the session factory when these backends own it (closed by `aclose`).
    engine: AsyncEngine | None = None
    clock: Callable[[], datetime] = utcnow
    # The caches of the executors over these backends (the composition root adds each): a write drops what it
    # changed from every one of them, not only from the last executor built.
    invalidators: list[Callable[[str], object]] = field(default_factory=list)
    # Opens the engine and its sessions when a tool first needs them (the composition root gives it), so that a
    # process whose calls never reach the database does not import SQLAlchemy (about 0.2 s of start-up).
    connect: Callable[[], OpenedDatabase] | None = None
    _opening: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @property
    def has_database(self) -> bool:
        return self.session_factory is not None or self.connect is not None

    def invalidate(self, tag: str) -> None:
        """Drop the cached results stored with this tag, everywhere."""
        for drop in self.invalidators:
            drop(tag)

    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The session factory, the database opened by the first call that asks."""
        if self.session_factory is None:
            if self.connect is None:
                raise RuntimeError("this tool needs a database: no session factory was configured")
            with self._opening:  # a blocking tool's thread may ask too
                if self.session_factory is None:
                    self.engine, self.session_factory = self.connect()
        return self.session_factory

    async def aclose(self) -> None:
        """Close the database engine these backends own."""
        if self.engine is not None:
            await self.engine.dispose()


@dataclass(slots=True)
class ToolContext:
    """Per-call facts handed to `run`."""

    caller_role: str
    tool_call_id: str
    backends: ToolBackends
    session_id: str | None = None
    idempotency_key: str | None = None
    caller_id: str | None = None


class Tool(Generic[InputT, OutputT]):
    """Subclass, set the class attributes, implement `run` (async or sync)."""

    name: str
    description: str
    Input: type[InputT]
    Output: type[OutputT]
    policy: ToolPolicy = ToolPolicy()
    # Domain error codes this tool may return, for its documentation and schema export.
    error_codes: tuple[str, ...] = ()
    # Example payloads for docs (OpenAPI, README).
    examples: tuple[Mapping[str, Any], ...] = ()

    def run(self, args: InputT, ctx: ToolContext) -> Awaitable[OutputT] | OutputT:
        raise NotImplementedError

    def heavy_parts(self) -> tuple[Heavy[Any], ...]:
        """The parts this tool builds on first use, for the service to warm before it says it is ready."""
        return ()

    def cache_tags(self, args: InputT) -> tuple[str, ...]:
        """Tags of a cached result; a write elsewhere calls `ctx.backends.invalidate(tag)` to drop it."""
        return ()

    def preview(self, output: OutputT) -> str:
        """A short human line about the result (masked and cut to 100 characters by the executor)."""
        return output.model_dump_json()
