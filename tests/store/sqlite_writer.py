"""A second process writing to one database through the runtime, for the tests of SQLite shared by processes.

`python sqlite_writer.py URL STOP_FILE` creates customers, updates them (a read, then a write, in one
transaction) and queues texts (with the audit trail written for every call) until STOP_FILE exists; it prints
`ready` after its first round, then one JSON line: `{"calls": n, "failed": ["CODE: message", ...]}`.
Not a test module (pytest collects test_*.py only).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from salesboost.assembly import build_runtime
from salesboost.config import load_settings


async def main(url: str, stop: Path) -> None:
    runtime = build_runtime(load_settings(database_url=url, sms_dispatcher_enabled=False))
    calls, failed = 0, []

    async def call(tool: str, payload: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        result = await runtime.executor.execute(tool, payload, "admin")
        if result.error is not None:
            failed.append(f"{result.error.code}: {result.error.message}")
            return {}
        return dict(result.result or {})

    try:
        round_ = 0
        while not await asyncio.to_thread(stop.exists):
            round_ += 1
            created = await call("crm_integration", {"action": "create", "data": {"name": f"Writer {round_} Ltd"}})
            if created:
                update = {"action": "update", "customer_id": created["customer"]["customer_id"],
                          "data": {"stage": "discovery"}}
                await call("crm_integration", update)
            await call("sms_outreach", {"phone": f"+1415555{round_ % 10_000:04d}", "message": f"Note {round_}"})
            if round_ == 1:
                print("ready", flush=True)
    finally:
        await runtime.aclose()  # writes what is left of the audit trail: a failure there fails the process
    print(json.dumps({"calls": calls, "failed": failed}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
