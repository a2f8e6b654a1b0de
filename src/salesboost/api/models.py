"""Request and response bodies of the HTTP surface (docs/contract.md, section 7), declared so the OpenAPI
schema is honest."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from salesboost.tools.idempotency import IdempotencyKey
from salesboost.tools.result import ToolResult
from salesboost.tools.schema import Format

MAX_BATCH_CALLS = 50

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
ToolName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


def _integral(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# A JSON Schema integer: 38 and 38.0, never true or "38" (the bodies are parsed strictly).
Concurrency = Annotated[int, Field(ge=1, le=MAX_BATCH_CALLS), BeforeValidator(_integral)]

# Bodies are parsed strictly, as their schema says: `true` is not a number, `1` is not a string.
_STRICT = ConfigDict(extra="forbid", strict=True)
_IGNORED_ROLE = Field(
    None,
    deprecated=True,
    description="Ignored: the caller's role comes from its API key, never from the body.",
)


class ExecuteRequest(BaseModel):
    model_config = _STRICT

    tool: ToolName = Field(description="The tool to call, e.g. crm_integration.")
    payload: dict[str, Any] = Field(default_factory=dict, description="The tool's input (its input_schema).")
    tool_call_id: Identifier | None = Field(None, description="Your id for this call; generated when absent.")
    session_id: Identifier | None = Field(
        None, description="The conversation this call belongs to; its events go to WebSocket subscribers."
    )
    caller_role: str | None = _IGNORED_ROLE


class BatchCall(BaseModel):
    model_config = _STRICT

    tool: ToolName
    payload: dict[str, Any] = Field(default_factory=dict)
    tool_call_id: Identifier | None = None
    idempotency_key: IdempotencyKey | None = Field(
        None, description="Required for a side-effecting call, like the Idempotency-Key header of execute."
    )


class BatchRequest(BaseModel):
    model_config = _STRICT

    calls: list[BatchCall] = Field(min_length=1, max_length=MAX_BATCH_CALLS)
    session_id: Identifier | None = None
    max_concurrent: Concurrency | None = Field(
        None, description="Calls run at once; default TOOL_PARALLEL_MAX_CONCURRENT."
    )
    deadline_s: float | None = Field(
        None, gt=0, le=3600,
        description="Seconds the batch may take to start its calls: a call not started by then answers "
        "TOOL_TIMEOUT without running.",
    )
    caller_role: str | None = _IGNORED_ROLE


class BatchResponse(BaseModel):
    results: list[ToolResult] = Field(description="One envelope per call, in the order of the request.")
    succeeded: int
    failed: int


class ToolDescription(BaseModel):
    """What `tool_schema` says about a tool: everything a client needs to call it."""

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    roles: list[str]
    actions: dict[str, list[str]] = Field(description="Per-action roles, for tools with actions.")
    read_only: bool
    write_actions: list[str]
    idempotent: bool
    cacheable: bool
    timeout_seconds: float
    error_codes: list[str]
    examples: list[dict[str, Any]]


class ToolList(BaseModel):
    role: str = Field(description="The role of the key that asked.")
    tools: list[ToolDescription]


class ExportedToolList(BaseModel):
    """The role's tools in a model provider's format (`?format=`), to hand the model as they are."""

    role: str = Field(description="The role of the key that asked.")
    format: Format
    tools: list[dict[str, Any]] = Field(description="One entry per tool, by name, in the provider's own shape.")
    not_strict: dict[str, str] = Field(
        description="OpenAI formats: the tools exported without strict mode, each with the reason (empty: all "
        "strict)."
    )


class ToolCacheCounts(BaseModel):
    hits: int
    misses: int
    hit_rate: float


class CacheEntry(BaseModel):
    key: str | None = Field(
        None,
        exclude_if=lambda key: key is None,
        description="Tool and validated input, masked; only for admin keys (absent for other roles).",
    )
    tool: str
    access_count: int
    last_accessed: float | None = Field(description="Monotonic clock of the server, seconds.")
    age_seconds: float


class CacheStats(BaseModel):
    hits: int
    misses: int
    hit_rate: float
    evictions: int
    size: int
    max_entries: int
    by_tool: dict[str, ToolCacheCounts] = Field(description="Per tool: every tool for admin, else the role's tools.")
    top_accessed: list[CacheEntry] = Field(
        description="The most used entries: every tool's, with keys, for admin; else those of the role's tools."
    )


class BanditArm(BaseModel):
    pulls: int
    mean_reward: float


class BanditStats(BaseModel):
    enabled: bool = Field(description="TOOL_BANDIT_ENABLED: whether select_tool uses the bandit.")
    policy: Literal["epsilon_greedy", "linucb"] = Field(description="SALESBOOST_BANDIT_POLICY.")
    epsilon: float = Field(description="TOOL_BANDIT_EPSILON: epsilon-greedy's exploration rate.")
    parameters: dict[str, float] = Field(
        description="The policy's parameters (epsilon; or alpha, explore, discount) and the reward's latency budget."
    )
    store: Literal["memory", "redis"] = Field(description="Where the statistics live: this process, or Redis.")
    available: bool = Field(description="Whether the store answered (Redis unreachable: false, and no arms).")
    arms: dict[str, BanditArm]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "degraded", "not_ready"]
    checks: dict[str, str] = Field(
        description="Per dependency: ok, skipped (unconfigured), its failure, degraded (Redis: the shared state "
        "runs on each replica's local fallback; still ready), or warming (the tools' models still loading, named)."
    )
