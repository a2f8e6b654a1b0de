"""The `knowledge_retriever` tool: `tool.py`, with database search, ingestion and chunking beside it."""

from salesboost.sales.knowledge.tool import build

__all__ = ["build"]
