"""`salesboost.agents.dispatch` on the providers' documented response shapes (tests/fixtures/agents/), against the
real eight tools on the demo data: parallel calls, broken arguments, an unknown tool, a refusal by role, and a
replayed turn that must not text anybody twice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from salesboost.agents import dispatch, idempotency_key, read_calls
from salesboost.assembly import Runtime, build_runtime, seed_demo
from salesboost.config import Settings
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.idempotency import check_idempotency_key

FIXTURES = Path(__file__).parent / "fixtures" / "agents"
ROLE = "coach"  # may read, search and text, may not write to the CRM

# Every fixture asks, in parallel: a read that works, an SMS, a call it wrote badly, a tool that does not exist,
# and one the role may not call.
EXPECTED_CODES = [None, None, "TOOL_INPUT_INVALID", "TOOL_NOT_FOUND", "TOOL_FORBIDDEN"]
TEXTED = {"openai_chat_completion": "CUST001", "openai_response": "CUST002", "anthropic_message": "CUST003"}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """The default runtime on a database holding the demo customers and knowledge base."""
    await seed_demo(settings)
    built = build_runtime(settings)
    yield built
    await built.aclose()


def bodies(answer: list[dict[str, Any]], provider: str) -> list[tuple[str, dict[str, Any]]]:
    """(call id, decoded content) of each answered call, checking the provider's own shape on the way."""
    if provider == "anthropic_message":
        (message,) = answer
        assert message["role"] == "user"
        out = []
        for block in message["content"]:
            assert set(block) == {"type", "tool_use_id", "content", "is_error"}
            assert block["type"] == "tool_result"
            body = json.loads(block["content"])
            assert block["is_error"] is (not body["ok"])
            out.append((block["tool_use_id"], body))
        return out
    if provider == "openai_response":
        assert all(set(item) == {"type", "call_id", "output"} for item in answer)
        assert {item["type"] for item in answer} == {"function_call_output"}
        return [(item["call_id"], json.loads(item["output"])) for item in answer]
    assert all(set(message) == {"role", "tool_call_id", "content"} for message in answer)
    assert {message["role"] for message in answer} == {"tool"}
    return [(message["tool_call_id"], json.loads(message["content"])) for message in answer]


async def sms_history(runtime: Runtime, customer_id: str) -> list[dict[str, Any]]:
    result = await runtime.executor.execute("sms_outreach", {"action": "history", "customer_id": customer_id}, "admin")
    assert result.ok, result.error
    assert result.result is not None
    messages: list[dict[str, Any]] = result.result["messages"]
    return messages


@pytest.mark.parametrize("provider", list(TEXTED))
async def test_dispatch_answers_every_call_in_order_in_the_providers_shape(runtime: Runtime, provider: str) -> None:
    response = fixture(provider)
    answer = await dispatch(response, runtime.executor, caller_role=ROLE, session_id="conv-1")
    answered = bodies(answer, provider)
    _, calls = read_calls(response)
    assert [call_id for call_id, _ in answered] == [call.id for call in calls]
    assert len(calls) == 5
    assert [None if body["ok"] else body["error"]["code"] for _, body in answered] == EXPECTED_CODES
    first, sms, bad, unknown, refused = (body for _, body in answered)
    assert first["result"]
    assert sms["result"]["message"]["customer_id"] == TEXTED[provider]
    assert sms["result"]["duplicate"] is False
    assert bad["error"]["retryable"] is False
    assert "available" in unknown["error"]["details"]
    assert f"role '{ROLE}' may not use action" in refused["error"]["message"]
    assert set(refused["error"]) == {"code", "message", "retryable", "details"}  # nothing else for the model


async def test_broken_json_arguments_say_what_is_wrong(runtime: Runtime) -> None:
    answer = await dispatch(fixture("openai_chat_completion"), runtime, caller_role=ROLE)
    error = json.loads(answer[2]["content"])["error"]
    assert error["message"].startswith("invalid input for compliance_check: the arguments are not valid JSON (")
    assert error["details"]["errors"][0]["type"] == "arguments_unreadable"
    single_quoted = json.loads((await dispatch(fixture("openai_response"), runtime, caller_role=ROLE))[2]["output"])
    assert "not valid JSON" in single_quoted["error"]["message"]


@pytest.mark.parametrize("provider", list(TEXTED))
async def test_a_replayed_turn_texts_once(runtime: Runtime, provider: str) -> None:
    response = fixture(provider)
    first = bodies(await dispatch(response, runtime, caller_role=ROLE, session_id="conv-7"), provider)
    again = bodies(await dispatch(response, runtime, caller_role=ROLE, session_id="conv-7"), provider)
    assert again[1][1]["result"]["duplicate"] is True
    assert again[1][1]["result"]["message"]["message_id"] == first[1][1]["result"]["message"]["message_id"]
    assert len(await sms_history(runtime, TEXTED[provider])) == 1


async def test_the_same_call_id_in_another_conversation_is_another_text(runtime: Runtime) -> None:
    response = fixture("anthropic_message")
    await dispatch(response, runtime, caller_role=ROLE, session_id="conv-a")
    await dispatch(response, runtime, caller_role=ROLE, session_id="conv-b")
    assert len(await sms_history(runtime, "CUST003")) == 2


def test_the_derived_key_follows_the_key_rule() -> None:
    key = idempotency_key("conv-1", "call_" + "x" * 500)
    assert check_idempotency_key(key) == key
    assert key == idempotency_key("conv-1", "call_" + "x" * 500)
    assert key != idempotency_key(None, "call_" + "x" * 500)


