"""Where a sandbox command's wall time goes, for `make bench` (never for a test: speed is not asserted).

Each phase adds its seconds to `PHASES`. With `SANDBOX_TIMINGS=FILE` in the environment, the CLI writes
them to FILE as JSON when it ends (`python -m sandbox run ...` in a bench's child process).
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

PHASES: dict[str, float] = {}
STARTED = time.perf_counter()  # when the sandbox package was first imported


@contextmanager
def phase(name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        PHASES[name] = PHASES.get(name, 0.0) + time.perf_counter() - started


def add(name: str, seconds: float) -> None:
    PHASES[name] = PHASES.get(name, 0.0) + seconds


def write_if_asked() -> None:
    target = os.environ.get("SANDBOX_TIMINGS")
    if target:
        Path(target).write_text(json.dumps({**PHASES, "in_process": time.perf_counter() - STARTED}))
