"""Settings, read once from the environment (and `.env`) at start-up.

The `TOOL_*` names are the original contract and keep their names; everything new uses the `SALESBOOST_`
prefix. A bad value fails at start-up with a message that names the variable (see `load_settings`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = PROJECT_ROOT / "data"


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every knob of the runtime, the tools and the service. Documented in README.md."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # --- the original TOOL_* contract -------------------------------------------------------------
    retry_enabled: bool = Field(True, validation_alias=_env("TOOL_RETRY_ENABLED"))
    retry_max_attempts: int = Field(3, ge=1, le=10, validation_alias=_env("TOOL_RETRY_MAX_ATTEMPTS"))
    retry_base_delay: float = Field(1.0, ge=0, le=60, validation_alias=_env("TOOL_RETRY_BASE_DELAY"))
    cache_lru_enabled: bool = Field(True, validation_alias=_env("TOOL_CACHE_LRU_ENABLED"))
    cache_access_tracking: bool = Field(True, validation_alias=_env("TOOL_CACHE_ACCESS_TRACKING"))
    bandit_enabled: bool = Field(False, validation_alias=_env("TOOL_BANDIT_ENABLED"))
    bandit_epsilon: float = Field(0.1, ge=0, le=1, validation_alias=_env("TOOL_BANDIT_EPSILON"))
    bandit_redis_key: str = Field("tool:bandit:state", min_length=1, validation_alias=_env("TOOL_BANDIT_REDIS_KEY"))
    rate_limit_enabled: bool = Field(True, validation_alias=_env("TOOL_RATE_LIMIT_ENABLED"))
    # The default limits per caller and tool (data/rate_limits.yaml); empty: none but the tools' own.
    rate_limits_file: Annotated[Path | None, BeforeValidator(lambda v: v or None)] = Field(
        DATA_DIR / "rate_limits.yaml", validation_alias=_env("SALESBOOST_RATE_LIMITS_FILE")
    )
    parallel_enabled: bool = Field(True, validation_alias=_env("TOOL_PARALLEL_ENABLED"))
    parallel_max_concurrent: int = Field(5, ge=1, le=1000, validation_alias=_env("TOOL_PARALLEL_MAX_CONCURRENT"))

    # --- runtime -----------------------------------------------------------------------------------
    retry_max_delay: float = Field(30.0, ge=0, validation_alias=_env("SALESBOOST_RETRY_MAX_DELAY"))
    cache_max_entries: int = Field(10_000, ge=1, validation_alias=_env("SALESBOOST_CACHE_MAX_ENTRIES"))
    circuit_failure_threshold: int = Field(
        5, ge=1, validation_alias=_env("SALESBOOST_CIRCUIT_FAILURE_THRESHOLD")
    )
    circuit_reset_seconds: float = Field(30.0, gt=0, validation_alias=_env("SALESBOOST_CIRCUIT_RESET_SECONDS"))
    # The bandit behind select_tool (docs/bandit.md).
    bandit_policy: Literal["epsilon_greedy", "linucb"] = Field(
        "epsilon_greedy", validation_alias=_env("SALESBOOST_BANDIT_POLICY")
    )
    bandit_alpha: float = Field(0.5, ge=0, le=10, validation_alias=_env("SALESBOOST_BANDIT_ALPHA"))
    bandit_explore: float = Field(0.05, ge=0, le=1, validation_alias=_env("SALESBOOST_BANDIT_EXPLORE"))
    bandit_discount: float = Field(0.999, gt=0, le=1, validation_alias=_env("SALESBOOST_BANDIT_DISCOUNT"))
    bandit_latency_budget: float = Field(2.0, gt=0, validation_alias=_env("SALESBOOST_BANDIT_LATENCY_BUDGET"))
    sync_tool_threads: int = Field(8, ge=1, le=256, validation_alias=_env("SALESBOOST_SYNC_TOOL_THREADS"))
    callback_timeout: float = Field(1.0, gt=0, validation_alias=_env("SALESBOOST_CALLBACK_TIMEOUT"))
    event_queue_size: int = Field(1000, ge=1, validation_alias=_env("SALESBOOST_EVENT_QUEUE_SIZE"))
    permissions_file: Path = Field(
        DATA_DIR / "permissions.yaml", validation_alias=_env("SALESBOOST_PERMISSIONS_FILE")
    )

    # --- storage -----------------------------------------------------------------------------------
    database_url: str = Field(
        "sqlite+aiosqlite:///./var/salesboost.db", min_length=1, validation_alias=_env("SALESBOOST_DATABASE_URL")
    )
    sqlite_busy_timeout: float = Field(
        30.0, ge=0, le=3600, validation_alias=_env("SALESBOOST_SQLITE_BUSY_TIMEOUT")
    )
    redis_url: str | None = Field(None, validation_alias=_env("SALESBOOST_REDIS_URL"))
    # Shared state on Redis (docs/scale.md): how long one Redis operation may take before the local path is
    # used, how often an unreachable Redis is tried again, and what a rate limit does meanwhile.
    redis_prefix: str = Field("sb:", min_length=1, max_length=64, validation_alias=_env("SALESBOOST_REDIS_PREFIX"))
    redis_timeout: float = Field(0.5, gt=0, le=30, validation_alias=_env("SALESBOOST_REDIS_TIMEOUT"))
    redis_retry_seconds: float = Field(1.0, gt=0, le=300, validation_alias=_env("SALESBOOST_REDIS_RETRY_SECONDS"))
    rate_limit_fallback: Literal["fail-open", "local", "fail-closed"] = Field(
        "local", validation_alias=_env("SALESBOOST_RATE_LIMIT_FALLBACK")
    )
    # `serve --workers N` without Redis: each worker keeps its own limits, cache, breakers and events.
    per_worker_state: bool = Field(False, validation_alias=_env("SALESBOOST_PER_WORKER_STATE"))
    audit_enabled: bool = Field(True, validation_alias=_env("SALESBOOST_AUDIT_ENABLED"))
    audit_flush_interval: float = Field(0.5, gt=0, le=60, validation_alias=_env("SALESBOOST_AUDIT_FLUSH_INTERVAL"))
    audit_batch_size: int = Field(1000, ge=1, validation_alias=_env("SALESBOOST_AUDIT_BATCH_SIZE"))
    # At least room for the largest execute-batch (50 calls) and then some.
    audit_high_water: int = Field(5_000, ge=100, validation_alias=_env("SALESBOOST_AUDIT_HIGH_WATER"))
    audit_max_pending: int = Field(100_000, ge=1, validation_alias=_env("SALESBOOST_AUDIT_MAX_PENDING"))

    # --- service -----------------------------------------------------------------------------------
    api_keys: str = Field("", validation_alias=_env("SALESBOOST_API_KEYS"))
    log_level: Annotated[LogLevel, BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v)] = Field(
        "INFO", validation_alias=_env("SALESBOOST_LOG_LEVEL")
    )
    log_format: Literal["plain", "json"] = Field("plain", validation_alias=_env("SALESBOOST_LOG_FORMAT"))
    # uvicorn's line per request: off by default, as `/metrics` counts every request by route and status, and each
    # line is a logging record formatted and written on the event loop the requests share.
    access_log: bool = Field(False, validation_alias=_env("SALESBOOST_ACCESS_LOG"))
    # The service's start-up objects kept out of the garbage collector's full passes (`assembly.frozen_startup`).
    gc_freeze: bool = Field(True, validation_alias=_env("SALESBOOST_GC_FREEZE"))
    # One OpenTelemetry span per call (the extra `otel`), exported as the standard OTEL_* variables say.
    tracing: bool = Field(False, validation_alias=_env("SALESBOOST_TRACING"))
    # The spans carry the call's arguments and result too (masked, cut): off by default, as they are customer data.
    trace_content: bool = Field(False, validation_alias=_env("SALESBOOST_TRACE_CONTENT"))

    # --- knowledge base and compliance (issue 4) ---------------------------------------------------
    max_discount: float = Field(0.30, ge=0, lt=1, validation_alias=_env("SALESBOOST_MAX_DISCOUNT"))
    compliance_rules: Path = Field(
        DATA_DIR / "compliance" / "default.yaml", validation_alias=_env("SALESBOOST_COMPLIANCE_RULES")
    )
    compliance_model_path: Path = Field(
        PROJECT_ROOT / "var" / "models" / "compliance.joblib",
        validation_alias=_env("SALESBOOST_COMPLIANCE_MODEL_PATH"),
    )
    kb_cache_ttl: float = Field(300.0, gt=0, validation_alias=_env("SALESBOOST_KB_CACHE_TTL"))

    # --- customers and SMS outreach (issue 3) --------------------------------------------------------
    customers_file: Path = Field(
        DATA_DIR / "demo" / "customers.yaml", validation_alias=_env("SALESBOOST_CUSTOMERS_FILE")
    )
    phone_default_region: str = Field(
        "US", pattern=r"^[A-Z]{2}$", validation_alias=_env("SALESBOOST_PHONE_DEFAULT_REGION")
    )
    profile_cache_ttl: float = Field(300.0, gt=0, validation_alias=_env("SALESBOOST_PROFILE_CACHE_TTL"))
    sms_timezone: str = Field("UTC", min_length=1, validation_alias=_env("SALESBOOST_SMS_TIMEZONE"))
    sms_daily_limit: int = Field(5, ge=1, le=10_000, validation_alias=_env("SALESBOOST_SMS_DAILY_LIMIT"))
    sms_provider: str = Field("log", pattern=r"^(log|http)$", validation_alias=_env("SALESBOOST_SMS_PROVIDER"))
    sms_from_number: str = Field("", validation_alias=_env("SALESBOOST_SMS_FROM_NUMBER"))
    sms_http_base_url: str = Field(
        "https://api.twilio.com", min_length=1, validation_alias=_env("SALESBOOST_SMS_HTTP_BASE_URL")
    )
    sms_http_account_sid: str = Field("", validation_alias=_env("SALESBOOST_SMS_HTTP_ACCOUNT_SID"))
    sms_http_auth_token: SecretStr = Field(SecretStr(""), validation_alias=_env("SALESBOOST_SMS_HTTP_AUTH_TOKEN"))
    sms_http_timeout: float = Field(10.0, gt=0, le=120, validation_alias=_env("SALESBOOST_SMS_HTTP_TIMEOUT"))
    sms_http_idempotent: bool = Field(False, validation_alias=_env("SALESBOOST_SMS_HTTP_IDEMPOTENT"))
    sms_dispatch_interval: float = Field(
        1.0, gt=0, le=3600, validation_alias=_env("SALESBOOST_SMS_DISPATCH_INTERVAL")
    )
    sms_max_attempts: int = Field(8, ge=1, le=100, validation_alias=_env("SALESBOOST_SMS_MAX_ATTEMPTS"))
    sms_retry_delay: float = Field(2.0, ge=0, le=3600, validation_alias=_env("SALESBOOST_SMS_RETRY_DELAY"))
    sms_retry_max_delay: float = Field(
        3600.0, ge=0, le=86_400, validation_alias=_env("SALESBOOST_SMS_RETRY_MAX_DELAY")
    )
    sms_dispatcher_enabled: bool = Field(True, validation_alias=_env("SALESBOOST_SMS_DISPATCHER_ENABLED"))
    # The messaging service of the sender (Twilio's MessagingServiceSid), where its US 10DLC campaign is registered.
    sms_messaging_service_sid: str = Field(
        "", max_length=64, validation_alias=_env("SALESBOOST_SMS_MESSAGING_SERVICE_SID")
    )
    # --- SMS compliance (issue 13, docs/sms.md) --------------------------------------------------------
    sms_quiet_hours_file: Path = Field(
        DATA_DIR / "sms" / "quiet_hours.yaml", validation_alias=_env("SALESBOOST_SMS_QUIET_HOURS_FILE")
    )
    # Transactional texts (no campaign, not marketing) may go out at any hour; marketing never does.
    sms_consents_file: Path = Field(
        DATA_DIR / "demo" / "sms_consents.yaml", validation_alias=_env("SALESBOOST_SMS_CONSENTS_FILE")
    )
    sms_replies_file: Path = Field(
        DATA_DIR / "sms" / "replies.yaml", validation_alias=_env("SALESBOOST_SMS_REPLIES_FILE")
    )
    # The public base URL the provider calls the webhooks at (behind a proxy): the URL its signature covers.
    sms_webhook_base_url: str = Field("", validation_alias=_env("SALESBOOST_SMS_WEBHOOK_BASE_URL"))
    sms_transactional_any_hour: bool = Field(False, validation_alias=_env("SALESBOOST_SMS_TRANSACTIONAL_ANY_HOUR"))

    # --- stage classifier, pricing and competitors (issue 4) -----------------------------------------
    stage_model_path: Path = Field(
        PROJECT_ROOT / "var" / "models" / "stage_classifier.joblib",
        validation_alias=_env("SALESBOOST_STAGE_MODEL_PATH"),
    )
    stage_training_data: Path = Field(
        DATA_DIR / "stage" / "examples.jsonl", validation_alias=_env("SALESBOOST_STAGE_TRAINING_DATA")
    )
    price_book_file: Path = Field(
        DATA_DIR / "demo" / "price_book.yaml", validation_alias=_env("SALESBOOST_PRICE_BOOK_FILE")
    )
    currencies_file: Path = Field(
        DATA_DIR / "pricing" / "currencies.yaml", validation_alias=_env("SALESBOOST_CURRENCIES_FILE")
    )
    competitors_file: Path = Field(
        DATA_DIR / "demo" / "competitors.yaml", validation_alias=_env("SALESBOOST_COMPETITORS_FILE")
    )
    battlecards_dir: Path = Field(
        DATA_DIR / "demo" / "knowledge" / "battlecards", validation_alias=_env("SALESBOOST_BATTLECARDS_DIR")
    )

    # --- HTTP service: keys, /metrics, WebSocket (issue 5) --------------------------------------------
    api_keys_file: Path | None = Field(None, validation_alias=_env("SALESBOOST_API_KEYS_FILE"))
    metrics_token: SecretStr = Field(SecretStr(""), validation_alias=_env("SALESBOOST_METRICS_TOKEN"))
    ws_heartbeat_seconds: float = Field(15.0, gt=0, le=3600, validation_alias=_env("SALESBOOST_WS_HEARTBEAT_SECONDS"))
    ws_auth_timeout: float = Field(5.0, gt=0, le=300, validation_alias=_env("SALESBOOST_WS_AUTH_TIMEOUT"))
    api_max_sessions: int = Field(100_000, ge=1, validation_alias=_env("SALESBOOST_API_MAX_SESSIONS"))
    max_sessions_per_key: int = Field(1000, ge=1, validation_alias=_env("SALESBOOST_MAX_SESSIONS_PER_KEY"))
    sessions_window_seconds: float = Field(
        3600.0, gt=0, le=30 * 86_400, validation_alias=_env("SALESBOOST_SESSIONS_WINDOW_SECONDS")
    )

    # --- request limits (issue 9, docs/security.md) ---------------------------------------------------
    max_body_bytes: int = Field(1_048_576, ge=1024, validation_alias=_env("SALESBOOST_MAX_BODY_BYTES"))
    body_timeout: float = Field(10.0, gt=0, le=600, validation_alias=_env("SALESBOOST_BODY_TIMEOUT"))
    max_concurrency: int = Field(1000, ge=1, validation_alias=_env("SALESBOOST_MAX_CONCURRENCY"))

    # --- MCP server (issue 12) ------------------------------------------------------------------------
    # The Host names `/mcp` answers to (`host` or `host:*` for any port; `*`: any, when a proxy checks it): the
    # SDK refuses any other with 421, against DNS rebinding. Behind a real name, add it: `tools.example.com`.
    mcp_allowed_hosts: str = Field(
        "127.0.0.1,127.0.0.1:*,localhost,localhost:*,[::1],[::1]:*",
        validation_alias=_env("SALESBOOST_MCP_ALLOWED_HOSTS"),
    )
    # `salesboost mcp` (stdio) runs as this API key: the key decides the role, as over HTTP.
    mcp_key: SecretStr = Field(SecretStr(""), validation_alias=_env("SALESBOOST_MCP_KEY"))

    @field_validator("audit_max_pending")
    @classmethod
    def _audit_max_pending(cls, value: int, info: ValidationInfo) -> int:
        """Back-pressure starts at the high-water mark; a cap at or below it would drop records first."""
        high_water = info.data.get("audit_high_water")
        if high_water is not None and value <= high_water:
            raise ValueError(f"must be above SALESBOOST_AUDIT_HIGH_WATER ({high_water})")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        """Checked now, while nothing connects to Redis yet, so a typo fails at start-up and not at first use."""
        if not value:
            return None
        url = urlsplit(value)
        if url.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("needs the scheme redis://, rediss:// or unix://")
        try:
            url.port  # noqa: B018 - parsing the port is the check
        except ValueError:
            raise ValueError("has a port that is not a number from 0 to 65535") from None
        if url.scheme == "unix" and not url.path:
            raise ValueError("needs a socket path: unix:///path/to/redis.sock")
        if url.scheme != "unix" and not url.hostname:
            raise ValueError("needs a host: redis://host:6379/0")
        return value


class SettingsError(ValueError):
    """Raised at start-up when an environment variable holds a bad value."""


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's report into one that names each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            lines.append(f"{env_var_name(field)}={_without_password(err.get('input'))!r}: {err['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(lines)) from None


def _without_password(value: object) -> object:
    """A URL's password never reaches the error message (it is printed, and logged)."""
    if isinstance(value, str) and "://" in value:
        try:
            password = urlsplit(value).password
        except ValueError:
            return value
        if password:
            return value.replace(f":{password}@", ":***@", 1)
    return value


def env_var_name(field: str) -> str:
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return field


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
