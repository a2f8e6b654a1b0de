"""Tracing: one span per call after the GenAI conventions, the child of the caller's span (Python, REST with a
`traceparent`, MCP with one in `_meta`), with its retries, its failure, its content only when asked (masked),
and its trace id on the audit row. The spans go to the SDK's in-memory exporter."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from opentelemetry import context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    StatusCode,
    TraceFlags,
    Tracer,
    TraceState,
    format_span_id,
    format_trace_id,
    set_span_in_context,
)
from sqlalchemy import select
from sqlalchemy.engine import make_url

from salesboost.api import create_app
from salesboost.api.auth import KeyStore
from salesboost.api.mcp import build_server
from salesboost.assembly import create_backends
from salesboost.config import Settings
from salesboost.store.audit import ToolAuditRecord
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.recorders import TracingRecorder
from sample_tools import make_registry, private_executor

SALESBOOST = str(Path(sys.executable).with_name("salesboost"))
KEY = "test-coach-key-0123456789abcdef"
PHONE = "+14155550100"

Traced = Callable[..., ToolExecutor]


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
async def traced(settings: Settings, provider: TracerProvider) -> AsyncIterator[Traced]:
    """Executors over the test tools with tracing on (settings overridden by keyword), spans to `provider`."""
    made: list[ToolExecutor] = []

    def make(**overrides: object) -> ToolExecutor:
        backends = create_backends(settings.model_copy(update={"tracing": True, **overrides}))
        ex = private_executor(make_registry(backends), tracer_provider=provider)
        made.append(ex)
        return ex

    yield make
    for ex in made:
        await ex.aclose()


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = [s for s in exporter.get_finished_spans() if s.name.startswith("execute_tool ")]
    return span


async def audit_trace_id(ex: ToolExecutor, audit_id: str | None) -> str | None:
    assert ex.audit is not None
    await ex.audit.flush()
    async with ex.registry.backends.sessions()() as session:
        return (await session.scalars(select(ToolAuditRecord.trace_id).where(ToolAuditRecord.id == audit_id))).one()


def test_off_no_recorder_and_no_middleware(executor: ToolExecutor, settings: Settings) -> None:
    """Off (the default), a call pays nothing for tracing: nothing of it is assembled."""
    assert not settings.tracing
    recorders = [getattr(record, "__self__", None) for record in executor.parts.recorders]
    assert not any(isinstance(recorder, TracingRecorder) for recorder in recorders)
    assert "TraceContextMiddleware" not in [m.cls.__name__ for m in create_app(settings).user_middleware]


async def test_a_call_is_one_span_under_the_current_one(
    traced: Traced, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    ex = traced()
    with provider.get_tracer("agent").start_as_current_span("agent turn") as parent:
        result = await ex.execute("echo", {"text": PHONE}, "coach", tool_call_id="call-1")
    assert result.ok
    span = only_span(exporter)
    assert span.name == "execute_tool echo"
    assert span.kind is SpanKind.INTERNAL
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "echo",
        "gen_ai.tool.call.id": "call-1",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.description": "Repeat the text.",
    }  # no arguments nor result unless asked
    assert span.status.status_code is StatusCode.UNSET
    assert span.parent is not None
    assert span.parent.span_id == parent.get_span_context().span_id
    assert span.context is not None
    assert span.context.trace_id == parent.get_span_context().trace_id
    # The span covers the call: inside its parent's, as long as the call's measured latency.
    assert span.start_time is not None
    assert span.end_time is not None
    parent_span = next(s for s in exporter.get_finished_spans() if s.name == "agent turn")
    assert parent_span.start_time is not None
    assert parent_span.start_time <= span.start_time
    assert span.end_time - span.start_time == pytest.approx(result.latency_ms * 1e6, abs=2000)
    assert await audit_trace_id(ex, result.audit_id) == format_trace_id(span.context.trace_id)


class VendorProvider(TracerProvider):
    """A provider that is not the SDK's (a vendor's, say): spans can only go through its tracer."""

    def __init__(self, sdk: TracerProvider) -> None:  # no super().__init__: none of the SDK's own parts
        self.sdk = sdk

    def get_tracer(self, *args: Any, **kwargs: Any) -> Tracer:
        return self.sdk.get_tracer(*args, **kwargs)


async def test_any_provider_gets_the_same_span_through_its_tracer(
    settings: Settings, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """The SDK's provider takes each span as a finished record; any other provider gets it through its tracer:
    the span is the same either way."""
    spans = []
    for each in (provider, VendorProvider(provider)):
        backends = create_backends(settings.model_copy(update={"tracing": True}))
        ex = private_executor(make_registry(backends), tracer_provider=each)
        try:
            assert (await ex.execute("flaky", {"failures": 1}, "coach", tool_call_id="call-7")).ok
        finally:
            await ex.aclose()
        spans.append(only_span(exporter))
        exporter.clear()
    direct, through_tracer = spans

    def shape(span: ReadableSpan) -> tuple[Any, ...]:
        assert span.instrumentation_scope is not None
        return (
            span.name, span.kind, dict(span.attributes or {}), span.status.status_code, span.parent,
            [(e.name, dict(e.attributes or {})) for e in span.events], span.resource.attributes,
            span.instrumentation_scope.name, span.context is not None and span.context.trace_flags.sampled,
        )

    assert shape(direct) == shape(through_tracer)
    assert [e.name for e in direct.events] == ["retry"]


async def test_the_providers_sampler_decides(settings: Settings, exporter: InMemorySpanExporter) -> None:
    """A sampler that keeps nothing: no span, though the call still has its trace id for the audit."""
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    backends = create_backends(settings.model_copy(update={"tracing": True}))
    ex = private_executor(make_registry(backends), tracer_provider=provider)
    try:
        result = await ex.execute("echo", {"text": "hi"}, "coach")
        assert result.ok
        assert exporter.get_finished_spans() == ()
        trace_id = await audit_trace_id(ex, result.audit_id)
        assert trace_id is not None
        assert len(trace_id) == 32
        assert int(trace_id, 16) != 0
    finally:
        await ex.aclose()
        provider.shutdown()


@pytest.mark.parametrize("sampled", [True, False])
async def test_the_default_sampler_follows_a_remote_parent(
    traced: Traced, exporter: InMemorySpanExporter, sampled: bool
) -> None:
    """The SDK's default sampler, decided without asking it: a sampled parent's child is kept with the parent's
    trace state, an unsampled parent's is dropped; the audit keeps the parent's trace id either way."""
    parent = SpanContext(
        0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT),
        trace_state=TraceState([("vendor", "x1")]),
    )
    ex = traced()
    token = context.attach(set_span_in_context(NonRecordingSpan(parent)))
    try:
        result = await ex.execute("echo", {"text": "hi"}, "coach")
    finally:
        context.detach(token)
    assert result.ok
    assert await audit_trace_id(ex, result.audit_id) == format_trace_id(parent.trace_id)
    if not sampled:
        assert exporter.get_finished_spans() == ()
        return
    span = only_span(exporter)
    assert span.context is not None
    assert span.context.trace_flags.sampled
    assert span.context.trace_state == parent.trace_state
    assert span.parent == parent


async def test_a_failure_has_its_error_type_and_the_error_status(
    traced: Traced, exporter: InMemorySpanExporter
) -> None:
    result = await traced().execute("lookup", {"key": "nope"}, "npc")
    assert result.error is not None
    span = only_span(exporter)
    assert span.attributes is not None
    assert span.attributes["error.type"] == result.error.code == "THING_NOT_FOUND"
    assert span.status.status_code is StatusCode.ERROR


async def test_each_retry_is_an_event_of_the_span(traced: Traced, exporter: InMemorySpanExporter) -> None:
    result = await traced().execute("flaky", {"failures": 2}, "coach")
    assert result.ok
    assert result.retry_count == 2
    span = only_span(exporter)
    assert [(e.name, dict(e.attributes or {})) for e in span.events] == [
        ("retry", {"retry.attempt": 1, "error.type": "ConnectionError"}),
        ("retry", {"retry.attempt": 2, "error.type": "ConnectionError"}),
    ]
    assert span.start_time is not None
    assert span.end_time is not None
    times = [span.start_time, *(e.timestamp for e in span.events), span.end_time]
    assert times == sorted(times)


async def test_content_only_when_asked_and_masked(traced: Traced, exporter: InMemorySpanExporter) -> None:
    result = await traced(trace_content=True).execute("echo", {"text": PHONE}, "coach")
    assert result.ok
    attributes = only_span(exporter).attributes
    assert attributes is not None
    arguments, answer = str(attributes["gen_ai.tool.call.arguments"]), str(attributes["gen_ai.tool.call.result"])
    assert arguments == '{"text":"+***00","times":1}'
    assert "4155550100" not in answer
    assert "jane@example.com" not in answer
    assert "+***00" in answer


async def test_a_rest_call_continues_the_callers_trace(
    traced: Traced, exporter: InMemorySpanExporter, settings: Settings
) -> None:
    service_settings = settings.model_copy(update={"tracing": True, "api_keys": f"{KEY}:coach"})
    ex = traced(api_keys=f"{KEY}:coach")
    app = create_app(service_settings, executor=ex)
    trace_id, span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        response = await http.post(
            "/api/v1/tools/execute",
            json={"tool": "echo", "payload": {"text": "hi"}},
            headers={"Authorization": f"Bearer {KEY}", "traceparent": f"00-{trace_id}-{span_id}-01"},
        )
    assert response.status_code == 200
    span = only_span(exporter)
    assert span.parent is not None
    assert span.parent.is_remote
    assert (format_trace_id(span.parent.trace_id), format_span_id(span.parent.span_id)) == (trace_id, span_id)
    assert await audit_trace_id(ex, response.json()["audit_id"]) == trace_id


async def test_an_mcp_call_continues_the_trace_in_its_meta(
    traced: Traced, exporter: InMemorySpanExporter, settings: Settings
) -> None:
    ex = traced()
    key = KeyStore.from_settings(settings.model_copy(update={"api_keys": f"{KEY}:coach"})).authenticate(KEY)
    assert key is not None
    trace_id, span_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    async with Client(build_server(lambda ctx: (ex, key))) as client:
        result = await client.call_tool("echo", {"text": "hi"}, meta={"traceparent": f"00-{trace_id}-{span_id}-01"})
    assert not result.is_error
    span = only_span(exporter)
    assert span.context is not None
    assert format_trace_id(span.context.trace_id) == trace_id
    # The MCP SDK's `tools/call` span, the parent in the service, records nothing here (the tests install no
    # process-wide provider): it hands the caller's span on.
    assert span.parent is not None
    assert format_span_id(span.parent.span_id) == span_id


def test_the_otel_variables_choose_the_exporter(sqlite_url: str, tmp_path: Path) -> None:
    """Run for real, without a provider of its own: the one built from OTEL_TRACES_EXPORTER=console prints the
    span (on stderr), named for the service, and the audit row keeps its trace id."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        "SALESBOOST_DATABASE_URL": sqlite_url, "SALESBOOST_TRACING": "true", "OTEL_TRACES_EXPORTER": "console",
    }
    done = subprocess.run(
        [SALESBOOST, "call", "no_such_tool", "{}", "--role", "coach"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)  # stdout stays the envelope alone: the console exporter writes on stderr
    span, _ = json.JSONDecoder().raw_decode(done.stderr[done.stderr.index("{"):])
    assert result["error"]["code"] == "TOOL_NOT_FOUND"
    assert span["name"] == "execute_tool no_such_tool"
    assert span["attributes"]["error.type"] == "TOOL_NOT_FOUND"
    assert span["status"]["status_code"] == "ERROR"
    assert span["resource"]["attributes"]["service.name"] == "salesboost"
    with closing(sqlite3.connect(make_url(sqlite_url).database or "")) as db:
        [(trace_id,)] = db.execute("SELECT trace_id FROM tool_audit").fetchall()
    assert span["context"]["trace_id"] == f"0x{trace_id}"
