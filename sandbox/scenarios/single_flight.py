"""single-flight's outside world: the long API stand-in, its token, and a consumer that can crash.

Stand-in settings (`--standin NAME.SETTING=VALUE`):
    api.delay_seconds=S        how long one call takes (default 3)
    api.fail_mode=5xx|429|4xx|garbage|timeout|drop, api.fail_times=N, api.hold_seconds=S
    consumer.crash_times=N     the first N calls kill the calling Lambda worker mid-call
                               (the invocation ends as Runtime.ExitError, as a crashed Lambda does)
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Mapping

from sandbox.faults import CRASH, ERRORING, GARBAGE, THROTTLED, TIMING_OUT, Fault, FaultMatrix, FunctionSettings
from sandbox.scenarios.base import ScenarioError, function_environments, local_endpoint, put_secret, set_function_environment
from sandbox.standins.long_api import LongApiBehaviour, LongApiStandIn

if TYPE_CHECKING:
    from sandbox.emulator import DeployedStack, Emulator


@dataclass(frozen=True)
class ConsumerBehaviour:
    """crash_times: the first N API calls kill the consumer's worker mid-call; default 0."""

    crash_times: int = 0

    def __post_init__(self) -> None:
        if self.crash_times < 0:
            raise ValueError("crash_times must be >= 0")


# Stand-in name -> settings type (`--standin api.delay_seconds=3`, `--standin consumer.crash_times=1`).
STANDIN_SETTINGS = {"api": LongApiBehaviour, "consumer": ConsumerBehaviour}
# What the schedule sends (its scheduled time); `fire` sends the schedule's own times.
SAMPLE_INPUT = {"scheduled_time": "2026-01-01T00:00:00Z"}  # what `sandbox run` sends without --input


@dataclass(frozen=True)
class SingleFlightResources:
    consumer: str  # function name
    queue_url: str
    dead_letter_queue_url: str


