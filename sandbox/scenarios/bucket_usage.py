"""bucket-usage's outside world: a fleet of buckets in the emulator, some denied, some in another
region, some vanishing mid-scan, some throttled (see sandbox.standins.bucket_fleet and sandbox.s3_access),
and faults of the results table on demand (stand-in `results`, see `ResultsBehaviour`).

`configure()` (called before every run) builds the fleet its settings describe; the same settings
keep the same buckets (so two runs can scan the same fleet), other settings replace the fleet.
"""

from __future__ import annotations

import json
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Mapping

from sandbox.emulator import DeployedStack, Emulator
from sandbox.faults import CRASH, ERRORING, GARBAGE, THROTTLED, TIMING_OUT, Fault, FaultMatrix, FunctionSettings, Notice
from sandbox.s3_access import S3AccessEmulation, S3AccessRules
from sandbox.standins.bucket_fleet import BucketFleetSettings, FleetBucket, create_fleet, delete_bucket, emulator_put_object
from sandbox.scenarios.base import LAMBDA_STANDIN, ScenarioError
from sandbox.standins.dynamodb_faults import DynamoDBFaults, TableFaultBehaviour

STANDIN = "fleet"
RESULTS = "results"


@dataclass(frozen=True)
class ResultsBehaviour(TableFaultBehaviour):
    """The results table (see TableFaultBehaviour). fail_on: scan (ScanPass / RecordIncomplete / ScanFailed
    writing an item: PutItem), summary (Summarize's Query), any."""

    fail_on: str = "scan"

    @staticmethod
    def fail_on_choices() -> Mapping[str, tuple[frozenset[str], str]]:
        return {"scan": (frozenset({"PutItem"}), "functions"), "summary": (frozenset({"Query"}), "functions"),
                "any": (frozenset(), "any")}


# Stand-in name -> settings type (`--standin fleet.buckets=5`, or `--standin buckets=5`).
STANDIN_SETTINGS = {STANDIN: BucketFleetSettings, RESULTS: ResultsBehaviour}
# The account also holds the CDK asset bucket and other stacks' buckets: the sample scans the fleet only.
SAMPLE_INPUT = {"name_prefix": "usage-"}  # what `sandbox run` sends without --input


def headline(output: Any) -> str:
    """The demo table's line for a successful run: buckets scanned and the top extensions by bytes."""
    top = ", ".join(f"{t['extension']} {t['bytes']:,} B" for t in output.get("top_extensions", [])[:3])
    return f"{output.get('buckets_scanned')}/{output.get('buckets')} buckets scanned; top: {top or 'none'}"


