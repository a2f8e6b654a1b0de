"""LLM tool calls, both directions: a model's response in, what to send back to the model out.

`await dispatch(response, executor, caller_role=...)` reads the tool calls of a model response, runs them
through `execute_many` (concurrently, answered in order) and answers what to append to the conversation, as
plain dicts in the provider's own shape:

- OpenAI Chat Completions (a `ChatCompletion`, one of its choices, or the assistant message with `tool_calls`):
  one `{"role": "tool", "tool_call_id", "content"}` message per call;
- the OpenAI Responses API (a response with `output`, or the output list with `function_call` items): one
  `{"type": "function_call_output", "call_id", "output"}` item per call;
- Anthropic Messages (a message, or its `content` list with `tool_use` blocks): one user message whose
  `content` holds a `{"type": "tool_result", "tool_use_id", "content", "is_error"}` block per call.

The response may be dicts or the provider SDKs' objects (anything with `model_dump()`). Each answer's content is
a JSON text: `{"ok": true, "result": ...}`, or `{"ok": false, "error": {"code", "message", "retryable",
"details"}}` for a call that failed (arguments that are not JSON, an unknown tool, a refused role, a rate
limit...), which the model can act on; only a response of no shape read here raises (`ValueError`).

The OpenAI shapes' arguments are read as strict mode writes them (`tools.schema`): a null for an optional
property means it was left out. A side-effecting call gets an idempotency key derived from the session and the
provider's call id, so a model turn handled twice (a retried request, a restarted loop) does its writes once.
Arguments that cannot be read never reach the executor: their error is answered here, without an audit record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ValidationError

from salesboost.tools.errors import ToolInputError, error_info
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.registry import RegisteredTool
from salesboost.tools.result import ToolResult, envelope
from salesboost.tools.schema import omit_added_nulls

Provider = Literal["openai-chat", "openai-responses", "anthropic"]

# The content blocks of an Anthropic message, told apart from the Responses API's output items.
_ANTHROPIC_BLOCKS = frozenset({"text", "tool_use", "thinking", "redacted_thinking"})


class HasExecutor(Protocol):
    """What carries an executor: the `Runtime` of `salesboost.assembly.build_runtime`."""

    @property
    def executor(self) -> ToolExecutor: ...


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call the model asked for: its arguments, or why they cannot be read."""

    id: str
    name: str
    arguments: dict[str, Any]
    problem: str | None = None


async def dispatch(
    response: Any,
    executor: ToolExecutor | HasExecutor,
    *,
    caller_role: str,
    session_id: str | None = None,
    caller_id: str | None = None,
    max_concurrent: int | None = None,
) -> list[dict[str, Any]]:
    """Run the response's tool calls as `caller_role`; the messages (or items) to send back, `[]` if none."""
    provider, calls = read_calls(response)
    if not calls:
        return []
    runner = executor if isinstance(executor, ToolExecutor) else executor.executor
    results = await _run(runner, provider, calls, caller_role, session_id, caller_id, max_concurrent)
    return answer(provider, calls, results)


# --- reading the calls -----------------------------------------------------------------------------------


def read_calls(response: Any) -> tuple[Provider, list[ToolCall]]:
    """The provider whose shape the response has, and its tool calls in order; `ValueError` for no known shape."""
    data = _plain(response)
    if isinstance(data, list):
        items = [_plain(item) for item in data]
        kinds = {item.get("type") for item in items if isinstance(item, Mapping)}
        if kinds & _ANTHROPIC_BLOCKS:
            return "anthropic", _anthropic_calls(items)
        return "openai-responses", _responses_calls(items)
    if not isinstance(data, Mapping):
        raise ValueError(f"not a model response: {type(response).__name__}")
    if "choices" in data:  # a ChatCompletion: its first choice (ask for n=1 when tools are offered)
        choices = data["choices"]
        if not choices:
            raise ValueError("the chat completion has no choices")
        return "openai-chat", _chat_calls(_plain(choices[0])["message"])
    if "message" in data and "finish_reason" in data:  # a choice
        return "openai-chat", _chat_calls(data["message"])
    if isinstance(data.get("output"), list):
        return read_calls(data["output"])
    if "tool_calls" in data or (data.get("role") == "assistant" and not isinstance(data.get("content"), list)):
        return "openai-chat", _chat_calls(data)
    if isinstance(data.get("content"), list):
        return "anthropic", _anthropic_calls([_plain(block) for block in data["content"]])
    raise ValueError(f"not a model response this module reads: an object with keys {sorted(data)}")


def _plain(value: Any) -> Any:
    """An SDK object as the dicts and lists it dumps to; anything else as it is."""
    dump = getattr(value, "model_dump", None)
    return dump() if callable(dump) else value


def _chat_calls(message: Any) -> list[ToolCall]:
    calls = []
    for call in _plain(message).get("tool_calls") or ():
        function = call.get("function") or {}
        calls.append(_call(call.get("id"), function.get("name"), function.get("arguments")))
    return calls


