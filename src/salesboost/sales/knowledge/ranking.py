"""What a query asks for, and the second-stage ranking of the database's best candidates by it.

The database (`search`) ranks chunks by BM25 over the query's words and their synonyms; this module then
re-scores its best `POOL` candidates in Python with what BM25 cannot see, identically on SQLite and
PostgreSQL:

- coverage: the share of the query's concepts (a word with its synonyms, weighted by rarity) a chunk holds,
  so a chunk answering every part of the question beats one repeating a single word;
- title and heading: the share of concepts found in the document's title or the section's heading;
- phrases: adjacent query words found adjacent in the chunk ("service credits", "SOC 2");
- numbers: a number of the query found as such, "15%" only as a percentage;
- diversity: each further chunk of an already ranked document counts less, so that the first results name
  several documents when several answer.

Words are compared by their Snowball English stem (PyStemmer, the stemmer of PostgreSQL's `english`
configuration, in C: about 0.2 µs a word), so plurals and other forms match ("policies", "policy"). Synonyms
come from `data/knowledge/synonyms_en.txt` and from the knowledge base's own glossary (see `glossary_pairs`).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import Stemmer
from cachetools import LRUCache

from salesboost.config import DATA_DIR

SYNONYMS_FILE = DATA_DIR / "knowledge" / "synonyms_en.txt"
# How many of the database's best chunks are re-ranked: enough to hold the answers BM25 puts just below the
# top (the development set scores the same with 15 and 30, lower with 12), few enough to cost about 1 ms.
POOL = 15
# Weights of the features, added to the BM25 score scaled to 1 for the best candidate. Tuned on the
# development set (data/eval/dev/knowledge), never on a blind one.
COVERAGE_WEIGHT = 2.0
TITLE_WEIGHT = 0.5
PHRASE_WEIGHT = 0.3
NUMBER_WEIGHT = 0.3
SYNONYM_CREDIT = 0.8  # a concept found only through a synonym counts this much
DIVERSITY = 0.7  # a document's n-th chunk in the ranking has its score multiplied by DIVERSITY ** (n - 1)
# Document frequencies are capped here before they weigh a concept: SQLite counts them only up to its
# candidate budget, and the cap keeps both engines' weights equal.
DF_CAP = 500

_WORD = re.compile(r"[^\W_]+")
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:[.,]\d+)?)\s*(%|percent\b)?", re.IGNORECASE)
_GLOSSARY_PAIR = re.compile(r"\*\*([^*()\n]{2,60}?)\s*\(([^*()\n]{2,60})\)\*\*")
_stemmer = Stemmer.Stemmer("english")


class _StemMemo(dict[str, str]):
    """Words to stems, filled as words are met: a chunk's words are then stemmed by one C-level lookup each.
    Emptied when it reaches `_MEMO_WORDS`, so a base with an endless vocabulary cannot grow it without bound."""

    def __missing__(self, word: str) -> str:
        if len(self) >= _MEMO_WORDS:
            self.clear()
        found = self[word] = str(_stemmer.stemWord(word))
        return found


_MEMO_WORDS = 200_000
_stems = _StemMemo()


def stem(word: str) -> str:
    """The Snowball English stem of a lower-case word."""
    return _stems[word]


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


Phrase = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Synonyms:
    """Groups of phrases that stand for each other, each member stemmed and as it is searched."""

    groups: tuple[dict[Phrase, str], ...]

    def expand(self, phrase: Phrase) -> dict[Phrase, str]:
        """Every member sharing a group with `phrase` (itself excluded), stemmed and as searched."""
        out: dict[Phrase, str] = {}
        for group in self.groups:
            if phrase in group:
                out.update(group)
        out.pop(phrase, None)
        return out


def _stemmed(text: str, stopwords: frozenset[str]) -> Phrase:
    return tuple(stem(w) for w in words(text) if w not in stopwords)


def parse_synonyms(lines: Iterable[str], stopwords: frozenset[str]) -> list[dict[Phrase, str]]:
    """Groups from lines of comma-separated members ('#' starts a comment); stop words in a member are
    dropped as they are from queries, so both engines search the same words."""
    groups = []
    for line in lines:
        group: dict[Phrase, str] = {}
        for member in line.split("#", 1)[0].split(","):
            kept = [w for w in words(member) if w not in stopwords]
            if kept:
                group.setdefault(tuple(stem(w) for w in kept), " ".join(kept))
        if len(group) > 1:
            groups.append(group)
    return groups


@lru_cache(maxsize=4)
def load_synonyms(path: Path, stopwords: frozenset[str]) -> tuple[dict[Phrase, str], ...]:
    return tuple(parse_synonyms(path.read_text(encoding="utf-8").splitlines(), stopwords))


def glossary_pairs(text: str) -> list[str]:
    """Synonym lines from a glossary's entries that name a term and its other form in bold:
    `**FSM (field service management)**` gives "FSM, field service management"."""
    return [f"{a}, {b}" for a, b in _GLOSSARY_PAIR.findall(text) if "," not in a + b]


@dataclass(frozen=True, slots=True)
class Concept:
    """One thing the query asks about: its own stemmed word or phrase, and the synonyms standing for it."""

    own: Phrase
    synonyms: tuple[Phrase, ...]
    weight: float


@dataclass(frozen=True, slots=True)
class Query:
    """A query analysed for re-ranking."""

    concepts: tuple[Concept, ...]
    bigrams: tuple[Phrase, ...]  # adjacent non-stop words of the query, stemmed
    numbers: tuple[tuple[str, bool], ...]  # (number, asked as a percentage)


def query_words(query: str, stopwords: frozenset[str]) -> list[str]:
    """The searchable words of a free-text query: lower-cased, without stop words or duplicates."""
    return list(dict.fromkeys(w for w in words(query) if w not in stopwords))


def synonym_terms(own: list[str], synonyms: Synonyms) -> dict[str, Phrase]:
    """The synonyms to search for the query's own words, each with the (stemmed) word or phrase it stands for."""
    out: dict[str, Phrase] = {}
    for phrase in _phrases_in(tuple(stem(w) for w in own), synonyms):
        for surface in sorted(synonyms.expand(phrase).values()):
            if surface not in own:
                out.setdefault(surface, phrase)
    return out