class BucketUsageScenario:
    """Exposes `fleet` (the buckets of the last configure), `settings`, `rules` (S3 access emulation),
    `results_faults`, `table_name` and `topic_arn` (the deployed results table and notices topic)."""

    def __init__(self, emulator: Emulator, stack: DeployedStack) -> None:
        self._emulator = emulator
        self._stack = stack
        self._exit = ExitStack()
        self._lock = threading.Lock()
        self._s3 = emulator.client("s3")
        self.rules = S3AccessRules()
        self.results_faults = DynamoDBFaults()
        self.settings: BucketFleetSettings | None = None
        self.fleet: list[FleetBucket] = []
        self._items_before: int | None = None  # results table items when the run was configured
        self.table_name = self._only("AWS::DynamoDB::Table")
        self.topic_arn = self._only("AWS::SNS::Topic")

    def _only(self, resource_type: str) -> str:
        found = [self._stack.resources[lid] for lid, t in self._stack.resource_types.items() if t == resource_type]
        if len(found) != 1:
            raise ScenarioError(f"{self._stack.stack_name}: expected one {resource_type}, found {len(found)}")
        return found[0]

    def __enter__(self) -> "BucketUsageScenario":
        self._exit.enter_context(S3AccessEmulation(self.rules, delete_bucket=lambda name: delete_bucket(self._s3, name)))
        self._exit.enter_context(self.results_faults)
        return self

    def __exit__(self, *exc: object) -> None:
        self._teardown()
        self._exit.close()

    def configure(self, settings: Mapping[str, Any]) -> None:
        """`settings`: {"fleet": BucketFleetSettings, "results": ResultsBehaviour} (validated by
        sandbox.scenarios.base); default settings if absent."""
        self.results_faults.configure((settings.get(RESULTS) or ResultsBehaviour()).fault(self.table_name))
        settings = settings.get(STANDIN) or BucketFleetSettings()
        if not isinstance(settings, BucketFleetSettings):
            raise ScenarioError(f"{STANDIN}: expected BucketFleetSettings, got {type(settings).__name__}")
        with self._lock:
            intact = settings == self.settings and not self.rules.vanished
            if not intact:
                self._teardown()
                self.fleet = create_fleet(self._s3, settings, self._emulator.region,
                                          put_object=emulator_put_object(self._emulator.account_id))
                self.settings = settings
            kinds = {b.name: b.kind for b in self.fleet}
            self.rules.denied = {name for name, kind in kinds.items() if kind == "denied"}
            self.rules.vanish_after_first_page = {name for name, kind in kinds.items() if kind == "vanishing"}
            self.rules.throttled = {name for name, kind in kinds.items() if kind == "throttled"}
            self.rules.slow = {name for name, kind in kinds.items() if kind == "slow"}
            self.rules.garbage = {name for name, kind in kinds.items() if kind == "garbage"}
            self.rules.slow_seconds = settings.slow_seconds
            self.rules.vanished.clear()
            self.rules.denied_requests = self.rules.wrong_region_requests = self.rules.throttled_requests = 0
            self.rules.requests_by_region.clear()
            self._items_before = self._results_written()

    def _results_written(self) -> int | None:
        """Items in the results table now, read from the emulator's backend (not a workflow request)."""
        from moto.dynamodb.models import dynamodb_backends

        try:
            return len(dynamodb_backends[self._emulator.account_id][self._emulator.region].get_table(self.table_name))
        except RuntimeError:  # the table changed while it was counted
            return None

    def progress(self) -> str | None:
        """For a live display during a run: buckets whose results are written so far (one item per scanned bucket)."""
        written = self._results_written()
        if written is None or self._items_before is None or not self.fleet:
            return None
        return f"results written for {written - self._items_before} of {len(self.fleet)} buckets"

    def _teardown(self) -> None:
        for bucket in self.fleet:
            delete_bucket(self._s3, bucket.name)
        self.fleet, self.settings = [], None

    def stats(self) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        for bucket in self.fleet:
            kinds[bucket.kind] = kinds.get(bucket.kind, 0) + 1
        return {
            "fleet": kinds,
            "denied_requests": self.rules.denied_requests,
            "wrong_region_requests": self.rules.wrong_region_requests,
            "throttled_requests": self.rules.throttled_requests,
            "s3_requests_by_region": dict(sorted(self.rules.requests_by_region.items())),
            "vanished": list(self.rules.vanished),
            "results_faults_injected": dict(self.results_faults.injected),
        }


    # -- the fault matrix's questions (sandbox.faults) -------------------------------------------
    def scan_id(self, report: Any) -> str:
        """The run's scan id: its input's, else its execution name (the workflow's default)."""
        described = self._emulator.client("stepfunctions").describe_execution(executionArn=report.execution_arn)
        given = json.loads(described.get("input") or "{}")
        scan_id = given.get("scan_id") if isinstance(given, dict) else None
        return scan_id if isinstance(scan_id, str) else report.execution_arn.rsplit(":", 1)[-1]

    def items(self, scan_id: str) -> dict[str, dict[str, Any]]:
        """The results table's items of a scan, by bucket, without what differs between runs (execution, times)."""
        from boto3.dynamodb.types import TypeDeserializer

        pages = self._emulator.client("dynamodb").get_paginator("query").paginate(
            TableName=self.table_name, KeyConditionExpression="scan_id = :s", ExpressionAttributeValues={":s": {"S": scan_id}})
        found = {}
        for page in pages:
            for raw in page["Items"]:
                item = {key: TypeDeserializer().deserialize(value) for key, value in raw.items()}
                found[item["bucket"]] = {key: value for key, value in json.loads(json.dumps(item, default=int)).items()
                                         if key not in ("scan_id", "bucket", "execution", "scanned_at", "expires_at")}
        return found

    def nothing_lost(self, report: Any) -> list[str]:
        """Once a run has ended, every bucket of the fleet has its item for the scan (counts, or why not)."""
        found = self.items(self.scan_id(report))
        return [f"{bucket.name} has no item in the results table" for bucket in self.fleet if bucket.name not in found]

    def end_state(self, report: Any) -> dict[str, Any]:
        """The scan's items of the fleet's buckets (a fleet's names and contents follow from its settings)."""
        found = self.items(self.scan_id(report))
        return {bucket.name: found.get(bucket.name) for bucket in self.fleet}


