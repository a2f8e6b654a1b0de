"""Competitor profiles and battlecard talking points, loaded once from the data files and checked.

The profiles come from `competitors.yaml`; each profile names its battlecard, a Markdown document in the
knowledge base whose `## Talking points` bullets back the weaknesses. A bad file fails at start-up with the
file and the entry named, never halfway through a call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, cast, get_args

import yaml

from salesboost.sales.knowledge.chunking import parse_markdown
from salesboost.yamlfiles import load_yaml

Category = Literal["direct", "indirect", "potential"]
CATEGORIES: tuple[Category, ...] = get_args(Category)

_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")


class CompetitorDataError(ValueError):
    """The competitor file or a battlecard cannot be used as it is."""


@dataclass(frozen=True, slots=True)
class Tier:
    tier: str
    price: Decimal


@dataclass(frozen=True, slots=True)
class NewsItem:
    date: date
    headline: str


@dataclass(frozen=True, slots=True)
class Competitor:
    name: str
    aliases: tuple[str, ...]
    category: Category
    market_share: float
    description: str
    target_market: str
    founded: int | None
    headquarters: str | None
    pricing: tuple[Tier, ...]
    features: frozenset[str]
    strengths: tuple[str, ...]
    weaknesses: tuple[str, ...]
    news: tuple[NewsItem, ...]
    battlecard: str
    talking_points: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CompetitorBook:
    currency: str
    catalogue: dict[str, str]
    competitors: tuple[Competitor, ...]


def normalize_name(name: str) -> str:
    """The lookup key of a name or alias: case, spaces and punctuation do not matter."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def talking_points(markdown: str) -> list[str]:
    """The bullets of the `Talking points` section and its sub-sections (continuation lines joined), in order.

    Battlecards are knowledge-base documents, so they are split into sections by the knowledge base's parser.
    """
    points: list[str] = []
    for section in parse_markdown(markdown, fallback_title="").sections:
        if not any(part.casefold() == "talking points" for part in section.heading.split(" > ")):
            continue
        for line in section.text.splitlines():
            bullet = _BULLET.match(line)
            if bullet:
                points.append(bullet.group(1).strip())
            elif points and line.strip() and line.startswith((" ", "\t")):
                points[-1] = f"{points[-1]} {line.strip()}"
    return points


def _strings(raw: dict[str, Any], key: str, where: str, *, required: bool = True) -> tuple[str, ...]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CompetitorDataError(f"{where}: {key} must be a list of non-empty strings")
    if required and not value:
        raise CompetitorDataError(f"{where}: {key} must not be empty")
    return tuple(v.strip() for v in value)


def _tier(raw: Any, where: str) -> Tier:
    if not isinstance(raw, dict) or not raw.get("tier") or "price" not in raw:
        raise CompetitorDataError(f"{where}: each pricing entry needs 'tier' and 'price'")
    try:
        price = Decimal(str(raw["price"]))
    except InvalidOperation:
        raise CompetitorDataError(f"{where}: price {raw['price']!r} is not a number") from None
    if not price.is_finite() or price < 0:
        raise CompetitorDataError(f"{where}: price must be >= 0")
    return Tier(tier=str(raw["tier"]), price=price)


def _news(raw: Any, where: str) -> NewsItem:
    if not isinstance(raw, dict) or not raw.get("headline"):
        raise CompetitorDataError(f"{where}: each news entry needs 'date' and 'headline'")
    try:
        when = raw["date"] if isinstance(raw.get("date"), date) else date.fromisoformat(str(raw.get("date")))
    except ValueError:
        raise CompetitorDataError(f"{where}: news date {raw.get('date')!r} is not YYYY-MM-DD") from None
    return NewsItem(date=when, headline=str(raw["headline"]))


def _competitor(raw: Any, index: int, catalogue: dict[str, str], battlecards: Path, path: Path) -> Competitor:
    where = f"{path}: competitors[{index}]"
    if not isinstance(raw, dict) or not raw.get("name"):
        raise CompetitorDataError(f"{where}: needs a 'name'")
    where = f"{path}: competitor {raw['name']}"
    if raw.get("category") not in CATEGORIES:
        raise CompetitorDataError(f"{where}: category must be one of {', '.join(CATEGORIES)}")
    share = raw.get("market_share")
    if not isinstance(share, int | float) or isinstance(share, bool) or not 0 <= share <= 100:
        raise CompetitorDataError(f"{where}: market_share must be a percentage 0-100")
    features = frozenset(_strings(raw, "features", where))
    unknown = features - catalogue.keys()
    if unknown:
        raise CompetitorDataError(f"{where}: features not in feature_catalogue: {', '.join(sorted(unknown))}")
    pricing = tuple(_tier(t, where) for t in raw.get("pricing") or [])
    if not pricing:
        raise CompetitorDataError(f"{where}: pricing must list at least one tier")
    card = battlecards / str(raw.get("battlecard") or "")
    try:
        points = talking_points(card.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CompetitorDataError(f"{where}: cannot read battlecard {card}: {exc}") from exc
    if not points:
        raise CompetitorDataError(f"{where}: battlecard {card} has no '## Talking points' bullets")
    return Competitor(
        name=str(raw["name"]),
        aliases=_strings(raw, "aliases", where, required=False),
        category=cast(Category, raw["category"]),
        market_share=float(share),
        description=" ".join(str(raw.get("description") or "").split()),
        target_market=str(raw.get("target_market") or ""),
        founded=int(raw["founded"]) if raw.get("founded") else None,
        headquarters=str(raw["headquarters"]) if raw.get("headquarters") else None,
        pricing=pricing,
        features=features,
        strengths=_strings(raw, "strengths", where),
        weaknesses=_strings(raw, "weaknesses", where),
        news=tuple(sorted((_news(n, where) for n in raw.get("news") or []), key=lambda n: n.date, reverse=True)),
        battlecard=card.name,
        talking_points=tuple(points),
    )


def load_competitors(path: Path, battlecards: Path) -> CompetitorBook:
    """Read and check the profiles: unique names and aliases, known features, shares adding up to at most 100."""
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CompetitorDataError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("competitors"), list):
        raise CompetitorDataError(f"{path}: needs 'currency', 'feature_catalogue' and a 'competitors' list")
    catalogue = raw.get("feature_catalogue")
    if not isinstance(catalogue, dict) or not catalogue:
        raise CompetitorDataError(f"{path}: feature_catalogue must map feature keys to labels")
    catalogue = {str(k): str(v) for k, v in catalogue.items()}
    competitors = tuple(_competitor(c, i, catalogue, battlecards, path) for i, c in enumerate(raw["competitors"]))
    seen: dict[str, str] = {}
    for competitor in competitors:
        for label in (competitor.name, *competitor.aliases):
            key = normalize_name(label)
            if seen.get(key, competitor.name) != competitor.name:
                raise CompetitorDataError(f"{path}: {label!r} names both {seen[key]} and {competitor.name}")
            seen[key] = competitor.name
    if sum(c.market_share for c in competitors) > 100.0001:
        raise CompetitorDataError(f"{path}: market shares add up to more than 100%")
    return CompetitorBook(currency=str(raw.get("currency") or ""), catalogue=catalogue, competitors=competitors)
