"""The envelope every call answers with, success or failure."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ToolErrorInfo(BaseModel):
    code: str = Field(description="Stable error code, e.g. TOOL_INPUT_INVALID or CUSTOMER_NOT_FOUND.")
    type: str = Field(description="The exception class that produced it.")
    message: str = Field(description="What went wrong, written so that an LLM can act on it.")
    retryable: bool = Field(description="Whether the same call may succeed later.")
    details: dict[str, Any] = Field(default_factory=dict)


class ToolResult(BaseModel):
    ok: bool
    tool: str
    tool_call_id: str
    caller_role: str
    result: dict[str, Any] | None = None
    error: ToolErrorInfo | None = None
    cached: bool = False
    retry_count: int = 0
    latency_ms: float = 0.0
    audit_id: str | None = None