def _responses_calls(items: Sequence[Any]) -> list[ToolCall]:
    return [
        _call(item.get("call_id"), item.get("name"), item.get("arguments"))
        for item in items
        if isinstance(item, Mapping) and item.get("type") == "function_call"
    ]


def _anthropic_calls(blocks: Sequence[Any]) -> list[ToolCall]:
    return [
        _call(block.get("id"), block.get("name"), block.get("input"))
        for block in blocks
        if isinstance(block, Mapping) and block.get("type") == "tool_use"
    ]


def _call(call_id: Any, name: Any, arguments: Any) -> ToolCall:
    """A call with its arguments: an object, or the JSON text of one (OpenAI's), an empty text meaning none."""
    call_id, name = str(call_id or ""), str(name or "")
    if isinstance(arguments, str):
        if not arguments.strip():
            return ToolCall(call_id, name, {})
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as exc:
            return ToolCall(call_id, name, {}, f"the arguments are not valid JSON ({exc.msg} at character "
                                               f"{exc.pos}); send them again as one JSON object")
        except RecursionError:
            return ToolCall(call_id, name, {}, "the arguments are nested too deeply; send a flatter JSON object")
    if not isinstance(arguments, dict):
        return ToolCall(call_id, name, {}, f"the arguments must be a JSON object, not {type(arguments).__name__}")
    return ToolCall(call_id, name, arguments)


# --- running them --------------------------------------------------------------------------------------


async def _run(
    executor: ToolExecutor,
    provider: Provider,
    calls: Sequence[ToolCall],
    caller_role: str,
    session_id: str | None,
    caller_id: str | None,
    max_concurrent: int | None,
) -> list[ToolResult]:
    """The envelopes of the calls in order: the readable ones run together, the others answer their problem."""
    specs = [_spec(executor, provider, call, session_id) for call in calls if call.problem is None]
    ran = iter(await executor.execute_many(
        specs, caller_role, max_concurrent=max_concurrent, session_id=session_id, caller_id=caller_id,
    ))
    return [next(ran) if call.problem is None else _unreadable(call, caller_role) for call in calls]


def _spec(executor: ToolExecutor, provider: Provider, call: ToolCall, session_id: str | None) -> dict[str, Any]:
    payload, key = call.arguments, None
    entry = executor.registry.lookup(call.name)
    if entry is not None:
        if provider != "anthropic":  # the OpenAI tools are strict: a null there means "left out"
            payload = omit_added_nulls(_input_schema(entry.input_model), payload)
        if call.id and _writes(entry, payload):
            key = idempotency_key(session_id, call.id)
    return {"tool": call.name, "payload": payload, "tool_call_id": call.id or None, "idempotency_key": key}


@cache
def _input_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def _writes(entry: RegisteredTool, payload: Mapping[str, Any]) -> bool:
    try:
        return entry.is_write(entry.parse(payload))
    except ValidationError:
        return False  # the executor refuses it before it runs


def idempotency_key(session_id: str | None, call_id: str) -> str:
    """The key of a write the model asked for: the same conversation and call id, the same key (64 hex digits
    behind a prefix, within the key rule), so a replayed turn finds the first call's outcome."""
    digest = hashlib.sha256(f"{session_id or ''}\x00{call_id}".encode()).hexdigest()
    return f"llm-{digest}"


def _unreadable(call: ToolCall, caller_role: str) -> ToolResult:
    """The envelope of a call whose arguments cannot be read: it never reaches the executor."""
    assert call.problem is not None
    problem = ToolInputError(
        f"invalid input for {call.name or 'the tool'}: {call.problem}",
        details={"errors": [{"field": "(root)", "message": call.problem, "type": "arguments_unreadable"}]},
    )
    return envelope(call.name, call.id, caller_role, error=error_info(call.name, problem))


# --- answering the model ---------------------------------------------------------------------------------


def answer(provider: Provider, calls: Sequence[ToolCall], results: Sequence[ToolResult]) -> list[dict[str, Any]]:
    """The calls' results as the provider expects them back."""
    if provider == "openai-chat":
        return [
            {"role": "tool", "tool_call_id": call.id, "content": content(result)}
            for call, result in zip(calls, results, strict=True)
        ]
    if provider == "openai-responses":
        return [
            {"type": "function_call_output", "call_id": call.id, "output": content(result)}
            for call, result in zip(calls, results, strict=True)
        ]
    blocks = [
        {"type": "tool_result", "tool_use_id": call.id, "content": content(result), "is_error": not result.ok}
        for call, result in zip(calls, results, strict=True)
    ]
    return [{"role": "user", "content": blocks}]


def content(result: ToolResult) -> str:
    """What the model reads of an envelope: the result, or the error it can act on (no ids, timings or audit)."""
    if result.error is None:
        body: dict[str, Any] = {"ok": True, "result": result.result}
    else:
        body = {"ok": False, "error": result.error.model_dump(exclude={"type"})}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
