"""The `sms_outreach` tool: `tool.py`, with the outbox, its delivery and segment counting beside it."""

from salesboost.sales.sms.tool import build

__all__ = ["build"]
