"""The `salesboost` command: call tools, migrate and seed the database, train, ingest, serve."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from salesboost.config import Settings, SettingsError, env_var_name, get_settings

app = typer.Typer(help="SalesBoost Tools: a tool-calling runtime for AI sales agents.", no_args_is_help=True)
tools_app = typer.Typer(help="Inspect the registered tools.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations and demo data.", no_args_is_help=True)
app.add_typer(tools_app, name="tools")
app.add_typer(db_app, name="db")


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(2)


@contextmanager
def _database(url: str | None = None, source: str = "") -> Iterator[None]:
    """A database (`url` given as `source`, else the configured one) that is not a database URL, does not answer,
    is not migrated (the SQLite default is, on first use), or an SQLite file whose write lock another process held
    past the busy timeout, is one line saying so, and exit 2: never a traceback. A URL that does not parse is not
    repeated: it may hold a password."""
    settings = get_settings()
    configured = env_var_name("database_url")
    # `salesboost db upgrade` migrates the configured database: a database given otherwise must be named to it.
    migrate_with = "" if url is None else f" with {configured} set to it"
    if url is None:
        url, source = settings.database_url, configured
    try:
        yield
    except Exception as exc:
        failure = _database_failure(exc, url, source, migrate_with, settings)
        if failure is None:
            raise
        raise failure from None


def _database_failure(
    exc: Exception, url: str, source: str, migrate_with: str, settings: Settings
) -> typer.Exit | None:
    """The one line of `_database` for a database's failure; None for any other error. SQLAlchemy is imported
    only here, when something failed: a call that needs no database starts without it."""
    import socket

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from salesboost.store.db import DatabaseNotMigratedError, safe_url
    from salesboost.store.schema import DatabaseBusyError

    if isinstance(exc, ArgumentError | ValueError):
        try:  # the URL's, or some other error of the command's own
            make_url(url)
        except (ArgumentError, ValueError):
            return _fail(f"{source} is not a database URL (e.g. postgresql+asyncpg://user@host/db)")
        return None
    if isinstance(exc, ConnectionError | socket.gaierror):
        return _fail(f"{safe_url(url)} does not answer: {exc}")
    if isinstance(exc, DatabaseNotMigratedError):
        return _fail(f"{exc}{migrate_with}")
    if isinstance(exc, DatabaseBusyError):
        return _fail(
            f"{safe_url(url)}: {exc} ({env_var_name('sqlite_busy_timeout')}={settings.sqlite_busy_timeout:g} s); "
            "try again"
        )
    return None


def _checked_database() -> str:
    """The configured database URL, checked as `_database` says (for commands that open sessions directly)."""
    from salesboost.assembly import check_database

    settings = get_settings()
    with _database():
        check_database(settings)
    return settings.database_url


def _with_sessions(work: Any) -> Any:
    """Run `work(sessions)` against the configured database (checked) and close it afterwards."""
    from salesboost.store.db import with_sessions

    url = _checked_database()
    with _database():
        return asyncio.run(with_sessions(url, work, busy_timeout=get_settings().sqlite_busy_timeout))


@app.callback()
def _check_settings() -> None:
    """Read the settings first, so that a bad variable is named before anything runs."""
    try:
        get_settings()
    except SettingsError as exc:
        raise _fail(str(exc)) from None


# --- tools ------------------------------------------------------------------------------------------


@tools_app.command("list")
def tools_list(
    role: Annotated[str | None, typer.Option(help="Only the tools this role may call.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the tools with their JSON schemas.")] = False,
) -> None:
    """List the registered tools."""
    from salesboost.assembly import build_registry
    from salesboost.tools.schema import tool_schema

    with _database():
        registry = build_registry(get_settings())
    if role is not None and role not in registry.roles:
        raise _fail(f"unknown role {role!r}; configured roles: {', '.join(sorted(registry.roles))}")
    entries = registry.list_for_role(role)
    if as_json:
        typer.echo(json.dumps([tool_schema(e) for e in entries], indent=2))
        return
    for entry in entries:
        policy = entry.policy
        kind = "read-only" if policy.read_only else "side-effecting"
        typer.echo(f"{entry.name:22} {kind:15} roles={','.join(sorted(entry.roles))}")
        typer.echo(f"{'':22} {entry.tool.description.splitlines()[0]}")


@app.command("call")
def call(
    name: Annotated[str, typer.Argument(help="Tool name.")],
    payload: Annotated[str, typer.Argument(help="The tool's input as a JSON object.")] = "{}",
    role: Annotated[str, typer.Option(help="The caller's role.")] = "admin",
    session_id: Annotated[str | None, typer.Option(help="Session the call belongs to.")] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Idempotency key for side-effecting calls.")] = None,
) -> None:
    """Run one tool call and print its envelope as JSON (exit 0 when ok, 1 when the call failed)."""
    try:
        data: Any = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise _fail(f"payload is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _fail("payload must be a JSON object")
    with _database():
        ok = asyncio.run(_call(name, data, role, session_id, idempotency_key))
    raise typer.Exit(0 if ok else 1)


async def _call(
    name: str, payload: dict[str, Any], role: str, session_id: str | None, idempotency_key: str | None
) -> bool:
    from salesboost.assembly import build_runtime

    runtime = build_runtime()
    try:
        result = await runtime.executor.execute(
            name, payload, role, session_id=session_id, idempotency_key=idempotency_key
        )
        typer.echo(result.model_dump_json(indent=2))  # before closing, which may fail writing the audit
    finally:
        await runtime.aclose()
    return result.ok


# --- database -----------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the Alembic migrations to the configured database."""
    from salesboost.store.db import safe_url, upgrade

    settings = get_settings()
    with _database():
        upgrade(settings.database_url, revision, busy_timeout=settings.sqlite_busy_timeout)
    typer.echo(f"database at {revision}: {safe_url(settings.database_url)}")


