"""The `compliance_check` tool: `tool.py`, with its rule pack and personal-data detectors beside it."""

from salesboost.sales.compliance.tool import build

__all__ = ["build"]
