"""Customer search: a case-insensitive substring match, planned so that it stays fast at a million customers.

Searching for the whole query through a trigram index reads the posting list of every trigram in it, and the
common ones (`exa` of every `.example` address, `inc`, `ing`) hold most of the table: 50 to 100 ms for one
e-mail address. So a search looks the query's trigrams up in a small sample of the table (`TrigramStats`),
asks the index only for the rarest few (from different words where it can) and checks the whole query on
those candidates alone. Every customer containing the query contains those trigrams, so the answer is exact.

SQLite walks the FTS5 matches in id order and stops at `limit`. A PostgreSQL bitmap scan cannot stop early,
so when even the rarest trigram is common (say `smith`), the first ids are scanned directly first: a common
query finds its `limit` customers there, and only a rarer one goes on to the index, for the ids after them.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Integer, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from salesboost.store.customers import Customer

_TRIGRAM = re.compile(r"(?=([a-z0-9]{3}))")
_WORD = re.compile(r"[a-z0-9]{3,}")
SAMPLE_SIZE = 5_000
SAMPLE_MAX_AGE = 600.0  # seconds
MAX_TRIGRAMS = 3
# PostgreSQL: when the index would hand back more candidates than this, scan the first ids directly first.
DENSE_CANDIDATES = 5_000
DIRECT_SCAN_IDS = 2_000


def trigrams(text_: str) -> set[str]:
    """The lower-case ASCII letter-and-digit trigrams of a text (the ones both trigram indexes can look up)."""
    return set(_TRIGRAM.findall(text_))


class TrigramStats:
    """In how many sampled customers each trigram occurs: a cheap estimate of how selective a trigram is."""

    def __init__(self, texts: Iterable[str], table_size: int) -> None:
        self.counts: Counter[str] = Counter()
        self.sample_size = 0
        for value in texts:
            self.counts.update(trigrams(value))
            self.sample_size += 1
        self.table_size = table_size

    def frequency(self, trigram: str) -> float:
        """Share of customers holding the trigram (one unseen in the sample counts as half a sighting)."""
        return (self.counts.get(trigram, 0) + 0.5) / (self.sample_size + 1)

    def choose(self, query: str) -> list[str]:
        """Up to MAX_TRIGRAMS of the query's rarest trigrams: the rarest of each word first (words are less
        correlated than the trigrams of one word), then the next rarest."""

        def rarity(trigram: str) -> tuple[float, str]:
            return self.frequency(trigram), trigram

        per_word = sorted({min(trigrams(word), key=rarity) for word in _WORD.findall(query)}, key=rarity)
        others = sorted(trigrams(query) - set(per_word), key=rarity)
        return (per_word + others)[:MAX_TRIGRAMS]

    def candidates(self, chosen: Sequence[str]) -> float:
        """An upper bound, roughly, of the customers the index returns for these trigrams."""
        return min((self.frequency(t) for t in chosen), default=1.0) * self.table_size


async def sample_stats(session: AsyncSession) -> TrigramStats:
    """Trigram counts over up to SAMPLE_SIZE customers picked at random by id (cheap primary-key lookups)."""
    highest = int(await session.scalar(select(func.max(Customer.number))) or 0)
    ids = random.sample(range(1, highest + 1), min(SAMPLE_SIZE, highest))
    texts = (await session.scalars(select(Customer.search_text).where(Customer.number.in_(ids)))).all()
    return TrigramStats(texts, table_size=highest)


@dataclass(slots=True)
class CustomerSearch:
    """Plans and runs searches; keeps its trigram sample for SAMPLE_MAX_AGE seconds."""

    stats: TrigramStats | None = None
    sampled_at: float = 0.0

    async def __call__(self, session: AsyncSession, query: str, limit: int) -> Sequence[Customer]:
        """The first `limit` customers (in id order) whose name, contact, e-mail or industry contains `query`."""
        needle = query.lower()
        if self.stats is None or time.monotonic() - self.sampled_at > SAMPLE_MAX_AGE:
            self.stats = await sample_stats(session)
            self.sampled_at = time.monotonic()
        chosen = self.stats.choose(needle)
        if session.get_bind().dialect.name == "sqlite":
            return await _sqlite(session, needle, chosen, limit)
        return await _postgres(session, needle, chosen, limit, dense=self.stats.candidates(chosen) > DENSE_CANDIDATES)


def _fts_phrase(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


async def _sqlite(session: AsyncSession, needle: str, chosen: Sequence[str], limit: int) -> Sequence[Customer]:
    # No usable trigram (e.g. "a.b"): the whole query as one FTS5 phrase still narrows it down.
    match = " AND ".join(_fts_phrase(t) for t in chosen) or _fts_phrase(needle)
    hits = (
        text(
            "SELECT c.number AS n FROM customers_fts f JOIN customers c ON c.number = f.rowid "
            "WHERE customers_fts MATCH :match AND instr(c.search_text, :needle) > 0 ORDER BY f.rowid LIMIT :lim"
        )
        .bindparams(match=match, needle=needle, lim=limit)
        .columns(n=Integer)
        .subquery()
    )
    stmt = select(Customer).join(hits, Customer.number == hits.c.n).order_by(Customer.number)
    return (await session.scalars(stmt)).all()


async def _postgres(
    session: AsyncSession, needle: str, chosen: Sequence[str], limit: int, *, dense: bool
) -> Sequence[Customer]:
    contains = func.strpos(Customer.search_text, needle) > 0
    patterns: list[ColumnElement[bool]] = [Customer.search_text.like(f"%{t}%") for t in chosen]
    if not patterns:  # no usable trigram (e.g. "a.b"): the whole query as a LIKE pattern
        patterns.append(Customer.search_text.contains(needle, autoescape=True))
    # Ordered by `number + 0`, which the primary key cannot serve: otherwise the planner may walk the whole
    # table in id order hoping for an early match (0.5 s for a rare term), and a prepared statement's generic
    # plan, which cannot see the pattern, does so every time. This way it always asks the trigram index.
    indexed = select(Customer).where(*patterns, contains).order_by(Customer.number + 0).limit(limit)
    if not dense:
        return (await session.scalars(indexed)).all()
    direct = select(Customer).where(Customer.number <= DIRECT_SCAN_IDS, contains).order_by(Customer.number).limit(limit)
    # UNION ALL under a LIMIT runs lazily: the index part only runs when the direct scan found too few.
    both = direct.union_all(indexed.where(Customer.number > DIRECT_SCAN_IDS)).limit(limit)
    rows = (await session.scalars(select(Customer).from_statement(both))).all()
    return sorted(rows, key=lambda row: row.number)
