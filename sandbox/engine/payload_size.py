"""State payload size as AWS measures it: 256 KiB of UTF-8.

moto measures `json.dumps(value)` with ASCII escapes, so a CJK character counts 6 bytes instead of
3 and an emoji 12 instead of 4: payloads AWS accepts fail locally with States.DataLimitExceeded.
This replaces moto's `is_within_size_quota` (imported by name into three modules) with a check of
the compact UTF-8 JSON, the size AWS limits.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from importlib import import_module
from typing import Any, Iterator

MAX_STATE_PAYLOAD_BYTES = 256 * 1024
_MODULES_USING_QUOTA = (
    "moto.stepfunctions.parser.quotas",
    "moto.stepfunctions.parser.asl.component.state.state",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service",
)


def utf8_json_size(value: Any) -> int:
    """Bytes of `value` as compact UTF-8 JSON; a string is taken as JSON text when it parses."""
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            return len(value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value)
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8", "surrogatepass"))


def is_within_size_quota(value: Any) -> bool:
    return utf8_json_size(value) <= MAX_STATE_PAYLOAD_BYTES


@contextmanager
def utf8_payload_quota() -> Iterator[None]:
    modules = [import_module(name) for name in _MODULES_USING_QUOTA]
    originals = [module.is_within_size_quota for module in modules]
    for module in modules:
        module.is_within_size_quota = is_within_size_quota
    try:
        yield
    finally:
        for module, original in zip(modules, originals):
            module.is_within_size_quota = original
