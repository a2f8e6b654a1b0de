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
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
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

    __slots__ = ("_write", "content")

    def __init__(self, provider: TracerProvider, *, content: bool = False) -> None:
        self._write = _direct_writer(provider) or _TracerWriter(provider)
        self.content = content

    def record(
        self,
        tool: str,
        tool_call_id: str,
        description: str | None,
        start: float,
        elapsed: float,
        error: tuple[str, str] | None,
        retries: Sequence[tuple[float, BaseException]],
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
        events = [
            ("retry", {"retry.attempt": attempt, "error.type": type(exc).__qualname__},
             start_ns + int((at - start) * 1e9))
            for attempt, (at, exc) in enumerate(retries, 1)
        ] if retries else []
        status = None if error is None else preview(error[1], 300)
        return self._write(f"execute_tool {tool}", attributes, start_ns, start_ns + int(elapsed * 1e9), events, status)


# A finished span: name, attributes, start and end (ns since the epoch), events (name, attributes, ns), and the
# description of its error status (None: no error). Returns its trace id, as `ToolSpans.record` does.
_Writer = Callable[[str, dict[str, Any], int, int, list[tuple[str, dict[str, Any], int]], str | None], str | None]


def _direct_writer(provider: TracerProvider) -> _Writer | None:
    """For the SDK's provider, a writer that makes each span as the finished record it is and hands it to the
    provider's processors: the same span the tracer would make (its sampler, id generator, resource, parent),
    at a fifth of the cost, since a span opened and closed at once needs none of a live span's machinery.
    Processors see it at its end only (`on_end`). None for another provider."""
    from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.sampling import DEFAULT_ON, Decision
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, Status, TraceFlags

    processor = getattr(provider, "_active_span_processor", None)  # the SDK's only handle on its processors
    if not isinstance(provider, SdkTracerProvider) or not isinstance(processor, SpanProcessor):
        return None
    sampler, ids, resource = provider.sampler, provider.id_generator, provider.resource
    scope = InstrumentationScope("salesboost.tools")
    ok = Status(StatusCode.UNSET)
    # The four flags a span can carry, indexed by (sampled, random trace id): made once, not per span.
    flags = [[TraceFlags(sampled | random_id) for random_id in (0, TraceFlags.RANDOM_TRACE_ID)]
             for sampled in (TraceFlags.DEFAULT, TraceFlags.SAMPLED)]

    # The SDK's default sampler (ParentBased over ALWAYS_ON: a root is sampled, a child as its parent was) is
    # decided here without its three layers of calls, to the same decision, attributes and trace state; any
    # other sampler is asked.
    default_sampler = sampler is DEFAULT_ON

    def write(
        name: str, attributes: dict[str, Any], start_ns: int, end_ns: int,
        events: list[tuple[str, dict[str, Any], int]], status: str | None,
    ) -> str | None:
        parent_context = context.get_current()
        parent: SpanContext | None = trace.get_current_span(parent_context).get_span_context()
        if parent is not None and parent.is_valid:
            trace_id, random_id = parent.trace_id, parent.trace_flags.random_trace_id
        else:
            parent, trace_id, random_id = None, ids.generate_trace_id(), ids.is_trace_id_random()
        if default_sampler:
            sampled = parent is None or parent.trace_flags.sampled
            decision = Decision.RECORD_AND_SAMPLE if sampled else Decision.DROP
            kept, trace_state = MappingProxyType(attributes), None if parent is None else parent.trace_state
        else:
            sampling = sampler.should_sample(parent_context, trace_id, name, SpanKind.INTERNAL, attributes)
            decision, kept, trace_state = sampling.decision, sampling.attributes, sampling.trace_state
        if decision is not Decision.DROP:
            span_context = SpanContext(
                trace_id, ids.generate_span_id(), is_remote=False,
                trace_flags=flags[decision is Decision.RECORD_AND_SAMPLE][random_id], trace_state=trace_state,
            )
            processor.on_end(ReadableSpan(
                name=name, context=span_context, parent=parent, resource=resource, attributes=kept,
                events=tuple(Event(*event) for event in events) if events else (), kind=SpanKind.INTERNAL,
                status=ok if status is None else Status(StatusCode.ERROR, status), start_time=start_ns,
                end_time=end_ns, instrumentation_scope=scope,
            ))
        return f"{trace_id:032x}"  # trace.format_trace_id's format

    return write


class _TracerWriter:
    """Any other provider: the span through its tracer, opened backdated and closed at once."""

    __slots__ = ("_tracer",)

    def __init__(self, provider: TracerProvider) -> None:
        self._tracer = provider.get_tracer("salesboost.tools")

    def __call__(
        self, name: str, attributes: dict[str, Any], start_ns: int, end_ns: int,
        events: list[tuple[str, dict[str, Any], int]], status: str | None,
    ) -> str | None:
        span = self._tracer.start_span(name, kind=SpanKind.INTERNAL, attributes=attributes, start_time=start_ns)
        for event, event_attributes, at in events:
            span.add_event(event, event_attributes, timestamp=at)
        if status is not None:
            span.set_status(StatusCode.ERROR, status)
        span.end(end_time=end_ns)
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
