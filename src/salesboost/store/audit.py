"""The durable audit table: one row for every tool call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from salesboost.store.base import Base


class ToolAuditRecord(Base):
    __tablename__ = "tool_audit"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    tool: Mapped[str] = mapped_column(String(100))
    caller_role: Mapped[str] = mapped_column(String(50))
    caller_id: Mapped[str | None] = mapped_column(String(100))  # the API key's id; None from the CLI and Python
    tool_call_id: Mapped[str] = mapped_column(String(200))
    session_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(100))
    retry_count: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    cached: Mapped[bool] = mapped_column(Boolean)
    input_hash: Mapped[str] = mapped_column(String(64))
    result_hash: Mapped[str | None] = mapped_column(String(64))
    input_preview: Mapped[str] = mapped_column(Text)
    trace_id: Mapped[str | None] = mapped_column(String(32))  # the call's OpenTelemetry trace, when tracing is on

    __table_args__ = (
        Index("ix_tool_audit_created_at", "created_at"),
        Index("ix_tool_audit_tool_created_at", "tool", "created_at"),
        Index("ix_tool_audit_session_id", "session_id"),
        Index("ix_tool_audit_caller_id_created_at", "caller_id", "created_at"),
        Index("ix_tool_audit_trace_id", "trace_id"),
    )
