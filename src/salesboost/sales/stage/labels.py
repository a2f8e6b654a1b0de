"""The stages, intents and speaker roles: the tool's schema needs them, without loading the model's libraries."""

from __future__ import annotations

from typing import Literal, get_args

Stage = Literal["opening", "discovery", "presentation", "objection_handling", "closing", "follow_up"]
Intent = Literal[
    "greeting", "needs_statement", "product_inquiry", "price_inquiry", "price_objection", "competitor_comparison",
    "hesitation", "positive_feedback", "commitment", "scheduling", "other",
]
Role = Literal["seller", "customer"]
STAGES: tuple[str, ...] = get_args(Stage)
INTENTS: tuple[str, ...] = get_args(Intent)
ROLES: tuple[str, ...] = get_args(Role)
