"""`salesboost serve`: uvicorn over the app factory, and the demo keys that make `make run` work unconfigured.

The factory is passed as an import string, so `--workers N` starts N processes that each build their own app
(and `--reload` can re-import it). The demo keys are used only when no key source is configured, and loudly:
they are published in the repository, so only on a loopback interface unless the operator says otherwise.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Any

from salesboost.api.auth import key_file
from salesboost.config import DATA_DIR, Settings, get_settings
from salesboost.yamlfiles import load_yaml

FACTORY = "salesboost.api.app:create_app"
DEMO_KEYS_FILE = DATA_DIR / "demo" / "api_keys.yaml"
DEMO_WARNING = (
    "WARNING: no SALESBOOST_API_KEYS or SALESBOOST_API_KEYS_FILE is set, so the DEMO keys of "
    "data/demo/api_keys.yaml are in use. They are public: never expose this server beyond your machine."
)


@dataclass(frozen=True, slots=True)
class DemoKey:
    role: str
    key: str


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host` (127.0.0.0/8, ::1, localhost); "" and 0.0.0.0 are every interface."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def demo_keys_refusal(settings: Settings, host: str, allowed: bool) -> str | None:
    """Why `serve` must not start with the public demo keys on `host`, or None when it may."""
    if settings.api_keys.strip() or key_file(settings) is not None or allowed or is_loopback(host):
        return None
    return (
        f"refusing to serve the public demo keys on {host or 'every interface'!r}: set SALESBOOST_API_KEYS or "
        "SALESBOOST_API_KEYS_FILE, serve on 127.0.0.1, or pass --allow-demo-keys"
    )


def workers_refusal(settings: Settings, workers: int, per_worker_state: bool) -> str | None:
    """Why `serve --workers N` must not start (N > 1 without Redis would quietly multiply every limit and split
    the cache, the breakers and the events per worker), or None. Accepting per-worker state sets
    `SALESBOOST_PER_WORKER_STATE` for the workers, whose log and `/readyz` then say so."""
    if workers <= 1 or settings.redis_url:
        return None
    if per_worker_state or settings.per_worker_state:
        os.environ["SALESBOOST_PER_WORKER_STATE"] = "true"
        get_settings.cache_clear()
        return None
    return (
        f"refusing to start {workers} workers without SALESBOOST_REDIS_URL: each worker would keep its own rate "
        f"limits (a limit of 5 per minute would admit {5 * workers}), cache, circuit breakers and events. Set "
        "SALESBOOST_REDIS_URL to share them (docs/scale.md), or pass --per-worker-state to accept that"
    )


def use_demo_keys(settings: Settings) -> list[DemoKey]:
    """With no key source configured, point `SALESBOOST_API_KEYS_FILE` (inherited by workers) at the demo
    file and return its keys to print; else return nothing."""
    if settings.api_keys.strip() or key_file(settings) is not None:
        return []
    os.environ["SALESBOOST_API_KEYS_FILE"] = str(DEMO_KEYS_FILE)
    get_settings.cache_clear()
    data: Any = load_yaml(DEMO_KEYS_FILE.read_text(encoding="utf-8"))
    return [DemoKey(role=str(e["role"]), key=str(e["key"])) for e in data["keys"]]


def base_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches the server."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


# Bounds uvicorn enforces before the app sees a request (docs/security.md). The body's and the headers' are the
# app's own (`limits.RequestLimitsMiddleware`); h11 also stops reading a header block past the same bound.
KEEP_ALIVE_SECONDS = 5
# A WebSocket client sends one auth message, then nothing that is read.
WS_MAX_MESSAGE_BYTES = 64 * 1024


def run(host: str, port: int, workers: int, reload: bool, settings: Settings) -> None:
    import uvicorn

    from salesboost.api.limits import MAX_HEADER_BYTES
    from salesboost.config import PROJECT_ROOT
    from salesboost.observability.logs import logging_config

    uvicorn.run(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        reload_dirs=[str(PROJECT_ROOT / "src")] if reload else None,
        log_level=settings.log_level.lower(),
        log_config=logging_config(settings),
        access_log=settings.access_log,
        proxy_headers=False,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        limit_concurrency=settings.max_concurrency,
        ws_max_size=WS_MAX_MESSAGE_BYTES,
    )