SCENARIO = BucketUsageScenario  # what the sandbox starts around a deployed stack of this workflow


def _scans(number: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A scan id of its own per run; a re-run scans again under the same id (its items replaced)."""
    scan = {"name_prefix": "usage-", "scan_id": f"fault-matrix-{number}"}
    return scan, dict(scan)


def _failures(message: Mapping[str, Any]) -> tuple[str, str] | None:
    """A failure notice's error and cause; the summary's failures, by error name, with the buckets' errors."""
    if "error" in message:
        return str(message["error"]), str(message.get("cause") or "")
    failures = message.get("failures") or []
    if not failures:
        return None
    return (",".join(sorted({str(failure.get("error") or failure.get("status")).split(":")[0] for failure in failures})),
            "; ".join(f"{failure.get('bucket')}: {failure.get('status')}: {failure.get('error')}" for failure in failures))


def _one_more(kind: str, **more: str) -> dict[str, dict[str, str]]:
    """The fleet of every run, plus one bucket of `kind` (its own fleet: the re-run's is the clean one)."""
    return {"fleet": {f"{kind}_buckets": "1", **more}}


_FAILED = "TooManyBucketsFailed"  # 1 bucket of 2 failed: past the 5 % tolerated, after the summary names it
FAULTS = FaultMatrix(
    inputs=_scans,
    base_standins={"fleet": {"buckets": "1", "objects_per_bucket": "20", "other_region_buckets": "0", "denied_buckets": "0"}},
    read_notice=_failures,
    faults=(
        # a bucket answering 503 SlowDown to every request: its pass retried 3 times, then recorded as an error
        Fault("S3", THROTTLED, _one_more("throttled"), retries={"ScanPass": {"BucketScanThrottled": 3}}, error=_FAILED,
              notice=Notice("BucketScanThrottled", "SlowDown")),
        # a bucket refusing the workflow (403 AccessDenied): recorded as denied, not retried; the run succeeds and
        # its summary names it; once access is given, a second scan under the same id holds every bucket's counts
        Fault("S3", ERRORING, _one_more("denied"), rerun=True, notice=Notice("AccessDenied", "denied")),
        # a bucket answering after the scan function's timeout (3 s for this run instead of the local 30 s)
        Fault("S3", TIMING_OUT, _one_more("slow", slow_seconds="4"), error=_FAILED, notice=Notice("Sandbox.Timedout", "Task timed out after 3.00 seconds"),
              functions={"ScanFunction": FunctionSettings(timeout_seconds=3)}),
        # a listing that is an HTML page is not S3's answer: not retried, recorded as an error, not as an empty bucket
        Fault("S3", GARBAGE, _one_more("garbage"), error=_FAILED, notice=Notice("BucketAnswerInvalid")),
        # the scan function's worker dies as a bucket's first pass starts: not retried, recorded as an error
        Fault("S3", CRASH, {LAMBDA_STANDIN: {"function": "ScanFunction", "crash_after_seconds": "0"}}, error=_FAILED,
              notice=Notice("Runtime.ExitError", "signal: killed"), observed={"lambda_crashes": 1}),
    ),
)
