"""A tool's JSON schema, and the same tool in the formats OpenAI, Anthropic and MCP clients expect.

OpenAI's strict mode (`"strict": true`) constrains the model's decoding to a subset of JSON Schema: every object
is closed (`additionalProperties: false`) and lists all its properties in `required`, so an optional property is
made nullable, and a null from the model means "left out" (`omit_added_nulls` takes those nulls out again before
validation). The keywords outside the portable subset (lengths, bounds, patterns, formats, defaults) are left out
of the strict copy: the Input model still enforces them, and its error goes back to the model. A schema the
subset cannot express (an open object, `oneOf`, ...) is exported without strict mode, and says why.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from salesboost.tools.registry import RegisteredTool, ToolRegistry

log = logging.getLogger(__name__)

Format = Literal["openai", "openai-responses", "anthropic", "mcp"]

# What a strict schema keeps as written.
_STRICT_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "const", "description",
    "title", "$defs", "$ref",
})
# Validation and annotation keywords a strict schema leaves out (the Input model still checks them).
_DROPPED_KEYWORDS = frozenset({
    "default", "format", "pattern", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems", "examples", "deprecated", "readOnly",
    "writeOnly",
})


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


# --- OpenAI ----------------------------------------------------------------------------------------------


class NotStrictError(ValueError):
    """Why a schema cannot be expressed in OpenAI's strict subset."""


@dataclass(frozen=True, slots=True)
class OpenAIFunction:
    """A tool as an OpenAI function: strict when its schema allows, else with the reason it is not."""

    name: str
    description: str
    parameters: dict[str, Any]
    not_strict: str | None = None

    @property
    def strict(self) -> bool:
        return self.not_strict is None

    def chat_tool(self) -> dict[str, Any]:
        """A Chat Completions `tools` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name, "description": self.description, "parameters": self.parameters,
                "strict": self.strict,
            },
        }

    def responses_tool(self) -> dict[str, Any]:
        """A Responses API function tool."""
        return {
            "type": "function", "name": self.name, "description": self.description, "parameters": self.parameters,
            "strict": self.strict,
        }


def openai_function(entry: RegisteredTool) -> OpenAIFunction:
    tool = entry.tool
    schema = tool.Input.model_json_schema()
    try:
        return OpenAIFunction(tool.name, tool.description, strict_schema(schema))
    except NotStrictError as exc:
        log.info("tool %s is exported to OpenAI without strict mode: %s", tool.name, exc)
        return OpenAIFunction(tool.name, tool.description, schema, str(exc))


def to_openai(entry: RegisteredTool) -> dict[str, Any]:
    return openai_function(entry).chat_tool()


def to_openai_responses(entry: RegisteredTool) -> dict[str, Any]:
    return openai_function(entry).responses_tool()


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a pydantic JSON schema in OpenAI's strict subset, or `NotStrictError`."""
    if schema.get("type") != "object":
        raise NotStrictError("the input is not a JSON object")
    return _strict(schema, "input", schema)


def _strict(node: Mapping[str, Any], path: str, root: Mapping[str, Any]) -> dict[str, Any]:
    unknown = node.keys() - _STRICT_KEYWORDS - _DROPPED_KEYWORDS
    if unknown:
        raise NotStrictError(f"{path} uses {', '.join(sorted(unknown))}, outside the strict subset")
    out = {k: v for k, v in node.items() if k in _STRICT_KEYWORDS}
    if "$ref" in out and len(out) > 1:  # a $ref takes no sibling keywords there: its description wraps it
        out["anyOf"] = [{"$ref": out.pop("$ref")}]
    if "$defs" in out:
        out["$defs"] = {name: _strict(d, f"$defs.{name}", root) for name, d in out["$defs"].items()}
    if "anyOf" in out:
        out["anyOf"] = [_strict(branch, path, root) for branch in out["anyOf"]]
    if "items" in out:
        out["items"] = _strict(out["items"], f"{path}[]", root)
    if out.get("type") == "object" or "properties" in out:
        if node.get("additionalProperties", False) is not False:
            raise NotStrictError(f"{path} is an open object (additionalProperties), which strict mode cannot express")
        properties: Mapping[str, Any] = node.get("properties", {})
        required = set(node.get("required", ()))
        out["properties"] = {
            name: _strict_property(prop, name in required, f"{path}.{name}", root) for name, prop in properties.items()
        }
        out["required"] = list(properties)
        out["additionalProperties"] = False
    return out


