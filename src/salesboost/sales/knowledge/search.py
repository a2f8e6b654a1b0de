"""BM25-ranked full-text search over knowledge-base chunks, inside the database.

SQLite: FTS5 with the porter stemmer, ranked by its bm25(). PostgreSQL: the stored English `tsv` column through
its GIN index, ranked by BM25 computed in the query from the chunk's `tsv` (term frequencies, length) and the
word statistics that migration 0005 keeps in `kb_terms` and `kb_totals` (document frequencies, average length);
PostgreSQL's own ts_rank has no notion of word rarity. Both weight a word in the title 3, in the heading 2 and in
the content 1, and both receive the same sanitised query: the words of the user's text, lower-cased, stop words
dropped, with their synonyms (`ranking.synonym_terms`), OR-ed together, so that punctuation or FTS syntax in the
text can never be an error and a chunk holding more of the rare words ranks higher. The database's best `POOL`
chunks are then re-ranked in Python (`ranking.rerank`), the same way on both engines; the scores returned are
that ranking's, "higher is better".
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from cachetools import TTLCache
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from salesboost.config import DATA_DIR
from salesboost.sales.knowledge.ranking import (
    POOL,
    SYNONYMS_FILE,
    Synonyms,
    analyse,
    glossary_pairs,
    load_synonyms,
    parse_synonyms,
    query_words,
    rerank,
    stem,
    synonym_terms,
)
from salesboost.sales.knowledge.shapes import KnowledgeDocument

STOPWORDS_FILE = DATA_DIR / "knowledge" / "stopwords_en.txt"
MAX_TERMS = 32

# Ranking every chunk that holds any query word does not scale (a common word is in half the chunks), so
# the query is planned: the rarest words, as long as together they are in at most the budget's number of chunks,
# choose the candidates ("filter"), and every word ranks them ("match"). When every word is common, the
# candidates are the chunks holding all of them, or if fewer than asked, all but one of them, and so on; then
# only the first `budget` candidates found are ranked. Document frequencies are read from `kb_terms` on
# PostgreSQL; FTS5 keeps none that SQL can read, so on SQLite they are counted up to the budget only and
# remembered for a while (a stale count changes how fast a plan is, not the ranking within it). PostgreSQL
# spends about 16 µs ranking a candidate (BM25 from its tsvector), FTS5 a few µs.
CANDIDATE_BUDGET = {"sqlite": 600, "postgresql": 250}
_DF_TTL_SECONDS = 300.0
_DF_MAX_ENTRIES = 100_000

# How much an occurrence counts by where it is: FTS5 columns (content, heading, title), tsv weights C, B, A.
CONTENT_WEIGHT, HEADING_WEIGHT, TITLE_WEIGHT = 1.0, 2.0, 3.0
# BM25's term-frequency saturation and length normalisation, FTS5's constants.
BM25_K1, BM25_B = 1.2, 0.75

_BM25 = f"bm25(kb_chunks_fts, {CONTENT_WEIGHT}, {HEADING_WEIGHT}, {TITLE_WEIGHT})"
# The best rows are chosen from the index alone and only they are joined to their text: a sort that carried
# every candidate's content (up to the budget's 600) cost a fifth of the query. A collection filter needs the
# chunk row before the limit, so that search joins first.
_SQLITE_SEARCH = f"""
SELECT c.id, c.document_id, c.title, d.source, c.heading, c.content, best.score
FROM (SELECT rowid, -{_BM25} AS score FROM kb_chunks_fts
      WHERE kb_chunks_fts MATCH :match {{bound}}
      ORDER BY {_BM25}, rowid
      LIMIT :top_k) AS best
