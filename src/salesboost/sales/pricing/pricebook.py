"""Our price book and the currency table: loaded once from YAML, checked, then read-only.

Shared by price_calculator (quotes) and competitor_analysis (our closest plan to a competitor's tier).
Money is `Decimal` from the file's strings on; a bad file fails at start-up with the file and the entry named.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from salesboost.yamlfiles import load_yaml


class PriceBookError(ValueError):
    """The price book or the currency table cannot be used as it is."""


@dataclass(frozen=True, slots=True)
class Currencies:
    """ISO 4217 codes we accept, with their minor units (decimal places of a final amount)."""

    minor_units: Mapping[str, int]

    def __contains__(self, code: object) -> bool:
        return code in self.minor_units

    def quantum(self, code: str) -> Decimal:
        """The smallest amount of the currency: 0.01 for USD, 1 for JPY, 0.001 for KWD."""
        return Decimal(1).scaleb(-self.minor_units[code])

    def round(self, amount: Decimal, code: str) -> Decimal:
        """Half-up to the currency's minor unit (the only rounding money ever sees)."""
        return amount.quantize(self.quantum(code), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str
    kind: str
    unit: str
    prices: Mapping[str, Decimal]
    tier: str | None = None
    compare: bool = False
    features: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class PriceBook:
    currency: str
    products: Mapping[str, Product]

    def find(self, sku: str) -> Product | None:
        """The product by SKU, whatever its case or surrounding spaces."""
        return self.products.get(sku.strip().upper())

    def close_matches(self, sku: str, limit: int = 3) -> list[str]:
        """SKUs that look like `sku` (a typo, a missing suffix) for an UNKNOWN_SKU answer."""
        wanted = sku.strip().upper()
        matches = difflib.get_close_matches(wanted, list(self.products), n=limit, cutoff=0.5)
        prefixed = [s for s in self.products if wanted and s.startswith(wanted) and s not in matches]
        return (matches + prefixed)[:limit]

    def comparable_plans(self) -> list[Product]:
        """The plans we set against competitors' tiers, cheapest first."""
        plans = [p for p in self.products.values() if p.compare]
        return sorted(plans, key=lambda p: p.prices[self.currency])

    @property
    def features(self) -> frozenset[str]:
        """Everything our product line offers (the union of the plans' features)."""
        return frozenset().union(*(p.features for p in self.products.values()))


def _read_yaml(path: Path) -> Any:
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PriceBookError(f"cannot read {path}: {exc}") from exc


def load_currencies(path: Path) -> Currencies:
    raw = _read_yaml(path)
    table = raw.get("minor_units") if isinstance(raw, dict) else None
    if not isinstance(table, dict) or not table:
        raise PriceBookError(f"{path}: needs a non-empty 'minor_units' mapping")
    units: dict[str, int] = {}
    for code, digits in table.items():
        if not (isinstance(code, str) and len(code) == 3 and code.isalpha() and code.isupper()):
            raise PriceBookError(f"{path}: {code!r} is not an ISO 4217 code")
        if not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= 4:
            raise PriceBookError(f"{path}: {code} minor units must be an integer 0-4, got {digits!r}")
        units[code] = digits
    return Currencies(units)


def _price(value: Any, where: str, currency: str, currencies: Currencies) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise PriceBookError(f"{where}: {currency} price {value!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise PriceBookError(f"{where}: {currency} price must be a finite amount >= 0, got {value!r}")
    if currencies.round(amount, currency) != amount:
        raise PriceBookError(f"{where}: {currency} price {value} has more decimals than the currency allows")
    return currencies.round(amount, currency)


def _product(raw: Any, index: int, path: Path, currencies: Currencies) -> Product:
    where = f"{path}: products[{index}]"
    if not isinstance(raw, dict):
        raise PriceBookError(f"{where}: must be a mapping")
    for key in ("sku", "name", "kind", "unit", "prices"):
        if not raw.get(key):
            raise PriceBookError(f"{where}: missing {key!r}")
    sku = str(raw["sku"]).strip().upper()
    where = f"{path}: product {sku}"
    if raw["kind"] not in ("plan", "add_on"):
        raise PriceBookError(f"{where}: kind must be 'plan' or 'add_on'")
    if not isinstance(raw["prices"], dict):
        raise PriceBookError(f"{where}: prices must map currency codes to amounts")
    prices: dict[str, Decimal] = {}
    for code, value in raw["prices"].items():
        if code not in currencies:
            raise PriceBookError(f"{where}: currency {code!r} is not in the currency table")
        prices[code] = _price(value, where, code, currencies)
    features = raw.get("features") or []
    if not isinstance(features, list):
        raise PriceBookError(f"{where}: features must be a list")
    return Product(
        sku=sku,
        name=str(raw["name"]),
        kind=str(raw["kind"]),
        unit=str(raw["unit"]),
        prices=prices,
        tier=str(raw["tier"]) if raw.get("tier") else None,
        compare=bool(raw.get("compare", False)),
        features=frozenset(str(f) for f in features),
    )


def load_price_book(path: Path, currencies: Currencies) -> PriceBook:
    """Read and check the price book: unique SKUs, known currencies, exact prices, comparable plans priced."""
    raw = _read_yaml(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("products"), list) or not raw["products"]:
        raise PriceBookError(f"{path}: needs a 'currency' and a non-empty 'products' list")
    currency = raw.get("currency")
    if currency not in currencies:
        raise PriceBookError(f"{path}: default currency {currency!r} is not in the currency table")
    products: dict[str, Product] = {}
    for index, entry in enumerate(raw["products"]):
        product = _product(entry, index, path, currencies)
        if product.sku in products:
            raise PriceBookError(f"{path}: SKU {product.sku} appears twice")
        if product.compare and currency not in product.prices:
            raise PriceBookError(f"{path}: comparable plan {product.sku} has no {currency} price")
        products[product.sku] = product
    return PriceBook(currency=str(currency), products=products)
