"""Security headers over HTTP: every answer forbids framing and sniffing and sends no referrer; the dashboard
loads only its own files, the JSON routes nothing at all."""

from __future__ import annotations

import httpx
import pytest

from conftest import auth

COMMON = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def _policy(response: httpx.Response) -> dict[str, str]:
    for name, value in COMMON.items():
        assert response.headers[name] == value
    directives = (d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";"))
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


@pytest.mark.parametrize("path", ["/dashboard", "/static/app.js", "/static/style.css"])
async def test_the_dashboard_may_load_only_its_own_files(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    policy = _policy(response)
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in response.headers["content-security-policy"]


async def test_the_dashboard_page_has_no_inline_script_or_style(client: httpx.AsyncClient) -> None:
    page = (await client.get("/dashboard")).text
    for inline in ("<script>", "<style", "style="):
        assert inline not in page


async def test_json_answers_allow_nothing(client: httpx.AsyncClient) -> None:
    body = {"tool": "echo", "payload": {"text": "hi"}}
    answers = [
        await client.post("/api/v1/tools/execute", json=body, headers=auth("coach")),
        await client.get("/api/v1/tools"),  # 401
        await client.get("/healthz"),
        await client.get("/nothing"),  # 404
        await client.post("/api/v1/tools/execute", content=b"x" * 2_000_000, headers=auth("coach")),  # 413
    ]
    assert [a.status_code for a in answers] == [200, 401, 200, 404, 413]
    for answer in answers:
        assert _policy(answer) == {"default-src": "'none'", "frame-ancestors": "'none'"}


async def test_the_api_docs_page_is_framed_by_nobody(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert _policy(response)["frame-ancestors"] == "'none'"
