"""profile_reader through `executor.execute`: shapes, roles, and the cache a CRM write drops."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from customer_harness import customer_executor
from harness import failed, ok

from salesboost.tools.base import ToolBackends
from salesboost.tools.executor import ToolExecutor

PROFILE = "profile_reader"
PERSONA = {"company", "contact_name", "industry", "preferences", "personality", "pains", "communication_style"}


@pytest.fixture
async def executor(backends: ToolBackends) -> AsyncIterator[ToolExecutor]:
    async with customer_executor(backends) as executor:
        yield executor


async def test_whole_profile_for_a_seller(executor: ToolExecutor) -> None:
    result = ok(await executor.execute(PROFILE, {"customer_id": "CUST001"}, "coach"))
    assert set(result) == {"customer_id", "profile", "found"}
    assert result["found"] is True
    assert result["customer_id"] == "CUST001"
    profile = result["profile"]
    assert set(profile) == PERSONA | {"email", "phone"}
    assert profile["company"] == "Acme Corporation"
    assert profile["contact_name"] == "John Smith"
    assert profile["phone"].startswith("+1")
    assert "ROI figures up front" in profile["preferences"]


async def test_one_field_and_the_user_id_alias(executor: ToolExecutor) -> None:
    result = ok(await executor.execute(PROFILE, {"user_id": "cust3", "field": "communication_style"}, "sdr"))
    assert set(result) == {"customer_id", "field", "value", "found"}
    assert result["customer_id"] == "CUST003"
    assert result["field"] == "communication_style"
    assert "Informal" in result["value"]


async def test_unknown_field_lists_the_valid_ones(executor: ToolExecutor) -> None:
    result = await executor.execute(PROFILE, {"customer_id": "CUST001", "field": "salary"}, "coach")
    message = failed(result, "TOOL_INPUT_INVALID")
    assert all(name in message for name in ("communication_style", "pains", "personality"))
    failed(await executor.execute(PROFILE, {"customer_id": "CUST001", "extra": 1}, "coach"), "TOOL_INPUT_INVALID")


async def test_unknown_customer_is_not_found(executor: ToolExecutor) -> None:
    result = ok(await executor.execute(PROFILE, {"customer_id": "CUST900"}, "coach"))
    assert result == {"customer_id": "CUST900", "profile": None, "found": False}


async def test_npc_sees_the_persona_only(executor: ToolExecutor) -> None:
    result = ok(await executor.execute(PROFILE, {"customer_id": "CUST002"}, "npc"))
    assert set(result["profile"]) == PERSONA
    for field in ("email", "phone"):
        message = failed(
            await executor.execute(PROFILE, {"customer_id": "CUST002", "field": field}, "npc"), "TOOL_FORBIDDEN"
        )
        assert field in message
    assert ok(await executor.execute(PROFILE, {"customer_id": "CUST002", "field": "pains"}, "npc"))["value"]


async def test_npc_never_gets_a_sellers_cached_profile(executor: ToolExecutor) -> None:
    seller = await executor.execute(PROFILE, {"customer_id": "CUST002"}, "coach")
    assert "email" in ok(seller)["profile"]
    npc = await executor.execute(PROFILE, {"customer_id": "CUST002"}, "npc")
    assert "email" not in ok(npc)["profile"]
    assert (await executor.execute(PROFILE, {"customer_id": "CUST002"}, "npc")).cached
    # A CRM write drops every role's cached copy.
    ok(await executor.execute(
        "crm_integration", {"action": "update", "customer_id": "CUST002", "data": {"industry": "Robotics"}}, "sdr"
    ))
    for role in ("coach", "npc"):
        fresh = await executor.execute(PROFILE, {"customer_id": "CUST002"}, role)
        assert not fresh.cached
        assert ok(fresh)["profile"]["industry"] == "Robotics"


async def test_roles_without_access(executor: ToolExecutor) -> None:
    failed(await executor.execute(PROFILE, {"customer_id": "CUST001"}, "evaluator"), "TOOL_FORBIDDEN")


async def test_cached_until_the_crm_changes_that_customer(executor: ToolExecutor) -> None:
    payload = {"customer_id": "CUST001", "field": "communication_style"}
    first = await executor.execute(PROFILE, payload, "coach")
    again = await executor.execute(PROFILE, payload, "coach")
    assert not first.cached
    assert again.cached
    assert again.result == first.result
    # A write to another customer leaves this entry alone.
    ok(await executor.execute(
        "crm_integration", {"action": "update", "customer_id": "CUST002", "data": {"notes": "x"}}, "sdr"
    ))
    assert (await executor.execute(PROFILE, payload, "coach")).cached
    ok(await executor.execute(
        "crm_integration",
        {"action": "update", "customer_id": "CUST001", "data": {"profile": {"communication_style": "Texts only"}}},
        "sdr",
    ))
    fresh = await executor.execute(PROFILE, payload, "coach")
    assert not fresh.cached
    assert ok(fresh)["value"] == "Texts only"


async def test_a_created_customer_replaces_a_cached_not_found(executor: ToolExecutor) -> None:
    listing = ok(await executor.execute("crm_integration", {"action": "list", "limit": 1}, "sdr"))
    next_id = f"CUST{listing['total'] + 1:03d}"
    assert ok(await executor.execute(PROFILE, {"customer_id": next_id}, "coach"))["found"] is False
    created = ok(await executor.execute(
        "crm_integration", {"action": "create", "data": {"name": "Fresh Co", "industry": "Retail"}}, "sdr"
    ))
    assert created["customer"]["customer_id"] == next_id
    result = await executor.execute(PROFILE, {"customer_id": next_id}, "coach")
    assert not result.cached
    assert ok(result)["profile"]["company"] == "Fresh Co"
