"""An agent loop over any OpenAI-compatible Chat Completions endpoint, with SalesBoost's tools (plain httpx).

    OPENAI_API_KEY=... SALESBOOST_AGENT_MODEL=gpt-4o python examples/agent_loop.py "Quote CUST001 ten Pro seats"
    python examples/agent_loop.py --dry-run     # offline: replays examples/agent_loop_recorded.json

OPENAI_BASE_URL (default https://api.openai.com/v1) may name any OpenAI-compatible server (a gateway, vLLM,
Ollama). The model gets the tools of `--role` (strict where their schemas allow); each of its turns is answered
by `salesboost.agents.dispatch`, whose messages go back as they are, until it answers without tool calls. Live,
the tools work on the configured database (SALESBOOST_DATABASE_URL; `salesboost seed` loads the demo data); the
dry run replays the recorded model responses on a temporary SQLite database holding the demo data.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from salesboost.agents import dispatch
from salesboost.assembly import build_runtime, check_database, seed_demo
from salesboost.config import Settings, load_settings
from salesboost.tools.schema import tools_for

RECORDED = Path(__file__).with_name("agent_loop_recorded.json")
SYSTEM = (
    "You are a sales assistant. Use the tools to look things up and act; check a text with compliance_check "
    "before sending it. When a tool answers an error, read its message and fix the call or tell the user."
)

# One model turn: the conversation and the tools in, a ChatCompletion (as JSON) out.
Model = Callable[[list[dict[str, Any]], list[dict[str, Any]]], Awaitable[dict[str, Any]]]


def endpoint(client: httpx.AsyncClient, model: str) -> Model:
    async def complete(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
        response = await client.post("/chat/completions", json={"model": model, "messages": messages, "tools": tools})
        response.raise_for_status()
        completion: dict[str, Any] = response.json()
        return completion

    return complete


def replay(responses: list[dict[str, Any]]) -> Model:
    recorded: Iterator[dict[str, Any]] = iter(responses)

    async def complete(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
        return next(recorded)

    return complete


async def converse(model: Model, settings: Settings, role: str, prompt: str, max_turns: int) -> str:
    """Turns until the model answers in words; its answer."""
    runtime = build_runtime(settings)
    try:
        tools = tools_for(runtime.registry, role, "openai")
        session = f"agent-{uuid.uuid4().hex[:12]}"  # the writes of a replayed turn are keyed by it
        messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]
        for _ in range(max_turns):
            completion = await model(messages, tools)
            message = completion["choices"][0]["message"]
            # Only the fields every compatible server takes back (some refuse `refusal`, `annotations`).
            messages.append({k: message[k] for k in ("role", "content", "tool_calls") if message.get(k) is not None})
            replies = await dispatch(completion, runtime, caller_role=role, session_id=session)
            if not replies:
                return str(message.get("content") or "")
            for call, reply in zip(message["tool_calls"], replies, strict=True):
                print(f"-> {call['function']['name']} {call['function']['arguments']}")
                print(f"<- {reply['content']}")
            messages.extend(replies)
        raise SystemExit(f"the model still called tools after {max_turns} turns")
    finally:
        await runtime.aclose()


async def dry_run(max_turns: int) -> str:
    recorded = json.loads(RECORDED.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp}/agent.db")
        check_database(settings)  # migrates the new file, then the demo data goes in
        await seed_demo(settings)
        return await converse(replay(recorded["responses"]), settings, recorded["role"], recorded["prompt"], max_turns)


async def live(role: str, prompt: str, max_turns: int) -> str:
    key, model = os.environ.get("OPENAI_API_KEY"), os.environ.get("SALESBOOST_AGENT_MODEL")
    if not key or not model:
        raise SystemExit("set OPENAI_API_KEY and SALESBOOST_AGENT_MODEL (and OPENAI_BASE_URL for another server)")
    base_url = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1").rstrip("/")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120) as client:
        return await converse(endpoint(client, model), load_settings(), role, prompt, max_turns)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("prompt", nargs="?", default="What does CUST001 care about, and what would 10 Pro seats cost?")
    parser.add_argument("--role", default="sdr", help="the role whose tools the model gets (default sdr)")
    parser.add_argument("--max-turns", type=int, default=8)
    parser.add_argument("--dry-run", action="store_true", help=f"replay {RECORDED.name} offline")
    args = parser.parse_args(argv)
    if args.dry_run:
        answer = asyncio.run(dry_run(args.max_turns))
    else:
        answer = asyncio.run(live(args.role, args.prompt, args.max_turns))
    print(f"assistant: {answer}")


if __name__ == "__main__":
    main()
