"""competitor_analysis through the executor: lookups, each aspect, groups, the overview and bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from harness import ok as succeeded
from harness import sales_executor

from salesboost.config import DATA_DIR, load_settings
from salesboost.sales import competitors
from salesboost.sales.competitors.profiles import CompetitorDataError, load_competitors, talking_points
from salesboost.tools.base import ToolBackends
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.result import ToolResult

BATTLECARDS = DATA_DIR / "demo" / "knowledge" / "battlecards"


@pytest.fixture
async def executor() -> AsyncIterator[ToolExecutor]:
    executor = sales_executor(ToolBackends(settings=load_settings(audit_enabled=False)), competitors.build)
    yield executor
    await executor.aclose()


async def analyse(executor: ToolExecutor, payload: dict[str, Any], role: str = "coach") -> ToolResult:
    return await executor.execute("competitor_analysis", payload, role)


async def ok(executor: ToolExecutor, payload: dict[str, Any]) -> dict[str, Any]:
    return succeeded(await analyse(executor, payload))


async def one(executor: ToolExecutor, payload: dict[str, Any]) -> dict[str, Any]:
    out = await ok(executor, payload)
    assert out["scope"] == "competitor"
    assert len(out["competitors"]) == 1
    report: dict[str, Any] = out["competitors"][0]
    return report


# --- lookup -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CompetitorA", "CompetitorA"),
        ("competitora", "CompetitorA"),
        ("COMPETITOR A", "CompetitorA"),
        ("  competitor-a ", "CompetitorA"),
        ("DealStream", "CompetitorA"),
        ("comp b", "CompetitorB"),
        ("quotalift", "CompetitorB"),
        ("Competitor_C", "CompetitorC"),
        ("MeetHub", "CompetitorC"),
    ],
)
async def test_names_are_case_insensitive_with_aliases(executor: ToolExecutor, name: str, expected: str) -> None:
    report = await one(executor, {"competitor_name": name})
    assert report["name"] == expected


async def test_unknown_competitor_lists_the_available_names(executor: ToolExecutor) -> None:
    result = await analyse(executor, {"competitor_name": "Competitor Z"})
    assert not result.ok
    assert result.error is not None
    assert result.error.code == "COMPETITOR_NOT_FOUND"
    assert result.error.details["available"] == ["CompetitorA", "CompetitorB", "CompetitorC"]
    assert "CompetitorA, CompetitorB, CompetitorC" in result.error.message


async def test_a_near_miss_gets_a_suggestion(executor: ToolExecutor) -> None:
    result = await analyse(executor, {"competitor_name": "Quotalft"})
    assert result.error is not None
    assert result.error.code == "COMPETITOR_NOT_FOUND"
    assert result.error.details["suggestions"] == ["CompetitorB"]


async def test_name_with_the_wrong_category_is_not_found(executor: ToolExecutor) -> None:
    result = await analyse(executor, {"competitor_name": "CompetitorC", "category": "direct"})
    assert result.error is not None
    assert result.error.code == "COMPETITOR_NOT_FOUND"
    assert "indirect" in result.error.message
    assert result.error.details["available"] == ["CompetitorA", "CompetitorB"]


async def test_full_profile_has_every_section(executor: ToolExecutor) -> None:
    report = await one(executor, {"competitor_name": "CompetitorA"})
    assert report["category"] == "direct"
    assert report["market_share"]["market_share"] == 35.2
    for section in ("pricing", "features", "strengths", "weaknesses", "news"):
        assert report[section], section
    dates = [n["date"] for n in report["news"]]
    assert dates == sorted(dates, reverse=True)


# --- aspects ----------------------------------------------------------------------------------------------------


async def test_pricing_compares_each_tier_with_our_closest_plan(executor: ToolExecutor) -> None:
    report = await one(executor, {"competitor_name": "CompetitorA", "aspect": "pricing"})
    assert report["features"] is None
    assert report["market_share"] is None
    pricing = report["pricing"]
    assert pricing["currency"] == "USD"
    assert pricing["unit"] == "user/month"
    rows = [(t["tier"], t["price"], t["our_sku"], t["our_price"], t["difference"], t["difference_percent"],
             t["they_are"]) for t in pricing["tiers"]]
    assert rows == [
        ("basic", "49.00", "SB-STARTER-M", "39.00", "10.00", 25.6, "more_expensive"),
        ("professional", "99.00", "SB-PRO-M", "89.00", "10.00", 11.2, "more_expensive"),
        ("enterprise", "299.00", "SB-ENT-M", "249.00", "50.00", 20.1, "more_expensive"),
    ]


async def test_pricing_of_cheaper_and_free_tiers(executor: ToolExecutor) -> None:
    b = (await one(executor, {"competitor_name": "CompetitorB", "aspect": "pricing"}))["pricing"]["tiers"]
    assert [(t["tier"], t["our_sku"], t["difference"], t["difference_percent"], t["they_are"]) for t in b] == [
        ("starter", "SB-STARTER-M", "-10.00", -25.6, "cheaper"),
        ("growth", "SB-PRO-M", "-10.00", -11.2, "cheaper"),
        ("enterprise", "SB-ENT-M", "-50.00", -20.1, "cheaper"),
    ]
    c = (await one(executor, {"competitor_name": "CompetitorC", "aspect": "pricing"}))["pricing"]["tiers"]
    # 149 is 60 from Professional (89) and 100 from Enterprise (249): the closest price wins.
    assert [(t["tier"], t["our_sku"], t["difference"], t["difference_percent"]) for t in c] == [
        ("free", "SB-STARTER-M", "-39.00", -100.0),
        ("pro", "SB-STARTER-M", "20.00", 51.3),
        ("business", "SB-PRO-M", "60.00", 67.4),
    ]


async def test_features_they_have_and_we_lack_and_the_reverse(executor: ToolExecutor) -> None:
    features = (await one(executor, {"competitor_name": "CompetitorA", "aspect": "features"}))["features"]
    assert features["they_have_we_lack"] == ["Built-in power dialer", "Pipeline forecasting"]
    assert "Real-time AI coaching during calls" in features["we_have_they_lack"]
    assert "Compliance monitoring of calls and messages" in features["we_have_they_lack"]
    assert "Built-in power dialer" not in features["shared"]
    assert "Call recording and transcripts" in features["shared"]
    assert not set(features["shared"]) & set(features["we_have_they_lack"])


async def test_weaknesses_come_with_the_battlecard_talking_points(executor: ToolExecutor) -> None:
    weaknesses = (await one(executor, {"competitor_name": "CompetitorB", "aspect": "weaknesses"}))["weaknesses"]
    card = (BATTLECARDS / "competitor-b.md").read_text(encoding="utf-8")
    assert weaknesses["battlecard"] == "competitor-b.md"
    assert weaknesses["talking_points"] == talking_points(card)
    assert len(weaknesses["talking_points"]) == 6
    assert weaknesses["talking_points"][0].startswith("CompetitorB's conversation analysis is keyword spotting")
    # A bullet that wraps onto a second line in the Markdown comes back whole.
    assert weaknesses["talking_points"][0].endswith("tell the rep what to do next.")
    assert any("keyword spotting" in w for w in weaknesses["weaknesses"])


async def test_market_share_gives_rank_and_gap(executor: ToolExecutor) -> None:
    share = (await one(executor, {"competitor_name": "CompetitorB", "aspect": "market_share"}))["market_share"]
    assert share == {"market_share": 28.5, "rank": 2, "of": 3, "leader": "CompetitorA", "gap_to_leader": 6.7}


async def test_strengths(executor: ToolExecutor) -> None:
    report = await one(executor, {"competitor_name": "CompetitorC", "aspect": "strengths"})
    assert "Built-in video meetings with recording" in report["strengths"]
    assert report["weaknesses"] is None


# --- groups and the overview -------------------------------------------------------------------------------------


async def test_category_gives_the_group(executor: ToolExecutor) -> None:
    out = await ok(executor, {"category": "direct"})
    assert out["scope"] == "category"
    assert [c["name"] for c in out["competitors"]] == ["CompetitorA", "CompetitorB"]
    assert out["overview"]["competitor_count"] == 2
    assert out["overview"]["combined_share"] == 63.7
    assert out["overview"]["leader"]["name"] == "CompetitorA"
    indirect = await ok(executor, {"category": "INDIRECT"})
    assert [c["name"] for c in indirect["competitors"]] == ["CompetitorC"]
    assert indirect["overview"]["leader"]["rank"] == 3  # its rank in the whole market


async def test_an_empty_category_is_an_empty_group(executor: ToolExecutor) -> None:
    out = await ok(executor, {"category": "potential"})
    assert out["competitors"] == []
    assert out["overview"]["competitor_count"] == 0
    assert out["overview"]["leader"] is None
    assert out["overview"]["combined_share"] == 0.0


async def test_category_with_an_aspect_gives_that_aspect_for_each(executor: ToolExecutor) -> None:
    out = await ok(executor, {"category": "direct", "aspect": "pricing"})
    assert all(c["pricing"] and c["features"] is None and c["market_share"] is None for c in out["competitors"])


async def test_market_overview(executor: ToolExecutor) -> None:
    out = await ok(executor, {})
    assert out["scope"] == "market"
    overview = out["overview"]
    assert overview["competitor_count"] == 3
    assert overview["by_category"] == {"direct": 2, "indirect": 1, "potential": 0}
    assert overview["leader"] == {"name": "CompetitorA", "category": "direct", "market_share": 35.2, "rank": 1}
    assert [(s["name"], s["market_share"], s["rank"]) for s in overview["shares"]] == [
        ("CompetitorA", 35.2, 1), ("CompetitorB", 28.5, 2), ("CompetitorC", 15.8, 3),
    ]
    assert overview["combined_share"] == 79.5
    assert overview["other_share"] == 20.5
    assert [c["pricing"] for c in out["competitors"]] == [None, None, None]


async def test_answers_are_cached(executor: ToolExecutor) -> None:
    first = await analyse(executor, {"competitor_name": "competitor a", "aspect": "pricing"})
    second = await analyse(executor, {"competitor_name": "competitor a", "aspect": "pricing"})
    assert not first.cached
    assert second.cached
    assert second.result == first.result


async def test_npc_may_not_call_it(executor: ToolExecutor) -> None:
    result = await analyse(executor, {}, role="npc")
    assert result.error is not None
    assert result.error.code == "TOOL_FORBIDDEN"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"competitor_name": ""}, "competitor_name"),
        ({"competitor_name": "!!!"}, "competitor_name"),
        ({"competitor_name": "x" * 101}, "competitor_name"),
        ({"competitor_name": 42}, "competitor_name"),
        ({"category": "adjacent"}, "category"),
        ({"aspect": "revenue"}, "aspect"),
        ({"competitor_name": "CompetitorA", "aspects": "pricing"}, "aspects"),
    ],
)
async def test_bad_input_names_the_field(executor: ToolExecutor, payload: dict[str, Any], field: str) -> None:
    result = await analyse(executor, payload)
    assert result.error is not None
    assert result.error.code == "TOOL_INPUT_INVALID"
    assert field in [e["field"] for e in result.error.details["errors"]]


# --- the data files ----------------------------------------------------------------------------------------------


def test_shipped_profiles_match_the_original() -> None:
    book = load_competitors(DATA_DIR / "demo" / "competitors.yaml", BATTLECARDS)
    facts = {
        c.name: (c.category, c.market_share, [(t.tier, int(t.price)) for t in c.pricing]) for c in book.competitors
    }
    assert facts == {
        "CompetitorA": ("direct", 35.2, [("basic", 49), ("professional", 99), ("enterprise", 299)]),
        "CompetitorB": ("direct", 28.5, [("starter", 29), ("growth", 79), ("enterprise", 199)]),
        "CompetitorC": ("indirect", 15.8, [("free", 0), ("pro", 59), ("business", 149)]),
    }
    assert all(c.talking_points and c.news and c.target_market for c in book.competitors)


def test_talking_points_parser() -> None:
    markdown = """# Card

