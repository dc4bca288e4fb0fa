"""Faults the sandbox injects into the emulator's DynamoDB, for one table, at the emulator's WSGI entry.

A workflow's table is reached by two callers: its state machine (Step Functions' `dynamodb:*`
integrations; moto's engine signs them with the access key "ak") and its Lambda functions. A
`DynamoDBFault` names the table, the operations (`UpdateItem`, ...; none = all), the caller
(`state-machine`, `functions` or `any`), how to fail and how many times:

* `throttle`: 400 `ProvisionedThroughputExceededException`, as DynamoDB answers over capacity;
* `5xx`: 500 `InternalServerError`;
* `slow`: answers, correctly, after `slow_seconds` (past a caller's timeout it is a timeout).

The sandbox's own clients (`HARNESS_USER_AGENT`) pass untouched. Installed by wrapping
`DomainDispatcherApplication.__call__` while the context manager is open (nested with other hooks).
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from sandbox.emulator import HARNESS_USER_AGENT

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


class DynamoDBFaults:
    """Context manager; `configure(fault or None)` between runs; `injected` counts faults by operation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault: DynamoDBFault | None = None
        self._used = 0
        self.injected: Counter[str] = Counter()
        self._original: Any = None

    def configure(self, fault: DynamoDBFault | None) -> None:
        with self._lock:
            self._fault, self._used = fault, 0
            self.injected.clear()

    def __enter__(self) -> "DynamoDBFaults":
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication

        self._original = DomainDispatcherApplication.__call__
        original, faults = self._original, self

        def __call__(app: Any, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
            return faults._handle(environ, start_response, lambda e, s: original(app, e, s))

        DomainDispatcherApplication.__call__ = __call__  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication

        if self._original is not None:
            DomainDispatcherApplication.__call__ = self._original  # type: ignore[method-assign]
            self._original = None

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
