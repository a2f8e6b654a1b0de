"""The OpenAPI document: FastAPI's, plus the request bodies the routes parse themselves, with an example of
every tool's payload (each tool's `examples`) so that `/docs` can run any tool in two clicks."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from salesboost.api.models import BatchRequest, ExecuteRequest
from salesboost.tools.registry import ToolRegistry

REF = "#/components/schemas/{model}"
EXECUTE_PATH = "/api/v1/tools/execute"
BATCH_PATH = "/api/v1/tools/execute-batch"


def _component(schemas: dict[str, Any], model: type[BaseModel]) -> dict[str, str]:
    """Add the model (and the models it uses) to the components; return a reference to it."""
    schema = model.model_json_schema(ref_template=REF)
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def tool_examples(registry: ToolRegistry) -> dict[str, dict[str, Any]]:
    """One named example body of `execute` per example payload of every enabled tool."""
    examples: dict[str, dict[str, Any]] = {}
    for entry in registry.list_for_role():
        for i, payload in enumerate(entry.tool.examples, 1):
            examples[f"{entry.name}-{i}"] = {
                "summary": f"{entry.name}: example {i}",
                "value": {"tool": entry.name, "payload": dict(payload)},
            }
    return examples


def build_openapi(app: FastAPI, registry: ToolRegistry | None) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    execute_body: dict[str, Any] = {"schema": _component(schemas, ExecuteRequest)}
    if registry is not None:
        execute_body["examples"] = tool_examples(registry)
    bodies = {EXECUTE_PATH: execute_body, BATCH_PATH: {"schema": _component(schemas, BatchRequest)}}
    for path, content in bodies.items():
        operation = schema["paths"][path]["post"]
        operation["requestBody"] = {"required": True, "content": {"application/json": content}}
    return schema


def install_openapi(app: FastAPI) -> None:
    """Replace `app.openapi` by one that knows the tools (built once start-up has made the registry)."""

    def openapi() -> dict[str, Any]:
        service = getattr(app.state, "service", None)
        registry = service.executor.registry if service is not None else None
        if app.openapi_schema is None or (registry is not None and not app.state.openapi_has_tools):
            app.openapi_schema = build_openapi(app, registry)
            app.state.openapi_has_tools = registry is not None
        return app.openapi_schema

    app.state.openapi_has_tools = False
    app.openapi = openapi  # type: ignore[method-assign]
