"""Ranked full-text search over knowledge-base chunks, inside the database.

SQLite: FTS5 with the porter stemmer, ranked by bm25() (title and heading weighted above the content).
PostgreSQL: the stored English `tsv` column through its GIN index, ranked by the number of distinct query
words matched, then ts_rank_cd() (title weight A, heading B, content C). Both receive the same sanitised
query: the words of the user's text, lower-cased, stop words dropped, OR-ed together, so that punctuation or
FTS syntax in the text can never be an error and a chunk holding more of the words ranks higher. Scores are
"higher is better" on both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from salesboost.config import DATA_DIR

STOPWORDS_FILE = DATA_DIR / "knowledge" / "stopwords_en.txt"
MAX_TERMS = 32
_WORD = re.compile(r"[^\W_]+")

# bm25 weights for the FTS5 columns (content, heading, title).
_SQLITE_SEARCH = """
SELECT c.id, c.document_id, c.title, d.source, c.heading, c.content,
       -bm25(kb_chunks_fts, 1.0, 2.0, 3.0) AS score
FROM kb_chunks_fts
JOIN kb_chunks AS c ON c.id = kb_chunks_fts.rowid
JOIN kb_documents AS d ON d.id = c.document_id
WHERE kb_chunks_fts MATCH :match {collection}
ORDER BY bm25(kb_chunks_fts, 1.0, 2.0, 3.0), c.id
LIMIT :top_k
"""
# PostgreSQL ranks without term rarity (no IDF), so common words would outweigh rare ones: chunks are ranked
# first by how many distinct query words they contain, then by ts_rank_cd (normalisation 32 keeps it in [0, 1)).
_POSTGRES_SEARCH = """
SELECT c.id, c.document_id, c.title, d.source, c.heading, c.content,
       ({coverage}) + ts_rank_cd(c.tsv, q.query, 32) AS score
FROM kb_chunks AS c
JOIN kb_documents AS d ON d.id = c.document_id
CROSS JOIN (SELECT to_tsquery('english', :match) AS query) AS q
WHERE c.tsv @@ q.query {collection}
ORDER BY score DESC, c.id
LIMIT :top_k
"""


@dataclass(frozen=True, slots=True)
class SearchHit:
    chunk_id: int
    document_id: int
    title: str
    source: str
    heading: str
    content: str
    score: float


@lru_cache(maxsize=4)
def load_stopwords(path: Path = STOPWORDS_FILE) -> frozenset[str]:
    words = (line.split("#", 1)[0] for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(w.lower() for line in words for w in line.split())


def query_terms(query: str, stopwords: frozenset[str] | None = None) -> list[str]:
    """The searchable words of a free-text query: lower-cased, without stop words or duplicates."""
    stop = load_stopwords() if stopwords is None else stopwords
    terms = dict.fromkeys(w for w in (m.group(0).lower() for m in _WORD.finditer(query)) if w not in stop)
    return list(terms)[:MAX_TERMS]


def _match_expression(terms: list[str], dialect: str) -> str:
    # Terms are runs of letters and digits only, so quoting them is enough on both engines.
    if dialect == "sqlite":
        return " OR ".join(f'"{t}"' for t in terms)
    return " | ".join(f"'{t}'" for t in terms)


async def search(session: AsyncSession, query: str, top_k: int, collection: str | None = None) -> list[SearchHit]:
    """The `top_k` best chunks for `query` (optionally within one collection), best first."""
    terms = query_terms(query)
    if not terms:
        return []
    dialect = session.get_bind().dialect.name
    params: dict[str, object] = {"match": _match_expression(terms, dialect), "top_k": top_k}
    where = ""
    if collection is not None:
        params["collection"] = collection
        where = "AND c.collection = :collection"
    if dialect == "sqlite":
        sql = _SQLITE_SEARCH.format(collection=where)
    else:
        params.update({f"t{i}": f"'{t}'" for i, t in enumerate(terms)})
        coverage = " + ".join(f"(c.tsv @@ to_tsquery('english', :t{i}))::int" for i in range(len(terms)))
        sql = _POSTGRES_SEARCH.format(collection=where, coverage=coverage)
    statement = text(sql)
    rows = await session.execute(statement, params)
    return [
        SearchHit(
            chunk_id=row.id,
            document_id=row.document_id,
            title=row.title,
            source=row.source,
            heading=row.heading,
            content=row.content,
            score=round(float(row.score), 6),
        )
        for row in rows
    ]


async def collection_exists(session: AsyncSession, collection: str) -> bool:
    found = await session.execute(
        text("SELECT 1 FROM kb_documents WHERE collection = :c LIMIT 1"), {"c": collection}
    )
    return found.first() is not None


async def collection_names(session: AsyncSession) -> list[str]:
    rows = await session.execute(text("SELECT DISTINCT collection FROM kb_documents ORDER BY collection"))
    return [row[0] for row in rows]
