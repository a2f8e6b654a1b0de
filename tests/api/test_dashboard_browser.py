"""The dashboard in a real browser: Debian's chromium driven by Playwright against `salesboost serve`.

The server runs as a subprocess on a throwaway SQLite database (migrated and seeded with the CLI) with one
admin key. The page signs in, shows the traffic of other sessions, refuses an invalid payload without
sending it, runs a tool from the form and sees the call arrive through the WebSocket, started then
completed; the full-page screenshot goes to docs/img/dashboard.png for the README. Another test holds the
page's JSON-schema validator against pydantic on every tool's examples changed one field at a time.
Playwright never downloads a browser here: it launches /usr/bin/chromium.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from pydantic import BaseModel, ValidationError

from salesboost.config import PROJECT_ROOT, load_settings
from salesboost.tools.registry import build_default_registry

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SALESBOOST = str(Path(sys.executable).with_name("salesboost"))
SCREENSHOT = PROJECT_ROOT / "docs" / "img" / "dashboard.png"
KEY = "browser-test-admin-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
IN_CI = os.environ.get("CI", "").lower() == "true"
# The form runs the first of these tools that the server offers, with this payload.
FORM_CALLS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("competitor_analysis", {"competitor_name": "CompetitorA"}),
    ("price_calculator", {"items": [{"sku": "SB-PRO-M", "quantity": 25}], "discount_rate": 0.1}),
    ("compliance_check", {"text": "Happy to walk you through the case study on Tuesday."}),
)
CSP_LISTENER = """document.addEventListener("securitypolicyviolation",
  (e) => window.reportCspViolation(`${e.effectiveDirective} refused ${e.blockedURI || "inline"}`));"""
# Pydantic rules that a JSON schema cannot express (model validators, Decimal parsing of strings).
SCHEMALESS_ERRORS = frozenset({"value_error", "assertion_error", "decimal_parsing"})
ODD_VALUES: tuple[Any, ...] = (None, [], {}, "", "☆", -1, 0, 0.5, 10**13, True, "x" * 20_001)


@dataclass(frozen=True)
class Server:
    url: str
    database_url: str
    tools: list[dict[str, Any]]

    def tool(self, name: str) -> dict[str, Any]:
        return next(t for t in self.tools if t["name"] == name)


@dataclass
class Tab:
    """A page with what it reported: console errors and the WebSocket messages it received."""

    page: Page
    errors: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


def _cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [SALESBOOST, *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"salesboost {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"salesboost serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"salesboost serve did not answer /healthz within {timeout:g} s:\n{log.read_text()}")


def _wait_until(check: Callable[[], bool], page: Page, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        page.wait_for_timeout(50)


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        message = f"{CHROMIUM} is absent: `apt-get install chromium` to run the dashboard's browser tests"
        if IN_CI:
            pytest.fail(message + " (CI=true: they must run)")
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def server(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`salesboost serve` on a free loopback port over a freshly migrated and seeded SQLite database."""
    workdir = tmp_path_factory.mktemp("dashboard")
    database_url = f"sqlite+aiosqlite:///{workdir / 'salesboost.db'}"
    env = {**os.environ, "SALESBOOST_DATABASE_URL": database_url, "SALESBOOST_API_KEYS": f"{KEY}:admin"}
    env.pop("SALESBOOST_API_KEYS_FILE", None)
    _cli(env, "db", "upgrade")
    _cli(env, "db", "seed")
    if not load_settings(database_url=database_url).stage_model_path.exists():
        _cli(env, "train", "stage-classifier", "--if-missing")
    url = f"http://127.0.0.1:{_free_port()}"
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [SALESBOOST, "serve", "--host", "127.0.0.1", "--port", url.rsplit(":", 1)[1]],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_healthy(url, process, log_path)
            listing = httpx.get(f"{url}/api/v1/tools", headers=AUTH, timeout=10).json()
            yield Server(url, database_url, listing["tools"])
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    """A fresh 1440x900 tab (no stored key) that records console errors and WebSocket messages."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, color_scheme="dark")
    tab = Tab(context.new_page())
    tab.page.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    tab.page.on("pageerror", lambda e: tab.errors.append(str(e)))
    # What the Content-Security-Policy refused (the page must work under it): reported by the page itself.
    tab.page.expose_function("reportCspViolation", lambda violation: tab.violations.append(violation))
    tab.page.add_init_script(CSP_LISTENER)
    tab.page.on(
        "websocket", lambda ws: ws.on("framereceived", lambda frame: tab.events.append(json.loads(frame)))
    )
    yield tab
    context.close()


def _execute(server: Server, tool: str, payload: dict[str, Any], session_id: str) -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/api/v1/tools/execute",
        json={"tool": tool, "payload": payload, "session_id": session_id},
        headers={**AUTH, "Idempotency-Key": str(uuid.uuid4())},
        timeout=30,
    )
    envelope: dict[str, Any] = response.json()
    return envelope


def _agent_traffic(server: Server, session_id: str) -> None:
    """What agents do before the page opens: every tool's examples twice (the second answer of a cacheable
    tool is a cache hit), and two calls with a bad payload."""
    for _ in range(2):
        for tool in server.tools:
            for example in tool["examples"]:
                _execute(server, tool["name"], example, session_id)
    for tool in server.tools[:2]:
        refused = _execute(server, tool["name"], {"not_a_field": 1}, session_id)
        assert refused["error"]["code"] == "TOOL_INPUT_INVALID"


def _sign_in(page: Page, server: Server, key: str) -> None:
    page.goto(f"{server.url}/dashboard")
    page.fill("#api-key", key)
    page.click("#login-submit")


def test_dashboard_runs_a_tool_and_streams_it_live(server: Server, tab: Tab) -> None:
    page = tab.page
    _agent_traffic(server, "agent-warmup")
    _sign_in(page, server, KEY)
    expect(page.locator("#role")).to_have_text("admin")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator(".tool-card")).to_have_count(len(server.tools))
    # The warm-up calls (read from the audit trail by /activity), failures included.
    expect(page.locator("#stream-body tr[data-status=failed]").first).to_be_visible()
    expect(page.locator("#kpi-calls")).not_to_have_text("–")

    name, payload = next((n, p) for n, p in FORM_CALLS if any(t["name"] == n for t in server.tools))
    sent: list[dict[str, str]] = []
    page.on("request", lambda r: sent.append(r.headers) if r.url.endswith("/api/v1/tools/execute") else None)
    page.select_option("#run-tool", name)
    assert json.loads(page.input_value("#run-payload")) == server.tool(name)["examples"][0]

    # Refused in the browser, field by field, before anything is sent.
    page.fill("#run-payload", json.dumps({**payload, "not_a_field": 1}))
    page.click("#run-submit")
    expect(page.locator("#run-errors li")).to_have_count(1)
    expect(page.locator("#run-errors li code")).to_have_text("not_a_field")
    page.fill("#run-payload", "{")
    page.click("#run-submit")
    expect(page.locator("#run-errors li")).to_contain_text("Not valid JSON")
    assert sent == []

    page.fill("#run-payload", json.dumps(payload, indent=2))
    expect(page.locator("#run-errors li")).to_have_count(0)
    page.click("#run-submit")
    expect(page.locator("#result")).to_have_attribute("data-ok", "true")
    call_id = page.locator("#result .result-id").inner_text()
    assert call_id.startswith("dash-")
    assert len(sent) == 1
    assert sent[0]["authorization"] == f"Bearer {KEY}"
    assert sent[0].get("idempotency-key")

    # Only the socket's `completed` event carries a preview: a row with one came through the WebSocket.
    row = page.locator(f'#stream-body tr[data-id="{call_id}"]')
    expect(row).to_have_attribute("data-status", "completed")
    expect(row.locator("td.preview")).not_to_have_text("")
    expect(row).to_have_class("status-completed mine")

    def statuses(tool_call_id: str) -> list[str]:
        return [
            e["data"]["status"]
            for e in list(tab.events)
            if e.get("event") == "tool_status" and e["data"]["tool_call_id"] == tool_call_id
        ]

    _wait_until(lambda: statuses(call_id) == ["started", "completed"], page, "started then completed events")

    # A call of another session shows up too (the admin watches every session).
    other = _execute(server, name, payload, "agent-live")
    other_row = page.locator(f'#stream-body tr[data-id="{other["tool_call_id"]}"]')
    expect(other_row).to_have_attribute("data-status", "completed")
    expect(other_row.locator("td.preview")).not_to_have_text("")
    expect(page.locator(f'.tool-card[data-tool="{name}"] .metric-value').first).not_to_have_text("–")

    page.wait_for_timeout(1800)  # let the new rows' highlight fade before the picture
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 50_000
    assert tab.errors == []
    assert tab.violations == []
    # The listener does hear the policy: an inline style attribute is refused and reported.
    page.evaluate("document.body.setAttribute('style', 'color: red')")
    _wait_until(lambda: tab.violations != [], page, "the CSP violation report")
    assert tab.violations[0].startswith("style-src")


def test_a_bad_key_is_refused_and_nothing_is_stored(server: Server, tab: Tab) -> None:
    page = tab.page
    _sign_in(page, server, "not-a-key-of-this-server-0000")
    expect(page.locator("#login-error")).to_have_text("That key was not accepted.")
    expect(page.locator("#app")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('salesboost.key')") is None


def test_sign_out_forgets_the_key(server: Server, tab: Tab) -> None:
    page = tab.page
    _sign_in(page, server, KEY)
    expect(page.locator("#role")).to_have_text("admin")
    page.reload()  # the key survives a reload of the tab
    expect(page.locator("#role")).to_have_text("admin")
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('salesboost.key')") is None
    assert tab.errors == []
    assert tab.violations == []


def _variants(example: dict[str, Any], schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The example, then one change at a time: a field dropped, an unknown field, odd values everywhere
    (also inside the first object of each list, e.g. a quote's first line item)."""
    yield example
    for name in example:
        yield {k: v for k, v in example.items() if k != name}
    yield {**example, "not_a_field": 1}
    for name in schema.get("properties", {}):
        for value in ODD_VALUES:
            yield {**example, name: value}
    for name, items in example.items():
        if isinstance(items, list) and items and isinstance(items[0], dict):
            for key in [*items[0], "not_a_field"]:
                for value in ODD_VALUES:
                    changed = deepcopy(example)
                    changed[name][0][key] = value
                    yield changed


