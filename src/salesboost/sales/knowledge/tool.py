"""knowledge_retriever: ranked full-text search over the ingested knowledge base.

Documents are ingested with `salesboost kb ingest PATH` (see `knowledge.ingest`); the search itself runs in the
database (`knowledge.search`): SQLite FTS5 bm25 by default, PostgreSQL full-text search when the URL is PostgreSQL.
"""

from __future__ import annotations

from pydantic import Field

from salesboost.sales.knowledge.shapes import CACHE_TAG, COLLECTION_NAME, KnowledgeDocument
from salesboost.tools.base import StoredText, Tool, ToolBackends, ToolContext, ToolInput, ToolOutput, ToolPolicy
from salesboost.tools.errors import ToolDomainError

KB_NOT_FOUND = "KB_NOT_FOUND"


class KnowledgeInput(ToolInput):
    query: StoredText = Field(
        min_length=1, max_length=1000, description="What to look for, in plain words; at most 1000 characters."
    )
    top_k: int = Field(3, ge=1, le=20, description="How many chunks to return at most.")
    kb: str | None = Field(
        None, pattern=COLLECTION_NAME.pattern, description="Search only this collection (e.g. 'demo')."
    )


class KnowledgeOutput(ToolOutput):
    count: int
    documents: list[KnowledgeDocument]
    context: str = Field(description="The chunks joined with their sources, ready to quote in a prompt.")


def render_context(hits: list[KnowledgeDocument]) -> str:
    """Numbered chunks, each under a line naming its title, section and source file."""
    return "\n\n".join(
        f"[{i}] {h.title} — {h.heading} (source: {h.source})\n{h.content}" for i, h in enumerate(hits, start=1)
    )


class KnowledgeRetrieverTool(Tool[KnowledgeInput, KnowledgeOutput]):
    name = "knowledge_retriever"
    description = (
        "Search the sales knowledge base (product sheets, pricing policy, objection-handling playbooks, "
        "competitor battlecards, case studies, compliance policy, onboarding) by keywords. Returns the best "
        "matching passages with their source file and section, plus a ready-to-quote `context`. Use it "
        "before answering a factual question about our products, prices, policies or competitors; quote the "
        "source. count 0 means nothing matched: say so rather than guess."
    )
    Input = KnowledgeInput
    Output = KnowledgeOutput
    error_codes = (KB_NOT_FOUND,)
    examples = (
        {"query": "discount approval above 20 percent", "top_k": 3},
        {"query": "how to answer 'your product is too expensive'", "kb": "demo"},
    )

    def __init__(self, cache_ttl: float) -> None:
        self.policy = ToolPolicy(read_only=True, idempotent=True, cache_ttl=cache_ttl, timeout=10.0)

    async def run(self, args: KnowledgeInput, ctx: ToolContext) -> KnowledgeOutput:
        from salesboost.sales.knowledge.search import collection_exists, collection_names, search  # the database's

        async with ctx.backends.sessions()() as session:
            hits = await search(session, args.query, args.top_k, args.kb)
            if not hits and args.kb is not None and not await collection_exists(session, args.kb):
                available = await collection_names(session)
                raise ToolDomainError(
                    KB_NOT_FOUND,
                    f"no knowledge base named {args.kb!r}; available: {', '.join(available) or 'none'}",
                    details={"kb": args.kb, "available": available},
                )
        return KnowledgeOutput(
            count=len(hits),
            documents=hits,
            context=render_context(hits),
        )

    def cache_tags(self, args: KnowledgeInput) -> tuple[str, ...]:
        return (CACHE_TAG,)

    def preview(self, output: KnowledgeOutput) -> str:
        noun = "document" if output.count == 1 else "documents"
        return f"Found {output.count} {noun}"


def build(backends: ToolBackends) -> KnowledgeRetrieverTool:
    return KnowledgeRetrieverTool(cache_ttl=backends.settings.kb_cache_ttl)