@db_app.command("seed")
def db_seed() -> None:
    """Load the demo data under data/demo/ (idempotent: run it as often as you like)."""
    from salesboost.assembly import seed_demo

    _checked_database()
    with _database():
        lines = asyncio.run(seed_demo(get_settings()))
    for line in lines:
        typer.echo(line)



# --- knowledge base -----------------------------------------------------------------------------------

kb_app = typer.Typer(help="Knowledge base: ingest documents, show what is stored.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")


@kb_app.command("ingest")
def kb_ingest(
    path: Annotated[str, typer.Argument(help="Folder of Markdown, text and PDF files.")],
    collection: Annotated[str, typer.Option(help="Collection (knowledge base) to ingest into.")] = "default",
    prune: Annotated[bool, typer.Option(help="Remove documents whose file is gone from the folder.")] = False,
) -> None:
    """Ingest a folder: unchanged files are skipped, changed ones re-chunked, new ones added."""
    from pathlib import Path

    from rich.progress import Progress

    from salesboost.sales.knowledge.ingest import check_collection, discover, ingest_folder

    folder = Path(path)
    try:
        check_collection(collection)
        total = len(discover(folder))
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None

    async def run(sessions: Any) -> str:
        with Progress(transient=True) as progress:
            task = progress.add_task(f"ingesting into {collection!r}", total=total)
            report = await ingest_folder(
                sessions, folder, collection, prune=prune, on_file=lambda _: progress.advance(task)
            )
        for source, error in report.failed.items():
            typer.secho(f"skipped {source}: {error}", err=True, fg=typer.colors.YELLOW)
        return report.summary()

    typer.echo(_with_sessions(run))


@kb_app.command("stats")
def kb_stats() -> None:
    """Collections with their numbers of documents and chunks."""
    from salesboost.sales.knowledge.ingest import collection_stats

    rows = _with_sessions(collection_stats)
    if not rows:
        typer.echo("the knowledge base is empty: run `salesboost kb ingest PATH`")
        return
    typer.echo(f"{'collection':30} {'documents':>10} {'chunks':>10}")
    for row in rows:
        typer.echo(f"{row.collection:30} {row.documents:>10} {row.chunks:>10}")
    typer.echo(f"{'total':30} {sum(r.documents for r in rows):>10} {sum(r.chunks for r in rows):>10}")


# --- HTTP service (issue 5) ----------------------------------------------------------------------------


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart when the code changes (development).")] = False,
    allow_demo_keys: Annotated[
        bool, typer.Option(help="Serve the public demo keys on a non-loopback host (when no keys are set).")
    ] = False,
    per_worker_state: Annotated[
        bool, typer.Option(help="With --workers N > 1 and no SALESBOOST_REDIS_URL: accept limits, cache, breakers "
                           "and events per worker (SALESBOOST_PER_WORKER_STATE).")
    ] = False,
) -> None:
    """Serve the REST API, the WebSocket, /metrics and the dashboard with uvicorn."""
    from salesboost.api import serve as serving
    from salesboost.api.auth import KeyConfigError, KeyStore

    try:  # read here too, so that a bad key source is one line, not a traceback out of the server's start-up
        KeyStore.from_settings(get_settings())
    except KeyConfigError as exc:
        raise _fail(str(exc)) from None
    refusal = serving.demo_keys_refusal(get_settings(), host, allow_demo_keys) or serving.workers_refusal(
        get_settings(), workers, per_worker_state
    )
    if refusal is not None:
        raise _fail(refusal)
    demo = serving.use_demo_keys(get_settings())
    if demo:
        typer.secho(serving.DEMO_WARNING, err=True, fg=typer.colors.YELLOW, bold=True)
        for entry in demo:
            typer.echo(f"  demo key for {entry.role:10} {entry.key}")
    url = serving.base_url(host, port)
    typer.echo(f"dashboard: {url}/dashboard   API docs: {url}/docs")
    serving.run(host, port, workers, reload, get_settings())


