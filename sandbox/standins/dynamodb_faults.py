"""Faults the sandbox injects into the emulator's DynamoDB, for one table, at the emulator's WSGI entry.

A workflow's table is reached by two callers: its state machine (Step Functions' `dynamodb:*`
integrations; moto's engine signs them with the access key "ak") and its Lambda functions. A
`DynamoDBFault` names the table, the operations (`UpdateItem`, ...; none = all), the caller
(`state-machine`, `functions` or `any`), how to fail and how many times:

* `throttle`: 400 `ProvisionedThroughputExceededException`, as DynamoDB answers over capacity;
* `5xx`: 500 `InternalServerError`;
* `slow`: answers, correctly, after `slow_seconds` (past a caller's timeout it is a timeout).

The sandbox's own clients (`HARNESS_USER_AGENT`) pass untouched. A hook at the emulator's WSGI entry
(`sandbox.wsgi_hook`) while the context manager is open.
"""

from __future__ import annotations

import io
import json
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from sandbox.emulator import HARNESS_USER_AGENT
from sandbox.wsgi_hook import EntryHook

MODES = ("throttle", "5xx", "slow")
CALLERS = ("any", "state-machine", "functions")
_ENGINE_CREDENTIAL = "Credential=ak/"  # moto's Step Functions engine (moto.stepfunctions.parser.asl.utils.boto_client)
_TARGET_PREFIX = "DynamoDB_20120810."
_ANSWERS = {
    "throttle": ("400 Bad Request", "ProvisionedThroughputExceededException",
                 "The level of configured provisioned throughput for the table was exceeded (sandbox fault)"),
    "5xx": ("500 Internal Server Error", "InternalServerError", "Internal server error (sandbox fault)"),
}


@dataclass(frozen=True)
class DynamoDBFault:
    table: str
    mode: str = "throttle"
    times: int = -1  # -1: every matching request
    operations: frozenset[str] = frozenset()  # empty: every operation
    caller: str = "any"
    slow_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in MODES or self.caller not in CALLERS or self.times < -1:
            raise ValueError(f"fault mode must be one of {MODES}, caller one of {CALLERS}, times >= -1")


@dataclass(frozen=True)
class TableFaultBehaviour:
    """How a workflow's table fails, as stand-in settings (`--standin <name>.fail_times=3`). Default: never.

    fail_mode: throttle (ProvisionedThroughputExceededException) | 5xx (InternalServerError) | slow
    fail_on: which requests, by name; a workflow's subclass names them in `fail_on_choices()`
    fail_times: the first N matching requests fail (a function's SDK retries count too); -1 every one
    slow_seconds: how late a `slow` answer comes
    """

    fail_mode: str = "throttle"
    fail_on: str = "any"
    fail_times: int = 0
    slow_seconds: float = 5.0

    @staticmethod
    def fail_on_choices() -> Mapping[str, tuple[frozenset[str], str]]:
        """fail_on -> (operations, caller)."""
        return {"any": (frozenset(), "any")}

    def __post_init__(self) -> None:
        choices = self.fail_on_choices()
        if self.fail_mode not in MODES or self.fail_on not in choices or self.fail_times < -1:
            raise ValueError(f"fail_mode must be one of {', '.join(MODES)}, fail_on one of {', '.join(choices)}, "
                             "fail_times -1 (always) or a count >= 0")
        if not (math.isfinite(self.slow_seconds) and 0 <= self.slow_seconds <= 120):
            raise ValueError("slow_seconds must be a number between 0 and 120")

    def fault(self, table: str) -> DynamoDBFault | None:
        if not self.fail_times:
            return None
        operations, caller = self.fail_on_choices()[self.fail_on]
        return DynamoDBFault(table=table, mode=self.fail_mode, times=self.fail_times, operations=operations, caller=caller,
                             slow_seconds=self.slow_seconds)


class DynamoDBFaults(EntryHook):
    """Context manager; `configure(fault or None)` between runs; `injected` counts faults by operation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault: DynamoDBFault | None = None
        self._used = 0
        self.injected: Counter[str] = Counter()

    def configure(self, fault: DynamoDBFault | None) -> None:
        with self._lock:
            self._fault, self._used = fault, 0
            self.injected.clear()

    def _matches(self, fault: DynamoDBFault, environ: dict[str, Any], operation: str, table: Any) -> bool:
        if fault.operations and operation not in fault.operations:
            return False
        if table != fault.table:
            return False
        from_engine = _ENGINE_CREDENTIAL in environ.get("HTTP_AUTHORIZATION", "")
        return fault.caller == "any" or (fault.caller == "state-machine") == from_engine

    def _handle(self, environ: dict[str, Any], start_response: Callable, forward: Callable) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        fault = self._fault
        if fault is None or not target.startswith(_TARGET_PREFIX) or HARNESS_USER_AGENT in environ.get("HTTP_USER_AGENT", ""):
            return forward(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            table = json.loads(body or b"{}").get("TableName")
        except ValueError:
            table = None
        operation = target[len(_TARGET_PREFIX):]
        with self._lock:
            hit = self._matches(fault, environ, operation, table) and (fault.times < 0 or self._used < fault.times)
            if hit:
                self._used += 1
                self.injected[operation] += 1
        if not hit:
            return forward(environ, start_response)
        if fault.mode == "slow":
            time.sleep(fault.slow_seconds)
            return forward(environ, start_response)
        status, code, message = _ANSWERS[fault.mode]
        answer = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}).encode()
        start_response(status, [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(answer))),
                                ("x-amzn-RequestId", "sandbox-fault")])
        return [answer]
