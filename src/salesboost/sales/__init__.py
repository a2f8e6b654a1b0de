"""The eight sales tools. Each tool's subpackage (profile: module) exposes `build(backends) -> Tool`; this list
is what `build_default_registry` registers, in this order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from salesboost.sales import competitors, compliance, crm, knowledge, pricing, profile, sms, stage
from salesboost.tools.base import Tool, ToolBackends

ToolFactory = Callable[[ToolBackends], Tool[Any, Any]]

DEFAULT_TOOLS: tuple[ToolFactory, ...] = (
    knowledge.build, compliance.build, profile.build, pricing.build, stage.build, crm.build, sms.build,
    competitors.build,
)