@app.command("mcp")
def mcp() -> None:
    """Serve the tools to one MCP client over stdio, as the API key in SALESBOOST_MCP_KEY (its role decides
    which tools the client sees). For HTTP clients, `salesboost serve` answers MCP at /mcp."""
    from salesboost.api.auth import KeyConfigError, KeyStore
    from salesboost.api.mcp import serve_stdio
    from salesboost.assembly import build_runtime

    settings = get_settings()
    try:
        keys = KeyStore.from_settings(settings)
    except KeyConfigError as exc:
        raise _fail(str(exc)) from None
    key = keys.authenticate(settings.mcp_key.get_secret_value())
    if key is None:
        raise _fail(
            "SALESBOOST_MCP_KEY is missing or not a configured API key (SALESBOOST_API_KEYS, SALESBOOST_API_KEYS_FILE)"
        )

    async def run() -> None:
        runtime = build_runtime(settings, require_idempotency_key=True)
        try:
            keys.check_roles(runtime.registry.roles)  # as the service refuses to start
            await serve_stdio(runtime.executor, key)
        finally:
            await runtime.aclose()

    with _database():
        try:
            asyncio.run(run())
        except KeyConfigError as exc:
            raise _fail(str(exc)) from None


# --- SMS outreach (issue 3) -----------------------------------------------------------------------------

sms_app = typer.Typer(help="SMS outreach: opt-outs, inbound keywords, the outbox dispatcher.", no_args_is_help=True)
app.add_typer(sms_app, name="sms")


def _e164(phone: str) -> str:
    from salesboost.sales.sms.numbers import InvalidPhoneError, recipient_e164

    try:
        return recipient_e164(phone, get_settings().phone_default_region)
    except InvalidPhoneError as exc:
        raise _fail(f"invalid phone {phone!r}: {exc}") from None


@sms_app.command("opt-out")
def sms_opt_out(phone: Annotated[str, typer.Argument(help="The number that asked to get no more texts.")]) -> None:
    """Record an opt-out: sms_outreach refuses this number from now on (SMS_OPTED_OUT)."""
    from salesboost.clock import utcnow
    from salesboost.sales.sms.inbound import opt_out

    number = _e164(phone)
    added = _with_sessions(lambda sessions: opt_out(sessions, number, utcnow(), source="cli"))
    typer.echo(f"{number} opted out" if added else f"{number} had already opted out")


@sms_app.command("opt-in")
def sms_opt_in(phone: Annotated[str, typer.Argument(help="The number that may be texted again.")]) -> None:
    """Lift an opt-out (only when the person asked for it, e.g. replied START)."""
    from salesboost.sales.sms.inbound import opt_in

    number = _e164(phone)
    removed = _with_sessions(lambda sessions: opt_in(sessions, number))
    typer.echo(f"{number} may be texted again" if removed else f"{number} had not opted out")


@sms_app.command("inbound")
def sms_inbound(
    phone: Annotated[str, typer.Argument(help="Who sent the text.")],
    body: Annotated[str, typer.Argument(help="What it said (STOP, START, ...).")],
) -> None:
    """Apply an inbound text: STOP and its synonyms opt the number out, START opts it back in, HELP is
    answered; prints the outcome and the reply to text back."""
    from salesboost.clock import utcnow
    from salesboost.sales.sms.inbound import Replies, handle_inbound

    number = _e164(phone)
    try:
        replies = Replies.load(get_settings().sms_replies_file)
    except ValueError as exc:
        raise _fail(f"{env_var_name('sms_replies_file')}: {exc}") from None
    inbound = _with_sessions(lambda sessions: handle_inbound(sessions, number, body, utcnow(), replies))
    typer.echo(f"{number}: {inbound.outcome}")
    if inbound.reply is not None:
        typer.echo(f"reply: {inbound.reply}")


