"""How one definition of each operation serves both the sync and the asyncio client.

An operation is a plain function that builds a `Call` (see `_data_plane.py`). Declaring it on a class with
`operation(build)` makes it a method: on a `SyncSurface` it performs the call and returns the result, on an
`AsyncSurface` it returns a coroutine that does the same exchange in a worker thread. The overloads of
`__get__` give type checkers the right signature for each (the builder's parameters, `T` or `Awaitable[T]`).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, Generic, ParamSpec, TypeVar, overload

from ._call import Call, finish, prepare
from ._config import ClientConfig
from ._transport import send

__all__ = ["AsyncSurface", "SyncSurface", "exchange", "operation"]

P = ParamSpec("P")
T = TypeVar("T")


def exchange(config: ClientConfig, call: Call[T]) -> T:
    """Perform a call: fetch the token, send the request, read the answer. Never retries."""
    bearer = config.bearer()
    return finish(call, send(prepare(config, call, bearer)), bearer)


class SyncSurface:
    """A group of operations that block until the answer is there."""

    def __init__(self, config: ClientConfig) -> None:
        self._config = config

    def _run(self, call: Call[T]) -> T:
        return exchange(self._config, call)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._config!r})"


class AsyncSurface:
    """A group of operations to await; each exchange runs in a worker thread (`asyncio.to_thread`)."""

    def __init__(self, config: ClientConfig) -> None:
        self._config = config

    async def _run(self, call: Call[T]) -> T:
        return await asyncio.to_thread(exchange, self._config, call)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._config!r})"


class operation(Generic[P, T]):
    """Declare the operation built by `build` as a method of sync and async surfaces alike."""

    def __init__(self, build: Callable[P, Call[T]]) -> None:
        self._build = build
        self.__doc__ = build.__doc__
        self._signatures = (_returning(build, "{}"), _returning(build, "Awaitable[{}]"))

    @overload
    def __get__(self, surface: None, owner: type[Any] | None = None) -> Callable[P, Call[T]]: ...

    @overload
    def __get__(self, surface: AsyncSurface, owner: type[Any] | None = None) -> Callable[P, Coroutine[Any, Any, T]]: ...

    @overload
    def __get__(self, surface: SyncSurface, owner: type[Any] | None = None) -> Callable[P, T]: ...

    def __get__(
        self, surface: SyncSurface | AsyncSurface | None, owner: type[Any] | None = None
    ) -> Callable[P, T] | Callable[P, Coroutine[Any, Any, T]] | Callable[P, Call[T]]:
        build = self._build
        if surface is None:  # looked up on the class (help(), inspect): the operation's definition
            return build
        if isinstance(surface, AsyncSurface):
            run_async = surface._run

            @functools.wraps(build)
            async def call_async(*args: P.args, **kwargs: P.kwargs) -> T:
                return await run_async(build(*args, **kwargs))

            call_async.__signature__ = self._signatures[1]  # type: ignore[attr-defined]
            return call_async
        run = surface._run

        @functools.wraps(build)
        def call(*args: P.args, **kwargs: P.kwargs) -> T:
            return run(build(*args, **kwargs))

        call.__signature__ = self._signatures[0]  # type: ignore[attr-defined]
        return call


def _returning(build: Callable[..., Any], template: str) -> inspect.Signature:
    """`build`'s signature with its `Call[X]` return shown as what the method gives (`X`, `Awaitable[X]`)."""
    signature = inspect.signature(build)
    built = str(signature.return_annotation)
    result = built[len("Call[") : -1] if built.startswith("Call[") else built
    return signature.replace(return_annotation=template.format(result))
