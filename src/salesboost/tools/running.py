"""Driving a coroutine eagerly: run it in the caller's task until it first suspends.

Most cheap tools (and most status callbacks) finish without ever suspending. Stepping the coroutine by hand
tells us so for free, and only a coroutine that really waits gets a timer (`await_with_deadline`) or a
task of its own. `asyncio.timeout` around every call would cost about half of the executor's budget.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Generator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Generic, TypeVar

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


async def await_with_deadline(awaitable: Awaitable[T], timeout: float) -> T:
    """Await something that already suspended once, raising TimeoutError after `timeout` seconds."""
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - always inside a task under asyncio
        raise RuntimeError("await_with_deadline needs a running task")
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    handle = asyncio.get_running_loop().call_later(timeout, expire)
    try:
        return await awaitable
    except asyncio.CancelledError:
        if expired and task.uncancel() == 0:
            raise TimeoutError(f"no answer within {timeout:g} s") from None
        raise
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
    return False, asyncio.get_running_loop().run_in_executor(threads, tool.run, args, ctx)
