"""HTTP load: `POST /api/v1/tools/execute` for price_calculator, beside its ceiling (a bare Starlette route
answering the very same bytes), the `mcp` package's streamable-HTTP server answering the same tool (twice: in
the mode like ours, and in `--mcp-mode`) and the service's own `/mcp`, in ONE run, on loopback.

Each server is one uvicorn worker in a subprocess (same uvicorn settings: uvloop and httptools when
installed, the access log off unless `--access-log`), on a throwaway SQLite database with the audit trail on
and the settings of the environment (defaults otherwise). The service and the MCP servers run the very same
executor call (`price_calculator`, same payload, role admin); the MCP tool is a thin function around it,
served by `MCPServer.streamable_http_app` of the `mcp` package. The answers are checked to be the same quote
before anything is timed.

The bare MCP server runs in two modes, each a row:
  - `sse`, like ours: a session per connection (initialized once), and the SDK's complete answer, an event
    stream, which carries a call's progress reports. `our_mcp_ratio` compares ours with this one, like with
    like: ours keeps sessions and reports progress too (it answers a call that asked for no progress, as the
    bench's calls, as one JSON object, and streams only a call that asked; `api/mcp.py`);
  - `--mcp-mode`: `stateless` by default, the SDK's fastest (no session, JSON answers, no progress reports:
    the SDK drops them), which `mcp_rps` and `speedup` have always measured; `stateful` is sessions with JSON
    answers (again no progress), the same wire as ours for these calls. `our_mcp_fast_ratio` compares ours
    with this one.

The load comes from this process, on the other core: a small asyncio HTTP/1.1 keep-alive client (pre-built
request bytes, Content-Length or chunked framing), cheap enough that the server is what saturates. Phases, each bounded
in requests and seconds:
  1. closed loop: `--connections` clients send back to back; throughput and p50/p99 of each server;
  2. fixed rate (open loop) at `--rate` requests/s for `--seconds`; latency is measured from the moment each
     request was due, so a stall is not hidden by the client waiting for it (coordinated omission).
Each phase gives every server its time in `--rounds` rounds, interleaved (the order reversed every other round),
so a stretch of outside load on this shared machine falls on a round of each server, not on one server's whole
run. A server's figures are over all its rounds; its ratios to the ceiling (`ceiling_ratio`, `fixed_p99_ratio`)
are the median of the rounds' own, the others of the servers' figures.

    python bench/http_load.py [--connections 32] [--duration 8] [--rate 500] [--seconds 10] [--rounds 4] [--quick]
                              [--mcp-mode stateless|stateful|sse]

The last line is for scripts:
RESULT api_rps=... mcp_rps=... speedup=... api_p99_ms=... mcp_p99_ms=... fixed_rate=... fixed_p99_ms=... ...
       ceiling_rps=... ceiling_ratio=<api/ceiling throughput, median of the rounds> ceiling_fixed_p99_ms=...
       fixed_p99_ratio=<api/ceiling p99 at the fixed rate, median of the rounds> our_mcp_rps=...
       our_mcp_ratio=<our_mcp_rps/mcp_sse_rps> our_mcp_errors=... mcp_sse_rps=...
       our_mcp_fast_ratio=<our_mcp_rps/mcp_rps>

The ceiling answers the body the service answered first (its `audit_id` included), with the same status and
content type. The service's `/mcp` runs in the service's process, under its key check, request limits and
audit trail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

API_KEY = "bench-admin-key-0123456789abcdef"
PAYLOAD: dict[str, Any] = {
    "items": [{"sku": "SB-PRO-M", "quantity": 25}], "discount_rate": 0.1, "tax_rate": 0.08
}
HOST = "127.0.0.1"
REQUEST_TIMEOUT = 10.0


# --- the servers ----------------------------------------------------------------------------------------


def uvicorn_log_level(access_log: bool) -> str:
    """uvicorn writes its access lines at INFO: below that level `--access-log` would write nothing."""
    return "info" if access_log else "warning"


def serve_mcp(port: int, mode: str, access_log: bool) -> None:
    """The MCP server process: `price_calculator` as an MCP tool around the same executor call. `mode`: `sse`
    (a session per connection, every answer an event stream), `stateful` (sessions, JSON answers) or
    `stateless` (no session, JSON answers)."""
    import uvicorn
    from mcp.server.mcpserver import MCPServer

    from salesboost.tools.executor import ToolExecutor
    from salesboost.tools.registry import build_default_registry

    executor: ToolExecutor | None = None
    server = MCPServer("salesboost-bench", log_level="WARNING")  # its INFO line per request would be unfair

    @server.tool()
    async def price_calculator(
        items: list[dict[str, Any]], discount_rate: float = 0.0, tax_rate: float = 0.0
    ) -> dict[str, Any]:
        """Calculate an exact price quote (the same executor call as the HTTP API)."""
        nonlocal executor
        if executor is None:
            executor = ToolExecutor(registry=build_default_registry())
        payload = {"items": items, "discount_rate": discount_rate, "tax_rate": tax_rate}
        result = await executor.execute("price_calculator", payload, "admin")
        if not result.ok:
            raise ValueError(result.error.message if result.error else "failed")
        return result.result or {}

    app = server.streamable_http_app(stateless_http=mode == "stateless", json_response=mode != "sse")
    uvicorn.run(app, host=HOST, port=port, log_level=uvicorn_log_level(access_log), access_log=access_log)


def serve_ceiling(port: int, body_file: Path, access_log: bool) -> None:
    """The ceiling: a bare Starlette route on the same uvicorn settings, answering the bytes the service answered
    (read once at start): what this framework and server can do when the handler costs nothing."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    body = body_file.read_bytes()

    async def execute(request: Request) -> Response:
        await request.body()
        return Response(body, media_type="application/json")

    app = Starlette(routes=[Route("/api/v1/tools/execute", execute, methods=["POST"])])
    uvicorn.run(app, host=HOST, port=port, log_level=uvicorn_log_level(access_log), access_log=access_log)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start within {timeout:g} s")


