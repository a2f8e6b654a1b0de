"""A tool's JSON schema, and the same tool in the formats OpenAI, Anthropic and MCP clients expect."""

from __future__ import annotations

from typing import Any

from salesboost.tools.registry import RegisteredTool


def tool_schema(entry: RegisteredTool) -> dict[str, Any]:
    """Everything a client needs to call the tool: schemas, policy and error codes."""
    tool, policy = entry.tool, entry.policy
    return {
        "name": tool.name,
        "description": tool.description,
        "input_schema": tool.Input.model_json_schema(),
        "output_schema": tool.Output.model_json_schema(),
        "roles": sorted(entry.roles),
        "actions": {action: sorted(roles) for action, roles in sorted(entry.action_roles.items())},
        "read_only": policy.read_only,
        "write_actions": sorted(policy.write_actions),
        "idempotent": policy.idempotent,
        "cacheable": policy.cache_ttl is not None,
        "timeout_seconds": policy.timeout,
        "error_codes": list(tool.error_codes),
        "examples": [dict(e) for e in tool.examples],
    }


def to_openai(entry: RegisteredTool) -> dict[str, Any]:
    tool = entry.tool
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.Input.model_json_schema(),
        },
    }


def to_anthropic(entry: RegisteredTool) -> dict[str, Any]:
    tool = entry.tool
    return {"name": tool.name, "description": tool.description, "input_schema": tool.Input.model_json_schema()}


def to_mcp(entry: RegisteredTool) -> dict[str, Any]:
    tool = entry.tool
    return {
        "name": tool.name,
        "description": tool.description,
        "inputSchema": tool.Input.model_json_schema(),
        "outputSchema": tool.Output.model_json_schema(),
        "annotations": {
            "readOnlyHint": entry.policy.read_only,
            "idempotentHint": entry.policy.idempotent,
            "destructiveHint": False,
        },
    }