@sms_app.command("status")
def sms_status(
    provider_message_id: Annotated[str, typer.Argument(help="The provider's id of the message (e.g. SM...).")],
    status: Annotated[str, typer.Argument(help="delivered, failed, undelivered or sent.")],
) -> None:
    """Record a delivery status the provider reported for a message."""
    from salesboost.clock import utcnow
    from salesboost.sales.sms.outbox import record_delivery_status

    try:
        found = _with_sessions(lambda sessions: record_delivery_status(sessions, provider_message_id, status, utcnow()))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if found is None:
        raise _fail(f"no message with provider id {provider_message_id!r}")
    typer.echo(f"{provider_message_id}: {status}")


@sms_app.command("consent")
def sms_consent(
    phone: Annotated[str, typer.Argument(help="The number that gave consent.")],
    source: Annotated[str, typer.Option(help="Where it was captured (form, signed order, ...).")],
    scope: Annotated[str, typer.Option(help="marketing or transactional.")] = "marketing",
    written: Annotated[bool, typer.Option(help="Prior express written consent (needed for marketing).")] = True,
) -> None:
    """Record a consent to SMS in the ledger (a marketing text needs written consent: SMS_NO_CONSENT)."""
    from salesboost.clock import utcnow
    from salesboost.sales.sms.consent import record_consent

    number = _e164(phone)
    try:
        _with_sessions(lambda sessions: record_consent(sessions, number, scope, f"{source} (cli)", written, utcnow()))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{number}: {'written ' if written else ''}{scope} consent recorded")


@sms_app.command("revoke-consent")
def sms_revoke_consent(
    phone: Annotated[str, typer.Argument(help="The number whose consent ends.")],
    scope: Annotated[str | None, typer.Option(help="Only marketing or transactional; all when omitted.")] = None,
) -> None:
    """Revoke a number's consents in force (they stay in the ledger, stamped revoked)."""
    from salesboost.clock import utcnow
    from salesboost.sales.sms.consent import revoke_consent

    number = _e164(phone)
    count = _with_sessions(lambda sessions: revoke_consent(sessions, number, utcnow(), "cli", scope))
    typer.echo(f"{number}: {count} consent(s) revoked")


@sms_app.command("dispatch")
def sms_dispatch(
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due now, then exit.")] = False,
) -> None:
    """Deliver the outbox through the configured provider (SALESBOOST_SMS_PROVIDER), until Ctrl-C."""
    from salesboost.sales.sms.outbox import OutboxDispatcher

    settings = get_settings()

    async def work(sessions: Any) -> str:
        dispatcher = OutboxDispatcher.from_settings(settings, sessions)
        try:
            if once:
                report = await dispatcher.run_once()
                return f"sent {report.sent}, retried {report.retried}, failed {report.failed}"
            typer.echo(f"delivering the SMS outbox through {dispatcher.provider.name!r}; Ctrl-C stops")
            await dispatcher.run_forever(settings.sms_dispatch_interval)
            return "stopped"
        finally:
            await dispatcher.aclose()

    try:
        typer.echo(_with_sessions(work))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        typer.echo("stopped")


# --- model training (issue 4) ---------------------------------------------------------------------------

train_app = typer.Typer(help="Train the models the tools load.", no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("stage-classifier")
def train_stage_classifier(
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing when a model file that loads is already there.")
    ] = False,
    data: Annotated[
        str | None, typer.Option(help="Labelled examples (JSONL), with lexicon.yaml beside them.")
    ] = None,
    output: Annotated[str | None, typer.Option(help="Where to write the model file.")] = None,
) -> None:
    """Train stage_classifier on the labelled set and print its held-out accuracy."""
    from pathlib import Path

    from salesboost.sales.stage.features import LexiconError
    from salesboost.sales.stage.model import StageModelError, load, save, train_from_files

    settings = get_settings()
    examples = Path(data) if data else settings.stage_training_data
    model_file = Path(output) if output else settings.stage_model_path
    if if_missing and model_file.is_file():
        try:
            load(model_file)
        except StageModelError as exc:  # written by another version (its classes moved): rebuild it
            typer.echo(f"rebuilding the stage classifier model: {exc}")
        else:
            typer.echo(f"stage classifier model already at {model_file}; not retraining")
            return
    try:
        model = train_from_files(examples)
    except (StageModelError, LexiconError) as exc:
        raise _fail(str(exc)) from None
    save(model, model_file)
    m = model.metrics
    assert m is not None
    typer.echo(f"trained on {m.examples} examples from {examples}")
    typer.echo(
        f"held-out ({m.held_out} examples): stage accuracy {m.stage_accuracy:.1%} (macro F1 {m.stage_macro_f1:.1%}), "
        f"intent accuracy {m.intent_accuracy:.1%} (macro F1 {m.intent_macro_f1:.1%})"
    )
    typer.echo(
        f"held-out stage accuracy with history {m.stage_accuracy_with_history:.1%}, "
        f"without {m.stage_accuracy_without_history:.1%}"
    )
    typer.echo(f"model written to {model_file}")


