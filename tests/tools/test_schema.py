"""The tools in OpenAI's (strict), Anthropic's and MCP's formats, from the same models: the real eight, and
small models for what strict mode cannot express."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, get_args

import pytest
from pydantic import BaseModel, Field

from salesboost.assembly import build_registry
from salesboost.config import Settings
from salesboost.tools.base import Tool, ToolBackends, ToolInput, ToolOutput, ToolPolicy
from salesboost.tools.registry import ToolRegistry
from salesboost.tools.schema import (
    Format,
    NotStrictError,
    export,
    omit_added_nulls,
    openai_function,
    strict_schema,
    to_mcp,
    to_openai,
    to_openai_responses,
    tools_for,
)
from sample_tools import EVERYONE, PERMISSIONS

# Keywords outside the portable strict subset: none may be left in a strict schema.
UNSUPPORTED = {
    "default", "format", "pattern", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "minItems", "maxItems", "oneOf", "allOf", "not",
}


@pytest.fixture
async def default_registry(settings: Settings) -> AsyncIterator[ToolRegistry]:
    registry = build_registry(settings)
    yield registry
    await registry.backends.aclose()


def schema_nodes(node: Any) -> Iterator[dict[str, Any]]:
    """Every schema object in a JSON schema (properties' values, items, branches, definitions)."""
    if isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for sub in value.values():
                    yield from schema_nodes(sub)
            elif key in ("items", "anyOf"):
                yield from schema_nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from schema_nodes(item)


def assert_strict(schema: dict[str, Any]) -> None:
    objects = 0
    for node in schema_nodes(schema):
        assert not node.keys() & UNSUPPORTED, node
        if node.get("type") == "object" or "properties" in node:
            objects += 1
            assert node["additionalProperties"] is False, node
            assert node["required"] == list(node["properties"]), node
    assert objects >= 1


async def test_every_default_tool_is_strict_and_keeps_its_meaning(default_registry: ToolRegistry) -> None:
    for entry in default_registry.list_for_role():
        function = openai_function(entry)
        assert function.strict is True, function.not_strict
        assert function.not_strict is None
        assert_strict(function.parameters)
        original = entry.tool.Input.model_json_schema()
        # The required fields stay required and non-null; the others are nullable.
        for name in original.get("required", ()):
            assert "null" not in str(function.parameters["properties"][name].get("type"))
        assert set(function.parameters["properties"]) == set(original["properties"])


async def test_a_strict_null_means_the_default(default_registry: ToolRegistry) -> None:
    compliance = default_registry.get("compliance_check")
    schema = compliance.tool.Input.model_json_schema()
    strict_args = {"text": "Hello there", "channel": None, "stage": None, "marketing": None}
    args = omit_added_nulls(schema, strict_args)
    assert args == {"text": "Hello there"}
    parsed = compliance.parse(args)
    assert parsed.channel == "chat"  # type: ignore[attr-defined]
    assert parsed.marketing is False  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="channel"):
        compliance.parse(strict_args)  # what strict mode writes would not validate as it is

    price = default_registry.get("price_calculator")
    nested = {
        "items": [{"sku": "SEAT", "name": None, "unit_price": None, "quantity": 2}],
        "discount_rate": None, "tax_rate": None, "currency": None, "roi": {"annual_benefit": 1000, "years": None},
    }
    assert omit_added_nulls(price.tool.Input.model_json_schema(), nested) == {
        "items": [{"sku": "SEAT", "quantity": 2}], "roi": {"annual_benefit": 1000},
    }
    description = openai_function(price).parameters["$defs"]["RoiInput"]["properties"]["years"]["description"]
    assert description.endswith("Null means the default (3).")


class Inner(BaseModel):
    value: int = Field(ge=0)


class OpenInput(ToolInput):
    labels: dict[str, str] = Field(default_factory=dict)


class DescribedRefInput(ToolInput):
    inner: Inner = Field(description="A nested model, described.")
    later: Inner | None = None
    limit: int | None = 5  # null is a value of its own here, not the default


class _Tool(Tool[Any, ToolOutput]):
    description = "A test tool."
    Output = ToolOutput
    policy = ToolPolicy(roles=EVERYONE)


def register(input_model: type[ToolInput], settings: Settings) -> ToolRegistry:
    registry = ToolRegistry(permissions=PERMISSIONS, backends=ToolBackends(settings=settings))
    tool = type("T", (_Tool,), {"name": "sample", "Input": input_model})()
    registry.register(tool)
    return registry


def test_an_open_object_is_exported_without_strict_mode_and_says_why(settings: Settings) -> None:
    entry = register(OpenInput, settings).get("sample")
    function = openai_function(entry)
    assert function.strict is False
    assert function.not_strict == (
        "input.labels is an open object (additionalProperties), which strict mode cannot express"
    )
    assert function.parameters == OpenInput.model_json_schema()
    exported = export(entry, "openai")
    assert exported.tool["function"]["strict"] is False
    assert exported.not_strict == function.not_strict


def test_strict_refuses_what_it_cannot_express() -> None:
    with pytest.raises(NotStrictError, match="not a JSON object"):
        strict_schema({"type": "array"})
    with pytest.raises(NotStrictError, match=r"input\.x uses oneOf"):
        strict_schema({"type": "object", "properties": {"x": {"oneOf": [{"type": "string"}]}}})


def test_a_described_reference_is_wrapped_not_merged(settings: Settings) -> None:
    parameters = openai_function(register(DescribedRefInput, settings).get("sample")).parameters
    assert_strict(parameters)
    assert parameters["properties"]["inner"] == {
        "anyOf": [{"$ref": "#/$defs/Inner"}], "description": "A nested model, described.",
    }
    assert parameters["properties"]["later"]["anyOf"] == [{"$ref": "#/$defs/Inner"}, {"type": "null"}]
    assert parameters["$defs"]["Inner"]["properties"]["value"] == {"title": "Value", "type": "integer"}
    args = {"inner": {"value": 1}, "later": None, "limit": None}
    assert omit_added_nulls(DescribedRefInput.model_json_schema(), args) == {"inner": {"value": 1}, "limit": None}


async def test_the_formats_of_one_tool(default_registry: ToolRegistry) -> None:
    sms = default_registry.get("sms_outreach")
    chat = to_openai(sms)
    assert chat["type"] == "function"
    assert set(chat["function"]) == {"name", "description", "parameters", "strict"}
    responses = to_openai_responses(sms)
    assert responses == {"type": "function", **chat["function"]}
    assert export(sms, "anthropic").tool == {
        "name": "sms_outreach", "description": sms.tool.description,
        "input_schema": sms.tool.Input.model_json_schema(),
    }
    annotations = {name: to_mcp(default_registry.get(name))["annotations"] for name in (
        "sms_outreach", "crm_integration", "knowledge_retriever",
    )}
    assert annotations["sms_outreach"] == {
        "readOnlyHint": False, "destructiveHint": True, "idempotentHint": False, "openWorldHint": True,
    }
    assert annotations["crm_integration"]["destructiveHint"] is True
    assert annotations["crm_integration"]["openWorldHint"] is False
    assert annotations["knowledge_retriever"] == {
        "readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False,
    }


async def test_a_roles_tools_in_every_format_by_name(default_registry: ToolRegistry) -> None:
    expected = [e.name for e in default_registry.list_for_role("npc")]
    assert expected == sorted(expected)
    assert "sms_outreach" not in expected
    for fmt in get_args(Format):
        tools = tools_for(default_registry, "npc", fmt)
        names = [t["function"]["name"] if fmt == "openai" else t["name"] for t in tools]
        assert names == expected
