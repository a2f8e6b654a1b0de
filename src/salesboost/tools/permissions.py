"""The role matrix, loaded from one YAML file (`SALESBOOST_PERMISSIONS_FILE`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from salesboost.yamlfiles import load_yaml


@dataclass(frozen=True, slots=True)
class ToolPermission:
    """Roles for a whole tool, or per action (`actions` maps an action to its roles)."""

    roles: frozenset[str]
    actions: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Permissions:
    roles: frozenset[str]
    tools: Mapping[str, ToolPermission] = field(default_factory=dict)

    @classmethod
    def allow_all(cls, roles: Iterable[str]) -> Permissions:
        """Configured roles with no per-tool matrix: each tool's own policy decides."""
        return cls(roles=frozenset(roles))


class PermissionsFileError(ValueError):
    pass


def load_permissions(path: Path) -> Permissions:
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PermissionsFileError(f"cannot read permissions file {path}: {exc}") from exc
    return parse_permissions(raw, source=str(path))


def parse_permissions(raw: Any, *, source: str = "permissions") -> Permissions:
    if not isinstance(raw, dict) or not isinstance(raw.get("roles"), list) or not raw["roles"]:
        raise PermissionsFileError(f"{source}: needs a non-empty 'roles' list")
    roles = frozenset(str(r) for r in raw["roles"])
    tools: dict[str, ToolPermission] = {}
    for name, spec in (raw.get("tools") or {}).items():
        if isinstance(spec, list):
            tools[name] = ToolPermission(roles=_roles(spec, roles, f"{source}: {name}"))
        elif isinstance(spec, dict) and spec:
            actions = {a: _roles(r, roles, f"{source}: {name}.{a}") for a, r in spec.items()}
            tools[name] = ToolPermission(roles=frozenset().union(*actions.values()), actions=actions)
        else:
            raise PermissionsFileError(f"{source}: {name} needs a list of roles or a mapping of actions")
    return Permissions(roles=roles, tools=tools)


def _roles(spec: Any, known: frozenset[str], where: str) -> frozenset[str]:
    if not isinstance(spec, list):
        raise PermissionsFileError(f"{where}: needs a list of roles")
    unknown = {str(r) for r in spec} - known
    if unknown:
        raise PermissionsFileError(f"{where}: unknown roles {sorted(unknown)}")
    return frozenset(str(r) for r in spec)