@contextmanager
def _server(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, process)
        yield
    except BaseException:
        sys.stderr.write(f"--- {log.name} ---\n{log.read_text(errors='replace')[-3000:]}\n")
        raise
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- a lean HTTP/1.1 client --------------------------------------------------------------------------------


class Connection:
    """One keep-alive connection; a request is pre-built bytes, a response is framed by Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
        if b"content-length" in headers:
            return status, headers, await self.reader.readexactly(int(headers[b"content-length"]))
        if headers.get(b"transfer-encoding") != b"chunked":
            raise RuntimeError(f"response without Content-Length or chunks: {head!r}")
        chunks = []
        while size := int((await self.reader.readuntil(b"\r\n"))[:-2], 16):
            chunks.append((await self.reader.readexactly(size + 2))[:-2])
        await self.reader.readuntil(b"\r\n")
        return status, headers, b"".join(chunks)

    def close(self) -> None:
        self.writer.close()


def build_request(path: str, body: bytes, headers: dict[str, str], port: int) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {HOST}:{port}", "Content-Type: application/json",
             f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Target:
    """A server and how to ask it for the quote."""

    name: str
    port: int
    request: bytes
    quote: Callable[[bytes], Any]  # the quote's total, from a response body
    prepare: Callable[[Connection], Any] | None = None  # per connection (an MCP session), awaitable


def api_target(port: int) -> Target:
    body = json.dumps({"tool": "price_calculator", "payload": PAYLOAD}).encode()
    request = build_request("/api/v1/tools/execute", body, {"Authorization": f"Bearer {API_KEY}"}, port)
    return Target("salesboost REST", port, request, lambda raw: json.loads(raw)["result"]["total"])


def ceiling_target(port: int) -> Target:
    target = api_target(port)
    target.name = "ceiling (bare Starlette route)"
    return target


def _event_data(raw: bytes) -> Any:
    """A JSON-RPC answer, sent as JSON or as one server-sent event."""
    if raw.lstrip().startswith(b"{"):
        return json.loads(raw)
    return json.loads(next(line[5:] for line in raw.splitlines() if line.startswith(b"data:")))


def our_mcp_target(port: int) -> Target:
    """The service's own `/mcp`: a session per connection, behind the same key check, limits and audit."""
    accept = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18",
              "Authorization": f"Bearer {API_KEY}"}
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "price_calculator", "arguments": PAYLOAD}}
    target = Target("salesboost /mcp (stateful)", port, b"",
                    lambda raw: _event_data(raw)["result"]["structuredContent"]["total"])
    target.prepare = _mcp_session(target, accept, call, port)
    return target


