"""Ranked full-text search over knowledge-base chunks, inside the database.

SQLite: FTS5 with the porter stemmer, ranked by bm25() (title and heading weighted above the content).
PostgreSQL: the stored English `tsv` column through its GIN index, ranked by the number of distinct query
words matched, then ts_rank_cd() (title weight A, heading B, content C). Both receive the same sanitised
query: the words of the user's text, lower-cased, stop words dropped, OR-ed together, so that punctuation or
FTS syntax in the text can never be an error and a chunk holding more of the words ranks higher. Scores are
"higher is better" on both.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from salesboost.config import DATA_DIR

STOPWORDS_FILE = DATA_DIR / "knowledge" / "stopwords_en.txt"
MAX_TERMS = 32
_WORD = re.compile(r"[^\W_]+")

# Ranking every chunk that holds any query word does not scale (a common word is in half the chunks), so
# the query is planned: the rarest words, as long as together they are in at most the budget's number of chunks,
# choose the candidates ("filter"), and every word ranks them ("match"). When every word is common, the
# candidates are the chunks holding all of them, or if fewer than asked, all but one of them, and so on; then
# only the first `budget` candidates found are ranked. Document frequencies are counted up to the
# budget only and remembered for a while; a stale count changes how fast a plan is, not the ranking within it.
# PostgreSQL spends about 20 µs ranking a candidate (ts_rank_cd and the coverage count), FTS5 a few µs.
CANDIDATE_BUDGET = {"sqlite": 600, "postgresql": 250}
_DF_TTL_SECONDS = 300.0
_DF_MAX_ENTRIES = 100_000

# bm25 weights for the FTS5 columns (content, heading, title).
_SQLITE_SEARCH = """
SELECT c.id, c.document_id, c.title, d.source, c.heading, c.content,
       -bm25(kb_chunks_fts, 1.0, 2.0, 3.0) AS score
FROM kb_chunks_fts
JOIN kb_chunks AS c ON c.id = kb_chunks_fts.rowid
JOIN kb_documents AS d ON d.id = c.document_id
WHERE kb_chunks_fts MATCH :match {collection} {bound}
ORDER BY bm25(kb_chunks_fts, 1.0, 2.0, 3.0), c.id
LIMIT :top_k
"""
# FTS5 ranks inside one cursor only when the candidates are a rowid range (an IN list would re-run the query
# per row), so "the first `budget` candidates" is expressed as "rowid up to the budget-th candidate's".
_SQLITE_LAST_CANDIDATE = (
    "SELECT rowid FROM kb_chunks_fts WHERE kb_chunks_fts MATCH :filter ORDER BY rowid LIMIT 1 OFFSET :offset"
)
_SQLITE_BOUND = "AND kb_chunks_fts.rowid <= :last"
_SQLITE_DF = "(SELECT count(*) FROM (SELECT rowid FROM kb_chunks_fts WHERE kb_chunks_fts MATCH :{name} LIMIT :cap))"
# PostgreSQL ranks without term rarity (no IDF), so common words would outweigh rare ones: chunks are ranked
# first by how many distinct query words they contain, then by ts_rank_cd (normalisation 32 keeps it in [0, 1)).
_POSTGRES_SEARCH = """
SELECT c.id, c.document_id, c.title, d.source, c.heading, c.content,
       ({coverage}) + ts_rank_cd(c.tsv, to_tsquery('english', :match), 32) AS score
FROM kb_chunks AS c
JOIN kb_documents AS d ON d.id = c.document_id
WHERE {candidates} {collection}
ORDER BY score DESC, c.id
LIMIT :top_k
"""
_POSTGRES_ALL = "c.tsv @@ to_tsquery('english', :match)"
_POSTGRES_BOUND = (
    "c.id IN (SELECT id FROM kb_chunks WHERE tsv @@ to_tsquery('english', :filter) LIMIT :budget)"
)
_POSTGRES_DF = (
    "(SELECT count(*) FROM (SELECT 1 FROM kb_chunks WHERE tsv @@ to_tsquery('english', :{name}) LIMIT :cap) AS s)"
)


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


def _quote(term: str, dialect: str) -> str:
    # Terms are runs of letters and digits only, so quoting them is enough on both engines.
    return f'"{term}"' if dialect == "sqlite" else f"'{term}'"


def _join(terms: list[str], dialect: str, op: str) -> str:
    symbol = {"or": " OR ", "and": " AND "} if dialect == "sqlite" else {"or": " | ", "and": " & "}
    return symbol[op].join(_quote(t, dialect) for t in terms)


class _FrequencyCache:
    """Document frequencies per database and term, counted up to a limit, for a few minutes."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[float, int, int]] = {}

    def get(self, key: tuple[str, str], limit: int) -> int | None:
        """The count, unless unknown, expired, or cut at a lower limit than this one."""
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] > _DF_TTL_SECONDS:
            return None
        _, count, counted_to = entry
        return None if count >= counted_to and limit > counted_to else min(count, limit)

    def put(self, key: tuple[str, str], count: int, limit: int) -> None:
        if len(self._entries) >= _DF_MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (time.monotonic(), count, limit)


_frequencies = _FrequencyCache()


async def _document_frequencies(session: AsyncSession, terms: list[str], budget: int) -> dict[str, int]:
    """Chunks holding each term, counted up to budget + 1 ("more than the budget")."""
    bind = session.get_bind()
    dialect, database = bind.dialect.name, str(bind.engine.url)
    limit = budget + 1
    out = {t: _frequencies.get((database, t), limit) for t in terms}
    unknown = [t for t, count in out.items() if count is None]
    if unknown:
        # One round trip for every word not counted recently.
        template = _SQLITE_DF if dialect == "sqlite" else _POSTGRES_DF
        sql = "SELECT " + ", ".join(template.format(name=f"t{i}") for i in range(len(unknown)))
        params: dict[str, object] = {f"t{i}": _quote(t, dialect) for i, t in enumerate(unknown)}
        params["cap"] = limit
        row = (await session.execute(text(sql), params)).one()
        for term, count in zip(unknown, row, strict=True):
            _frequencies.put((database, term), int(count), limit)
            out[term] = int(count)
    return {t: int(count or 0) for t, count in out.items()}


