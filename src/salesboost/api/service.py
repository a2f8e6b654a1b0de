"""What every route shares: the executor, the keys, session ownership; built once by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection

from salesboost.api.auth import KeyStore
from salesboost.api.sessions import SessionOwners
from salesboost.config import Settings
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.registry import RegisteredTool
from salesboost.tools.schema import Exported, Format, export, tool_schema
from salesboost.tools.warmup import Warmup


@dataclass(slots=True)
class Service:
    settings: Settings
    executor: ToolExecutor
    keys: KeyStore
    sessions: SessionOwners
    warmup: Warmup | None = None  # the tools' heavy parts, built in the background from start-up
    _schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    _exports: dict[tuple[Format, str], Exported] = field(default_factory=dict)

    def schema_of(self, entry: RegisteredTool) -> dict[str, Any]:
        """`tool_schema(entry)`, computed once per tool (JSON schema generation is not free)."""
        schema = self._schemas.get(entry.name)
        if schema is None:
            schema = self._schemas[entry.name] = tool_schema(entry)
        return schema

    def export_of(self, entry: RegisteredTool, fmt: Format) -> Exported:
        """`export(entry, fmt)`, computed once per tool and format."""
        exported = self._exports.get((fmt, entry.name))
        if exported is None:
            exported = self._exports[fmt, entry.name] = export(entry, fmt)
        return exported


def service_of(conn: HTTPConnection) -> Service:
    """The service of the app serving this request or WebSocket."""
    svc: Service = conn.app.state.service
    return svc
