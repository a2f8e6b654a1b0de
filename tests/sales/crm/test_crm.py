"""crm_integration through `executor.execute`, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import get_args

import pytest
from customer_harness import customer_executor
from harness import failed, ok

from salesboost.config import DATA_DIR, load_settings
from salesboost.sales.crm.customers import Stage
from salesboost.sales.crm.seed import CustomerFileError, read_customer_file, seed_customers
from salesboost.store.customers import STAGES
from salesboost.tools.base import ToolBackends
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.result import ToolResult

CRM = "crm_integration"


@pytest.fixture
async def executor(backends: ToolBackends) -> AsyncIterator[ToolExecutor]:
    async with customer_executor(backends) as executor:
        yield executor


async def crm(
    executor: ToolExecutor, payload: dict[str, object], role: str = "sdr", key: str | None = None
) -> ToolResult:
    return await executor.execute(CRM, payload, role, idempotency_key=key)


async def test_read_returns_the_original_customer(executor: ToolExecutor) -> None:
    result = ok(await crm(executor, {"action": "read", "customer_id": "CUST001"}, "coach"))
    assert set(result) == {"action", "customer"}
    customer = result["customer"]
    assert customer["customer_id"] == "CUST001"
    assert customer["name"] == "Acme Corporation"
    assert customer["contact"] == "John Smith"
    assert customer["industry"] == "Technology"
    assert customer["stage"] == "closing"  # the original's "negotiation"
    assert customer["deal_value"] == "50000.00"
    assert customer["phone"].startswith("+1")
    assert customer["version"] == 1
    assert set(customer["profile"]) == {"preferences", "personality", "pains", "communication_style"}


async def test_read_accepts_any_spelling_of_an_id(executor: ToolExecutor) -> None:
    customer = ok(await crm(executor, {"action": "read", "customer_id": "cust2"}))["customer"]
    assert customer["customer_id"] == "CUST002"
    assert customer["stage"] == "discovery"
    third = ok(await crm(executor, {"customer_id": "CUST003"}))["customer"]  # read is the default action
    assert third["stage"] == "presentation"  # the original's "proposal"


async def test_unknown_customer(executor: ToolExecutor) -> None:
    message = failed(await crm(executor, {"action": "read", "customer_id": "CUST999"}), "CUSTOMER_NOT_FOUND")
    assert "CUST999" in message
    failed(await crm(executor, {"action": "read", "customer_id": "ACME"}), "TOOL_INPUT_INVALID")
    failed(await crm(executor, {"action": "read"}), "TOOL_INPUT_INVALID")


@pytest.mark.parametrize(
    ("payload", "role"),
    [
        ({"action": "create", "data": {"name": "X Ltd"}}, "coach"),
        ({"action": "update", "customer_id": "CUST001", "data": {"stage": "won"}}, "coach"),
    ],
)
async def test_roles_are_enforced_per_action(executor: ToolExecutor, payload: dict[str, object], role: str) -> None:
    message = failed(await crm(executor, payload, role), "TOOL_FORBIDDEN")
    assert str(payload["action"]) in message


@pytest.mark.parametrize("role", ["evaluator", "npc"])
async def test_roles_without_crm_access(executor: ToolExecutor, role: str) -> None:
    message = failed(await crm(executor, {"action": "search", "query": "acme"}, role), "TOOL_FORBIDDEN")
    assert CRM in message


async def test_update_validates_and_normalises(executor: ToolExecutor) -> None:
    result = ok(await crm(executor, {
        "action": "update", "customer_id": "CUST002", "expected_version": 1,
        "data": {"stage": "presentation", "phone": "(212) 555-0142", "email": "Sarah@GLOBAL.example",
                 "deal_value": "80000.5", "profile": {"pains": ["downtime"]}},
    }))
    assert result["updated_fields"] == ["deal_value", "email", "phone", "profile", "stage"]
    customer = result["customer"]
    assert customer["phone"] == "+12125550142"
    assert customer["email"] == "Sarah@global.example"
    assert customer["deal_value"] == "80000.50"
    assert customer["version"] == 2
    assert customer["profile"]["pains"] == ["downtime"]
    assert customer["profile"]["personality"]  # the other profile keys are kept
    again = ok(await crm(executor, {"action": "read", "customer_id": "CUST002"}))["customer"]
    assert again == customer


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"favourite_color": "red"}, "data.favourite_color"),
        ({"email": "not-an-email"}, "data.email"),
        ({"stage": "negotiation"}, "data.stage"),
        ({"deal_value": -1}, "data.deal_value"),
        ({"phone": "12"}, "data.phone"),
        ({"phone": "+1 415 555"}, "data.phone"),
        ({"name": None}, "data.name"),
        ({"profile": {"hobbies": ["golf"]}}, "data.profile.hobbies"),
    ],
)
async def test_update_refuses_bad_fields(executor: ToolExecutor, data: dict[str, object], field: str) -> None:
    result = await crm(executor, {"action": "update", "customer_id": "CUST001", "data": data})
    failed(result, "TOOL_INPUT_INVALID")
    assert result.error is not None
    assert field in [e["field"] for e in result.error.details["errors"]]
    unchanged = ok(await crm(executor, {"action": "read", "customer_id": "CUST001"}))["customer"]
    assert unchanged["version"] == 1


async def test_stale_expected_version_is_a_conflict(executor: ToolExecutor) -> None:
    ok(await crm(executor, {"action": "update", "customer_id": "CUST003", "data": {"owner": "sam"}}))
    result = await crm(
        executor, {"action": "update", "customer_id": "CUST003", "expected_version": 1, "data": {"owner": "kim"}}
    )
    failed(result, "CUSTOMER_VERSION_CONFLICT")
    assert result.error is not None
    assert result.error.details["current_version"] == 2
    assert ok(await crm(executor, {"customer_id": "CUST003"}))["customer"]["owner"] == "sam"


async def test_concurrent_updates_of_one_version_let_exactly_one_win(executor: ToolExecutor) -> None:
    results = await asyncio.gather(*(
        crm(executor, {"action": "update", "customer_id": "CUST001", "expected_version": 1,
                       "data": {"notes": f"writer {i}"}})
        for i in range(8)
    ))
    winners = [r for r in results if r.ok]
    assert len(winners) == 1
    assert all(r.error is not None and r.error.code == "CUSTOMER_VERSION_CONFLICT" for r in results if not r.ok)
    customer = ok(await crm(executor, {"customer_id": "CUST001"}))["customer"]
    assert customer["version"] == 2
    assert winners[0].result is not None
    assert customer["notes"] == winners[0].result["customer"]["notes"]


async def test_concurrent_updates_without_a_version_all_land(executor: ToolExecutor) -> None:
    results = await asyncio.gather(*(
        crm(executor, {"action": "update", "customer_id": "CUST004", "data": {"owner": f"o{i}"}}) for i in range(3)
    ))
    assert all(r.ok for r in results), [r.error for r in results]
    assert ok(await crm(executor, {"customer_id": "CUST004"}))["customer"]["version"] == 4


async def test_create_allocates_the_next_id(executor: ToolExecutor) -> None:
    total = ok(await crm(executor, {"action": "list", "limit": 1}))["total"]
    created = ok(await crm(executor, {
        "action": "create",
        "data": {"name": "Nordwind GmbH", "phone": "+49 30 23125 000", "industry": "Logistics",
                 "profile": {"personality": "Precise"}},
    }))
    assert created["created"] is True
    customer = created["customer"]
    assert customer["customer_id"] == f"CUST{total + 1:03d}"
    assert customer["phone"] == "+493023125000"
    assert customer["stage"] == "opening"
    assert customer["deal_value"] == "0.00"
    assert customer["currency"] == "USD"
    assert customer["version"] == 1
    failed(await crm(executor, {"action": "create", "data": {"industry": "Logistics"}}), "TOOL_INPUT_INVALID")


async def test_create_with_a_key_creates_once(executor: ToolExecutor) -> None:
    payload = {"action": "create", "data": {"name": "Once Only Ltd", "email": "a@once.example"}}
    first = ok(await crm(executor, payload, key="create-1"))
    results = await asyncio.gather(*(crm(executor, payload, key="create-1") for _ in range(10)))
    ids = {ok(r)["customer"]["customer_id"] for r in results}
    assert ids == {first["customer"]["customer_id"]}
    assert all(ok(r)["created"] is False for r in results)
    found = ok(await crm(executor, {"action": "search", "query": "once only"}))
    assert found["count"] == 1
    other = await crm(executor, {"action": "create", "data": {"name": "Someone Else"}}, key="create-1")
    assert "create-1" in failed(other, "IDEMPOTENCY_KEY_REUSED")
    failed(await crm(executor, payload, key="x" * 201), "TOOL_INPUT_INVALID")


async def test_racing_creates_with_one_key_make_one_customer(executor: ToolExecutor) -> None:
    payload = {"action": "create", "data": {"name": "Race Condition Inc"}}
    results = await asyncio.gather(*(crm(executor, payload, key="race") for _ in range(10)))
    assert len({ok(r)["customer"]["customer_id"] for r in results}) == 1
    assert sum(1 for r in results if ok(r)["created"]) == 1
    assert ok(await crm(executor, {"action": "search", "query": "race condition"}))["count"] == 1


async def test_one_key_from_two_callers_makes_one_customer_each(executor: ToolExecutor) -> None:
    payload = {"action": "create", "data": {"name": "Shared Key GmbH"}}
    callers = ("key-a", "key-b") * 5
    results = await asyncio.gather(*(
        executor.execute(CRM, payload, "sdr", idempotency_key="shared", caller_id=c) for c in callers
    ))
    ids = {c: {ok(r)["customer"]["customer_id"] for r, o in zip(results, callers, strict=True) if o == c}
           for c in set(callers)}
    assert all(len(one) == 1 for one in ids.values())
    assert ids["key-a"] != ids["key-b"]
    assert sum(1 for r in results if ok(r)["created"]) == 2
    # Another caller's key is not this one's: a different payload is a new create, not a reused key.
    other = {"action": "create", "data": {"name": "Someone Else"}}
    assert ok(await executor.execute(CRM, other, "sdr", idempotency_key="shared", caller_id="key-c"))["created"]
    # Without a key id the role owns the key.
    assert ok(await crm(executor, payload, "sdr", key="shared"))["created"] is True
    assert ok(await crm(executor, payload, "admin", key="shared"))["created"] is True
    assert ok(await crm(executor, payload, "sdr", key="shared"))["created"] is False


async def test_concurrent_creates_get_distinct_ids_and_are_counted(executor: ToolExecutor) -> None:
    before = ok(await crm(executor, {"action": "list", "limit": 1}))["total"]
    results = await asyncio.gather(*(
        crm(executor, {"action": "create", "data": {"name": f"Parallel {i}"}}) for i in range(12)
    ))
    assert len({ok(r)["customer"]["customer_id"] for r in results}) == 12
    assert ok(await crm(executor, {"action": "list", "limit": 1}))["total"] == before + 12


async def test_list_pages_through_everything_in_a_stable_order(executor: ToolExecutor) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        payload: dict[str, object] = {"action": "list", "limit": 25}
        if cursor:
            payload["cursor"] = cursor
        page = ok(await crm(executor, payload, "coach"))
        assert set(page) == {"action", "customers", "count", "total", "next_cursor"}
        assert page["count"] == len(page["customers"])
        seen += [c["customer_id"] for c in page["customers"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert page["total"] == len(seen) >= 53
    assert seen == sorted(seen, key=lambda cid: int(cid[4:]))
    assert len(set(seen)) == len(seen)
    assert seen[:3] == ["CUST001", "CUST002", "CUST003"]
    assert ok(await crm(executor, {"action": "list"}))["count"] == 10  # default limit
    failed(await crm(executor, {"action": "list", "limit": 101}), "TOOL_INPUT_INVALID")
    failed(await crm(executor, {"action": "list", "limit": 0}), "TOOL_INPUT_INVALID")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("acme", "CUST001"),
        ("ACME corp", "CUST001"),
        ("mith", "CUST001"),  # John Smith
        ("global-industries.example", "CUST002"),
        ("MANUFACT", "CUST002"),
        ("mike chen", "CUST003"),
    ],
)
async def test_search_matches_name_contact_email_industry(executor: ToolExecutor, query: str, expected: str) -> None:
    found = ok(await crm(executor, {"action": "search", "query": query, "limit": 100}, "coach"))
    ids = [c["customer_id"] for c in found["customers"]]
    assert expected in ids
    assert ids == sorted(ids, key=lambda cid: int(cid[4:]))
    assert found["count"] == len(ids)


@pytest.mark.parametrize("query", ['"acme', "100%", "a_b_c", "NEAR(x y)", "x' OR 1=1 --", "***", "acme\\"])
async def test_search_treats_any_text_literally(executor: ToolExecutor, query: str) -> None:
    found = ok(await crm(executor, {"action": "search", "query": query}))
    assert found["customers"] == []


async def test_search_limit_and_short_queries(executor: ToolExecutor) -> None:
    found = ok(await crm(executor, {"action": "search", "query": ".example", "limit": 5}))
    assert found["count"] == 5
    assert found["customers"][0]["customer_id"] == "CUST001"
    message = failed(await crm(executor, {"action": "search", "query": " ab "}), "TOOL_INPUT_INVALID")
    assert "3 characters" in message


async def test_search_follows_updates(executor: ToolExecutor) -> None:
    ok(await crm(executor, {"action": "update", "customer_id": "CUST001", "data": {"name": "Zenith Widgets"}}))
    assert ok(await crm(executor, {"action": "search", "query": "acme corporation"}))["count"] == 0
    found = ok(await crm(executor, {"action": "search", "query": "zenith"}))
    assert [c["customer_id"] for c in found["customers"]] == ["CUST001"]


async def test_seeding_is_idempotent(executor: ToolExecutor, backends: ToolBackends) -> None:
    message = await seed_customers(backends)
    assert message.startswith("customers: 0 added")
    created = ok(await crm(executor, {"action": "create", "data": {"name": "After Seed"}}))
    assert created["customer"]["customer_id"] != "CUST001"


def test_demo_file_has_the_originals_and_fifty_more() -> None:
    records = read_customer_file(DATA_DIR / "demo" / "customers.yaml", "US")
    assert len(records) >= 53
    numbers = [n for n, _ in records]
    assert numbers[:3] == [1, 2, 3]
    assert len(set(numbers)) == len(numbers)
    assert all(f.phone is None or f.phone.startswith("+") for _, f in records)
    assert len({f.industry for _, f in records}) >= 20
    assert len({f.stage for _, f in records}) == 8


def test_a_bad_demo_file_names_the_record(tmp_path: Path) -> None:
    path = tmp_path / "customers.yaml"
    path.write_text("customers:\n- id: CUST001\n  name: A\n  stage: negotiation\n", encoding="utf-8")
    with pytest.raises(CustomerFileError, match=r"customers\[0\] \(CUST001\).*stage"):
        read_customer_file(path, "US")
    path.write_text("customers:\n- id: CUST001\n  name: A\n  phone: '555'\n", encoding="utf-8")
    with pytest.raises(CustomerFileError, match="CUST001"):
        read_customer_file(path, "US")
    path.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(CustomerFileError, match="customers"):
        read_customer_file(path, "US")
    assert load_settings().customers_file.name == "customers.yaml"


async def test_an_id_beyond_the_column_is_bad_input_on_both_databases(executor: ToolExecutor) -> None:
    """PostgreSQL's 32-bit column used to crash the call (and count against the tool's breaker)."""
    def read(customer_id: str) -> dict[str, object]:
        return {"action": "read", "customer_id": customer_id}

    for too_big in ("CUST999999999999", "CUST2147483648"):
        assert "CUST2147483647" in failed(await crm(executor, read(too_big), "coach"), "TOOL_INPUT_INVALID")
    assert failed(await crm(executor, read("CUST2147483647"), "coach"), "CUSTOMER_NOT_FOUND")


async def test_a_nul_is_bad_input_on_both_databases_and_never_trips_the_breaker(executor: ToolExecutor) -> None:
    """PostgreSQL refuses a NUL in text: five such searches from a coach used to pause CRM for everyone."""
    for _ in range(6):
        failed(await crm(executor, {"action": "search", "query": "acm\x00e"}, "coach"), "TOOL_INPUT_INVALID")
    bad = {"action": "create", "data": {"name": "Nul\x00 Inc"}}
    assert "NUL" in failed(await crm(executor, bad, key="nul-1"), "TOOL_INPUT_INVALID")
    assert executor.circuit_state(CRM) == "closed"
    assert ok(await crm(executor, {"action": "search", "query": "acme"}))["count"] >= 0


def test_the_stages_a_caller_may_set_are_the_stages_the_table_allows() -> None:
    assert set(get_args(Stage)) == set(STAGES)
