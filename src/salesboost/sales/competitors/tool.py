"""competitor_analysis: competitor profiles set against our own price book and features.

By name: the profile, or one aspect of it (pricing against our closest plan, features they have and we lack
and the reverse, market share rank, strengths, weaknesses with battlecard talking points). By category: the
group. Neither: the market overview. All data comes from files loaded at start-up, so answers are cached.
"""

from __future__ import annotations

import difflib
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from salesboost.sales.competitors.profiles import (
    CATEGORIES,
    Category,
    Competitor,
    CompetitorBook,
    CompetitorDataError,
    load_competitors,
    normalize_name,
)
from salesboost.sales.pricing.pricebook import PriceBook, Product, load_currencies, load_price_book
from salesboost.tools.base import Tool, ToolBackends, ToolContext, ToolInput, ToolOutput, ToolPolicy
from salesboost.tools.errors import ToolDomainError

COMPETITOR_NOT_FOUND = "COMPETITOR_NOT_FOUND"

Aspect = Literal["pricing", "features", "market_share", "strengths", "weaknesses"]
Scope = Literal["competitor", "category", "market"]


class CompetitorInput(ToolInput):
    competitor_name: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Competitor name or alias, any case (e.g. 'competitor a'); at most 100 characters.",
    )
    category: Category | None = Field(None, description="direct, indirect or potential: the group.")
    aspect: Aspect | None = Field(None, description="Only this part of each profile (default: all for a name).")

    @field_validator("category", "aspect", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("competitor_name")
    @classmethod
    def _named(cls, value: str | None) -> str | None:
        if value is not None and not normalize_name(value):
            raise ValueError("must contain letters or digits")
        return value


class TierComparison(BaseModel):
    tier: str
    price: Decimal
    our_plan: str = Field(description="Our plan closest in price.")
    our_sku: str
    our_price: Decimal
    difference: Decimal = Field(description="Their price minus ours.")
    difference_percent: float | None = Field(description="difference / our price x 100, one decimal.")
    they_are: Literal["cheaper", "more_expensive", "same_price"]


class PricingAspect(BaseModel):
    currency: str
    unit: str
    tiers: list[TierComparison]


class FeaturesAspect(BaseModel):
    they_have_we_lack: list[str]
    we_have_they_lack: list[str]
    shared: list[str]


class MarketShareAspect(BaseModel):
    market_share: float = Field(description="Percent of the market.")
    rank: int = Field(description="1 = largest share among the tracked competitors.")
    of: int = Field(description="How many competitors are ranked.")
    leader: str
    gap_to_leader: float = Field(description="Percentage points behind the leader (0 for the leader).")


class WeaknessesAspect(BaseModel):
    weaknesses: list[str]
    talking_points: list[str] = Field(description="From the battlecard's Talking points section.")
    battlecard: str = Field(description="The battlecard file the talking points come from.")


class NewsEntry(BaseModel):
    date: str
    headline: str


class CompetitorReport(BaseModel):
    name: str
    aliases: list[str]
    category: Category
    description: str
    target_market: str
    founded: int | None
    headquarters: str | None
    market_share: MarketShareAspect | None = None
    pricing: PricingAspect | None = None
    features: FeaturesAspect | None = None
    strengths: list[str] | None = None
    weaknesses: WeaknessesAspect | None = None
    news: list[NewsEntry] | None = None


class ShareEntry(BaseModel):
    name: str
    category: Category
    market_share: float
    rank: int


class MarketOverview(BaseModel):
    competitor_count: int
    by_category: dict[str, int]
    leader: ShareEntry | None
    combined_share: float = Field(description="Percent of the market these competitors hold together.")
    other_share: float = Field(description="Percent held by everyone else (smaller vendors and us).")
    shares: list[ShareEntry]


class CompetitorOutput(ToolOutput):
    scope: Scope
    aspect: Aspect | None
    competitors: list[CompetitorReport]
    overview: MarketOverview | None = Field(None, description="For a category or the whole market.")


def _percent(part: Decimal, whole: Decimal) -> float | None:
    if whole == 0:
        return None
    return float((part / whole * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


class CompetitorAnalysisTool(Tool[CompetitorInput, CompetitorOutput]):
    name = "competitor_analysis"
    description = (
        "Look up competitors. With competitor_name (any case or alias): their profile, or one aspect: "
        "pricing (each tier against our closest plan, difference and percent), features (what they have "
        "that we lack and the reverse), market_share (rank), strengths, weaknesses (with battlecard talking "
        "points). With category (direct, indirect, potential): that group. With neither: the market "
        "overview (leader, shares, counts). Use it before comparing us with a competitor in a conversation."
    )
    Input = CompetitorInput
    Output = CompetitorOutput
    policy = ToolPolicy(read_only=True, idempotent=True, inline=True, cache_ttl=3600.0, timeout=2.0, retry=False)
    error_codes = (COMPETITOR_NOT_FOUND,)
    examples = (
        {"competitor_name": "CompetitorA", "aspect": "pricing"},
        {"competitor_name": "competitor b", "aspect": "weaknesses"},
        {"category": "direct"},
        {},
    )

    def __init__(self, book: CompetitorBook, price_book: PriceBook) -> None:
        self.book = book
        self.plans = price_book.comparable_plans()
        missing = [p.sku for p in self.plans if book.currency not in p.prices]
        if not self.plans or missing:
            raise CompetitorDataError(
                f"competitor prices are in {book.currency}: the price book needs comparable plans priced in it"
                + (f" (missing: {', '.join(missing)})" if missing else "")
            )
        unknown = price_book.features - book.catalogue.keys()
        if unknown:
            raise CompetitorDataError(f"price book features not in the feature catalogue: {', '.join(sorted(unknown))}")
        self.our_features = price_book.features
        self.unit = self.plans[0].unit
        self._by_key = {
            normalize_name(label): c for c in book.competitors for label in (c.name, *c.aliases)
        }
        ranked = sorted(book.competitors, key=lambda c: -c.market_share)
        self._rank = {c.name: 1 + sum(o.market_share > c.market_share for o in ranked) for c in ranked}
        self._ranked = ranked

    def run(self, args: CompetitorInput, ctx: ToolContext) -> CompetitorOutput:
        if args.competitor_name is not None:
            competitor = self._find(args.competitor_name, args.category)
            return CompetitorOutput(
                scope="competitor", aspect=args.aspect, competitors=[self._report(competitor, args.aspect, full=True)]
            )
        group = [c for c in self._ranked if args.category is None or c.category == args.category]
        return CompetitorOutput(
            scope="market" if args.category is None else "category",
            aspect=args.aspect,
            competitors=[self._report(c, args.aspect, full=False) for c in group],
            overview=self._overview(group),
        )

    def _find(self, name: str, category: str | None) -> Competitor:
        competitor = self._by_key.get(normalize_name(name))
        names = [c.name for c in self.book.competitors]
        if competitor is None:
            close = difflib.get_close_matches(normalize_name(name), list(self._by_key), n=3, cutoff=0.6)
            suggestions = list(dict.fromkeys(self._by_key[k].name for k in close))
            hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
            raise ToolDomainError(
                COMPETITOR_NOT_FOUND,
                f"no competitor named {name!r}{hint} Available: {', '.join(names)}",
                details={"available": names, "suggestions": suggestions},
            )
        if category is not None and competitor.category != category:
            raise ToolDomainError(
                COMPETITOR_NOT_FOUND,
                f"{competitor.name} is a {competitor.category} competitor, not {category}",
                details={"available": [c.name for c in self.book.competitors if c.category == category]},
            )
        return competitor

    def _report(self, c: Competitor, aspect: str | None, *, full: bool) -> CompetitorReport:
        """Base facts plus the asked aspect. Without an aspect a named competitor gets every section and a
        group member its market share."""
        every = full and aspect is None

        def wants(section: str) -> bool:
            return every or aspect == section

        return CompetitorReport(
            name=c.name,
            aliases=list(c.aliases),
            category=c.category,
            description=c.description,
            target_market=c.target_market,
            founded=c.founded,
            headquarters=c.headquarters,
            market_share=self._market_share(c) if aspect in (None, "market_share") else None,
            pricing=self._pricing(c) if wants("pricing") else None,
            features=self._features(c) if wants("features") else None,
            strengths=list(c.strengths) if wants("strengths") else None,
            weaknesses=self._weaknesses(c) if wants("weaknesses") else None,
            news=[NewsEntry(date=n.date.isoformat(), headline=n.headline) for n in c.news] if every else None,
        )

    def _closest_plan(self, price: Decimal) -> Product:
        currency = self.book.currency
        return min(self.plans, key=lambda p: (abs(p.prices[currency] - price), p.prices[currency]))

    def _pricing(self, c: Competitor) -> PricingAspect:
        currency = self.book.currency
        tiers = []
        for tier in c.pricing:
            plan = self._closest_plan(tier.price)
            ours = plan.prices[currency]
            difference = tier.price - ours
            tiers.append(
                TierComparison(
                    tier=tier.tier,
                    price=tier.price,
                    our_plan=plan.name,
                    our_sku=plan.sku,
                    our_price=ours,
                    difference=difference,
                    difference_percent=_percent(difference, ours),
                    they_are="cheaper" if difference < 0 else "more_expensive" if difference > 0 else "same_price",
                )
            )
        return PricingAspect(currency=currency, unit=self.unit, tiers=tiers)

    def _features(self, c: Competitor) -> FeaturesAspect:
        label = self.book.catalogue.__getitem__
        return FeaturesAspect(
            they_have_we_lack=sorted(map(label, c.features - self.our_features)),
            we_have_they_lack=sorted(map(label, self.our_features - c.features)),
            shared=sorted(map(label, c.features & self.our_features)),
        )

    def _market_share(self, c: Competitor) -> MarketShareAspect:
        leader = self._ranked[0]
        return MarketShareAspect(
            market_share=c.market_share,
            rank=self._rank[c.name],
            of=len(self._ranked),
            leader=leader.name,
            gap_to_leader=round(leader.market_share - c.market_share, 1),
        )

    @staticmethod
    def _weaknesses(c: Competitor) -> WeaknessesAspect:
        return WeaknessesAspect(
            weaknesses=list(c.weaknesses), talking_points=list(c.talking_points), battlecard=c.battlecard
        )

    def _overview(self, group: list[Competitor]) -> MarketOverview:
        shares = [
            ShareEntry(name=c.name, category=c.category, market_share=c.market_share, rank=self._rank[c.name])
            for c in group
        ]
        combined = round(sum(c.market_share for c in group), 1)
        return MarketOverview(
            competitor_count=len(group),
            by_category={cat: sum(c.category == cat for c in group) for cat in CATEGORIES},
            leader=shares[0] if shares else None,
            combined_share=combined,
            other_share=round(100 - combined, 1),
            shares=shares,
        )

    def preview(self, output: CompetitorOutput) -> str:
        if output.scope == "competitor":
            return f"{output.competitors[0].name}: {output.aspect or 'profile'}"
        overview = output.overview
        assert overview is not None
        leader = f", leader {overview.leader.name} ({overview.leader.market_share}%)" if overview.leader else ""
        return f"{overview.competitor_count} competitors{leader}"


def build(backends: ToolBackends) -> CompetitorAnalysisTool:
    settings = backends.settings
    price_book = load_price_book(settings.price_book_file, load_currencies(settings.currencies_file))
    return CompetitorAnalysisTool(load_competitors(settings.competitors_file, settings.battlecards_dir), price_book)
