"""The `crm_integration` tool: `tool.py`, with the customer records, their search, phones and seeding beside it."""

from salesboost.sales.crm.tool import build

__all__ = ["build"]
