"""Driving a coroutine eagerly: run it in the caller's task until it first suspends.

Most cheap tools (and most status callbacks) finish without ever suspending. Stepping the coroutine by hand
tells us so for free, and only a coroutine that really waits gets a timer (`await_with_deadline`) or a
task of its own. `asyncio.timeout` around every call would cost about half of the executor's budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from salesboost.tools.errors import ToolBusyError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from salesboost.tools.base import ToolContext
    from salesboost.tools.registry import RegisteredTool

T = TypeVar("T")


class Resumed(Generic[T]):
    """Awaitable that carries on a coroutine which already yielded `first` to the event loop."""

    __slots__ = ("coro", "first")

    def __init__(self, coro: Coroutine[Any, Any, T], first: Any) -> None:
        self.coro = coro
        self.first = first

    def __await__(self) -> Generator[Any, Any, T]:
        coro, to_yield = self.coro, self.first
        while True:
            try:
                sent = yield to_yield
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation and the like: hand it to the coroutine
                try:
                    to_yield = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                continue
            try:
                to_yield = coro.send(sent)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]


def step(coro: Coroutine[Any, Any, T]) -> tuple[bool, T | Resumed[T]]:
    """Run `coro` until it finishes (True, result) or first suspends (False, awaitable for the rest)."""
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        return True, stop.value
    return False, Resumed(coro, yielded)


class InThread(Generic[T]):
    """A blocking tool's run queued on the thread pool; `started` is when a worker took it (monotonic)."""

    __slots__ = ("future", "started")

    def __init__(self, threads: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> None:
        self.started: float | None = None
        self.future: Future[T] = threads.submit(self._run, fn, *args)

    def _run(self, fn: Callable[..., T], *args: Any) -> T:
        self.started = time.monotonic()
        return fn(*args)

    def __await__(self) -> Generator[Any, Any, T]:
        return asyncio.wrap_future(self.future).__await__()


async def await_with_deadline(awaitable: Awaitable[T], timeout: float) -> T:
    """Await something that already suspended once, raising TimeoutError after `timeout` seconds.

    A run on the thread pool gets its `timeout` from when a worker takes it: time spent queued behind other
    calls is not the tool's slowness (timeouts trip its breaker). A run still queued after `timeout` is
    withdrawn and refused with `ToolBusyError`: it never runs.
    """
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - always inside a task under asyncio
        raise RuntimeError("await_with_deadline needs a running task")
    loop = asyncio.get_running_loop()
    outcome: type[Exception] | None = None
    handle: asyncio.TimerHandle

    def stop(why: type[Exception]) -> None:
        nonlocal outcome
        outcome = why
        task.cancel()

    def expire() -> None:
        nonlocal handle
        if isinstance(awaitable, InThread):
            if awaitable.started is None and awaitable.future.cancel():
                return stop(ToolBusyError)
            ends = (awaitable.started or loop.time()) + timeout  # loop.time() is time.monotonic()
            if ends > loop.time():
                handle = loop.call_at(ends, stop, TimeoutError)
                return None
        return stop(TimeoutError)

    handle = loop.call_later(timeout, expire)
    try:
        return await awaitable
    except asyncio.CancelledError:
        if outcome is None or task.uncancel() != 0:
            raise
        if outcome is ToolBusyError:
            raise ToolBusyError(
                f"the service is busy: the call waited {timeout:g} s for a worker and did not run; try again shortly",
                details={"retry_after": timeout},
            ) from None
        raise TimeoutError(f"no answer within {timeout:g} s") from None
    finally:
        handle.cancel()


def start(entry: RegisteredTool, args: BaseModel, ctx: ToolContext, threads: ThreadPoolExecutor) -> tuple[bool, Any]:
    """Start a tool: (True, output) when it finished at once, else (False, what to await).

    An async tool runs in the caller's task until it first suspends (most cheap tools never do, and then need
    no timer); a blocking one goes to the thread pool, unless its policy says it is cheap enough to run inline.
    """
    tool = entry.tool
    if entry.is_async:
        return step(tool.run(args, ctx))  # type: ignore[arg-type]
    if entry.policy.inline:
        return True, tool.run(args, ctx)
    return False, InThread(threads, tool.run, args, ctx)