def mcp_target(port: int, mode: str) -> Target:
    accept = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "price_calculator", "arguments": PAYLOAD}}
    request = build_request("/mcp", json.dumps(call).encode(), accept, port)
    target = Target(f"mcp streamable-HTTP ({mode})", port, request,
                    lambda raw: _event_data(raw)["result"]["structuredContent"]["total"])
    if mode != "stateless":
        target.prepare = _mcp_session(target, accept, call, port)
    return target


def _mcp_session(
    target: Target, accept: dict[str, str], call: dict[str, Any], port: int
) -> Callable[..., Any]:
    """Initialize a session on the connection; afterwards every call on it carries the session id."""

    async def prepare(conn: Connection) -> bytes:
        init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"}}}
        _, headers, _ = await conn.send(build_request("/mcp", json.dumps(init).encode(), accept, port))
        session = {**accept, "Mcp-Session-Id": headers[b"mcp-session-id"].decode()}
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        await conn.send(build_request("/mcp", json.dumps(note).encode(), session, port))
        return build_request("/mcp", json.dumps(call).encode(), session, port)

    return prepare


Pair = tuple[Connection, bytes]  # a connection and the request to send on it


async def _connect(target: Target) -> Pair:
    conn = await Connection.open(target.port)
    request = target.request if target.prepare is None else await target.prepare(conn)
    return conn, request


FAILURES: Counter[str] = Counter()  # what went wrong, for the report


async def _call(target: Target, pair: Pair) -> tuple[bool, Pair]:
    """One request: (answered 200, the connection to use next). A dropped or stuck connection counts as an
    error and is replaced."""
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            status, _, body = await pair[0].send(pair[1])
    except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
        FAILURES[f"{target.name}: {type(exc).__name__}"] += 1
        pair[0].close()
        return False, await _connect(target)
    if status != 200:
        FAILURES[f"{target.name}: HTTP {status} {body[:120]!r}"] += 1
    return status == 200, pair


# --- the phases --------------------------------------------------------------------------------------


@dataclass
class Stats:
    name: str
    latencies: list[float]
    errors: int
    seconds: float

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


async def closed_loop(target: Target, connections: int, duration: float, max_requests: int) -> Stats:
    """`connections` clients, each sending its next request as soon as the last one is answered."""
    latencies: list[float] = []
    errors = 0
    pairs = [await _connect(target) for _ in range(connections)]
    deadline = time.perf_counter() + duration

    async def client(pair: Pair) -> Pair:
        nonlocal errors
        clock = time.perf_counter
        while clock() < deadline and len(latencies) < max_requests:
            start = clock()
            ok, pair = await _call(target, pair)
            latencies.append(clock() - start)
            errors += not ok
        return pair

    start = time.perf_counter()
    pairs = await asyncio.gather(*(client(pair) for pair in pairs))
    seconds = time.perf_counter() - start
    for conn, _ in pairs:
        conn.close()
    return Stats(target.name, latencies, errors, seconds)


