"""price_calculator: exact quotes from the price book, with discount, tax and an optional ROI.

Money is `Decimal` throughout and is rounded half-up to the currency's minor unit only where an amount is
final: each line total, the discount, the tax, the total. Amounts leave the tool as strings ("1234.50"), so
no caller ever sees a binary float.

The result depends on the caller's role (a discount above the maximum needs an admin), and the cache is
keyed by input alone, so this tool is not cached; it is cheaper to compute than to look up anyway.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator, model_validator

from salesboost.sales.pricing.pricebook import Currencies, PriceBook, load_currencies, load_price_book
from salesboost.tools.base import Tool, ToolBackends, ToolContext, ToolInput, ToolOutput, ToolPolicy
from salesboost.tools.errors import ToolDomainError, ToolInputError

UNKNOWN_SKU = "UNKNOWN_SKU"
PRICE_NOT_AVAILABLE = "PRICE_NOT_AVAILABLE"
DISCOUNT_REQUIRES_APPROVAL = "DISCOUNT_REQUIRES_APPROVAL"

_ONE_DECIMAL = Decimal("0.1")
# An input amount: at most 6 decimals (finer than any currency), so nothing is silently cut.
InputMoney = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6)]
Rate = Annotated[Decimal, Field(ge=0, lt=1, max_digits=8, decimal_places=6)]


class LineItem(ToolInput):
    """Either a price-book SKU, or a custom item with a name and a unit price."""

    sku: str | None = Field(
        None, min_length=1, max_length=64, description="A SKU from the price book, at most 64 characters."
    )
    name: str | None = Field(
        None, min_length=1, max_length=200, description="Custom item name (no SKU), at most 200 characters."
    )
    unit_price: InputMoney | None = Field(None, le=Decimal("1e9"), description="Custom item unit price (no SKU).")
    quantity: int = Field(gt=0, le=1_000_000, strict=True, description="Whole units (seats, packs, months).")

    @model_validator(mode="after")
    def _sku_or_custom(self) -> LineItem:
        if self.sku is not None:
            if self.unit_price is not None or self.name is not None:
                raise ValueError("give either sku, or name and unit_price, not both (a SKU's price is the list price)")
        elif self.name is None or self.unit_price is None:
            raise ValueError("each item needs a sku, or both name and unit_price")
        return self


class RoiInput(ToolInput):
    annual_benefit: InputMoney = Field(lt=Decimal("1e12"), description="Expected yearly gain in the quote's currency.")
    years: int = Field(3, ge=1, le=10, strict=True, description="Years the benefit is counted over.")


class PriceInput(ToolInput):
    items: list[LineItem] = Field(min_length=1, max_length=100, description="The quote's lines, 1 to 100.")
    discount_rate: Rate = Field(Decimal(0), description="0.15 for 15% off the subtotal.")
    tax_rate: Rate = Field(Decimal(0), description="0.2 for 20% tax, charged after the discount.")
    currency: str | None = Field(
        None, pattern=r"^[A-Z]{3}$", description="ISO 4217 code; default the price book's currency."
    )
    roi: RoiInput | None = Field(None, description="Add a return-on-investment view of the total.")

    @field_validator("currency", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


class QuoteLine(BaseModel):
    line: int = Field(description="1-based position in the request.")
    sku: str | None
    name: str
    unit: str | None
    unit_price: Decimal
    quantity: int
    line_total: Decimal


class Roi(BaseModel):
    annual_benefit: Decimal
    years: int
    total_benefit: Decimal
    net_benefit: Decimal = Field(description="annual_benefit x years - total.")
    payback_months: float = Field(description="total / annual_benefit x 12, one decimal.")
    roi_percent: float | None = Field(description="(benefit - total) / total x 100, one decimal; null if total is 0.")


class PriceOutput(ToolOutput):
    currency: str
    item_count: int
    total_quantity: int
    breakdown: list[QuoteLine]
    subtotal: Decimal
    discount_rate: Decimal
    discount_amount: Decimal
    subtotal_after_discount: Decimal
    tax_rate: Decimal
    tax: Decimal
    total: Decimal
    roi: Roi | None = None


def _one_decimal(value: Decimal) -> float:
    return float(value.quantize(_ONE_DECIMAL, rounding=ROUND_HALF_UP))


class PriceCalculatorTool(Tool[PriceInput, PriceOutput]):
    name = "price_calculator"
    description = (
        "Calculate an exact price quote: line totals for price-book SKUs or custom items, a discount on the "
        "subtotal, tax after discount, the total, and optionally ROI (payback months, ROI percent, net "
        "benefit) for a yearly benefit. Use it whenever a customer asks what something costs or what a "
        "discount or a multi-year benefit means; never do the arithmetic yourself. Amounts are decimal "
        "strings in the quote's currency. Discounts above the allowed maximum need an admin's approval."
    )
    Input = PriceInput
    Output = PriceOutput
    policy = ToolPolicy(read_only=True, idempotent=True, inline=True, timeout=2.0, retry=False)
    error_codes = (UNKNOWN_SKU, PRICE_NOT_AVAILABLE, DISCOUNT_REQUIRES_APPROVAL)
    examples = (
        {"items": [{"sku": "SB-PRO-M", "quantity": 25}], "discount_rate": 0.1, "tax_rate": 0.08},
        {
            "items": [
                {"sku": "SB-ENT-Y", "quantity": 40},
                {"name": "Data migration", "unit_price": "4500", "quantity": 1},
            ],
            "currency": "USD",
            "roi": {"annual_benefit": "250000", "years": 3},
        },
    )

    def __init__(self, book: PriceBook, currencies: Currencies, max_discount: float) -> None:
        self.book = book
        self.currencies = currencies
        self.max_discount = Decimal(str(max_discount))

    def run(self, args: PriceInput, ctx: ToolContext) -> PriceOutput:
        currency = args.currency or self.book.currency
        if currency not in self.currencies:
            raise ToolInputError(
                f"currency {currency} is not supported; supported: {', '.join(sorted(self.currencies.minor_units))}",
                details={"errors": [{"field": "currency", "message": "unsupported currency", "type": "value_error"}]},
            )
        if args.discount_rate > self.max_discount and ctx.caller_role != "admin":
            raise ToolDomainError(
                DISCOUNT_REQUIRES_APPROVAL,
                f"a {args.discount_rate:%} discount is above the {self.max_discount:%} maximum and needs an "
                "admin's approval; offer at most the maximum or ask an admin to quote it",
                details={"discount_rate": str(args.discount_rate), "max_discount": str(self.max_discount)},
            )
        lines = self._lines(args.items, currency)
        rnd = self.currencies.round
        subtotal = sum((line.line_total for line in lines), Decimal(0))
        discount = rnd(subtotal * args.discount_rate, currency)
        after_discount = subtotal - discount
        tax = rnd(after_discount * args.tax_rate, currency)
        total = after_discount + tax
        return PriceOutput(
            currency=currency,
            item_count=len(lines),
            total_quantity=sum(line.quantity for line in lines),
            breakdown=lines,
            subtotal=subtotal,
            discount_rate=args.discount_rate,
            discount_amount=discount,
            subtotal_after_discount=after_discount,
            tax_rate=args.tax_rate,
            tax=tax,
            total=total,
            roi=None if args.roi is None else self._roi(args.roi, total, currency),
        )

    def _lines(self, items: list[LineItem], currency: str) -> list[QuoteLine]:
        unknown = [item.sku for item in items if item.sku is not None and self.book.find(item.sku) is None]
        if unknown:
            suggestions = {sku: self.book.close_matches(sku) for sku in unknown}
            hints = "; ".join(
                f"{sku}: did you mean {', '.join(close) or 'nothing close'}" for sku, close in suggestions.items()
            )
            raise ToolDomainError(
                UNKNOWN_SKU,
                f"unknown SKU {', '.join(unknown)} ({hints}); or give a custom item with name and unit_price",
                details={"unknown": unknown, "suggestions": suggestions},
            )
        return [self._line(number, item, currency) for number, item in enumerate(items, start=1)]

    def _line(self, number: int, item: LineItem, currency: str) -> QuoteLine:
        """One priced line; the line total is rounded here, once."""
        product = None if item.sku is None else self.book.find(item.sku)
        if product is None:
            assert item.name is not None
            assert item.unit_price is not None
            sku, name, unit, price = None, item.name, None, item.unit_price
        elif currency not in product.prices:
            raise ToolDomainError(
                PRICE_NOT_AVAILABLE,
                f"{product.sku} has no {currency} price; it is priced in {', '.join(sorted(product.prices))}",
                details={"sku": product.sku, "currency": currency, "available": sorted(product.prices)},
            )
        else:
            sku, name, unit, price = product.sku, product.name, product.unit, product.prices[currency]
        line_total = self.currencies.round(price * item.quantity, currency)
        return QuoteLine(
            line=number, sku=sku, name=name, unit=unit, unit_price=price, quantity=item.quantity, line_total=line_total
        )

    def _roi(self, roi: RoiInput, total: Decimal, currency: str) -> Roi:
        benefit = roi.annual_benefit * roi.years
        return Roi(
            annual_benefit=roi.annual_benefit,
            years=roi.years,
            total_benefit=self.currencies.round(benefit, currency),
            net_benefit=self.currencies.round(benefit - total, currency),
            payback_months=_one_decimal(total / roi.annual_benefit * 12),
            roi_percent=None if total == 0 else _one_decimal((benefit - total) / total * 100),
        )

    def preview(self, output: PriceOutput) -> str:
        return f"Total {output.currency} {output.total:,} for {output.item_count} lines, {output.total_quantity} units"


def build(backends: ToolBackends) -> PriceCalculatorTool:
    settings = backends.settings
    currencies = load_currencies(settings.currencies_file)
    return PriceCalculatorTool(load_price_book(settings.price_book_file, currencies), currencies, settings.max_discount)
