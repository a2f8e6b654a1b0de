"""API keys: where they come from, how they are checked, and the demo keys of `salesboost serve`."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from fastapi import FastAPI
from typer.testing import CliRunner

from conftest import KEYS, auth
from salesboost.api import create_app, serve
from salesboost.api.auth import KeyConfigError, KeyStore, load_key_file, parse_pairs, token_matches
from salesboost.cli import app as cli
from salesboost.config import Settings, get_settings, load_settings
from salesboost.tools.permissions import load_permissions

ROLES = frozenset({"coach", "npc", "evaluator", "sdr", "admin"})
COACH_KEY = "coach-key-aaaaaaaaaaaaaaaa"
ADMIN_KEY = "admin-key-bbbbbbbbbbbbbbbb"


def test_pairs_give_each_key_its_role_and_an_id_that_is_not_the_key() -> None:
    keys = parse_pairs(f"{COACH_KEY}:coach, {ADMIN_KEY}:admin", "SALESBOOST_API_KEYS")
    assert [k.role for k in keys] == ["coach", "admin"]
    coach = keys[0]
    assert coach.id == hashlib.sha256(COACH_KEY.encode()).hexdigest()[:12]
    assert COACH_KEY not in repr(coach)
    assert keys[1].is_admin
    assert not coach.is_admin


def test_a_key_may_contain_colons_the_role_is_after_the_last_one() -> None:
    (key,) = parse_pairs("abc:def:ghi:jklmnopqrstu:sdr", "env")
    assert key.role == "sdr"
    assert KeyStore([key]).authenticate("abc:def:ghi:jklmnopqrstu") == key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("short:coach", "at least 16 characters"),
        ("no-role-given-here-at-all", "without ':'"),
        ("a-long-enough-key-value:", "no role"),
        ("a long enough key with spaces:coach", "no spaces"),
    ],
)
def test_bad_pairs_are_refused_naming_the_source(text: str, message: str) -> None:
    with pytest.raises(KeyConfigError, match=message) as raised:
        parse_pairs(text, "SALESBOOST_API_KEYS")
    assert "SALESBOOST_API_KEYS" in str(raised.value)


def test_authenticate_finds_the_key_or_nothing() -> None:
    store = KeyStore(parse_pairs(f"{COACH_KEY}:coach,{ADMIN_KEY}:admin", "env"))
    found = store.authenticate(ADMIN_KEY)
    assert found is not None
    assert found.role == "admin"
    assert store.authenticate(ADMIN_KEY + "x") is None
    assert store.authenticate("") is None
    assert store.authenticate(None) is None


def test_the_same_key_with_two_roles_is_refused() -> None:
    with pytest.raises(KeyConfigError, match="twice"):
        KeyStore(parse_pairs(f"{COACH_KEY}:coach,{COACH_KEY}:admin", "env"))


def test_yaml_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(f"keys:\n  - key: {COACH_KEY}\n    role: coach\n    name: alice\n", encoding="utf-8")
    (key,) = load_key_file(path)
    assert (key.role, key.name) == ("coach", "alice")


def test_text_key_file_with_comments(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_text(f"# one a line\n{COACH_KEY}:coach\n\n{ADMIN_KEY}:admin\n", encoding="utf-8")
    assert [k.role for k in load_key_file(path)] == ["coach", "admin"]


@pytest.mark.parametrize(
    "content",
    ["keys: nope", "- just a list", "keys:\n  - role: coach\n", "keys:\n  - key: 12345\n    role: x\n"],
)
def test_malformed_yaml_key_file_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keys.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(KeyConfigError, match="SALESBOOST_API_KEYS_FILE"):
        load_key_file(path)


def test_missing_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match="cannot read"):
        load_key_file(tmp_path / "absent.yaml")


def test_settings_combine_the_variable_and_the_file(tmp_path: Path, sqlite_url: str) -> None:
    path = tmp_path / "keys.txt"
    path.write_text(f"{ADMIN_KEY}:admin\n", encoding="utf-8")
    settings = load_settings(database_url=sqlite_url, api_keys=f"{COACH_KEY}:coach", api_keys_file=path)
    store = KeyStore.from_settings(settings)
    assert sorted(k.role for k in store.keys) == ["admin", "coach"]


def test_an_empty_key_file_variable_means_no_file(sqlite_url: str) -> None:
    settings = load_settings(database_url=sqlite_url, api_keys=f"{COACH_KEY}:coach", api_keys_file="")
    assert [k.role for k in KeyStore.from_settings(settings).keys] == ["coach"]
    assert serve.use_demo_keys(settings) == []


def test_a_key_with_an_unknown_role_stops_start_up(sqlite_url: str) -> None:
    store = KeyStore(parse_pairs(f"{COACH_KEY}:ghost", "env"))
    with pytest.raises(KeyConfigError, match="configured roles"):
        store.check_roles(ROLES)


async def test_the_app_refuses_to_start_with_an_unknown_role(sqlite_url: str) -> None:
    app = create_app(load_settings(database_url=sqlite_url, api_keys=f"{COACH_KEY}:ghost"))
    with pytest.raises(KeyConfigError, match="ghost"):
        async with app.router.lifespan_context(app):
            pass


def test_token_matches() -> None:
    assert token_matches("s3cret", "s3cret")
    assert not token_matches("s3cret!", "s3cret")
    assert not token_matches(None, "s3cret")


def test_the_demo_key_file_has_one_valid_key_per_configured_role(settings: Settings) -> None:
    keys = load_key_file(serve.DEMO_KEYS_FILE)
    roles = load_permissions(settings.permissions_file).roles
    assert sorted(k.role for k in keys) == sorted(roles)
    KeyStore(keys).check_roles(roles)


# --- salesboost serve ----------------------------------------------------------------------------------


@pytest.fixture
def no_key_settings(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    """No key source configured; whatever `serve` puts in os.environ is undone after the test."""
    for name in ("SALESBOOST_API_KEYS", "SALESBOOST_API_KEYS_FILE"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("SALESBOOST_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()


@pytest.mark.usefixtures("no_key_settings")
def test_serve_without_keys_uses_the_demo_keys_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[str, int, int, bool]] = []
    monkeypatch.setattr(
        serve, "run", lambda host, port, workers, reload, settings: started.append((host, port, workers, reload))
    )
    monkeypatch.setenv("SALESBOOST_REDIS_URL", "redis://127.0.0.1:6379/15")  # workers share state (not reached)
    result = CliRunner().invoke(cli, ["serve", "--port", "8123", "--workers", "2"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert started == [("127.0.0.1", 8123, 2, False)]
    assert "DEMO keys" in result.output
    assert "http://127.0.0.1:8123/dashboard" in result.output
    for entry in load_key_file(serve.DEMO_KEYS_FILE):
        assert f"demo key for {entry.role}" in result.output
    assert "demo-admin-" in result.output


def serve_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Result, list[str]]:
    """`salesboost serve ARGS` with the server itself stubbed out: its output and the hosts it would serve on."""
    started: list[str] = []
    monkeypatch.setattr(serve, "run", lambda host, *rest: started.append(host))
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["serve", *args])
    get_settings.cache_clear()
    return result, started


def refusal_line(result: Result, started: list[str]) -> str:
    """The one line of a refused start."""
    assert result.exit_code == 2
    assert started == []
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


@pytest.mark.usefixtures("no_key_settings")
def test_serve_with_keys_configured_prints_no_demo_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESBOOST_API_KEYS", f"{COACH_KEY}:coach")
    get_settings.cache_clear()
    monkeypatch.setattr(serve, "run", lambda *args: None)
    result = CliRunner().invoke(cli, ["serve"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "DEMO" not in result.output
    assert "demo-" not in result.output


@pytest.mark.usefixtures("no_key_settings")
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "example.com"])
def test_serve_refuses_the_demo_keys_on_a_reachable_host(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    result, started = serve_cli(monkeypatch, "--host", host)
    line = refusal_line(result, started)
    assert "SALESBOOST_API_KEYS" in line
    assert "--allow-demo-keys" in line
    assert "demo key for" not in result.output
    assert "SALESBOOST_API_KEYS_FILE" not in os.environ


@pytest.mark.usefixtures("no_key_settings")
@pytest.mark.parametrize(
    ("args", "host"),
    [
        (["--host", "0.0.0.0", "--allow-demo-keys"], "0.0.0.0"),
        (["--host", "localhost"], "localhost"),
        (["--host", "127.0.0.2"], "127.0.0.2"),
        (["--host", "::1"], "::1"),
    ],
)
def test_serve_uses_the_demo_keys_on_loopback_or_when_allowed(
    monkeypatch: pytest.MonkeyPatch, args: list[str], host: str
) -> None:
    result, started = serve_cli(monkeypatch, *args)
    assert result.exit_code == 0, result.output
    assert started == [host]
    assert "DEMO keys" in result.output


@pytest.mark.usefixtures("no_key_settings")
def test_serve_with_keys_may_listen_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESBOOST_API_KEYS", f"{COACH_KEY}:coach")
    result, started = serve_cli(monkeypatch, "--host", "0.0.0.0")
    assert result.exit_code == 0, result.output
    assert started == ["0.0.0.0"]


@pytest.mark.usefixtures("no_key_settings")
def test_use_demo_keys_points_workers_at_the_demo_file(sqlite_url: str) -> None:
    keys = serve.use_demo_keys(load_settings(database_url=sqlite_url, api_keys=""))
    get_settings.cache_clear()
    assert os.environ["SALESBOOST_API_KEYS_FILE"] == str(serve.DEMO_KEYS_FILE)
    assert {k.role for k in keys} == set(ROLES)


@pytest.mark.parametrize(
    ("host", "url"),
    [("127.0.0.1", "http://127.0.0.1:80"), ("0.0.0.0", "http://127.0.0.1:80"), ("::1", "http://[::1]:80")],
)
def test_base_url(host: str, url: str) -> None:
    assert serve.base_url(host, 80) == url


# --- the role comes from the key ---------------------------------------------------------------------------


async def test_each_key_calls_as_its_own_role(client: httpx.AsyncClient, sample_app: FastAPI) -> None:
    for role in ("coach", "npc", "admin"):
        response = await client.post(
            "/api/v1/tools/execute", json={"tool": "echo", "payload": {"text": "x"}}, headers=auth(role)
        )
        assert response.json()["caller_role"] == role
    assert KEYS["coach"] not in str(sample_app.state.service.keys.keys)


@pytest.mark.usefixtures("no_key_settings")
def test_serve_names_a_bad_key_in_one_line_before_starting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESBOOST_API_KEYS", "short:npc")
    line = refusal_line(*serve_cli(monkeypatch))
    assert "SALESBOOST_API_KEYS" in line
    assert "16 characters" in line