JOIN kb_chunks AS c ON c.id = best.rowid
JOIN kb_documents AS d ON d.id = c.document_id
ORDER BY best.score DESC, c.id
"""
_SQLITE_SEARCH_IN_COLLECTION = f"""
SELECT c.id, c.document_id, c.title, d.source, c.heading, c.content, -{_BM25} AS score
FROM kb_chunks_fts
JOIN kb_chunks AS c ON c.id = kb_chunks_fts.rowid
JOIN kb_documents AS d ON d.id = c.document_id
WHERE kb_chunks_fts MATCH :match AND c.collection = :collection {{bound}}
ORDER BY {_BM25}, c.id
LIMIT :top_k
"""
# FTS5 ranks inside one cursor only when the candidates are a rowid range (an IN list would re-run the query
# per row), so "the first `budget` candidates" is expressed as "rowid up to the budget-th candidate's".
_SQLITE_LAST_CANDIDATE = (
    "SELECT rowid FROM kb_chunks_fts WHERE kb_chunks_fts MATCH :filter ORDER BY rowid LIMIT 1 OFFSET :offset"
)
_SQLITE_BOUND = "AND kb_chunks_fts.rowid <= :last"
_SQLITE_DF = "(SELECT count(*) FROM (SELECT rowid FROM kb_chunks_fts WHERE kb_chunks_fts MATCH :{name} LIMIT :cap))"
# BM25 of one chunk: for each query lexeme it holds, idf × tf × (k1 + 1) / (tf + k1 × (1 − b + b × dl / avgdl)),
# where tf counts its occurrences by weight and dl is the chunk's length in distinct lexemes. The two ts_delete
# calls (C) cut the chunk's tsvector down to the query's lexemes before it is unnested: unnesting all of a
# chunk's ~90 lexemes to keep four was two thirds of a search's time. The chunk's length is read once (`l.dl`,
# kept apart by OFFSET 0), not once per lexeme: each read fetches the tsvector from TOAST again.
_POSTGRES_BM25 = f"""(
    SELECT coalesce(sum((CAST(:idf AS float8[]))[array_position(CAST(:lexemes AS text[]), u.lexeme)]
                        * t.tf * {BM25_K1 + 1}
                        / (t.tf + {BM25_K1} * ({1 - BM25_B} + {BM25_B} * l.dl / :average_length))), 0)
    FROM unnest(ts_delete(c.tsv, tsvector_to_array(ts_delete(c.tsv, CAST(:lexemes AS text[]))))) AS u
    CROSS JOIN LATERAL (
        SELECT cardinality(u.weights) + {TITLE_WEIGHT - CONTENT_WEIGHT} * cardinality(array_positions(u.weights, 'A'))
               + {HEADING_WEIGHT - CONTENT_WEIGHT} * cardinality(array_positions(u.weights, 'B')) AS tf
    ) AS t
)"""
_POSTGRES_SEARCH = f"""
SELECT c.id, c.document_id, c.title, d.source, c.heading, c.content, best.score
FROM (SELECT c.id, {_POSTGRES_BM25} AS score
      FROM kb_chunks AS c CROSS JOIN LATERAL (SELECT length(c.tsv) AS dl OFFSET 0) AS l
      WHERE {{candidates}} {{collection}}
      ORDER BY score DESC, c.id
      LIMIT :top_k) AS best
JOIN kb_chunks AS c ON c.id = best.id
JOIN kb_documents AS d ON d.id = c.document_id
ORDER BY best.score DESC, c.id
"""
# Each query word's lexemes (none for a stop word) with the chunks holding them, and the base's totals.
_POSTGRES_STATISTICS = """
SELECT q.term, l.lexeme, coalesce(t.chunks, 0) AS chunks, s.chunks AS total, s.lexemes AS total_length
FROM unnest(CAST(:terms AS text[])) AS q(term)
CROSS JOIN LATERAL unnest(tsvector_to_array(to_tsvector('english', q.term))) AS l(lexeme)
CROSS JOIN kb_totals AS s
LEFT JOIN kb_terms AS t ON t.lexeme = l.lexeme
"""
_POSTGRES_ALL = "c.tsv @@ to_tsquery('english', :match)"
_POSTGRES_BOUND = (
    "c.id IN (SELECT id FROM kb_chunks WHERE tsv @@ to_tsquery('english', :filter) LIMIT :budget)"
)


@lru_cache(maxsize=4)
def load_stopwords(path: Path = STOPWORDS_FILE) -> frozenset[str]:
    words = (line.split("#", 1)[0] for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(w.lower() for line in words for w in line.split())


# The knowledge base's own glossary, per database: the bold "term (other form)" entries of its documents
# titled or named glossary. Read once a while (a stale glossary changes which synonyms expand a query, never
# whether a search works); an ingest in this process drops it at once.
_GLOSSARY_SQL = """
SELECT c.content FROM kb_chunks AS c JOIN kb_documents AS d ON d.id = c.document_id
WHERE lower(d.title) LIKE '%glossar%' OR lower(d.source) LIKE '%glossar%'
"""
_glossaries: TTLCache[str, Synonyms] = TTLCache(maxsize=64, ttl=_DF_TTL_SECONDS)


def forget_glossaries() -> None:
    """Drop the remembered glossaries, after an ingest changed the base."""
    _glossaries.clear()


async def _synonyms(session: AsyncSession, stopwords: frozenset[str]) -> Synonyms:
    """The shipped synonyms with the base's glossary."""
    database = str(session.get_bind().engine.url)
    known = _glossaries.get(database)
    if known is None:
        contents = (await session.scalars(text(_GLOSSARY_SQL))).all()
        lines = [line for content in contents for line in glossary_pairs(content)]
        groups = load_synonyms(SYNONYMS_FILE, stopwords) + tuple(parse_synonyms(lines, stopwords))
        known = _glossaries[database] = Synonyms(groups)
    return known