def _pydantic(model: type[BaseModel], payload: dict[str, Any], strict: bool) -> set[str] | None:
    """None when the payload is valid for the tool (parsed from JSON, as the server does), else the error
    types."""
    try:
        model.model_validate_json(json.dumps(payload), strict=strict)
    except ValidationError as exc:
        return {e["type"] for e in exc.errors()}
    return None


def test_the_page_validator_agrees_with_pydantic(server: Server, tab: Tab) -> None:
    """Where they differ, it is for a reason the schema states: pydantic's own rules (model validators) that
    the browser cannot know, or JSON types that the browser keeps and pydantic's lax mode coerces (true
    for 1)."""
    registry = build_default_registry(load_settings(database_url=server.database_url))
    cases = [
        {"tool": tool["name"], "schema": tool["input_schema"], "payload": payload}
        for tool in server.tools
        for example in tool["examples"]
        for payload in _variants(example, tool["input_schema"])
    ]
    tab.page.goto(f"{server.url}/dashboard")
    verdicts = tab.page.evaluate(
        """async (cases) => {
             const { validate } = await import('/static/validate.js');
             return cases.map((c) => validate(c.payload, c.schema));
           }""",
        cases,
    )
    agree = 0
    for case, problems in zip(cases, verdicts, strict=True):
        model = registry.get(case["tool"]).input_model
        lax = _pydantic(model, case["payload"], strict=False)
        if (lax is None) == (not problems):
            agree += 1
        elif not problems:
            assert lax <= SCHEMALESS_ERRORS, case
        else:
            assert _pydantic(model, case["payload"], strict=True) is not None, (case, problems)
    examples = [c for c in cases if any(c["payload"] == e for e in server.tool(c["tool"])["examples"])]
    assert all(not verdicts[cases.index(c)] for c in examples), "a documented example fails in the browser"
    assert len(cases) > 500
    assert agree / len(cases) > 0.85, f"agreed on {agree} of {len(cases)}"