async def fixed_rate(target: Target, rate: float, seconds: float, max_connections: int = 64) -> Stats:
    """Open loop: request i is due at start + i/rate, whatever happened to the others."""
    count = int(rate * seconds)
    idle: list[Pair] = [await _connect(target) for _ in range(8)]
    opened = len(idle)
    latencies: list[float] = []
    errors = 0
    available = asyncio.Condition()

    async def one(due: float) -> None:
        nonlocal errors, opened
        async with available:
            while not idle and opened >= max_connections:
                await available.wait()
            if idle:
                pair = idle.pop()
            else:
                opened += 1
                pair = None
        if pair is None:
            pair = await _connect(target)
        ok, pair = await _call(target, pair)
        latencies.append(time.perf_counter() - due)
        errors += not ok
        async with available:
            idle.append(pair)
            available.notify()

    loop_start = time.perf_counter()
    tasks = []
    for i in range(count):
        due = loop_start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - loop_start
    for conn, _ in idle:
        conn.close()
    return Stats(target.name, latencies, errors, elapsed)


async def check_same_quote(*targets: Target) -> str:
    totals = []
    for target in targets:
        conn, request = await _connect(target)
        status, _, body = await conn.send(request)
        conn.close()
        if status != 200:
            raise RuntimeError(f"{target.name} answered {status}: {body[:300]!r}")
        totals.append(target.quote(body))
    if len(set(totals)) != 1:
        raise RuntimeError(f"the servers disagree: {totals}")
    return str(totals[0])


def _row(stats: Stats) -> str:
    slowest = max(stats.latencies) * 1000
    return (f"{stats.name:34} {len(stats.latencies):>8} {stats.errors:>6} {stats.rate:>10.0f} "
            f"{stats.percentile(0.50):>8.2f} {stats.percentile(0.99):>8.2f} {slowest:>8.1f}")


def _merged(rounds: list[Stats]) -> Stats:
    """One server's rounds as one run: every latency, every error, the seconds it was loaded."""
    return Stats(rounds[0].name, [x for r in rounds for x in r.latencies], sum(r.errors for r in rounds),
                 sum(r.seconds for r in rounds))


async def interleaved(
    targets: tuple[Target, ...], rounds: int, phase: Callable[[Target], Any]
) -> list[list[Stats]]:
    """`phase` for every target, `rounds` times, the order reversed every other round, so that a stretch of
    outside load falls on one round of each server rather than on one server's whole run."""
    runs: list[list[Stats]] = [[] for _ in targets]
    for r in range(rounds):
        order = list(enumerate(targets))
        for i, target in order if r % 2 == 0 else order[::-1]:
            runs[i].append(await phase(target))
    return runs


