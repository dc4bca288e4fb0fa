"""How an engine extension is switched on: refused on any moto but the pinned one, installed once while
nested opens share it, undone by the opener that installed it."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator


@contextmanager
def pinned_install(*, source: str, extends: str, lock: threading.Lock, installed: Callable[[], bool],
                   install: Callable[[], None], uninstall: Callable[[], None]) -> Iterator[None]:
    """`source` (e.g. "sandbox/engine/x.py") patches `extends` (what of moto) with `install`; `installed()`
    says whether its patches are in place (a nested open then leaves them to the first)."""
    import moto

    from sandbox.engine import PINNED_MOTO, EngineVersionError

    if moto.__version__ != PINNED_MOTO:
        raise EngineVersionError(
            f"{source} extends moto {PINNED_MOTO}'s {extends}, but moto {moto.__version__} is installed; "
            "install the pinned requirements (make setup) or port the extension")
    with lock:
        owner = not installed()
        if owner:
            install()
    try:
        yield
    finally:
        if owner:
            with lock:
                uninstall()
