"""Registry and role matrix."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ConfigDict

from salesboost.config import DATA_DIR
from salesboost.tools.base import ToolBackends, ToolInput, ToolPolicy
from salesboost.tools.errors import ToolDisabledError, ToolNotFoundError
from salesboost.tools.permissions import PermissionsFileError, load_permissions, parse_permissions
from salesboost.tools.registry import ToolRegistry
from salesboost.tools.schema import to_anthropic, to_mcp, to_openai, tool_schema
from sample_tools import EVERYONE, PERMISSIONS, ActionTool, EchoOutput, EchoTool


@pytest.fixture
def registry(settings: object) -> ToolRegistry:
    return ToolRegistry(permissions=PERMISSIONS, backends=ToolBackends(settings=settings))  # type: ignore[arg-type]


def test_register_get_enable_disable(registry: ToolRegistry) -> None:
    registry.register(EchoTool())
    assert "echo" in registry
    assert len(registry) == 1
    with pytest.raises(ValueError, match="already registered"):
        registry.register(EchoTool())
    registry.disable("echo")
    with pytest.raises(ToolDisabledError):
        registry.get("echo")
    assert registry.list_for_role("coach") == []
    registry.enable("echo")
    assert registry.get("echo").name == "echo"
    with pytest.raises(ToolNotFoundError, match="available: echo"):
        registry.get("nope")


def test_list_for_role_uses_the_matrix(registry: ToolRegistry) -> None:
    registry.register(EchoTool())
    registry.register(ActionTool())
    assert [e.name for e in registry.list_for_role("npc")] == ["echo"]
    assert [e.name for e in registry.list_for_role("coach")] == ["actions", "echo"]


def test_bad_tools_are_refused(registry: ToolRegistry) -> None:
    class Loose(ToolInput):
        model_config = ConfigDict(extra="ignore")

    class LooseTool(EchoTool):
        name = "loose"
        Input = Loose  # type: ignore[assignment]

    class CamelTool(EchoTool):
        name = "CamelCase"

    class NoRoles(EchoTool):
        name = "no_roles"
        policy = ToolPolicy()

    class Stranger(EchoTool):
        name = "stranger"
        policy = ToolPolicy(roles=EVERYONE | {"ghost"})

    for bad, message in [(LooseTool, "forbid"), (CamelTool, "snake_case"), (NoRoles, "names no roles"),
                         (Stranger, "unknown roles")]:
        with pytest.raises(ValueError, match=message):
            registry.register(bad())


def test_policy_rules() -> None:
    with pytest.raises(ValueError, match="only read-only"):
        ToolPolicy(read_only=False, cache_ttl=5)
    with pytest.raises(ValueError, match="action_field"):
        ToolPolicy(read_only=False, write_actions=frozenset({"x"}))
    with pytest.raises(ValueError, match="not read-only"):
        ToolPolicy(action_field="a", write_actions=frozenset({"x"}))


def test_shipped_permissions_file() -> None:
    permissions = load_permissions(DATA_DIR / "permissions.yaml")
    assert permissions.roles == {"coach", "npc", "evaluator", "sdr", "admin"}
    crm = permissions.tools["crm_integration"]
    assert crm.actions["update"] == {"sdr", "admin"}
    assert "coach" in crm.roles


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "roles"),
        ({"roles": ["a"], "tools": {"t": ["b"]}}, "unknown roles"),
        ({"roles": ["a"], "tools": {"t": 3}}, "list of roles or a mapping"),
        ({"roles": ["a"], "tools": {"t": {"x": "a"}}}, "needs a list"),
    ],
)
def test_bad_permissions(raw: object, message: str) -> None:
    with pytest.raises(PermissionsFileError, match=message):
        parse_permissions(raw)


def test_unreadable_permissions_file(tmp_path: Path) -> None:
    with pytest.raises(PermissionsFileError, match="cannot read"):
        load_permissions(tmp_path / "missing.yaml")


def test_schemas(registry: ToolRegistry) -> None:
    entry = registry.register(ActionTool())
    schema = tool_schema(entry)
    assert schema["input_schema"]["additionalProperties"] is False
    assert schema["output_schema"] == EchoOutput.model_json_schema()
    assert schema["actions"] == {"read": ["admin", "coach"], "update": ["admin"]}
    assert schema["write_actions"] == ["update"]
    assert to_openai(entry)["function"]["strict"] is True
    assert to_anthropic(entry)["input_schema"] == schema["input_schema"]
    assert to_mcp(entry)["inputSchema"] == schema["input_schema"]
    assert to_mcp(entry)["annotations"]["readOnlyHint"] is False
