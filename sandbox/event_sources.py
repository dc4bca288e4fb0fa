"""Lambda's SQS event source mapping, emulated the way Lambda runs it (pinned to moto 5.2.5).

moto's own mapping invokes the function synchronously *inside* ``SendMessage``
(``moto.sqs.models.Queue.add_message`` loops over ``queue.lambda_event_source_mappings``):
the sender blocks for the whole call, and a queue never shows a message in flight.
Workflows that look at the queue (single-flight reads ``ApproximateNumberOfMessagesNotVisible``)
would see a world that does not exist. So, while the emulator runs:

* ``install_sqs_patch()`` replaces ``Queue.add_message`` with a copy that only stores the
  message (no synchronous invoke), and that keeps FIFO deduplication ids for SQS's
  5-minute window even after the message was deleted (moto forgets them on delete; SQS does
  not). ``uninstall_sqs_patch()`` restores moto's method.
* ``SqsEventSourcePollers`` reads each deployed ``AWS::Lambda::EventSourceMapping`` on an SQS
  queue and runs one poller thread for it, which does what Lambda's pollers do:
  ReceiveMessage (the message is hidden for the queue's visibility timeout while the
  function runs), invoke the function with the SQS event, DeleteMessage on success, leave
  the message for redelivery on a function error, and with ``ReportBatchItemFailures``
  delete all but the records named in ``batchItemFailures``. SQS itself moves a message to
  the DLQ once its receive count passes ``maxReceiveCount`` (moto implements that on receive).

Simplification: one poller per mapping, invoking one batch at a time. For a FIFO queue with
one message group (the only kind deployed here) that is what Lambda does too; a standard
queue would be drained with more concurrency in AWS.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:
    from sandbox.emulator import DeployedStack, Emulator
    from sandbox.lambda_runtime import InvocationResult

_PATCH_LOCK = threading.Lock()
_ORIGINAL_ADD_MESSAGE: Any = None
_INSTALLS = 0


def _add_message_without_synchronous_invoke(queue: Any, message: Any) -> None:
    """moto 5.2.5's ``Queue.add_message`` minus the event source mapping loop, with SQS's dedup window."""
    from moto.sqs.models import DEDUPLICATION_TIME_IN_SECONDS

    fresh = not message.approximate_receive_count  # a redrive to a DLQ is not a new send
    if fresh and queue.fifo_queue and (queue.attributes.get("ContentBasedDeduplication") == "true" or message.deduplication_id):
        seen: dict[str, int] = queue.__dict__.setdefault("_sandbox_deduplication_ids", {})
        now_ms = int(message.sent_timestamp or time.time() * 1000)
        for dedup_id, sent_ms in list(seen.items()):
            if (now_ms - sent_ms) / 1000 >= DEDUPLICATION_TIME_IN_SECONDS:
                del seen[dedup_id]
        if message.deduplication_id in seen:
            return  # accepted by SendMessage, not delivered: what SQS does within the window
        seen[message.deduplication_id] = now_ms
    with queue._messages_lock:
        queue._messages.append(message)
        queue._messages_lock.notify_all()


def install_sqs_patch() -> None:
    """Stop moto invoking mapped functions inside SendMessage. Nested calls are counted: the patch
    stays until every install has had its uninstall (an emulator and a test may both hold it)."""
    global _ORIGINAL_ADD_MESSAGE, _INSTALLS
    from moto.sqs.models import Queue

    with _PATCH_LOCK:
        if _INSTALLS == 0:
            _ORIGINAL_ADD_MESSAGE = Queue.__dict__["add_message"]
            Queue.add_message = _add_message_without_synchronous_invoke  # type: ignore[method-assign]
        _INSTALLS += 1


def uninstall_sqs_patch() -> None:
    global _ORIGINAL_ADD_MESSAGE, _INSTALLS
    from moto.sqs.models import Queue

    with _PATCH_LOCK:
        if _INSTALLS == 0:
            return
        _INSTALLS -= 1
        if _INSTALLS == 0:
            Queue.add_message = _ORIGINAL_ADD_MESSAGE  # type: ignore[method-assign]
            _ORIGINAL_ADD_MESSAGE = None


def sqs_patch_installed() -> bool:
    return _ORIGINAL_ADD_MESSAGE is not None


# --------------------------------------------------------------------------- mapping and event


@dataclass(frozen=True)
class SqsMapping:
    """One deployed event source mapping on an SQS queue."""

    uuid: str
    function_name: str
    queue_arn: str
    queue_url: str
    batch_size: int
    report_batch_item_failures: bool
    enabled: bool = True


def _queue_url(queue_arn: str, endpoint_url: str) -> str:
    _, _, _, _region, account, name = queue_arn.split(":", 5)
    return f"{endpoint_url}/{account}/{name}"


def read_sqs_mappings(emulator: "Emulator", stack: "DeployedStack", template: dict[str, Any]) -> list[SqsMapping]:
    """The stack's SQS event source mappings as deployed (the API), completed from the template
    where moto's CloudFormation dropped a property (FunctionResponseTypes)."""
    lambda_client = emulator.client("lambda")
    mappings = []
    for logical_id, resource_type in stack.resource_types.items():
        if resource_type != "AWS::Lambda::EventSourceMapping":
            continue
        config = lambda_client.get_event_source_mapping(UUID=stack.resources[logical_id])
        if ":sqs:" not in config["EventSourceArn"]:
            continue
        props = (template["Resources"].get(logical_id) or {}).get("Properties") or {}
        response_types = config.get("FunctionResponseTypes") or props.get("FunctionResponseTypes") or []
        mappings.append(SqsMapping(
            uuid=config["UUID"],
            function_name=config["FunctionArn"].split(":")[6],
            queue_arn=config["EventSourceArn"],
            queue_url=_queue_url(config["EventSourceArn"], emulator.endpoint_url),
            batch_size=int(config.get("BatchSize") or props.get("BatchSize") or 10),
            report_batch_item_failures="ReportBatchItemFailures" in response_types,
            enabled=config.get("State", "Enabled") == "Enabled" and props.get("Enabled", True) is not False,
        ))
    return mappings