def _find_resources(emulator: "Emulator", stack: "DeployedStack") -> SingleFlightResources:
    consumers = [name for name, env in function_environments(emulator, stack).items() if "API_ENDPOINT" in env]
    if len(consumers) != 1:
        raise ScenarioError(f"expected one consumer function in {stack.stack_name}, found {len(consumers)}")
    sqs = emulator.client("sqs")
    work, dead = [], []
    for logical_id, resource_type in stack.resource_types.items():
        if resource_type != "AWS::SQS::Queue":
            continue
        url = sqs.get_queue_url(QueueName=stack.resources[logical_id].rsplit("/", 1)[-1])["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if attributes.get("FifoQueue") != "true":
            continue  # the schedule's DLQ
        (work if "RedrivePolicy" in attributes else dead).append(url)
    if len(work) != 1 or len(dead) != 1:
        raise ScenarioError(f"expected one FIFO work queue and one FIFO DLQ in {stack.stack_name}")
    return SingleFlightResources(consumer=consumers[0], queue_url=work[0], dead_letter_queue_url=dead[0])


def headline(output: Any) -> str:
    """The demo table's line for a successful run: the tick enqueued (and its key), or skipped (and why)."""
    if output.get("enqueued"):
        return f"tick enqueued ({output.get('deduplication_id')})"
    return f"tick skipped: {output.get('reason', 'a message is queued or in flight')}"


class SingleFlightScenario:
    """The long API stand-in (with a random token in Secrets Manager under the name the consumer
    reads), the consumer pointed at it, and counters of what the consumer and the queues did."""

    def __init__(self, emulator: "Emulator", stack: "DeployedStack") -> None:
        self._emulator = emulator
        self._stack = stack
        self.resources = _find_resources(emulator, stack)
        self.api: LongApiStandIn | None = None
        self.consumer = ConsumerBehaviour()
        self._crash_lock = threading.Lock()
        self._crashes = 0
        self._invocations_before = 0

    # -- lifecycle ------------------------------------------------------------
    def __enter__(self) -> "SingleFlightScenario":
        env = function_environments(self._emulator, self._stack)[self.resources.consumer]
        token = secrets.token_urlsafe(24)
        put_secret(self._emulator, env["API_CREDENTIALS_SECRET_NAME"], token)
        self.api = LongApiStandIn(token=token, on_call=self._on_call).__enter__()
        endpoint = local_endpoint(env["API_ENDPOINT"], port=self.api.port, setting="single_flight.api.endpoint")
        set_function_environment(self._emulator, self.resources.consumer, {"API_ENDPOINT": endpoint})
        return self

    def __exit__(self, *exc: object) -> None:
        if self.api is not None:
            self.api.__exit__(*exc)

    def _on_call(self, call: dict[str, Any]) -> None:
        with self._crash_lock:
            if self._crashes >= self.consumer.crash_times:
                return
            self._crashes += 1
        # Mid-call: the request is in, no answer yet. The worker dies as a crashed Lambda would.
        time.sleep(0.1)
        call["killed_workers"] = self._emulator.lambda_runtime.kill_running(self.resources.consumer)

    # -- settings -------------------------------------------------------------
    def configure(self, settings: Mapping[str, Any]) -> None:
        """`settings`: {"api": LongApiBehaviour, "consumer": ConsumerBehaviour} (validated by the caller)."""
        assert self.api is not None, "use the scenario as a context manager"
        self.api.configure(settings.get("api", LongApiBehaviour()))
        with self._crash_lock:
            self.consumer = settings.get("consumer", ConsumerBehaviour())
            self._crashes = 0
        self._invocations_before = self._emulator.lambda_runtime.invocations[self.resources.consumer]

    # -- observations -----------------------------------------------------------
    def queue_counts(self, queue_url: str | None = None) -> dict[str, int]:
        attributes = self._emulator.client("sqs").get_queue_attributes(
            QueueUrl=queue_url or self.resources.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return {"visible": int(attributes["ApproximateNumberOfMessages"]),
                "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"])}

    def dead_letters(self) -> int:
        counts = self.queue_counts(self.resources.dead_letter_queue_url)
        return counts["visible"] + counts["in_flight"]

    def consumer_invocations(self) -> int:
        return self._emulator.lambda_runtime.invocations[self.resources.consumer] - self._invocations_before

    def idle(self) -> bool:
        """Every call has ended: the work queue is empty (each message deleted or in the DLQ), the
        consumer runs no invocation, and the API answers no request (a call the consumer gave up on
        may still be running there)."""
        assert self.api is not None, "use the scenario as a context manager"
        counts = self.queue_counts()
        return (counts == {"visible": 0, "in_flight": 0} and not self._emulator.lambda_runtime.running(self.resources.consumer)
                and self.api.stats()["calls_running"] == 0)

    def settle(self, timeout_s: float = 120) -> bool:
        """Wait until idle(): every call ended and every message is accounted for; False on timeout.

        Idle must be seen twice in a row: moto computes a queue's visible and in-flight counts at two instants,
        so a message whose hold ends between them is counted in neither (seen once under load)."""
        deadline = time.monotonic() + timeout_s
        idle_before = False
        while time.monotonic() < deadline:
            idle_now = self.idle()
            if idle_now and idle_before:
                return True
            idle_before = idle_now
            time.sleep(0.1)
        return False

    def dead_letter_keys(self) -> list[str]:
        """Deduplication ids of the messages in the DLQ (read without taking them: visibility 0)."""
        messages = self._emulator.client("sqs").receive_message(
            QueueUrl=self.resources.dead_letter_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0,
            MessageSystemAttributeNames=["MessageDeduplicationId"]).get("Messages", [])
        return [message["Attributes"]["MessageDeduplicationId"] for message in messages]

    def completed_keys(self) -> set[str]:
        """Idempotency keys whose job the API completed since the last configure."""
        assert self.api is not None, "use the scenario as a context manager"
        return {call["idempotency_key"] for call in self.api.calls if call["outcome"] == "200"}

    # -- the fault matrix's questions (sandbox.faults) -------------------------------------------
    def nothing_lost(self, report: Any) -> list[str]:
        """Every call has ended and the work queue is empty, and the run's tick, if it enqueued one, was
        either done by the API or is in the DLQ: no message gone without the DLQ."""
        found = [] if self.idle() else [f"work left: queue {self.queue_counts()}, consumer running "
                                        f"{self._emulator.lambda_runtime.running(self.resources.consumer)}, API calls "
                                        f"running {self.stats()['calls_running']}"]
        output = report.output if isinstance(report.output, dict) else {}
        key = output.get("deduplication_id") if output.get("enqueued") else None
        if key and key not in self.completed_keys() and key not in self.dead_letter_keys():
            found.append(f"the tick {key} was neither done by the API nor dead-lettered")
        return found

    def end_state(self, report: Any) -> dict[str, Any]:
        """The queues, the jobs done and the calls still running."""
        return {"queue": self.queue_counts(), "dead_letters": self.dead_letters(), "jobs_done": len(self.completed_keys()),
                "calls_running": self.stats()["calls_running"]}

    def stats(self) -> dict[str, Any]:
        assert self.api is not None, "use the scenario as a context manager"
        return {
            **self.api.stats(),
            "consumer_invocations": self.consumer_invocations(),
            "consumer_crashes": self._crashes,
            "dlq_messages": self.dead_letters(),
            "queue": self.queue_counts(),
        }