# A candidate filter: None (every chunk holding any word: few enough), ("or", rare words) or ("bounded",
# expression) for common words, of which only the first `budget` matching chunks are ranked.
Plan = tuple[str, str] | None
_QUORUM_WORDS = 6


def _quorum(words: list[str], m: int, dialect: str) -> str:
    """Chunks holding at least `m` of `words`, as an FTS expression."""
    if m >= len(words):
        return _join(words, dialect, "and")
    if m <= 1:
        return _join(words, dialect, "or")
    groups = (_join(list(c), dialect, "and") for c in itertools.combinations(words, m))
    return (" OR " if dialect == "sqlite" else " | ").join(f"({g})" for g in groups)


async def _plan(session: AsyncSession, terms: list[str], budget: int, top_k: int) -> tuple[Plan, list[str]]:
    """The candidate filter and the words that occur at all.

    The filter is None when every candidate fits the budget, ("or", rarest words) when those fit it and hold
    at least `top_k` chunks, else ("bounded", "") for the coordination levels of the common words.
    """
    frequencies = await _document_frequencies(session, terms, budget)
    present = [t for t in terms if frequencies[t] > 0]
    selective: list[str] = []
    total = 0
    for term in sorted(present, key=lambda t: (frequencies[t], terms.index(t))):
        if total + frequencies[term] > budget:
            break
        selective.append(term)
        total += frequencies[term]
    if len(selective) == len(present):
        return None, present
    if total >= top_k:
        return ("or", _join(selective, session.get_bind().dialect.name, "or")), present
    return ("bounded", ""), present


async def search(
    session: AsyncSession,
    query: str,
    top_k: int,
    collection: str | None = None,
    *,
    candidate_budget: int | None = None,
) -> list[SearchHit]:
    """The `top_k` best chunks for `query` (optionally within one collection), best first."""
    terms = query_terms(query)
    if not terms:
        return []
    dialect = session.get_bind().dialect.name
    if candidate_budget is None:
        candidate_budget = CANDIDATE_BUDGET.get(dialect, 250)
    if dialect == "postgresql":
        # Prepared statements switch to a generic plan after a few runs, and a generic plan calls to_tsquery()
        # for every candidate row; custom plans fold it into a constant (twice as fast here).
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    plan, present = await _plan(session, terms, candidate_budget, top_k)
    if plan is None or plan[0] == "or":
        return await _ranked(session, terms, plan, top_k, collection, candidate_budget)
    # Common words: chunks holding all of them first, then at least one fewer, and so on.
    words = present[:_QUORUM_WORDS]
    hits: list[SearchHit] = []
    for m in range(len(words), 0, -1):
        hits = await _ranked(
            session, terms, ("bounded", _quorum(words, m, dialect)), top_k, collection, candidate_budget
        )
        if len(hits) >= top_k:
            break
    return hits


async def _ranked(
    session: AsyncSession, terms: list[str], plan: Plan, top_k: int, collection: str | None, budget: int
) -> list[SearchHit]:
    dialect = session.get_bind().dialect.name
    everything = _join(terms, dialect, "or")
    candidates = everything if plan is None else plan[1]
    params: dict[str, object] = {"top_k": top_k, "filter": candidates, "budget": budget, "match": everything}
    where = ""
    if collection is not None:
        params["collection"] = collection
        where = "AND c.collection = :collection"
    if dialect == "sqlite":
        # Rows must be candidates; bm25 scores every word of the query.
        bound = ""
        if plan is not None:
            params["match"] = f"({candidates}) AND ({everything})"
            if plan[0] == "bounded":
                last = await session.scalar(
                    text(_SQLITE_LAST_CANDIDATE), {"filter": candidates, "offset": max(budget - 1, 0)}
                )
                if last is not None:
                    params["last"], bound = last, _SQLITE_BOUND
        sql = _SQLITE_SEARCH.format(collection=where, bound=bound)
    else:
        params.update({f"t{i}": _quote(t, dialect) for i, t in enumerate(terms)})
        coverage = " + ".join(f"(c.tsv @@ to_tsquery('english', :t{i}))::int" for i in range(len(terms)))
        bound = _POSTGRES_ALL if plan is None else _POSTGRES_BOUND
        sql = _POSTGRES_SEARCH.format(collection=where, coverage=coverage, candidates=bound)
    rows = await session.execute(text(sql), params)
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


async def refresh_statistics(session: AsyncSession) -> None:
    """Bring the planner's statistics up to date after a bulk change, so the next search is planned on them.

    PostgreSQL plans the candidate and ranking queries from table statistics, which autovacuum refreshes a
    minute or more after the change; without them a fresh table's plans can be ten times slower. FTS5 plans
    without statistics.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("ANALYZE kb_documents, kb_chunks"))


async def collection_exists(session: AsyncSession, collection: str) -> bool:
    found = await session.execute(
        text("SELECT 1 FROM kb_documents WHERE collection = :c LIMIT 1"), {"c": collection}
    )
    return found.first() is not None


async def collection_names(session: AsyncSession) -> list[str]:
    rows = await session.execute(text("SELECT DISTINCT collection FROM kb_documents ORDER BY collection"))
    return [row[0] for row in rows]
