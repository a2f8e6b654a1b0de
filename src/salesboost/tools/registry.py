"""The registry: which tools exist, who may call them, and whether they are switched on.

`build_default_registry()` is a door into the composition root (`salesboost.assembly`), which the runtime
does not import: the installed package names it as its `salesboost.composition_root` entry point.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cache, partial
from importlib.metadata import PackageNotFoundError, distribution
from typing import TYPE_CHECKING, Any, Protocol, cast

from pydantic import BaseModel

from salesboost.config import Settings, get_settings
from salesboost.tools.base import Tool, ToolBackends, ToolPolicy
from salesboost.tools.errors import ToolDisabledError, ToolNotFoundError, ToolPermissionError
from salesboost.tools.permissions import Permissions

if TYPE_CHECKING:
    from salesboost.tools.parts import ExecutorParts


@dataclass(slots=True)
class RegisteredTool:
    """A tool with its policy resolved against the role matrix; what the executor works with."""

    tool: Tool[Any, Any]
    policy: ToolPolicy
    roles: frozenset[str]
    action_roles: Mapping[str, frozenset[str]]
    is_async: bool
    # pydantic-core's own entry points, bound once: `Input.model_validate` and `Output.model_dump(mode="json")`
    # do the same through a Python-level layer of keyword handling that costs 0.4 µs each per call.
    parse: Callable[[Any], BaseModel]
    dump: Callable[[BaseModel], dict[str, Any]]
    enabled: bool = True

    @property
    def name(self) -> str:
        return self.tool.name

    @property
    def input_model(self) -> type[BaseModel]:
        return self.tool.Input

    def allows(self, role: str) -> bool:
        return role in self.roles

    def action_allows(self, action: str, role: str) -> bool:
        roles = self.action_roles.get(action)
        return role in (self.roles if roles is None else roles)

    def authorize_action(self, args: BaseModel, role: str) -> None:
        """A tool with actions may give an action fewer roles than the tool: refuse the others."""
        field = self.policy.action_field
        if field is None:
            return
        action = getattr(args, field)
        if not self.action_allows(action, role):
            allowed = sorted(self.action_roles.get(action, self.roles))
            raise ToolPermissionError(
                f"role {role!r} may not use action {action!r} of {self.name}; allowed: {', '.join(allowed)}",
                details={"action": action, "allowed_roles": allowed},
            )

    def is_write(self, args: BaseModel) -> bool:
        """Whether this call changes the world (then it is never cached, nor retried without a key)."""
        policy = self.policy
        if policy.action_field is None:
            return not policy.read_only
        return getattr(args, policy.action_field) in policy.write_actions


class ToolRegistry:
    """Tools by name. Register once (a duplicate name is refused); enable or disable at run time."""

    def __init__(self, *, permissions: Permissions, backends: ToolBackends | None = None) -> None:
        self.permissions = permissions
        self.roles = permissions.roles  # the configured roles; any other is refused before a metric is touched
        self.backends = backends if backends is not None else ToolBackends(settings=get_settings())
        self._tools: dict[str, RegisteredTool] = {}

    def register(self, tool: Tool[Any, Any]) -> RegisteredTool:
        name = getattr(tool, "name", "")
        if not name or not name.isidentifier() or name.lower() != name:
            raise ValueError(f"tool name must be snake_case, got {name!r}")
        if name in self._tools:
            raise ValueError(f"a tool named {name!r} is already registered")
        for attr in ("description", "Input", "Output"):
            if not hasattr(tool, attr):
                raise ValueError(f"tool {name!r} does not declare {attr}")
        if tool.Input.model_config.get("extra") != "forbid":
            raise ValueError(f"tool {name!r}: its Input model must forbid extra fields")
        entry = self._resolve(tool)
        self._tools[name] = entry
        return entry

    def _resolve(self, tool: Tool[Any, Any]) -> RegisteredTool:
        policy = tool.policy
        matrix = self.permissions.tools.get(tool.name)
        if matrix is not None:
            roles, actions = matrix.roles, dict(matrix.actions)
        elif policy.roles is not None:
            roles, actions = policy.roles, {}
        else:
            raise ValueError(f"tool {tool.name!r} names no roles and the permissions file has none for it")
        unknown = roles - self.roles
        if unknown:
            raise ValueError(f"tool {tool.name!r} allows unknown roles {sorted(unknown)}")
        return RegisteredTool(
            tool=tool,
            policy=replace(policy, roles=roles),
            roles=roles,
            action_roles=actions,
            is_async=inspect.iscoroutinefunction(tool.run),
            parse=tool.Input.__pydantic_validator__.validate_python,
            dump=partial(tool.Output.__pydantic_serializer__.to_python, mode="json"),
        )

    def get(self, name: str) -> RegisteredTool:
        """The tool, or `ToolNotFoundError` / `ToolDisabledError`."""
        entry = self._tools.get(name)
        if entry is None:
            raise ToolNotFoundError(
                f"no tool named {name!r}; available: {', '.join(sorted(self._tools))}",
                details={"available": sorted(self._tools)},
            )
        if not entry.enabled:
            raise ToolDisabledError(f"tool {name!r} is disabled")
        return entry

    def resolve(self, name: str, role: str) -> RegisteredTool:
        """The tool, if this role may call it now; else the error a call answers (`ToolNotFoundError`,
        `ToolDisabledError`, `ToolPermissionError`). One lookup on the happy path: a tool's roles are all
        configured roles (`register` checks), so the role is known too."""
        entry = self._tools.get(name)
        if entry is None or not entry.enabled or role not in entry.roles:
            entry = self.get(name)
            self.authorize(entry, role)
        return entry

    def authorize(self, entry: RegisteredTool, role: str) -> None:
        """The role must be one of the configured roles and allowed for the tool."""
        if role not in self.roles:
            raise ToolPermissionError(f"unknown role {role!r}; configured roles: {', '.join(sorted(self.roles))}")
        if role not in entry.roles:
            raise ToolPermissionError(
                f"role {role!r} may not call {entry.name}; allowed: {', '.join(sorted(entry.roles))}",
                details={"allowed_roles": sorted(entry.roles)},
            )

    def lookup(self, name: str) -> RegisteredTool | None:
        """The tool whether enabled or not, or None (the executor's fast path)."""
        return self._tools.get(name)

    def enable(self, name: str) -> None:
        self._require(name).enabled = True

    def disable(self, name: str) -> None:
        self._require(name).enabled = False

    def _require(self, name: str) -> RegisteredTool:
        entry = self._tools.get(name)
        if entry is None:
            raise ToolNotFoundError(f"no tool named {name!r}")
        return entry

    def list_for_role(self, role: str | None = None) -> list[RegisteredTool]:
        """Enabled tools, sorted by name; with a role, only those it may call."""
        return [
            e for _, e in sorted(self._tools.items()) if e.enabled and (role is None or e.allows(role))
        ]

    def __iter__(self) -> Iterator[RegisteredTool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools


class CompositionRoot(Protocol):
    """What the runtime asks of the composition root (the module `salesboost.assembly`)."""

    def build_registry(self, settings: Settings) -> ToolRegistry: ...

    def executor_parts(self, registry: ToolRegistry) -> ExecutorParts: ...


@cache
def composition_root() -> CompositionRoot:
    """The composition root named by the installed package's entry point (group `salesboost.composition_root`)."""
    try:
        found = list(distribution("salesboost").entry_points.select(group="salesboost.composition_root"))
    except PackageNotFoundError:
        found = []
    if not found:
        raise RuntimeError(
            "salesboost is not installed, so its composition root cannot be found: run `pip install -e .` "
            "(or `make install`) in the checkout"
        )
    return cast(CompositionRoot, found[0].load())


def build_default_registry(settings: Settings | None = None) -> ToolRegistry:
    """The eight sales tools, wired to the backends the settings choose."""
    return composition_root().build_registry(settings or get_settings())
