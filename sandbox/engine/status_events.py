"""Step Functions' execution status events on EventBridge, and EventBridge's Lambda targets, in moto 5.2.5.

AWS puts an event on the account's default bus at every status change of a STANDARD execution
(RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED):
``{"source": "aws.states", "detail-type": "Step Functions Execution Status Change", "detail": {...}}``.
moto emits none, and a rule whose target is a Lambda function fails in moto (NotImplementedError).
``status_events()`` teaches both, while open:

* ``Execution.start`` and the worker's ``terminated`` (which sets the final status) are wrapped to put
  that event, in AWS's shape, on the default bus through moto's own ``put_events``: moto matches the
  rules' patterns and delivers to the targets it knows (SQS, logs, buses);
* ``Rule.send_to_targets`` hands Lambda targets to the sandbox: each delivery runs on its own thread
  (EventBridge invokes Lambda asynchronously), with the target's ``Input`` or ``InputTransformer``, and
  Lambda's asynchronous retries (2, or the function's ``MaximumRetryAttempts``) on a function error.

Not emulated, and named by ``LIMITS``: retries happen at once (AWS waits about 1 and 2 minutes); an event
that still fails is recorded (``deliveries()``), not sent to an on-failure destination or DLQ (moto's
CloudFormation does not create ``AWS::Lambda::EventInvokeConfig``); ``InputPath`` is refused by name
(the delivery is recorded as failed); EXPRESS executions emit nothing, as in AWS.

``wait_for_events(execution_arn)`` waits until an ended execution's event was put and its deliveries
ended, as a caller of AWS would wait a few seconds for EventBridge.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ContextManager

from sandbox.engine.patching import pinned_install

DETAIL_TYPE = "Step Functions Execution Status Change"
SOURCE = "aws.states"
LAMBDA_ASYNC_RETRIES = 2  # Lambda's default for asynchronous invocations
LIMITS = (
    "EventBridge -> Lambda: asynchronous retries run at once (AWS: after ~1 and ~2 minutes); an event that "
    "still fails is recorded, not sent to the function's on-failure destination or DLQ; InputPath is refused"
)

log = logging.getLogger(__name__)


@dataclass
class Delivery:
    """One event delivered (or not) to one Lambda target."""

    rule: str
    target_arn: str
    event_id: str
    execution_arn: str | None  # for a Step Functions status event
    status: str | None
    attempts: int = 0
    outcome: str = "pending"  # pending | delivered | failed
    error: str | None = None
    result: Any = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)


_LOCK = threading.Lock()  # the records below
_INSTALL_LOCK = threading.Lock()
_ORIGINALS: dict[str, Any] = {}  # patched attribute -> moto's own
_OWNERS: dict[str, Any] = {}
_DELIVERIES: list[Delivery] = []
_ENDED: dict[str, threading.Event] = {}  # execution ARN -> its end event was put (deliveries queued)


def deliveries() -> list[Delivery]:
    with _LOCK:
        return list(_DELIVERIES)


def wait_for_events(execution_arn: str, timeout_s: float = 30.0) -> bool:
    """Wait until `execution_arn`'s end event was put and every delivery of it ended; False on timeout.
    True at once for an execution that emits none (EXPRESS, or started before the extension)."""
    deadline = time.monotonic() + timeout_s
    with _LOCK:
        ended = _ENDED.get(execution_arn)
    if ended is None:
        return True
    if not ended.wait(max(0.0, deadline - time.monotonic())):
        return False
    for delivery in [d for d in deliveries() if d.execution_arn == execution_arn]:
        if not delivery.done.wait(max(0.0, deadline - time.monotonic())):
            return False
    return True


# --------------------------------------------------------------------------- the events


def _millis(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if isinstance(moment, datetime) else None


def status_event_detail(execution: Any, status: str | None = None) -> dict[str, Any]:
    """The `detail` AWS sends for `execution` (moto's parser Execution) in `status` (default: its current one)."""
    status = status or (execution.exec_status.value if execution.exec_status is not None else "RUNNING")
    ended = status != "RUNNING"
    output = None
    if status == "SUCCEEDED":
        output = json.dumps(execution.output, separators=(",", ":"))
    return {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": status,
        "startDate": _millis(execution.start_date),
        "stopDate": _millis(execution.stop_date) if ended else None,
        "input": json.dumps(execution.input_data, separators=(",", ":")),
        "output": output,
        "inputDetails": {"included": True},
        "outputDetails": {"included": True} if output is not None else None,
        "error": execution.error,
        "cause": execution.cause,
        "redriveCount": 0,
    }


def _put_status_event(execution: Any, detail: dict[str, Any]) -> None:
    from moto.events.models import events_backends

    try:
        backend = events_backends[execution.account_id][execution.region_name]
        backend.put_events([{"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(detail),
                             "Resources": [execution.exec_arn]}])
    except Exception:  # noqa: BLE001 - an event that cannot be put must not break the execution
        log.exception("could not put the status event of %s", execution.exec_arn)


def _is_standard(execution: Any) -> bool:
    # moto's Execution.sm_type is always STANDARD; the machine's own `type` is the truth.
    return str(getattr(execution.state_machine, "type", "STANDARD")) == "STANDARD"


def _start(self: Any) -> None:
    standard = _is_standard(self)
    if standard:
        running = status_event_detail(self, "RUNNING")  # before the worker may already have ended
        with _LOCK:
            _ENDED[self.exec_arn] = threading.Event()
    _ORIGINALS["Execution.start"](self)
    if standard:
        _put_status_event(self, running)


def _terminated(self: Any) -> None:
    _ORIGINALS["Communication.terminated"](self)
    execution = self.execution
    if not _is_standard(execution):
        return
    try:
        _put_status_event(execution, status_event_detail(execution))
    finally:
        with _LOCK:
            ended = _ENDED.setdefault(execution.exec_arn, threading.Event())
        ended.set()


# --------------------------------------------------------------------------- Lambda targets


def _aws_time(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What EventBridge sends the target: the event, or its `Input`, or its `InputTransformer`'s result."""
    from moto.events.utils import EventTemplateParser

    if "InputPath" in target:
        raise NotImplementedError("the sandbox does not emulate a target's InputPath")
    if "Input" in target:
        return json.loads(target["Input"])
    transformer = target.get("InputTransformer")
    if transformer:
        parsed = EventTemplateParser.parse(input_template=transformer.get("InputTemplate"),
                                           input_paths_map=transformer.get("InputPathsMap", {}), event=event)
        return parsed
    return event


def _retries_of(function: Any) -> int:
    for config in getattr(function, "event_invoke_config", None) or []:
        if "MaximumRetryAttempts" in config.config:
            return int(config.config["MaximumRetryAttempts"])
    return LAMBDA_ASYNC_RETRIES


def _deliver(delivery: Delivery, target: dict[str, Any], event: dict[str, Any]) -> None:
    from moto.awslambda.models import lambda_backends

    try:
        payload = target_input(target, event)
        _, _, _, region, account, *_ = delivery.target_arn.split(":")
        function = lambda_backends[account][region].get_function(delivery.target_arn)
        for _attempt in range(1 + _retries_of(function)):
            delivery.attempts += 1
            result, errored, _logs = function._invoke_lambda(event=json.dumps(payload))
            if not errored:
                delivery.outcome = "delivered"
                try:
                    delivery.result = json.loads(result) if result else None
                except ValueError:
                    delivery.result = result
                return
            delivery.error = str(result)[:1000]
        delivery.outcome = "failed"
    except Exception as exc:  # noqa: BLE001 - recorded, as EventBridge would record a failed delivery
        delivery.outcome = "failed"
        delivery.error = f"{type(exc).__name__}: {exc}"[:1000]
    finally:
        delivery.done.set()


def _send_to_targets(self: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
    original = _ORIGINALS["Rule.send_to_targets"]
    lambda_targets = [t for t in self.targets if ":lambda:" in str(t.get("Arn", ""))]
    others = [t for t in self.targets if t not in lambda_targets]
    if others:
        alone = copy.copy(self)
        alone.targets = others
        original(alone, original_event, transform_input)
    if not lambda_targets or getattr(self, "state", "ENABLED") != "ENABLED":
        return
    if not self.event_pattern.matches_event(original_event):
        return
    event = dict(original_event)
    event["time"] = _aws_time(event.get("time"))
    event.pop("ingestion-time", None)
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    for target in lambda_targets:
        delivery = Delivery(rule=self.name, target_arn=str(target["Arn"]), event_id=str(event.get("id") or uuid.uuid4()),
                            execution_arn=detail.get("executionArn") if event.get("source") == SOURCE else None,
                            status=detail.get("status"))
        with _LOCK:
            _DELIVERIES.append(delivery)
        threading.Thread(target=_deliver, args=(delivery, target, event), daemon=True,
                         name=f"eventbridge-{self.name}").start()


# --------------------------------------------------------------------------- install


def _install() -> None:
    from moto.events.models import Rule
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

    for key, owner, name, replacement in (
        ("Execution.start", Execution, "start", _start),
        ("Communication.terminated", BaseExecutionWorkerCommunication, "terminated", _terminated),
        ("Rule.send_to_targets", Rule, "send_to_targets", _send_to_targets),
    ):
        _ORIGINALS[key], _OWNERS[key] = owner.__dict__[name], owner
        setattr(owner, name, replacement)


def _uninstall() -> None:
    for pending in [d for d in deliveries() if not d.done.is_set()]:
        pending.done.wait(10)
    for key, original in _ORIGINALS.items():
        setattr(_OWNERS[key], key.split(".")[1], original)
    _ORIGINALS.clear()
    _OWNERS.clear()
    with _LOCK:
        _DELIVERIES.clear()
        _ENDED.clear()


def status_events() -> ContextManager[None]:
    """Patch moto while the context is open (nested opens share one install)."""
    return pinned_install(source="sandbox/engine/status_events.py", extends="Step Functions and EventBridge", lock=_INSTALL_LOCK,
                          installed=lambda: bool(_ORIGINALS), install=_install, uninstall=_uninstall)
