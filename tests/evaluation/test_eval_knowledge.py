"""`salesboost eval knowledge` on a fixture corpus and questions whose figures are known."""

from __future__ import annotations

import shutil
import socket
import sqlite3
from pathlib import Path

import pytest
from eval_cli import FIXTURES, eval_error, eval_json, run_eval
from sqlalchemy.engine import make_url

SET = FIXTURES / "knowledge"


def test_figures_at_document_level(database: str) -> None:
    report = eval_json("knowledge", "--set", str(SET))
    assert report["tool"] == "knowledge_retriever"
    assert report["size"] == 3
    # two questions answered first, one whose (mislabelled) document shares no word with it
    assert report["metrics"] == {
        "ndcg_at_5": pytest.approx(2 / 3, abs=1e-4),
        "recall_at_5": pytest.approx(2 / 3, abs=1e-4),
        "mrr": pytest.approx(2 / 3, abs=1e-4),
    }
    assert report["categories"]["found"] == {"size": 2, "ndcg_at_5": 1.0, "recall_at_5": 1.0, "mrr": 1.0}
    assert report["categories"]["mislabelled"] == {"size": 1, "ndcg_at_5": 0.0, "recall_at_5": 0.0, "mrr": 0.0}
    assert report["latency_ms"]["calls"] == 3
    # the corpus went into the run's own database, not the configured one
    with sqlite3.connect(str(make_url(database).database)) as db:
        assert db.execute("SELECT count(*) FROM kb_documents").fetchone() == (0,)


def test_the_queries_file_may_be_given_instead_of_the_folder() -> None:
    lines = run_eval("knowledge", "--set", str(SET / "queries.jsonl")).splitlines()
    assert lines[0].endswith("queries.jsonl (3 questions)")
    assert lines[2].split() == ["all", "3", "0.667", "0.667", "0.667"]


def test_a_relevant_document_missing_from_the_corpus(tmp_path: Path) -> None:
    shutil.copytree(SET / "corpus", tmp_path / "corpus")
    (tmp_path / "queries.jsonl").write_text(
        '{"query": "zebra", "relevant": {"zebra.md": 3}}\n{"query": "lion", "relevant": {"lion.md": 2}}\n'
    )
    line = eval_error("knowledge", "--set", str(tmp_path))
    assert "queries.jsonl:2: relevant: not a document of" in line
    assert line.endswith("lion.md")


def test_a_grade_out_of_range_and_a_set_without_corpus(tmp_path: Path) -> None:
    (tmp_path / "queries.jsonl").write_text('{"query": "zebra", "relevant": {"zebra.md": 5}}\n')
    assert "corpus: no such folder" in eval_error("knowledge", "--set", str(tmp_path))
    shutil.copytree(SET / "corpus", tmp_path / "corpus")
    assert ":1: relevant.zebra.md: Input should be less than or equal to 3" in eval_error(
        "knowledge", "--set", str(tmp_path)
    )


@pytest.mark.postgres
def test_measured_on_an_empty_postgres_database_given_for_it(postgres_url: str, database: str) -> None:
    report = eval_json("knowledge", "--set", str(SET), "--database", postgres_url)
    assert report["metrics"]["ndcg_at_5"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["categories"]["found"]["mrr"] == 1.0
    # the corpus stays where it was measured: a second run there would count its words twice, and is refused
    line = eval_error("knowledge", "--set", str(SET), "--database", postgres_url)
    assert line.endswith("measure on an empty one, as its documents would count in every word's statistics")
    assert "collections: evaluation" in line
    with sqlite3.connect(str(make_url(database).database)) as db:
        assert db.execute("SELECT count(*) FROM kb_documents").fetchone() == (0,)


@pytest.mark.postgres
def test_a_database_given_unmigrated_is_one_line(empty_postgres_url: str) -> None:
    line = eval_error("knowledge", "--set", str(SET), "--database", empty_postgres_url)
    assert line.endswith("run `salesboost db upgrade` with SALESBOOST_DATABASE_URL set to it")
    assert "has no tables yet" in line


def test_a_database_that_is_no_url_or_does_not_answer_is_one_line() -> None:
    for bad in ("nonsense", "postgresql+asyncpg://me:secret@host:port/db"):
        line = eval_error("knowledge", "--set", str(SET), "--database", bad)
        assert line == "--database is not a database URL (e.g. postgresql+asyncpg://user@host/db)"
    with socket.socket() as sock:  # a port nothing listens on once it is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/nowhere"
    assert eval_error("knowledge", "--set", str(SET), "--database", url).startswith(f"{url} does not answer: ")
