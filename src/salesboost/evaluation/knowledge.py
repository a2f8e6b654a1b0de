"""knowledge_retriever on a corpus and graded questions: nDCG@5, recall@5 and MRR at document level.

The corpus is ingested into the run's database (an empty one) by the same code as `salesboost kb ingest`. Each
question asks for the 20 best chunks (the tool's most); the chunks are mapped to their document (`source`), each
document counting at the rank of its first chunk, and the first five documents are scored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from salesboost.assembly import Runtime
from salesboost.evaluation.metrics import Latency, first_occurrences, mean, ndcg_at, recall_at, reciprocal_rank
from salesboost.evaluation.report import Report, Row
from salesboost.evaluation.runner import timed_call
from salesboost.evaluation.sets import SetError, read_set, shown
from salesboost.sales.knowledge.ingest import discover, ingest_folder
from salesboost.sales.knowledge.search import collection_names

TOOL = "knowledge_retriever"
COLLECTION = "evaluation"
FETCH = 20
CUTOFF = 5
COLUMNS = {"ndcg_at_5": "nDCG@5", "recall_at_5": "recall@5", "mrr": "MRR"}
QUERIES = "queries.jsonl"
CORPUS = "corpus"


class DatabaseNotEmptyError(RuntimeError):
    """The database given for a measurement holds a knowledge base: its documents would weigh in every word's
    statistics (BM25's rarity is counted over the whole base), so the figures would not be the set's."""


class KnowledgeQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    query: str = Field(min_length=1)
    relevant: dict[str, Annotated[int, Field(ge=1, le=3)]] = Field(min_length=1)
    category: str | None = None


@dataclass(frozen=True, slots=True)
class Scores:
    ndcg: float
    recall: float
    rr: float


def locate(path: Path) -> tuple[Path, Path]:
    """(queries file, corpus folder) of a set given as its folder or as its queries file."""
    queries = path / QUERIES if path.is_dir() else path
    corpus = queries.parent / CORPUS
    if not queries.is_file():
        raise SetError(f"{queries}: no such file (a knowledge set is a folder with {QUERIES} and {CORPUS}/)")
    if not corpus.is_dir():
        raise SetError(f"{corpus}: no such folder (the documents of {queries} go in {CORPUS}/ beside it)")
    return queries, corpus


def score(ranked: Sequence[str], grades: dict[str, int]) -> Scores:
    return Scores(ndcg_at(CUTOFF, ranked, grades), recall_at(CUTOFF, ranked, grades), reciprocal_rank(ranked, grades))


def summary(scores: Sequence[Scores]) -> dict[str, float | None]:
    return {
        "ndcg_at_5": mean([s.ndcg for s in scores]),
        "recall_at_5": mean([s.recall for s in scores]),
        "mrr": mean([s.rr for s in scores]),
    }


@dataclass(frozen=True, slots=True)
class KnowledgeSet:
    queries_file: Path
    corpus: Path
    documents: int  # files the corpus holds, for a progress bar
    items: list[tuple[int, KnowledgeQuery]]

    async def evaluate(self, runtime: Runtime, on_file: Callable[[str], None] | None = None) -> Report:
        """Ingest the corpus (`on_file` is told of each file), then ask every question."""
        backends = runtime.backends
        async with backends.sessions()() as session:
            held = await collection_names(session)
        if held:
            raise DatabaseNotEmptyError(
                f"the database holds a knowledge base already (collections: {', '.join(held)}): measure on an "
                "empty one, as its documents would count in every word's statistics"
            )
        report = await ingest_folder(
            backends.sessions(), self.corpus, COLLECTION, on_file=on_file, invalidate=backends.invalidate
        )
        if report.failed:
            source, error = next(iter(report.failed.items()))
            raise SetError(f"{self.corpus / source}: cannot be ingested: {error}")
        scores: list[Scores] = []
        by_category: dict[str, list[Scores]] = defaultdict(list)
        latencies: list[float] = []
        for line, item in self.items:
            payload = {"query": item.query, "top_k": FETCH, "kb": COLLECTION}
            result, ms = await timed_call(runtime, TOOL, payload, f"{self.queries_file}:{line}")
            ranked = first_occurrences([str(doc["source"]) for doc in result["documents"]])
            s = score(ranked, item.relevant)
            scores.append(s)
            latencies.append(ms)
            if item.category is not None:
                by_category[item.category].append(s)
        return Report(
            tool=TOOL,
            set_path=shown(self.queries_file),
            unit="questions",
            columns=COLUMNS,
            overall=Row("all", len(scores), summary(scores)),
            latency=Latency.of(latencies),
            categories=[Row(name, len(s), summary(s)) for name, s in sorted(by_category.items())],
        )


def load(path: Path) -> KnowledgeSet:
    """The questions, checked against the corpus before anything runs."""
    queries_file, corpus = locate(path)
    items = read_set(queries_file, KnowledgeQuery)
    documents = {p.relative_to(corpus).as_posix() for p in discover(corpus)}
    for line, item in items:
        unknown = sorted(set(item.relevant) - documents)
        if unknown:
            raise SetError(f"{queries_file}:{line}: relevant: not a document of {corpus}: {', '.join(unknown)}")
    return KnowledgeSet(queries_file, corpus, len(documents), items)
