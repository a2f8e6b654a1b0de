"""A Twilio-style SMS API on 127.0.0.1 for the tests: records what it texts, deduplicates by idempotency key (or,
told so, ignores the key, as an API without idempotency does), and can be told to stall (so the client times
out, or is killed, before the answer) or to fail the next requests.

Imported by the SMS tests (pytest puts this folder on sys.path); not a test module itself.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT = "AC123"
TOKEN = "secret-token"


@dataclass
class FakeSmsApi:
    base_url: str = ""
    stall_first: int = 0  # this many requests are accepted, then answered too late for the client
    stall_seconds: float = 1.0
    fail_with: list[int] = field(default_factory=list)  # status codes for the next requests, in order
    answer_status: str = "queued"
    honours_keys: bool = True  # False: every request is a new text, whatever its idempotency key
    requests: list[dict[str, str]] = field(default_factory=list)
    texted: list[dict[str, str]] = field(default_factory=list)  # every text it sent, in order
    by_key: dict[str, dict[str, str]] = field(default_factory=dict)  # idempotency key -> the text it sent for it
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, path: str, auth: str, key: str, form: dict[str, str]) -> tuple[int, dict[str, str], float]:
        """(status, JSON body, seconds to wait before answering)."""
        expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
        with self.lock:
            self.requests.append({"path": path, "key": key, **form})
            if auth != expected:
                return 401, {"message": "bad credentials"}, 0.0
            if path != f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json":
                return 404, {"message": "no such resource"}, 0.0
            if self.fail_with:
                return self.fail_with.pop(0), {"message": "injected failure"}, 0.0
            message = self.by_key.get(key) if self.honours_keys else None
            if message is None:
                message = self.by_key[key] = {"sid": f"SM{len(self.texted) + 1:04d}", "key": key, **form}
                self.texted.append(message)
            stall = self.stall_seconds if len(self.requests) <= self.stall_first else 0.0
            return 201, {"sid": message["sid"], "status": self.answer_status}, stall


@contextmanager
def running_fake_api(**options: object) -> Iterator[FakeSmsApi]:
    api = FakeSmsApi(**options)  # type: ignore[arg-type]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            status, body, stall = api.handle(
                self.path, self.headers.get("Authorization", ""), self.headers.get("Idempotency-Key", ""), form
            )
            time.sleep(stall)
            payload = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client gave up waiting
                pass

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