async def test_strict_nulls_take_the_defaults(runtime: Runtime) -> None:
    """The OpenAI fixtures send null for every optional property, as strict mode makes them: the read and the
    SMS above ran, so the nulls became defaults; an Anthropic null is taken as written."""
    null_limit = {
        "type": "message", "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_x", "name": "knowledge_retriever",
                     "input": {"query": "pricing", "top_k": None}}],
    }
    (message,) = await dispatch(null_limit, runtime, caller_role=ROLE)
    body = json.loads(message["content"][0]["content"])
    assert body["error"]["code"] == "TOOL_INPUT_INVALID"
    assert "top_k" in body["error"]["message"]


async def test_strict_nulls_leave_the_crm_fields_untouched(runtime: Runtime) -> None:
    """The chat fixture's CRM update sends every field of `data`, null but `stage`: only the stage is written."""
    before = await runtime.executor.execute("crm_integration", {"customer_id": "CUST001"}, "admin")
    answer = await dispatch(fixture("openai_chat_completion"), runtime, caller_role="sdr", session_id="crm")
    updated = json.loads(answer[4]["content"])
    assert updated["ok"] is True, updated
    after = await runtime.executor.execute("crm_integration", {"customer_id": "CUST001"}, "admin")
    assert before.result is not None
    assert after.result is not None
    assert after.result["customer"]["stage"] == "presentation"
    assert {k: v for k, v in after.result["customer"].items() if k not in ("stage", "version", "updated_at")} == {
        k: v for k, v in before.result["customer"].items() if k not in ("stage", "version", "updated_at")
    }


async def test_provider_sdk_objects(runtime: Runtime) -> None:
    chat_types = pytest.importorskip("openai.types.chat")
    responses_types = pytest.importorskip("openai.types.responses")
    completion = chat_types.ChatCompletion.model_validate(fixture("openai_chat_completion"))
    from_sdk = bodies(await dispatch(completion, runtime, caller_role=ROLE, session_id="sdk"), "openai_chat_completion")
    assert [None if b["ok"] else b["error"]["code"] for _, b in from_sdk] == EXPECTED_CODES
    output = [
        responses_types.ResponseFunctionToolCall.model_validate(item) for item in fixture("openai_response")["output"]
    ]
    from_sdk = bodies(await dispatch(output, runtime, caller_role=ROLE, session_id="sdk"), "openai_response")
    assert [None if b["ok"] else b["error"]["code"] for _, b in from_sdk] == EXPECTED_CODES


class Dumped:
    """Any object with `model_dump()` (the Anthropic SDK's messages, for one) is read as what it dumps."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def model_dump(self) -> Any:
        return self.data


async def test_duck_typed_objects_and_the_shapes_around_a_message(runtime: Runtime) -> None:
    message = fixture("anthropic_message")
    from_object = await dispatch(Dumped(message), runtime, caller_role=ROLE, session_id="duck")
    from_blocks = await dispatch([Dumped(b) for b in message["content"]], runtime, caller_role=ROLE, session_id="duck")
    assert bodies(from_blocks, "anthropic_message")[1][1]["result"]["duplicate"] is True  # the same call, replayed
    assert len(from_object[0]["content"]) == len(from_blocks[0]["content"]) == 5

    completion = fixture("openai_chat_completion")
    choice = completion["choices"][0]
    for shape in (choice, choice["message"]):
        answer = await dispatch(shape, runtime, caller_role=ROLE, session_id="shapes")
        assert [m["tool_call_id"] for m in answer] == [c["id"] for c in choice["message"]["tool_calls"]]
    response = fixture("openai_response")
    answer = await dispatch(response["output"], runtime, caller_role=ROLE, session_id="shapes")
    assert [item["call_id"] for item in answer] == [item["call_id"] for item in response["output"]]


@pytest.mark.parametrize(
    "response",
    [
        {"role": "assistant", "content": "Happy to help.", "tool_calls": None},
        {"id": "chatcmpl-1", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                                          "finish_reason": "stop"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "Done."}],
         "stop_reason": "end_turn"},
        {"object": "response", "output": [{"type": "message", "role": "assistant", "content": []}]},
        [],
    ],
)
async def test_a_response_without_tool_calls_answers_nothing(runtime: Runtime, response: Any) -> None:
    assert await dispatch(response, runtime, caller_role=ROLE) == []


@pytest.mark.parametrize("response", [{"hello": "world"}, "text", {"choices": []}])
async def test_a_response_of_no_known_shape_is_a_programming_error(runtime: Runtime, response: Any) -> None:
    with pytest.raises(ValueError, match=r"response|choices"):
        await dispatch(response, runtime, caller_role=ROLE)


async def test_a_rate_limit_comes_back_as_an_error_to_retry(executor: ToolExecutor) -> None:
    """The test tools' `limited` allows two calls a minute per caller."""
    calls = [{"type": "tool_use", "id": f"toolu_{i}", "name": "limited", "input": {"seconds": 0}} for i in range(3)]
    (message,) = await dispatch({"role": "assistant", "content": calls}, executor, caller_role="coach")
    results = message["content"]
    assert [block["is_error"] for block in results] == [False, False, True]
    error = json.loads(results[2]["content"])["error"]
    assert (error["code"], error["retryable"]) == ("TOOL_RATE_LIMITED", True)