def _phrases_in(stems: Phrase, synonyms: Synonyms) -> list[Phrase]:
    """The query's stems and the multi-word synonym members it contains, in query order."""
    found: list[Phrase] = [(s,) for s in stems]
    for group in synonyms.groups:
        for member in group:
            if len(member) > 1 and _contains(stems, member):
                found.append(member)
    return list(dict.fromkeys(found))


def _contains(sequence: Sequence[str], phrase: Phrase) -> bool:
    n = len(phrase)
    return any(tuple(sequence[i : i + n]) == phrase for i in range(len(sequence) - n + 1))


def analyse(
    query: str, stopwords: frozenset[str], synonyms: Synonyms, frequencies: dict[str, int]
) -> Query:
    """The concepts, phrases and numbers of `query`; `frequencies` are the database's chunks per search term
    (a concept none of whose forms is in the base is left out: it cannot tell chunks apart)."""
    raw = words(query)
    stems = tuple(stem(w) for w in raw if w not in stopwords)
    stem_frequency: dict[Phrase, int] = {}
    for term, count in frequencies.items():
        key = _stemmed(term, stopwords)
        stem_frequency[key] = max(stem_frequency.get(key, 0), count)
    concepts = []
    for phrase in _phrases_in(stems, synonyms):
        others = tuple(synonyms.expand(phrase))
        # A concept is as rare as its own form; one absent from the base, as its commonest synonym.
        df = stem_frequency.get(phrase, 0) or max((stem_frequency.get(p, 0) for p in others), default=0)
        if df:
            weight = math.log(1 + DF_CAP / (min(df, DF_CAP) + 0.5))
            concepts.append(Concept(phrase, others, weight))
    bigrams = tuple(
        (stem(a), stem(b)) for a, b in itertools.pairwise(raw) if a not in stopwords and b not in stopwords
    )
    numbers = tuple(
        dict.fromkeys((m.group(1), m.group(2) is not None) for m in _NUMBER.finditer(query))
    )
    return Query(tuple(concepts), bigrams, numbers)


