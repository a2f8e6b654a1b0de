"""The `price_calculator` tool: `tool.py`, with the price book beside it."""

from salesboost.sales.pricing.tool import build

__all__ = ["build"]