def _quote(term: str, dialect: str) -> str:
    # Terms are runs of letters and digits, or such runs joined by single spaces (a synonym phrase), so quoting
    # them is enough on both engines; a quoted phrase is a phrase query on both.
    return f'"{term}"' if dialect == "sqlite" else f"'{term}'"


def _join(terms: list[str], dialect: str, op: str) -> str:
    symbol = {"or": " OR ", "and": " AND "} if dialect == "sqlite" else {"or": " | ", "and": " & "}
    return symbol[op].join(_quote(t, dialect) for t in terms)


# Document frequencies on SQLite, per database and term: (count, the limit it was counted up to).
_frequencies: TTLCache[tuple[str, str], tuple[int, int]] = TTLCache(maxsize=_DF_MAX_ENTRIES, ttl=_DF_TTL_SECONDS)


def _known_frequency(key: tuple[str, str], limit: int) -> int | None:
    """The remembered count, unless unknown, expired, or cut at a lower limit than this one."""
    entry = _frequencies.get(key)
    if entry is None:
        return None
    count, counted_to = entry
    return None if count >= counted_to and limit > counted_to else min(count, limit)


@dataclass(frozen=True, slots=True)
class _Statistics:
    """What a search is planned and (on PostgreSQL) ranked with."""

    frequencies: dict[str, int]  # chunks holding each query word; on SQLite counted only up to budget + 1
    lexemes: list[str] = field(default_factory=list)  # PostgreSQL: the words' lexemes, with their BM25 idf
    idf: list[float] = field(default_factory=list)
    average_length: float = 1.0


async def _statistics(session: AsyncSession, terms: list[str], budget: int) -> _Statistics:
    if session.get_bind().dialect.name == "postgresql":
        return await _postgres_statistics(session, terms)
    return _Statistics(await _counted_frequencies(session, terms, budget))


async def _postgres_statistics(session: AsyncSession, terms: list[str]) -> _Statistics:
    """Exact frequencies from `kb_terms`, one round trip; idf as Lucene's BM25 (never negative)."""
    rows = (await session.execute(text(_POSTGRES_STATISTICS), {"terms": terms})).all()
    frequencies = dict.fromkeys(terms, 0)
    chunks: dict[str, int] = {}
    for row in rows:
        frequencies[row.term] = max(frequencies[row.term], row.chunks)
        if row.chunks:
            chunks[row.lexeme] = row.chunks
    total, total_length = (rows[0].total, rows[0].total_length) if rows else (0, 0)
    return _Statistics(
        frequencies,
        lexemes=list(chunks),
        idf=[math.log(1 + (total - n + 0.5) / (n + 0.5)) for n in chunks.values()],
        average_length=max(total_length / total, 1.0) if total else 1.0,
    )


async def _counted_frequencies(session: AsyncSession, terms: list[str], budget: int) -> dict[str, int]:
    """Chunks holding each term, counted up to budget + 1 ("more than the budget") in FTS5."""
    database = str(session.get_bind().engine.url)
    limit = budget + 1
    out = {t: _known_frequency((database, t), limit) for t in terms}
    unknown = [t for t, count in out.items() if count is None]
    if unknown:
        # One round trip for every word not counted recently.
        sql = "SELECT " + ", ".join(_SQLITE_DF.format(name=f"t{i}") for i in range(len(unknown)))
        params: dict[str, object] = {f"t{i}": _quote(t, "sqlite") for i, t in enumerate(unknown)}
        params["cap"] = limit
        row = (await session.execute(text(sql), params)).one()
        for term, count in zip(unknown, row, strict=True):
            _frequencies[(database, term)] = (int(count), limit)
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


