"""A hook at the emulator's WSGI entry: see (and answer, or pass on) every request moto's server gets.

The sandbox emulates what moto does not enforce or cannot be told (S3 access rules, DynamoDB faults) there,
so that a hook sees the request as AWS would (path, headers, signature) before moto's backends do.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

Forward = Callable[[dict[str, Any], Callable], Iterable[bytes]]
Handle = Callable[[dict[str, Any], Callable, Forward], Iterable[bytes]]


@contextmanager
def emulator_entry_hook(handle: Handle) -> Iterator[None]:
    """While open, every request goes to `handle(environ, start_response, forward)`; `forward` passes it on
    (to moto, or to a hook opened earlier). Close hooks in the reverse order of opening."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__

    def __call__(app: Any, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        return handle(environ, start_response, lambda e, s: original(app, e, s))

    DomainDispatcherApplication.__call__ = __call__  # type: ignore[method-assign]
    try:
        yield
    finally:
        DomainDispatcherApplication.__call__ = original  # type: ignore[method-assign]


class EntryHook:
    """Base of a context manager that handles requests at the emulator's entry with its `_handle` while open."""

    _hook: Any = None

    def _handle(self, environ: dict[str, Any], start_response: Callable, forward: Forward) -> Iterable[bytes]:
        raise NotImplementedError

    def __enter__(self) -> "EntryHook":
        self._hook = emulator_entry_hook(self._handle)
        self._hook.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._hook is not None:
            self._hook.__exit__(*exc)
            self._hook = None