async def run_phases(
    api: Target, ceiling: Target, mcp_sse: Target, mcp: Target, ours_mcp: Target, args: argparse.Namespace
) -> str:
    """Run both phases, print their tables; the RESULT line, for the caller to print last."""
    targets = (api, ceiling, mcp_sse, mcp, ours_mcp)
    total = await check_same_quote(*targets)
    print(f"every server quotes the same total: {total}")
    for target in targets:  # warm-up: imports, first queries, JIT-free but cache-warm
        await closed_loop(target, 4, 1.0, 500)

    header = f"{'':34} {'requests':>8} {'errors':>6} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    rounds = args.rounds
    print(f"\nclosed loop: {args.connections} connections, {args.duration:g} s or {args.max_requests} calls a "
          f"server, in {rounds} interleaved rounds")
    print(header)
    closed_runs = await interleaved(targets, rounds, lambda t: closed_loop(
        t, args.connections, args.duration / rounds, args.max_requests // rounds))
    closed = [_merged(runs) for runs in closed_runs]
    for stats in closed:
        print(_row(stats))
    rest, top, bare_sse, bare_mcp, our_mcp = closed
    speedup = rest.rate / bare_mcp.rate if bare_mcp.rate else float("inf")
    # The ratios to the ceiling are the median of the rounds' own: a round's two servers ran seconds apart.
    ceiling_ratios = [a.rate / c.rate if c.rate else 0.0 for a, c in zip(*closed_runs[:2], strict=True)]
    ceiling_ratio = statistics.median(ceiling_ratios)
    mcp_ratio = our_mcp.rate / bare_sse.rate if bare_sse.rate else float("inf")
    fast_ratio = our_mcp.rate / bare_mcp.rate if bare_mcp.rate else float("inf")
    print(f"throughput: salesboost REST is {speedup:.1f}x the MCP server ({args.mcp_mode}) and {ceiling_ratio:.0%} "
          f"of the ceiling; our /mcp is {mcp_ratio:.2f}x the bare MCP server like it (sse) and {fast_ratio:.2f}x "
          f"the one {args.mcp_mode}")

    print(f"\nfixed rate: {args.rate:g} requests/s for {args.seconds:g} s a server, in {rounds} interleaved rounds "
          "(latency from each one's due time)")
    print(header)
    fixed_runs = await interleaved(
        (api, ceiling, mcp), rounds, lambda t: fixed_rate(t, args.rate, args.seconds / rounds)
    )
    fixed = [_merged(runs) for runs in fixed_runs]
    for stats in fixed:
        print(_row(stats))
    api_fixed, ceiling_fixed, mcp_fixed = fixed
    p99_ratios = [a.percentile(0.99) / c.percentile(0.99) for a, c in zip(*fixed_runs[:2], strict=True)]
    p99_ratio = statistics.median(p99_ratios)
    print(f"by round: ceiling_ratio {' '.join(f'{r:.4f}' for r in ceiling_ratios)}; "
          f"fixed_p99_ratio {' '.join(f'{r:.4f}' for r in p99_ratios)}")
    for failure, count in FAILURES.most_common():
        print(f"failed {count}x: {failure}")
    return (
        f"RESULT api_rps={rest.rate:.0f} mcp_rps={bare_mcp.rate:.0f} speedup={speedup:.2f} "
        f"api_p99_ms={rest.percentile(0.99):.2f} mcp_p99_ms={bare_mcp.percentile(0.99):.2f} "
        f"fixed_rate={api_fixed.rate:.0f} fixed_p99_ms={api_fixed.percentile(0.99):.2f} "
        f"mcp_fixed_p99_ms={mcp_fixed.percentile(0.99):.2f} api_errors={rest.errors + api_fixed.errors} "
        f"ceiling_rps={top.rate:.0f} ceiling_ratio={ceiling_ratio:.4f} "
        f"ceiling_fixed_p99_ms={ceiling_fixed.percentile(0.99):.2f} fixed_p99_ratio={p99_ratio:.4f} "
        f"our_mcp_rps={our_mcp.rate:.0f} our_mcp_ratio={mcp_ratio:.2f} our_mcp_errors={our_mcp.errors} "
        f"mcp_sse_rps={bare_sse.rate:.0f} our_mcp_fast_ratio={fast_ratio:.2f}"
    )


async def first_answer(target: Target) -> bytes:
    conn, request = await _connect(target)
    status, _, body = await conn.send(request)
    conn.close()
    if status != 200:
        raise RuntimeError(f"{target.name} answered {status}: {body[:300]!r}")
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of each closed-loop run")
    parser.add_argument("--max-requests", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of the fixed-rate run")
    parser.add_argument("--mcp-mode", choices=["stateless", "stateful", "sse"], default="stateless",
                        help="the second bare MCP server's mode (the first is always sse, like ours)")
    parser.add_argument("--rounds", type=int, default=4,
                        help="each phase's time per server is split into this many rounds, interleaved")
    parser.add_argument("--quick", action="store_true", help="2 s runs, for a smoke test")
    parser.add_argument("--access-log", action="store_true", help="every server writes uvicorn's access log")
    parser.add_argument("--serve-mcp", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-ceiling", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--body", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_mcp:
        serve_mcp(args.serve_mcp, args.mcp_mode, args.access_log)
        return
    if args.serve_ceiling:
        serve_ceiling(args.serve_ceiling, args.body, args.access_log)
        return
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.quick:
        args.duration, args.seconds = 2.0, 2.0

    from salesboost.store.db import upgrade

    with tempfile.TemporaryDirectory(prefix="salesboost-http-bench-") as tmp:
        # No default rate limits: the load is one key's, far past price_calculator's 30 per minute.
        env = {**os.environ, "SALESBOOST_API_KEYS": f"{API_KEY}:admin", "SALESBOOST_LOG_LEVEL": "WARNING",
               "SALESBOOST_RATE_LIMITS_FILE": ""}
        env.pop("SALESBOOST_API_KEYS_FILE", None)
        api_env = {**env, "SALESBOOST_DATABASE_URL": f"sqlite+aiosqlite:///{Path(tmp) / 'api.db'}"}
        mcp_env = {**env, "SALESBOOST_DATABASE_URL": f"sqlite+aiosqlite:///{Path(tmp) / 'mcp.db'}"}
        sse_env = {**env, "SALESBOOST_DATABASE_URL": f"sqlite+aiosqlite:///{Path(tmp) / 'mcp-sse.db'}"}
        for e in (api_env, mcp_env, sse_env):
            upgrade(e["SALESBOOST_DATABASE_URL"])
        api_port, mcp_port, sse_port, ceiling_port = _free_port(), _free_port(), _free_port(), _free_port()
        log_flag = ["--access-log"] if args.access_log else []
        uvicorn = [sys.executable, "-m", "uvicorn", "salesboost.api.app:create_app", "--factory",
                   "--host", HOST, "--port", str(api_port), "--workers", "1",
                   "--log-level", uvicorn_log_level(args.access_log),
                   "--access-log" if args.access_log else "--no-access-log"]
        mcp = [sys.executable, __file__, "--serve-mcp", str(mcp_port), "--mcp-mode", args.mcp_mode, *log_flag]
        mcp_sse = [sys.executable, __file__, "--serve-mcp", str(sse_port), "--mcp-mode", "sse", *log_flag]
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; one uvicorn worker per server; "
              f"access log {'on' if args.access_log else 'off'}; load from this process")
        logs = Path(tmp)
        body = logs / "answer.json"
        ceiling = [sys.executable, __file__, "--serve-ceiling", str(ceiling_port), "--body", str(body), *log_flag]
        with (_server(uvicorn, api_env, api_port, logs / "api.log"),
              _server(mcp_sse, sse_env, sse_port, logs / "mcp-sse.log"),
              _server(mcp, mcp_env, mcp_port, logs / "mcp.log")):
            api = api_target(api_port)
            body.write_bytes(asyncio.run(first_answer(api)))
            with _server(ceiling, env, ceiling_port, logs / "ceiling.log"):
                targets = (api, ceiling_target(ceiling_port), mcp_target(sse_port, "sse"),
                           mcp_target(mcp_port, args.mcp_mode), our_mcp_target(api_port))
                result = asyncio.run(run_phases(*targets, args))
        if args.access_log:  # each server wrote a line per request, or the comparison is not the one asked for
            written = {name: _access_lines(logs / f"{name}.log") for name in ("api", "ceiling", "mcp", "mcp-sse")}
            print("access log lines: " + ", ".join(f"{name} {count}" for name, count in written.items()))
            if not all(written.values()):
                sys.exit("--access-log: a server wrote no access line")
        print(result)


def _access_lines(log: Path) -> int:
    """uvicorn's access lines in a server's log (`"POST /path HTTP/1.1" 200`)."""
    return sum('"POST ' in line for line in log.read_text(errors="replace").splitlines())

if __name__ == "__main__":
    main()