def _strict_property(node: Mapping[str, Any], required: bool, path: str, root: Mapping[str, Any]) -> dict[str, Any]:
    """A property, made nullable when it is optional and null is not already one of its values."""
    out = _strict(node, path, root)
    if required or _accepts_null(node, root):
        return out
    note = "Null means the default" + (f" ({json.dumps(node['default'])})." if "default" in node else ".")
    description = out.pop("description", None)
    if isinstance(out.get("type"), str) and not out.keys() & {"enum", "const", "anyOf", "$ref"}:
        out["type"] = [out["type"], "null"]
    elif "anyOf" in out:
        out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    else:
        out = {"anyOf": [out, {"type": "null"}]}
    out["description"] = f"{description} {note}" if description else note
    return out


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """A local `#/$defs/...` reference followed (pydantic writes no other kind)."""
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return node
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part]
    return _resolve(target, root)


def _accepts_null(node: Mapping[str, Any], root: Mapping[str, Any]) -> bool:
    node = _resolve(node, root)
    kind = node.get("type")
    return (
        kind == "null"
        or (isinstance(kind, list) and "null" in kind)
        or ("const" in node and node["const"] is None)
        or None in node.get("enum", ())
        or any(_accepts_null(branch, root) for branch in node.get("anyOf", ()))
    )


def omit_added_nulls(schema: Mapping[str, Any], value: Any) -> Any:
    """Arguments written against the strict copy of `schema`, as the original reads them: a null for an optional
    property is left out, so its default applies, when null is not a value of its own there (the property does
    not accept null, or null is its default). Left out, not passed: a model may tell the fields it was given
    (`model_fields_set`; a CRM update writes only those)."""
    return _omit(schema, value, schema)


def _null_means_left_out(node: Mapping[str, Any], root: Mapping[str, Any]) -> bool:
    return ("default" in node and node["default"] is None) or not _accepts_null(node, root)


def _omit(node: Mapping[str, Any], value: Any, root: Mapping[str, Any]) -> Any:
    node = _resolve(node, root)
    branches = node.get("anyOf")
    if branches is not None:  # the branch of the value's kind (pydantic's unions: a model or a list, and null)
        wanted = "object" if isinstance(value, dict) else "array" if isinstance(value, list) else None
        for branch in branches:
            if wanted is not None and _resolve(branch, root).get("type") == wanted:
                return _omit(branch, value, root)
        return value
    if isinstance(value, dict) and "properties" in node:
        properties: Mapping[str, Any] = node["properties"]
        required = set(node.get("required", ()))
        return {
            key: item if key not in properties else _omit(properties[key], item, root)
            for key, item in value.items()
            if not (item is None and key in properties and key not in required
                    and _null_means_left_out(properties[key], root))
        }
    if isinstance(value, list) and isinstance(node.get("items"), Mapping):
        return [_omit(node["items"], item, root) for item in value]
    return value


# --- Anthropic, MCP --------------------------------------------------------------------------------------


def to_anthropic(entry: RegisteredTool) -> dict[str, Any]:
    tool = entry.tool
    return {"name": tool.name, "description": tool.description, "input_schema": tool.Input.model_json_schema()}


def to_mcp(entry: RegisteredTool) -> dict[str, Any]:
    tool, policy = entry.tool, entry.policy
    return {
        "name": tool.name,
        "description": tool.description,
        "inputSchema": tool.Input.model_json_schema(),
        "outputSchema": tool.Output.model_json_schema(),
        "annotations": {
            "readOnlyHint": policy.read_only,
            # A tool that can write may change or add records, or (open world) reach somebody for good.
            "destructiveHint": not policy.read_only,
            "idempotentHint": policy.idempotent,
            "openWorldHint": policy.open_world,
        },
    }


# --- one role's tools in one format --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Exported:
    """A tool in one format; for OpenAI, why it is not strict (None when it is, and for other formats)."""

    tool: dict[str, Any]
    not_strict: str | None = None


def export(entry: RegisteredTool, fmt: Format) -> Exported:
    if fmt == "anthropic":
        return Exported(to_anthropic(entry))
    if fmt == "mcp":
        return Exported(to_mcp(entry))
    function = openai_function(entry)
    return Exported(function.chat_tool() if fmt == "openai" else function.responses_tool(), function.not_strict)


def tools_for(registry: ToolRegistry, role: str, fmt: Format) -> list[dict[str, Any]]:
    """The tools this role may call, by name, in one format: what to hand the model."""
    return [export(entry, fmt).tool for entry in registry.list_for_role(role)]