## Talking points

- first point
  continues here
* second point
+ third

Some prose that is not a bullet.

### Detail

- a sub-section bullet still belongs to the section

## Landmines

- not a talking point
"""
    assert talking_points(markdown) == [
        "first point continues here",
        "second point",
        "third",
        "a sub-section bullet still belongs to the section",
    ]
    assert talking_points("# Card\n\n- a bullet outside the section\n") == []


def _write_book(tmp_path: Path, competitor: str, card: str = "- point\n") -> Path:
    (tmp_path / "card.md").write_text(f"# Card\n\n## Talking points\n\n{card}", encoding="utf-8")
    path = tmp_path / "competitors.yaml"
    path.write_text(
        "currency: USD\nfeature_catalogue: {crm_sync: CRM sync}\ncompetitors:\n" + competitor, encoding="utf-8"
    )
    return path


_GOOD = ("  - {name: X, aliases: [Ex], category: direct, market_share: 10, features: [crm_sync], "
         "pricing: [{tier: a, price: '5'}], strengths: [s], weaknesses: [w], battlecard: card.md}\n")


@pytest.mark.parametrize(
    ("competitor", "card", "message"),
    [
        (_GOOD.replace("[crm_sync]", "[teleport]"), "- point\n", "not in feature_catalogue"),
        (_GOOD.replace("direct", "sideways"), "- point\n", "category"),
        (_GOOD.replace("market_share: 10", "market_share: 120"), "- point\n", "market_share"),
        (_GOOD.replace("card.md", "missing.md"), "- point\n", "cannot read battlecard"),
        (_GOOD, "no bullets here\n", "no '## Talking points' bullets"),
        (_GOOD + _GOOD.replace("name: X", "name: Y"), "- point\n", "names both"),
        (_GOOD.replace("[{tier: a, price: '5'}]", "[]"), "- point\n", "pricing"),
        (_GOOD.replace("weaknesses: [w]", "weaknesses: []"), "- point\n", "weaknesses"),
    ],
)
def test_bad_competitor_data_fails_at_load(tmp_path: Path, competitor: str, card: str, message: str) -> None:
    with pytest.raises(CompetitorDataError, match=message):
        load_competitors(_write_book(tmp_path, competitor, card), tmp_path)


def test_good_minimal_competitor_data_loads(tmp_path: Path) -> None:
    book = load_competitors(_write_book(tmp_path, _GOOD), tmp_path)
    assert [(c.name, c.talking_points) for c in book.competitors] == [("X", ("point",))]
