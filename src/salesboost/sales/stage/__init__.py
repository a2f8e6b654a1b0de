"""The `stage_classifier` tool: `tool.py`, with its features and model beside it."""

from salesboost.sales.stage.tool import build

__all__ = ["build"]
