"""price_calculator through the executor: exact money, rounding rules, ROI, approvals and bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from harness import sales_executor
from hypothesis import given, settings
from hypothesis import strategies as st

from salesboost.config import DATA_DIR, load_settings
from salesboost.sales import pricing
from salesboost.sales.pricing.pricebook import PriceBookError, load_currencies, load_price_book
from salesboost.sales.pricing.tool import PriceInput
from salesboost.tools.base import ToolBackends, ToolContext
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.result import ToolResult

CURRENCIES = DATA_DIR / "pricing" / "currencies.yaml"


@pytest.fixture
async def executor() -> AsyncIterator[ToolExecutor]:
    backends = ToolBackends(settings=load_settings(audit_enabled=False, max_discount=0.30))
    executor = sales_executor(backends, pricing.build)
    yield executor
    await executor.aclose()


async def quote(executor: ToolExecutor, payload: dict[str, Any], role: str = "sdr") -> ToolResult:
    return await executor.execute("price_calculator", payload, role)


async def ok(executor: ToolExecutor, payload: dict[str, Any], role: str = "sdr") -> dict[str, Any]:
    result = await quote(executor, payload, role)
    assert result.ok, result.error
    assert result.result is not None
    return result.result


def custom(unit_price: str, quantity: int = 1, name: str = "Custom work") -> dict[str, Any]:
    return {"name": name, "unit_price": unit_price, "quantity": quantity}


# --- the arithmetic ------------------------------------------------------------------------------------


async def test_sku_quote_with_discount_and_tax_after_discount(executor: ToolExecutor) -> None:
    out = await ok(executor, {"items": [{"sku": "SB-PRO-M", "quantity": 25}], "discount_rate": 0.1, "tax_rate": 0.0825})
    assert out["currency"] == "USD"
    assert out["breakdown"] == [
        {"line": 1, "sku": "SB-PRO-M", "name": "SalesBoost Professional (monthly)", "unit": "user/month",
         "unit_price": "89.00", "quantity": 25, "line_total": "2225.00"}
    ]
    assert out["subtotal"] == "2225.00"
    assert out["discount_amount"] == "222.50"
    assert out["subtotal_after_discount"] == "2002.50"
    assert out["tax"] == "165.21"  # 2002.50 x 0.0825 = 165.20625: tax is on the discounted amount
    assert out["total"] == "2167.71"
    assert out["item_count"] == 1
    assert out["total_quantity"] == 25
    assert out["roi"] is None


async def test_sku_is_case_insensitive_and_lines_keep_request_order(executor: ToolExecutor) -> None:
    out = await ok(executor, {"items": [
        {"sku": " sb-onboard ", "quantity": 1}, custom("100", 2), {"sku": "SB-ENT-Y", "quantity": 3},
    ]})
    assert [line["sku"] for line in out["breakdown"]] == ["SB-ONBOARD", None, "SB-ENT-Y"]
    assert [line["line"] for line in out["breakdown"]] == [1, 2, 3]
    assert out["subtotal"] == "9170.00"  # 1500 + 200 + 3 x 2490
    assert out["item_count"] == 3
    assert out["total_quantity"] == 6


async def test_rounding_happens_once_per_line_not_per_unit(executor: ToolExecutor) -> None:
    out = await ok(executor, {"items": [custom("0.333", 3)]})
    assert out["breakdown"][0]["unit_price"] == "0.333"
    assert out["breakdown"][0]["line_total"] == "1.00"  # 0.999 -> 1.00, not 3 x 0.33 = 0.99


@pytest.mark.parametrize(
    ("unit_price", "expected"),
    [("0.125", "0.13"), ("0.005", "0.01"), ("2.675", "2.68"), ("1.0049", "1.00"), ("0.135", "0.14")],
)
async def test_lines_round_half_up_not_to_even(executor: ToolExecutor, unit_price: str, expected: str) -> None:
    out = await ok(executor, {"items": [custom(unit_price)]})
    assert out["breakdown"][0]["line_total"] == expected


async def test_discount_and_tax_round_half_up(executor: ToolExecutor) -> None:
    out = await ok(executor, {"items": [custom("10.05")], "discount_rate": "0.5", "tax_rate": "0.1"}, "admin")
    assert out["discount_amount"] == "5.03"  # 5.025 half-up
    assert out["subtotal_after_discount"] == "5.02"
    assert out["tax"] == "0.50"  # 0.502
    assert out["total"] == "5.52"


async def test_floats_in_the_request_are_read_as_their_decimal_text(executor: ToolExecutor) -> None:
    out = await ok(executor, {"items": [custom(0.1, 3)], "tax_rate": 0.2})  # type: ignore[arg-type]
    assert out["breakdown"][0]["line_total"] == "0.30"
    assert out["tax"] == "0.06"
    assert out["total"] == "0.36"


@pytest.mark.parametrize(
    ("currency", "items", "line_total", "total"),
    [
        ("JPY", [{"sku": "SB-PRO-M", "quantity": 3}], "40200", "44220"),  # 0 decimals; tax 4020
        ("jpy", [custom("100.5")], "101", "111"),  # 100.5 -> 101; tax 10.1 -> 10
        ("KWD", [custom("1.2345")], "1.235", "1.359"),  # 3 decimals; tax 0.1235 -> 0.124
        ("EUR", [{"sku": "SB-STARTER-M", "quantity": 10}], "360.00", "396.00"),
    ],
)
async def test_each_currency_rounds_to_its_minor_unit(
    executor: ToolExecutor, currency: str, items: list[dict[str, Any]], line_total: str, total: str
) -> None:
    out = await ok(executor, {"items": items, "currency": currency, "tax_rate": 0.1})
    assert out["currency"] == currency.upper()
    assert out["breakdown"][0]["line_total"] == line_total
    assert out["total"] == total


async def test_money_is_never_a_json_float(executor: ToolExecutor) -> None:
    out = await ok(executor, {"items": [{"sku": "SB-STARTER-M", "quantity": 7}], "discount_rate": 0.05})
    for key in ("subtotal", "discount_amount", "subtotal_after_discount", "tax", "total"):
        assert isinstance(out[key], str)
        assert Decimal(out[key]).as_tuple().exponent == -2


# --- ROI --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit_price", "roi", "expected"),
    [
        ("12000", {"annual_benefit": "48000", "years": 3},
         {"payback_months": 3.0, "roi_percent": 1100.0, "net_benefit": "132000.00", "total_benefit": "144000.00"}),
        ("7000", {"annual_benefit": "9000", "years": 3},
         {"payback_months": 9.3, "roi_percent": 285.7, "net_benefit": "20000.00"}),
        ("10000", {"annual_benefit": "3000", "years": 3},
         {"payback_months": 40.0, "roi_percent": -10.0, "net_benefit": "-1000.00"}),
        ("5000", {"annual_benefit": "4000", "years": 1},
         {"payback_months": 15.0, "roi_percent": -20.0, "net_benefit": "-1000.00"}),
        ("1000", {"annual_benefit": "1234.567"},  # years defaults to 3
         {"payback_months": 9.7, "roi_percent": 270.4, "net_benefit": "2703.70", "years": 3}),
    ],
)
async def test_roi(executor: ToolExecutor, unit_price: str, roi: dict[str, Any], expected: dict[str, Any]) -> None:
    out = await ok(executor, {"items": [custom(unit_price)], "roi": roi})
    assert out["roi"] is not None
    for key, value in expected.items():
        assert out["roi"][key] == value, key


async def test_roi_uses_the_total_after_discount_and_tax(executor: ToolExecutor) -> None:
    out = await ok(executor, {"items": [custom("10000")], "discount_rate": 0.2, "tax_rate": 0.25,
                              "roi": {"annual_benefit": "12000", "years": 2}})
    assert out["total"] == "10000.00"  # 10000 - 2000 + 2000
    assert out["roi"]["payback_months"] == 10.0
    assert out["roi"]["roi_percent"] == 140.0


async def test_zero_total_has_no_roi_percent(executor: ToolExecutor) -> None:
    out = await ok(executor, {"items": [custom("0.001")], "roi": {"annual_benefit": "100"}})
    assert out["total"] == "0.00"
    assert out["roi"]["roi_percent"] is None
    assert out["roi"]["payback_months"] == 0.0


# --- business rules -----------------------------------------------------------------------------------------


async def test_discount_above_the_maximum_needs_an_admin(executor: ToolExecutor) -> None:
    payload = {"items": [{"sku": "SB-ENT-M", "quantity": 10}], "discount_rate": 0.35}
    refused = await quote(executor, payload, "sdr")
    assert not refused.ok
    assert refused.error is not None
    assert refused.error.code == "DISCOUNT_REQUIRES_APPROVAL"
    assert refused.error.details == {"discount_rate": "0.35", "max_discount": "0.3"}
    assert not refused.error.retryable
    approved = await ok(executor, payload, "admin")
    assert approved["discount_amount"] == "871.50"


async def test_discount_at_the_maximum_is_allowed(executor: ToolExecutor) -> None:
    out = await ok(executor, {"items": [{"sku": "SB-ENT-M", "quantity": 10}], "discount_rate": "0.30"}, "coach")
    assert out["discount_amount"] == "747.00"


async def test_unknown_sku_lists_close_matches(executor: ToolExecutor) -> None:
    result = await quote(executor, {"items": [{"sku": "SB-PR0-M", "quantity": 1}, {"sku": "SB-PRO", "quantity": 2},
                                              {"sku": "SB-STARTER-M", "quantity": 1}]})
    assert not result.ok
    assert result.error is not None
    assert result.error.code == "UNKNOWN_SKU"
    assert result.error.details["unknown"] == ["SB-PR0-M", "SB-PRO"]
    assert result.error.details["suggestions"]["SB-PR0-M"][0] == "SB-PRO-M"
    assert set(result.error.details["suggestions"]["SB-PRO"]) >= {"SB-PRO-M", "SB-PRO-Y"}
    assert "SB-PRO-M" in result.error.message


async def test_unknown_sku_with_nothing_close(executor: ToolExecutor) -> None:
    result = await quote(executor, {"items": [{"sku": "ZZZ-999-QQQ", "quantity": 1}]})
    assert result.error is not None
    assert result.error.code == "UNKNOWN_SKU"
    assert result.error.details["suggestions"] == {"ZZZ-999-QQQ": []}


async def test_sku_without_a_price_in_the_currency(executor: ToolExecutor) -> None:
    result = await quote(executor, {"items": [{"sku": "SB-TRAIN-WS", "quantity": 1}], "currency": "JPY"})
    assert result.error is not None
    assert result.error.code == "PRICE_NOT_AVAILABLE"
    assert result.error.details["available"] == ["EUR", "GBP", "USD"]


async def test_roles_come_from_the_permissions_file(executor: ToolExecutor) -> None:
    result = await quote(executor, {"items": [custom("1")]}, "npc")
    assert result.error is not None
    assert result.error.code == "TOOL_FORBIDDEN"


async def test_results_are_not_cached_because_they_depend_on_the_role(executor: ToolExecutor) -> None:
    payload = {"items": [custom("100")], "discount_rate": 0.5}
    assert (await quote(executor, payload, "admin")).ok
    second = await quote(executor, payload, "sdr")
    assert not second.ok
    assert not second.cached


# --- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"items": []}, "items"),
        ({"items": [custom("1")] * 101}, "items"),
        ({}, "items"),
        ({"items": [{"sku": "SB-PRO-M", "quantity": 0}]}, "items.0.quantity"),
        ({"items": [{"sku": "SB-PRO-M", "quantity": -2}]}, "items.0.quantity"),
        ({"items": [{"sku": "SB-PRO-M", "quantity": 1.5}]}, "items.0.quantity"),
        ({"items": [{"sku": "SB-PRO-M", "quantity": True}]}, "items.0.quantity"),
        ({"items": [{"sku": "SB-PRO-M"}]}, "items.0.quantity"),
        ({"items": [custom("1"), custom("0")]}, "items.1.unit_price"),
        ({"items": [custom("-5")]}, "items.0.unit_price"),
        ({"items": [custom("abc")]}, "items.0.unit_price"),
        ({"items": [custom("NaN")]}, "items.0.unit_price"),
        ({"items": [custom("1.0000001")]}, "items.0.unit_price"),
        ({"items": [{"sku": "SB-PRO-M", "unit_price": "1", "quantity": 1}]}, "items.0"),
        ({"items": [{"name": "Thing", "quantity": 1}]}, "items.0"),
        ({"items": [{"quantity": 1}]}, "items.0"),
        ({"items": [{"sku": "", "quantity": 1}]}, "items.0.sku"),
        ({"items": [{"sku": "SB-PRO-M", "quantity": 1, "colour": "red"}]}, "items.0.colour"),
        ({"items": [custom("1")], "discount_rate": 1}, "discount_rate"),
        ({"items": [custom("1")], "discount_rate": -0.1}, "discount_rate"),
        ({"items": [custom("1")], "tax_rate": 1.5}, "tax_rate"),
        ({"items": [custom("1")], "currency": "US"}, "currency"),
        ({"items": [custom("1")], "currency": "US$"}, "currency"),
        ({"items": [custom("1")], "currency": "XYZ"}, "currency"),
        ({"items": [custom("1")], "roi": {"annual_benefit": 0}}, "roi.annual_benefit"),
        ({"items": [custom("1")], "roi": {"annual_benefit": 10, "years": 0}}, "roi.years"),
        ({"items": [custom("1")], "roi": {"annual_benefit": 10, "years": 11}}, "roi.years"),
        ({"items": [custom("1")], "roi": {"years": 2}}, "roi.annual_benefit"),
        ({"items": [custom("1")], "coupon": "X"}, "coupon"),
    ],
)
async def test_bad_input_names_the_field(executor: ToolExecutor, payload: dict[str, Any], field: str) -> None:
    result = await quote(executor, payload)
    assert not result.ok
    assert result.error is not None
    assert result.error.code == "TOOL_INPUT_INVALID"
    assert field in [e["field"] for e in result.error.details["errors"]], result.error.details


# --- invariants over many quotes (the tool's public run, no executor overhead) -----------------------------------

_BACKENDS = ToolBackends(settings=load_settings(audit_enabled=False))
_TOOL = pricing.build(_BACKENDS)
_CTX = ToolContext(caller_role="admin", tool_call_id="prop", backends=_BACKENDS)
_prices = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("99999"), places=6)
_rates = st.decimals(min_value=Decimal(0), max_value=Decimal("0.999999"), places=6)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.tuples(_prices, st.integers(1, 500)), min_size=1, max_size=8),
    discount=_rates,
    tax=_rates,
    currency=st.sampled_from(["USD", "JPY", "KWD"]),
)
def test_totals_always_add_up_exactly(
    lines: list[tuple[Decimal, int]], discount: Decimal, tax: Decimal, currency: str
) -> None:
    args = PriceInput.model_validate({
        "items": [{"name": "x", "unit_price": p, "quantity": q} for p, q in lines],
        "discount_rate": discount, "tax_rate": tax, "currency": currency,
    })
    out = _TOOL.run(args, _CTX)
    quantum = {"USD": Decimal("0.01"), "JPY": Decimal(1), "KWD": Decimal("0.001")}[currency]
    for amount in (out.subtotal, out.discount_amount, out.subtotal_after_discount, out.tax, out.total):
        assert amount == amount.quantize(quantum)
        assert amount >= 0
    assert out.subtotal == sum(line.line_total for line in out.breakdown)
    assert out.subtotal_after_discount == out.subtotal - out.discount_amount
    assert out.total == out.subtotal_after_discount + out.tax
    assert abs(out.discount_amount - out.subtotal * discount) <= quantum / 2
    assert abs(out.tax - out.subtotal_after_discount * tax) <= quantum / 2
    for (price, qty), line in zip(lines, out.breakdown, strict=True):
        assert abs(line.line_total - price * qty) <= quantum / 2


# --- the data files -----------------------------------------------------------------------------------------------


def test_shipped_price_book_has_the_plans_competitors_are_compared_with() -> None:
    book = load_price_book(DATA_DIR / "demo" / "price_book.yaml", load_currencies(CURRENCIES))
    assert book.currency == "USD"
    assert [(p.tier, str(p.prices["USD"])) for p in book.comparable_plans()] == [
        ("starter", "39.00"), ("professional", "89.00"), ("enterprise", "249.00"),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("currency: USD\nproducts:\n  - {sku: A, name: A, kind: plan, unit: u, prices: {USD: '1.005'}}\n",
         "more decimals"),
        ("currency: USD\nproducts:\n  - {sku: A, name: A, kind: plan, unit: u, prices: {JPY: '10.5'}}\n",
         "more decimals"),
        ("currency: USD\nproducts:\n  - {sku: A, name: A, kind: plan, unit: u, prices: {USD: '1'}}\n"
         "  - {sku: a, name: B, kind: plan, unit: u, prices: {USD: '2'}}\n", "appears twice"),
        ("currency: USD\nproducts:\n  - {sku: A, name: A, kind: plan, unit: u, prices: {XYZ: '1'}}\n",
         "not in the currency table"),
        ("currency: XYZ\nproducts:\n  - {sku: A, name: A, kind: plan, unit: u, prices: {USD: '1'}}\n",
         "default currency"),
        ("currency: USD\nproducts:\n  - {sku: A, name: A, kind: thing, unit: u, prices: {USD: '1'}}\n", "kind"),
        ("currency: USD\nproducts:\n  - {sku: A, name: A, kind: plan, unit: u, prices: {USD: '-1'}}\n", ">= 0"),
        ("currency: USD\nproducts:\n  - {sku: A, kind: plan, unit: u, prices: {USD: '1'}}\n", "missing 'name'"),
        ("currency: USD\nproducts:\n  - {sku: A, name: A, kind: plan, unit: u, compare: true, prices: {EUR: '1'}}\n",
         "no USD price"),
        ("products: [\n", "cannot read"),
    ],
)
def test_a_bad_price_book_fails_at_load_with_a_reason(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "book.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(PriceBookError, match=message):
        load_price_book(path, load_currencies(CURRENCIES))


def test_a_bad_currency_table_fails_at_load(tmp_path: Path) -> None:
    path = tmp_path / "currencies.yaml"
    path.write_text("minor_units: {usd: 2}\n", encoding="utf-8")
    with pytest.raises(PriceBookError, match="ISO 4217"):
        load_currencies(path)
    path.write_text("minor_units: {USD: 9}\n", encoding="utf-8")
    with pytest.raises(PriceBookError, match="0-4"):
        load_currencies(path)