class Candidate(Protocol):
    """What re-ranking reads of a chunk the database found."""

    @property
    def document_id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def heading(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def score(self) -> float: ...  # the database's BM25, higher is better


@dataclass(frozen=True, slots=True)
class _Field:
    """A text's stemmed words as a set, and as one string in which a phrase is a substring, found in C rather
    than by a Python loop."""

    bag: frozenset[str]
    joined: str

    @classmethod
    def of(cls, text: str) -> _Field:
        """The field of a text, remembered: the same chunks come back as candidates query after query, and
        tokenising and stemming one costs about 45 µs (as much as the rest of its re-ranking)."""
        found = _fields.get(text)
        if found is None:
            stems = list(map(_stems.__getitem__, words(text)))
            found = _fields[text] = cls(frozenset(stems), " " + " ".join(stems) + " ")
        return found

    def __add__(self, other: _Field) -> _Field:
        # The joined strings meet at two spaces, so no phrase spans the two fields.
        return _Field(self.bag | other.bag, self.joined + other.joined)

    def has(self, phrase: Phrase) -> bool:
        if len(phrase) == 1:
            return phrase[0] in self.bag
        return " " + " ".join(phrase) + " " in self.joined


# The fields of the texts re-ranked lately, by text (a chunk re-ingested with other words is another key).
_fields: LRUCache[str, _Field] = LRUCache(maxsize=8192)


def _concept_credit(concept: Concept, field: _Field) -> float:
    if field.has(concept.own):
        return 1.0
    return SYNONYM_CREDIT if any(field.has(p) for p in concept.synonyms) else 0.0


def _number_found(number: str, percent: bool, text: str) -> bool:
    pattern = rf"(?<![\w.]){re.escape(number)}" + (r"\s*(?:%|percent\b)" if percent else r"(?![\w]|[.,]\d)")
    return re.search(pattern, text, re.IGNORECASE) is not None


def features(query: Query, candidate: Candidate) -> float:
    """The re-ranking bonus of one candidate, from 0 (nothing) up to the sum of the weights."""
    head = _Field.of(f"{candidate.title}\n{candidate.heading}")
    every = head + _Field.of(candidate.content)
    bonus = 0.0
    total = sum(c.weight for c in query.concepts)
    if total:
        bonus += COVERAGE_WEIGHT * sum(c.weight * _concept_credit(c, every) for c in query.concepts) / total
        bonus += TITLE_WEIGHT * sum(c.weight * _concept_credit(c, head) for c in query.concepts) / total
    if query.bigrams:
        bonus += PHRASE_WEIGHT * sum(every.has(b) for b in query.bigrams) / len(query.bigrams)
    if query.numbers:
        text = f"{candidate.title}\n{candidate.heading}\n{candidate.content}"
        found = sum(_number_found(n, percent, text) for n, percent in query.numbers)
        bonus += NUMBER_WEIGHT * found / len(query.numbers)
    return bonus


def rerank(query: Query, candidates: Sequence[Candidate]) -> list[tuple[int, float]]:
    """(index in `candidates`, final score) best first: BM25 scaled to the best candidate, plus the
    features, then each document's further chunks discounted."""
    if not candidates:
        return []
    best = max(c.score for c in candidates) or 1.0
    scored = sorted(
        ((i, c.score / best + features(query, c)) for i, c in enumerate(candidates)), key=lambda p: (-p[1], p[0])
    )
    seen: dict[int, int] = {}
    final = []
    for i, score in scored:
        document = candidates[i].document_id
        final.append((i, score * DIVERSITY ** seen.get(document, 0)))
        seen[document] = seen.get(document, 0) + 1
    return sorted(final, key=lambda p: (-p[1], p[0]))
