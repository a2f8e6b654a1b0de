"""Outputs of tools with actions: one model, but each action answers with only the keys that belong to it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import SerializerFunctionWrapHandler, model_serializer

from salesboost.tools.base import ToolOutput


class ActionOutput(ToolOutput):
    """Subclasses declare `action` and `keys_by_action`; a dump keeps `action` and that action's keys."""

    keys_by_action: ClassVar[Mapping[str, frozenset[str]]]

    @model_serializer(mode="wrap")
    def _only_this_action(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        action = data.get("action")
        keys = self.keys_by_action[str(action)]
        return {k: v for k, v in data.items() if k == "action" or k in keys}