def sqs_event(messages: list[dict[str, Any]], *, queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda hands a function for a batch of ReceiveMessage results."""
    records = []
    for message in messages:
        attributes = dict(message.get("Attributes") or {})
        attributes.pop("AWSTraceHeader", None)
        records.append({
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": attributes,
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": value.get("StringListValues", []),
                    "binaryListValues": value.get("BinaryListValues", []),
                    "dataType": value["DataType"],
                }
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        })
    return {"Records": records}


def failed_message_ids(result: "InvocationResult", messages: list[dict[str, Any]], *, report_batch_item_failures: bool) -> set[str]:
    """Which messages of the batch Lambda leaves in the queue after this invocation.

    A function error fails the whole batch. With ReportBatchItemFailures, a response listing
    `batchItemFailures` fails those records only; a malformed response (not an object, an
    entry without a known `itemIdentifier`) fails the whole batch, as Lambda does.
    """
    every = {m["MessageId"] for m in messages}
    if result.errored:
        return every
    if not report_batch_item_failures:
        return set()
    try:
        response = json.loads(result.payload)
    except ValueError:
        return every
    if response is None or (isinstance(response, dict) and not response.get("batchItemFailures")):
        return set()
    if not isinstance(response, dict) or not isinstance(response["batchItemFailures"], list):
        return every
    failed = set()
    for entry in response["batchItemFailures"]:
        identifier = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if identifier not in every:
            return every
        failed.add(identifier)
    return failed


# --------------------------------------------------------------------------- pollers


@dataclass
class PollerStats:
    receives: int = 0
    invocations: int = 0
    errored_invocations: int = 0
    deleted: int = 0
    left_for_redelivery: int = 0
    in_flight: int = 0  # invocations running now


class SqsPoller:
    """One mapping's poller thread (see the module docstring)."""

    def __init__(self, mapping: SqsMapping, *, sqs_client: Any, invoke: Callable[[str, Any], "InvocationResult"],
                 region: str, wait_seconds: int = 1) -> None:
        self.mapping = mapping
        self._sqs = sqs_client
        self._invoke = invoke
        self._region = region
        self._wait_seconds = wait_seconds
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._poll_lock = threading.Lock()
        self._lock = threading.Lock()
        self.stats = PollerStats()
        self._thread = threading.Thread(target=self._run, name=f"esm-{mapping.function_name}", daemon=True)

    def start(self) -> "SqsPoller":
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No ReceiveMessage while inside: waits for a receive (and its invocation) already under way."""
        self._running.clear()
        try:
            with self._poll_lock:
                yield
        finally:
            self._running.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._running.wait(0.2):
                continue
            try:
                with self._poll_lock:
                    if self._running.is_set():
                        self.poll_once()
            except Exception:  # the emulator is going away, or a transient error: poll again
                if self._stop.wait(0.2):
                    return

    def poll_once(self) -> int:
        """One ReceiveMessage and, when it returned messages, one invocation; returns the batch size."""
        response = self._sqs.receive_message(
            QueueUrl=self.mapping.queue_url,
            MaxNumberOfMessages=self.mapping.batch_size,
            WaitTimeSeconds=self._wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        with self._lock:
            self.stats.receives += 1
        if not messages:
            return 0
        event = sqs_event(messages, queue_arn=self.mapping.queue_arn, region=self._region)
        with self._lock:
            self.stats.invocations += 1
            self.stats.in_flight += 1
        try:
            result = self._invoke(self.mapping.function_name, event)
        finally:
            with self._lock:
                self.stats.in_flight -= 1
        failed = failed_message_ids(result, messages, report_batch_item_failures=self.mapping.report_batch_item_failures)
        for message in messages:
            if message["MessageId"] not in failed:
                self._sqs.delete_message(QueueUrl=self.mapping.queue_url, ReceiptHandle=message["ReceiptHandle"])
        with self._lock:
            self.stats.errored_invocations += int(result.errored)
            self.stats.deleted += len(messages) - len(failed)
            self.stats.left_for_redelivery += len(failed)
        return len(messages)


@dataclass
class SqsEventSourcePollers:
    """Pollers for every SQS event source mapping of one deployed stack (a context manager)."""

    emulator: "Emulator"
    stack: "DeployedStack"
    template_path: Path
    pollers: list[SqsPoller] = field(default_factory=list)

    def __enter__(self) -> "SqsEventSourcePollers":
        template = json.loads(Path(self.template_path).read_text())
        runtime = self.emulator.lambda_runtime
        for mapping in read_sqs_mappings(self.emulator, self.stack, template):
            if not mapping.enabled:
                continue
            poller = SqsPoller(mapping, sqs_client=self.emulator.client("sqs"), invoke=runtime.invoke_direct,
                               region=self.emulator.region)
            self.pollers.append(poller.start())
        return self

    def __exit__(self, *exc: object) -> None:
        for poller in self.pollers:
            poller._stop.set()
        for poller in self.pollers:
            poller.stop()

    def for_function(self, function_name: str) -> SqsPoller:
        for poller in self.pollers:
            if poller.mapping.function_name == function_name:
                return poller
        raise KeyError(f"no SQS event source mapping invokes {function_name}")

    def busy(self) -> bool:
        return any(poller.stats.in_flight for poller in self.pollers)
