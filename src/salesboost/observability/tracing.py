"""Tracing (the optional extra `otel`): one OpenTelemetry span per tool call, named and described after the
GenAI semantic conventions (`execute_tool {tool}`, `gen_ai.*`, `error.type`).

Off unless `SALESBOOST_TRACING=true`; off, the composition root adds no recorder and the service no middleware,
so a call pays nothing. On, the exporter follows the standard variables: `OTEL_TRACES_EXPORTER` (`otlp`, the
default, over HTTP to `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`; `console`, on stderr; `none`), `OTEL_SERVICE_NAME`
(default `salesboost`), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`. A call's span is the child of the caller's:
the `traceparent` of a REST request (`TraceContextMiddleware`), the MCP SDK's `tools/call` span (which reads
`_meta.traceparent`), or whatever span is current for a Python caller.

The span is opened once the call is over, backdated to its start (its `Call.start` on the performance clock,
turned into wall-clock time), which keeps the executor's path free of tracing. Arguments and results join
the span only with `SALESBOOST_TRACE_CONTENT=true`, masked (`masking.preview`) and cut.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, StatusCode, TracerProvider
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from salesboost.masking import preview

CONTENT_CHARS = 2000  # the most of a call's arguments or result a span carries
_TRACE_HEADERS = (b"traceparent", b"tracestate")


def tracer_provider() -> TracerProvider:
    """The process's provider: one already installed (by `opentelemetry-instrument`, say), else an SDK provider
    exporting as `OTEL_TRACES_EXPORTER` says, installed as the global one so that the MCP SDK's spans (the
    parents of MCP calls' spans) go to the same place."""
    current = trace.get_tracer_provider()
    if not isinstance(current, trace.ProxyTracerProvider):
        return current
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
    except ImportError:
        raise RuntimeError("SALESBOOST_TRACING=true needs the extra otel: pip install 'salesboost[otel]'") from None
    # An explicit service name wins over OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES: name it only when unset.
    named = "OTEL_SERVICE_NAME" in os.environ or "service.name=" in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    provider = SdkTracerProvider(resource=Resource.create({} if named else {"service.name": "salesboost"}))
    exporter: SpanExporter | None
    match os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower():
        case "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        case "console":  # on stderr: stdout is the data of `salesboost call` and the protocol of `salesboost mcp`
            exporter = ConsoleSpanExporter(out=sys.stderr)
        case "none":
            exporter = None
        case other:
            raise RuntimeError(f"OTEL_TRACES_EXPORTER={other!r}: salesboost exports to otlp, console or none")
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def _content(value: Any) -> str:
    text = value.model_dump_json() if isinstance(value, BaseModel) else json.dumps(value, default=str)
    return preview(text, CONTENT_CHARS)


class ToolSpans:
    """Writes the span of each finished call; `content` adds its (masked) arguments and result."""

    __slots__ = ("_tracer", "content")

    def __init__(self, provider: TracerProvider, *, content: bool = False) -> None:
        self._tracer = provider.get_tracer("salesboost.tools")
        self.content = content

    def record(
        self,
        tool: str,
        tool_call_id: str,
        description: str | None,
        start: float,
        elapsed: float,
        error: tuple[str, str] | None,
        retries: Iterable[tuple[float, BaseException]],
        arguments: Any,
        result: Mapping[str, Any] | None,
    ) -> str | None:
        """The span of a call that started at `start` (`time.perf_counter()`) and took `elapsed` seconds;
        `error` is its envelope's (code, message); each retry is an event at its start (perf_counter, and the
        exception that failed the attempt before: its type is the event's `error.type`). Returns the span's trace
        id (32 hex digits; None when the provider makes no real spans)."""
        start_ns = time.time_ns() - int((time.perf_counter() - start) * 1e9)  # from the performance clock
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool,
            "gen_ai.tool.call.id": tool_call_id,
            "gen_ai.tool.type": "function",
        }
        if description is not None:
            attributes["gen_ai.tool.description"] = description
        if error is not None:
            attributes["error.type"] = error[0]
        if self.content:
            attributes["gen_ai.tool.call.arguments"] = _content(arguments)
            if result is not None:
                attributes["gen_ai.tool.call.result"] = _content(result)
        span = self._tracer.start_span(
            f"execute_tool {tool}", kind=SpanKind.INTERNAL, attributes=attributes, start_time=start_ns
        )
        for attempt, (at, exc) in enumerate(retries, 1):
            span.add_event(
                "retry", {"retry.attempt": attempt, "error.type": type(exc).__qualname__},
                timestamp=start_ns + int((at - start) * 1e9),
            )
        if error is not None:
            span.set_status(StatusCode.ERROR, preview(error[1], 300))
        span.end(end_time=start_ns + int(elapsed * 1e9))
        span_context = span.get_span_context()
        return trace.format_trace_id(span_context.trace_id) if span_context.is_valid else None


class TraceContextMiddleware:
    """Continues the caller's trace: a request's W3C `traceparent` (and `tracestate`) becomes the current
    context, so the spans of the calls it makes are the children of the caller's span."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", ()) if name in _TRACE_HEADERS
        }
        if not carrier:
            await self.app(scope, receive, send)
            return
        token = context.attach(propagate.extract(carrier))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)