def _plan(frequencies: dict[str, int], terms: list[str], budget: int, top_k: int, dialect: str) -> Plan:
    """The candidate filter: None when every candidate fits the budget, ("or", rarest words) when those fit it
    and hold at least `top_k` chunks, else ("bounded", "") for the coordination levels of the common words."""
    present = [t for t in terms if frequencies[t] > 0]
    selective: list[str] = []
    total = 0
    for term in sorted(present, key=lambda t: (frequencies[t], terms.index(t))):
        if total + frequencies[term] > budget:
            break
        selective.append(term)
        total += frequencies[term]
    if len(selective) == len(present):
        return None
    if total >= top_k:
        return ("or", _join(selective, dialect, "or"))
    return ("bounded", "")


async def search(
    session: AsyncSession,
    query: str,
    top_k: int,
    collection: str | None = None,
    *,
    candidate_budget: int | None = None,
) -> list[KnowledgeDocument]:
    """The `top_k` best chunks for `query` (optionally within one collection), best first."""
    stopwords = load_stopwords()
    synonyms = await _synonyms(session, stopwords)
    own = query_words(query, stopwords)[:MAX_TERMS]
    expansions = synonym_terms(own, synonyms)
    terms = [*own, *expansions][:MAX_TERMS]
    if not terms:
        return []
    dialect = session.get_bind().dialect.name
    if candidate_budget is None:
        candidate_budget = CANDIDATE_BUDGET.get(dialect, 250)
    if dialect == "postgresql":
        # Prepared statements switch to a generic plan after a few runs, and a generic plan calls to_tsquery()
        # for every candidate row; custom plans fold it into a constant (twice as fast here).
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    statistics = await _statistics(session, terms, candidate_budget)
    # A synonym of a word already in more chunks than the budget adds candidates, not answers (and at scale,
    # work): it is searched only for rarer words. It still counts in the re-ranking.
    common = {stem(w) for w in own if statistics.frequencies[w] >= candidate_budget}
    terms = [t for t in terms if t not in expansions or not set(expansions[t]) <= common]
    plan = _plan(statistics.frequencies, terms, candidate_budget, top_k, dialect)
    pool = max(top_k, POOL)
    if plan is None or plan[0] == "or":
        hits = await _ranked(session, terms, statistics, plan, pool, collection, candidate_budget)
    else:
        # Common words: chunks holding all of them first, then at least one fewer, and so on. Only the query's
        # own words count here: a synonym is another way to say a word, not one more word to hold (unless no
        # own word is in the base).
        present = [t for t in terms if statistics.frequencies[t] > 0]
        words = ([t for t in present if t in own] or present)[:_QUORUM_WORDS]
        hits = []
        for m in range(len(words), 0, -1):
            bounded = ("bounded", _quorum(words, m, dialect))
            hits = await _ranked(session, terms, statistics, bounded, pool, collection, candidate_budget)
            if len(hits) >= top_k:
                break
    asked = analyse(query, stopwords, synonyms, statistics.frequencies)
    return [hits[i].model_copy(update={"score": round(score, 6)}) for i, score in rerank(asked, hits)[:top_k]]


async def _ranked(
    session: AsyncSession,
    terms: list[str],
    statistics: _Statistics,
    plan: Plan,
    top_k: int,
    collection: str | None,
    budget: int,
) -> list[KnowledgeDocument]:
    dialect = session.get_bind().dialect.name
    everything = _join(terms, dialect, "or")
    candidates = everything if plan is None else plan[1]
    params: dict[str, object] = {"top_k": top_k, "filter": candidates, "budget": budget, "match": everything}
    if collection is not None:
        params["collection"] = collection
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
        sql = (_SQLITE_SEARCH if collection is None else _SQLITE_SEARCH_IN_COLLECTION).format(bound=bound)
    else:
        params.update(lexemes=statistics.lexemes, idf=statistics.idf, average_length=statistics.average_length)
        bound = _POSTGRES_ALL if plan is None else _POSTGRES_BOUND
        where = "" if collection is None else "AND c.collection = :collection"
        sql = _POSTGRES_SEARCH.format(collection=where, candidates=bound)
    rows = await session.execute(text(sql), params)
    return [
        KnowledgeDocument(
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
