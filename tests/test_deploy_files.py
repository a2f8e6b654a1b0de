"""The deployment files agree with each other and with the code. No Docker engine runs here, so they are
never started: these checks catch the drift that would break them (a renamed setting, a moved file, a
metric or label the service does not export, a scrape target that is not the app)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices

from salesboost.config import PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"
# docs/contract.md section 4 and the HTTP metrics of api/metrics.py: name -> labels.
METRICS: dict[str, frozenset[str]] = {
    "tool_calls_total": frozenset({"tool_name", "status", "caller_role"}),
    "tool_execution_duration_seconds": frozenset({"tool_name", "caller_role"}),
    "tool_errors_total": frozenset({"tool_name", "error_type"}),
    "tool_cache_hit_rate": frozenset({"tool_name"}),
    "tool_cache_operations_total": frozenset({"tool_name", "operation"}),
    "tool_retry_attempts_total": frozenset({"tool_name", "attempt_number"}),
    "http_requests_total": frozenset({"method", "route", "status"}),
    "http_request_duration_seconds": frozenset({"method", "route"}),
}
_SELECTOR = re.compile(r"\b([a-z_][a-z0-9_]*)\s*(\{[^}]*\})?\s*\[")
_INSTANT = re.compile(r"\b([a-z_][a-z0-9_]*)\{([^}]*)\}")
_LABEL = re.compile(r"([a-z_][a-z0-9_]*)\s*(?:=~|!~|!=|=)")
_BY = re.compile(r"\bby\s*\(([^)]*)\)")


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = _load_yaml(DEPLOY / "docker-compose.yml")
    return data


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    path = DEPLOY / "grafana" / "salesboost-tools.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for panel in panels:
        found.append(panel)
        found.extend(_panels(panel.get("panels", [])))
    return found


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in _panels(dashboard["panels"]) for t in p.get("targets", [])]


def _base(series: str) -> str:
    """The metric a series belongs to (a histogram's `_bucket`, `_sum` and `_count` are its own)."""
    for suffix in ("_bucket", "_count", "_sum"):
        if series.endswith(suffix) and series.removesuffix(suffix) in METRICS:
            return series.removesuffix(suffix)
    return series


def test_the_compose_file_runs_the_services_with_two_app_replicas(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"app", "app-2", "postgres", "redis", "prometheus", "grafana"}
    replica = compose["services"]["app-2"]
    assert replica["environment"] == compose["services"]["app"]["environment"]  # the same state, shared
    assert replica["build"] == compose["services"]["app"]["build"]
    assert replica["depends_on"]["app"]["condition"] == "service_healthy"  # never two migrations at once
    env = compose["services"]["app"]["environment"]
    assert env["SALESBOOST_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in env["SALESBOOST_DATABASE_URL"]
    assert env["SALESBOOST_REDIS_URL"].startswith("redis://redis:6379")
    for service in compose["services"].values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{port} would be published beyond this machine"


def test_every_app_variable_of_the_compose_file_is_a_setting(compose: dict[str, Any]) -> None:
    names = set()
    for info in Settings.model_fields.values():
        if isinstance(info.validation_alias, AliasChoices):
            names.update(str(choice) for choice in info.validation_alias.choices)
    assert set(compose["services"]["app"]["environment"]) <= names


def test_every_file_the_compose_file_mounts_or_builds_exists(compose: dict[str, Any]) -> None:
    build = compose["services"]["app"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which is not in deploy/"


def test_the_dockerfile_migrates_then_serves_on_the_scraped_port() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "FROM python:3.11-slim" in dockerfile
    command = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    serve = command.index("salesboost serve --host 0.0.0.0 --port 8000")
    assert command.index("salesboost db upgrade") < serve
    scrape = _load_yaml(DEPLOY / "prometheus.yml")["scrape_configs"][0]
    assert scrape["metrics_path"] == "/metrics"
    assert scrape["static_configs"][0]["targets"] == ["app:8000", "app-2:8000"]
    assert "EXPOSE 8000" in dockerfile


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard(compose: dict[str, Any]) -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    source = _load_yaml(provisioning / "datasources" / "prometheus.yml")["datasources"][0]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    folder = _load_yaml(provisioning / "dashboards" / "salesboost.yml")["providers"][0]["options"]["path"]
    mounts = [v.split(":")[1] for v in compose["services"]["grafana"]["volumes"]]
    assert f"{folder}/salesboost-tools.json" in mounts


def test_the_dashboard_queries_only_exported_metrics_and_labels(dashboard: dict[str, Any]) -> None:
    used: set[str] = set()
    for expr in _exprs(dashboard):
        for series, selector in _SELECTOR.findall(expr) + _INSTANT.findall(expr):
            metric = _base(series)
            assert metric in METRICS, f"{series} is not exported: {expr}"
            used.add(metric)
            labels = set(_LABEL.findall(selector.strip("{}")))
            assert labels <= METRICS[metric], f"{metric} has no label {labels - METRICS[metric]}: {expr}"
        for grouping in _BY.findall(expr):
            labels = {label.strip() for label in grouping.split(",")} - {"le"}
            owners = [METRICS[_base(s)] for s, _ in _SELECTOR.findall(expr)]
            assert all(labels <= owner for owner in owners), f"grouping by {labels}: {expr}"
    assert used == set(METRICS), f"no panel shows {set(METRICS) - used}"


def test_the_dashboard_covers_rates_errors_latency_cache_and_retries(dashboard: dict[str, Any]) -> None:
    exprs = "\n".join(_exprs(dashboard))
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}, sum by (tool_name, le)" in exprs
    assert 'status="error"' in exprs
    assert 'operation="hit"' in exprs
    repeated = [p for p in _panels(dashboard["panels"]) if p.get("repeat") == "tool"]
    assert len(repeated) == 1, "one latency panel per tool"


def test_the_dashboard_panels_have_unique_ids_and_do_not_overlap(dashboard: dict[str, Any]) -> None:
    panels = _panels(dashboard["panels"])
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    taken: set[tuple[int, int]] = set()
    for panel in panels:
        box = panel["gridPos"]
        assert box["x"] >= 0, panel["title"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        cells = {(box["x"] + dx, box["y"] + dy) for dx in range(box["w"]) for dy in range(box["h"])}
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
    datasources = {json.dumps(p["datasource"]) for p in panels if "datasource" in p}
    assert datasources == {json.dumps({"type": "prometheus", "uid": "${datasource}"})}
