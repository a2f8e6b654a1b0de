"""Settings: the contract names, and a bad value named at start-up."""

from __future__ import annotations

import pytest

from salesboost.config import Settings, SettingsError, load_settings


def test_tool_names_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOL_RETRY_MAX_ATTEMPTS", "5")
    monkeypatch.setenv("TOOL_CACHE_LRU_ENABLED", "false")
    monkeypatch.setenv("TOOL_BANDIT_EPSILON", "0.25")
    monkeypatch.setenv("TOOL_PARALLEL_MAX_CONCURRENT", "9")
    monkeypatch.setenv("SALESBOOST_DATABASE_URL", "sqlite+aiosqlite:///x.db")
    settings = load_settings()
    assert settings.retry_max_attempts == 5
    assert settings.cache_lru_enabled is False
    assert settings.bandit_epsilon == 0.25
    assert settings.parallel_max_concurrent == 9
    assert settings.database_url == "sqlite+aiosqlite:///x.db"


def test_defaults_match_the_contract() -> None:
    s = Settings()
    assert (s.retry_enabled, s.retry_max_attempts, s.retry_base_delay) == (True, 3, 1.0)
    assert (s.cache_lru_enabled, s.cache_access_tracking) == (True, True)
    assert (s.bandit_enabled, s.bandit_epsilon, s.bandit_redis_key) == (False, 0.1, "tool:bandit:state")
    assert (s.rate_limit_enabled, s.parallel_enabled, s.parallel_max_concurrent) == (True, True, 5)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("TOOL_RETRY_MAX_ATTEMPTS", "zero"), ("TOOL_BANDIT_EPSILON", "1.5"), ("SALESBOOST_AUDIT_BATCH_SIZE", "0")],
)
def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_readme_documents_every_setting() -> None:
    from salesboost.config import PROJECT_ROOT, env_var_name

    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    missing = [
        env_var_name(name) for name in Settings.model_fields if f"`{env_var_name(name)}`" not in readme
    ]
    assert missing == [], f"README.md does not document: {missing}"


@pytest.mark.parametrize(
    "value",
    ["localhost:6379", "http://127.0.0.1:6379", "redis://127.0.0.1:port/0", "redis://", "unix://", "redis://:s3cret@:99999"],
)
def test_a_malformed_redis_url_fails_naming_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SALESBOOST_REDIS_URL", value)
    with pytest.raises(SettingsError, match="SALESBOOST_REDIS_URL") as failure:
        load_settings()
    assert "s3cret" not in str(failure.value)


@pytest.mark.parametrize(
    "value", ["redis://127.0.0.1:6379/0", "rediss://user:pass@cache.internal:6380", "unix:///run/redis.sock"]
)
def test_a_redis_url_is_accepted(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SALESBOOST_REDIS_URL", value)
    assert load_settings().redis_url == value


def test_an_empty_redis_url_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESBOOST_REDIS_URL", "")
    assert load_settings().redis_url is None


def test_the_audit_cap_must_be_above_the_high_water_mark(monkeypatch: pytest.MonkeyPatch) -> None:
    """Back-pressure starts at the mark: a hard cap at or below it would drop records before anyone pushed back."""
    monkeypatch.setenv("SALESBOOST_AUDIT_HIGH_WATER", "5000")
    monkeypatch.setenv("SALESBOOST_AUDIT_MAX_PENDING", "5000")
    with pytest.raises(SettingsError, match=r"AUDIT_MAX_PENDING='5000': .*above SALESBOOST_AUDIT_HIGH_WATER"):
        load_settings()
    monkeypatch.setenv("SALESBOOST_AUDIT_MAX_PENDING", "5001")
    assert (load_settings().audit_high_water, load_settings().audit_max_pending) == (5000, 5001)