@train_app.command("compliance")
def train_compliance(
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing when a model file that loads is already there.")
    ] = False,
    data: Annotated[str | None, typer.Option(help="Labelled sentences (JSONL: text, label, group).")] = None,
    output: Annotated[str | None, typer.Option(help="Where to write the model file.")] = None,
) -> None:
    """Train compliance_check's sentence classifier and print its held-out precision and recall."""
    from pathlib import Path

    from salesboost.sales.compliance.model import (
        DEFAULT_DATA,
        FOLDS,
        ComplianceModelError,
        load,
        save,
        train_from_file,
    )

    examples = Path(data) if data else DEFAULT_DATA
    model_file = Path(output) if output else get_settings().compliance_model_path
    if if_missing and model_file.is_file():
        try:
            load(model_file)
        except ComplianceModelError as exc:  # written by another version: rebuild it
            typer.echo(f"rebuilding the compliance model: {exc}")
        else:
            typer.echo(f"compliance model already at {model_file}; not retraining")
            return
    try:
        model = train_from_file(examples)
    except ComplianceModelError as exc:
        raise _fail(str(exc)) from None
    save(model, model_file)
    m = model.metrics
    assert m is not None
    typer.echo(f"trained on {m.examples} sentences from {examples}")
    typer.echo(f"out of fold ({FOLDS} folds by group, unseen phrasings): accuracy {m.accuracy:.1%}")
    for category in model.flag:
        typer.echo(
            f"  {category}: precision {m.precision[category]:.1%}, recall {m.recall[category]:.1%} "
            f"(threshold {model.flag[category]:.2f})"
        )
    typer.echo(f"model written to {model_file}")


# --- evaluation (issue 14) -------------------------------------------------------------------------------

eval_app = typer.Typer(
    help="Measure compliance_check, stage_classifier or knowledge_retriever on a labelled set (default: the blind "
    "set under data/eval/blind/; formats in docs/evaluation.md).",
    no_args_is_help=True,
)
app.add_typer(eval_app, name="eval")

SetOption = Annotated[str | None, typer.Option("--set", help="The labelled set (JSONL; for knowledge, its folder).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object.")]


def _evaluate(tool: str, set_path: str | None, as_json: bool, database_url: str | None = None) -> None:
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress

    from salesboost.evaluation.knowledge import DatabaseNotEmptyError, KnowledgeSet
    from salesboost.evaluation.measure import load, measure
    from salesboost.evaluation.runner import CallFailedError
    from salesboost.evaluation.sets import SetError

    try:
        labelled = load(tool, Path(set_path) if set_path else None)
        with _database(database_url, "--database"):
            if isinstance(labelled, KnowledgeSet):
                with Progress(console=Console(stderr=True), transient=True) as progress:
                    task = progress.add_task("ingesting the corpus", total=labelled.documents)
                    report = asyncio.run(
                        measure(labelled, on_file=lambda _: progress.advance(task), database_url=database_url)
                    )
            else:
                report = asyncio.run(measure(labelled))
    except (SetError, CallFailedError, DatabaseNotEmptyError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.render())


@eval_app.command("compliance")
def eval_compliance(set_path: SetOption = None, as_json: JsonOption = False) -> None:
    """BLOCK recall, BLOCK precision and level accuracy of compliance_check, overall and per category."""
    _evaluate("compliance", set_path, as_json)


@eval_app.command("stage")
def eval_stage(set_path: SetOption = None, as_json: JsonOption = False) -> None:
    """Stage accuracy of stage_classifier: overall, with history, without history, per category."""
    _evaluate("stage", set_path, as_json)


@eval_app.command("knowledge")
def eval_knowledge(
    set_path: SetOption = None,
    as_json: JsonOption = False,
    database: Annotated[
        str | None,
        typer.Option(
            "--database", help="An empty, migrated database to measure on, by URL (migrate it with "
            "SALESBOOST_DATABASE_URL=<URL> salesboost db upgrade); the corpus stays in it. Default: a temporary "
            "SQLite file.",
        ),
    ] = None,
) -> None:
    """nDCG@5, recall@5 and MRR of knowledge_retriever on a corpus and graded questions (document level)."""
    _evaluate("knowledge", set_path, as_json, database)
