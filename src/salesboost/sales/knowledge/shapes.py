"""The knowledge base's shapes, without its database: what names a collection, the tag of every cached answer,
and the document a search finds. The tool's module imports only these: the search (and SQLAlchemy with it)
is imported when a search first runs."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# Cache tag of knowledge_retriever results: ingesting drops them.
CACHE_TAG = "knowledge"


class KnowledgeDocument(BaseModel):
    """One chunk a search found: what `search` returns and what knowledge_retriever answers with."""

    chunk_id: int
    document_id: int
    title: str
    source: str = Field(description="The file's path relative to the ingested folder.")
    heading: str = Field(description="The section the chunk comes from ('Pricing policy > Discounts').")
    content: str
    score: float = Field(description="Relevance; higher is better.")
