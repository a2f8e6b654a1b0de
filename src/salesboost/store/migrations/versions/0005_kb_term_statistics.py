"""PostgreSQL: word statistics for BM25, kept in step with the knowledge chunks by triggers.

BM25 weighs each query word by its rarity, which needs every word's document frequency; PostgreSQL's full-text
search has none (ts_rank ignores rarity), and counting a common word's chunks through the GIN index costs
over 100 ms at 100,000 chunks. So `kb_terms` holds, per lexeme of the `tsv` column, the number of chunks
containing it, and the one row of `kb_totals` the number of chunks and the sum of their lengths (distinct
lexemes), for the average length. Statement-level triggers with transition tables update both once per
statement, so a 2,000-row insert costs one grouped upsert. Every trigger updates `kb_totals` first: that row
lock orders concurrent writers, so two ingests can never deadlock on `kb_terms` rows.

SQLite's FTS5 computes these statistics itself (bm25()): nothing to do there.

Revision ID: 0005_kb_term_statistics
Revises: 0004_kb_index_no_pending_list
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0005_kb_term_statistics"
down_revision = "0004_kb_index_no_pending_list"
branch_labels = None
depends_on = None

_COUNT = "SELECT lexeme, count(*) AS n FROM {rows}, unnest(tsvector_to_array({rows}.tsv)) AS lexeme GROUP BY lexeme"
_TOTALS = "SELECT count(*) AS chunks, coalesce(sum(length(tsv)), 0) AS lexemes FROM {rows}"
_FUNCTION = f"""
CREATE FUNCTION kb_terms_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE kb_totals SET chunks = 0, lexemes = 0 WHERE id = 1;
        DELETE FROM kb_terms;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE kb_totals AS t SET chunks = t.chunks - o.chunks, lexemes = t.lexemes - o.lexemes
        FROM ({_TOTALS.format(rows='old_rows')}) AS o WHERE t.id = 1;
        UPDATE kb_terms AS t SET chunks = t.chunks - o.n
        FROM ({_COUNT.format(rows='old_rows')}) AS o WHERE t.lexeme = o.lexeme;
        DELETE FROM kb_terms AS t USING ({_COUNT.format(rows='old_rows')}) AS o
        WHERE t.lexeme = o.lexeme AND t.chunks <= 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE kb_totals AS t SET chunks = t.chunks + n.chunks, lexemes = t.lexemes + n.lexemes
        FROM ({_TOTALS.format(rows='new_rows')}) AS n WHERE t.id = 1;
        INSERT INTO kb_terms AS t (lexeme, chunks)
        SELECT lexeme, n FROM ({_COUNT.format(rows='new_rows')}) AS n ORDER BY lexeme
        ON CONFLICT (lexeme) DO UPDATE SET chunks = t.chunks + excluded.chunks;
    END IF;
    RETURN NULL;
END $$
"""
_TRIGGER = (
    "CREATE TRIGGER {name} AFTER {event} ON kb_chunks {referencing} "
    "FOR EACH STATEMENT EXECUTE FUNCTION kb_terms_count()"
)
POSTGRES = (
    "CREATE TABLE kb_terms (lexeme text PRIMARY KEY, chunks integer NOT NULL)",
    "CREATE TABLE kb_totals ("
    "id smallint PRIMARY KEY CHECK (id = 1), chunks bigint NOT NULL, lexemes bigint NOT NULL)",
    # A database that has chunks already starts from their statistics.
    f"INSERT INTO kb_totals SELECT 1, chunks, lexemes FROM ({_TOTALS.format(rows='kb_chunks')}) AS a",
    f"INSERT INTO kb_terms (lexeme, chunks) {_COUNT.format(rows='kb_chunks')}",
    _FUNCTION,
    _TRIGGER.format(name="kb_terms_ai", event="INSERT", referencing="REFERENCING NEW TABLE AS new_rows"),
    _TRIGGER.format(name="kb_terms_ad", event="DELETE", referencing="REFERENCING OLD TABLE AS old_rows"),
    _TRIGGER.format(
        name="kb_terms_au", event="UPDATE", referencing="REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    ),
    _TRIGGER.format(name="kb_terms_at", event="TRUNCATE", referencing=""),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger in ("kb_terms_ai", "kb_terms_ad", "kb_terms_au", "kb_terms_at"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON kb_chunks")
        op.execute("DROP FUNCTION IF EXISTS kb_terms_count()")
        op.execute("DROP TABLE IF EXISTS kb_terms")
        op.execute("DROP TABLE IF EXISTS kb_totals")
