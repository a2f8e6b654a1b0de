"""The `competitor_analysis` tool: `tool.py`, with the competitor profiles beside it."""

from salesboost.sales.competitors.tool import build

__all__ = ["build"]
