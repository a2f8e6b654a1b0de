"""examples/agent_loop.py: its dry run as a user runs it, and its loop against an OpenAI-compatible endpoint."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from salesboost.assembly import seed_demo
from salesboost.config import Settings

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "agent_loop.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agent_loop", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_dry_run_replays_the_recorded_conversation_and_prints_the_tool_results() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    env.pop("OPENAI_API_KEY", None)  # offline: it must not need one
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--dry-run"], env=env, capture_output=True, text=True, timeout=120,
        check=False, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    calls = [line.split()[1] for line in lines if line.startswith("-> ")]
    assert calls == ["profile_reader", "price_calculator", "compliance_check", "sms_outreach"]
    results = [json.loads(line[3:]) for line in lines if line.startswith("<- ")]
    assert [r["ok"] for r in results] == [True] * 4
    assert results[1]["result"]["total"] == "801.00"  # ten seats at 89.00, 10% off
    assert results[3]["result"]["message"]["status"] == "queued"
    assert lines[-1].startswith("assistant: Done:")


async def test_the_loop_against_a_compatible_endpoint(settings: Settings) -> None:
    """The recorded responses served over HTTP: the requests carry the strict tools and the tool replies."""
    await seed_demo(settings)
    example = load_example()
    recorded = json.loads((ROOT / "examples" / "agent_loop_recorded.json").read_text())["responses"]
    requests: list[dict[str, Any]] = []

    def serve(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/chat/completions"
        assert request.headers["authorization"] == "Bearer test-key"
        requests.append(json.loads(request.content))
        return httpx.Response(200, json=recorded[len(requests) - 1])

    async with httpx.AsyncClient(
        base_url="http://llm.test/v1", headers={"Authorization": "Bearer test-key"},
        transport=httpx.MockTransport(serve),
    ) as client:
        answer = await example.converse(example.endpoint(client, "test-model"), settings, "sdr", "Quote it", 8)
    assert answer.startswith("Done:")
    assert len(requests) == 3
    assert {r["model"] for r in requests} == {"test-model"}
    assert all(t["function"]["strict"] for t in requests[0]["tools"])
    second = requests[1]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "tool", "tool", "tool"]
    assert [m["tool_call_id"] for m in second[3:]] == ["call_rec_profile", "call_rec_quote", "call_rec_check"]
    assert "refusal" not in second[2]