SCENARIO = SingleFlightScenario  # what the sandbox starts around a deployed stack of this workflow


def _ticks(number: int) -> tuple[dict[str, str], dict[str, str]]:
    """A scheduled time of its own per run (SQS deduplicates a repeated one for 5 minutes)."""
    tick = {"scheduled_time": (datetime(2035, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=number)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return tick, tick


def _redelivered(first_outcome: str, **more: Any) -> dict[str, Any]:
    """The API saw the first call end as `first_outcome`, then the redelivered message's call done, never two at once."""
    return {"consumer_invocations": 2, "max_concurrent_calls": 1, "distinct_keys": 1, "dlq_messages": 0,
            "outcomes": {first_outcome: 1, "200": 1} if first_outcome != "200" else {"200": 2}, **more}


_CALL = {"delay_seconds": "0.2"}
# The tick's history shows no retry: a failed call is retried by SQS, redelivering the message once the
# consumer's hold ends; `consumer_invocations` counts the deliveries.
FAULTS = FaultMatrix(
    inputs=_ticks,
    # Redelivery waits for the hold: max(api.max_call_seconds, rest of the invocation + 1 s). A 2 s function
    # with a 1.5 s client timeout and a 2 s longest call holds a message 3 s, instead of the local stage's 45 s.
    functions={"ConsumerFunction": FunctionSettings(environment={"API_TIMEOUT_SECONDS": "1.5", "API_MAX_CALL_SECONDS": "2"},
                                                    timeout_seconds=2)},
    faults=(
        Fault("api", THROTTLED, {"api": {**_CALL, "fail_mode": "429", "fail_times": "1"}}, observed=_redelivered("429")),
        Fault("api", ERRORING, {"api": {**_CALL, "fail_mode": "5xx", "fail_times": "1"}}, observed=_redelivered("503")),
        # holds the connection past the 1.5 s client timeout (ApiTimeout), closing it within the hold (3 s)
        Fault("api", TIMING_OUT, {"api": {**_CALL, "fail_mode": "timeout", "fail_times": "1", "hold_seconds": "2"}},
              observed=_redelivered("dropped")),
        # a 200 with an HTML body (ApiBadAnswer) is transient: the job is called again under the same key
        Fault("api", GARBAGE, {"api": {**_CALL, "fail_mode": "garbage", "fail_times": "1"}}, observed=_redelivered("200")),
        # the consumer's worker dies mid-call (Runtime.ExitError); the API finishes the job it had started and
        # answers the redelivery from its idempotency record
        Fault("api", CRASH, {"api": _CALL, "consumer": {"crash_times": "1"}},
              observed=_redelivered("200", consumer_crashes=1, repeated_keys=1)),
    ),
)
