"""bucket-usage's outside world: a fleet of buckets in the emulator, some denied, some in another
region, some vanishing mid-scan, some throttled (see sandbox.standins.bucket_fleet and sandbox.s3_access),
and faults of the results table on demand (stand-in `results`, see `ResultsBehaviour`).

`configure()` (called before every run) builds the fleet its settings describe; the same settings
keep the same buckets (so two runs can scan the same fleet), other settings replace the fleet.
"""

from __future__ import annotations

import math
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Mapping

from sandbox.emulator import DeployedStack, Emulator
from sandbox.s3_access import S3AccessEmulation, S3AccessRules
from sandbox.standins.bucket_fleet import BucketFleetSettings, FleetBucket, create_fleet, delete_bucket, emulator_put_object
from sandbox.scenarios.base import ScenarioError
from sandbox.standins.dynamodb_faults import MODES as RESULTS_FAIL_MODES
from sandbox.standins.dynamodb_faults import DynamoDBFault, DynamoDBFaults

STANDIN = "fleet"
RESULTS = "results"
# Which requests to the results table fail: (operations, caller) per `fail_on`.
RESULTS_FAIL_ON = {
    "scan": (frozenset({"PutItem"}), "functions"),  # ScanPass / RecordIncomplete / ScanFailed writing an item
    "summary": (frozenset({"Query"}), "functions"),  # Summarize reading the scan's items
    "any": (frozenset(), "any"),
}


@dataclass(frozen=True)
class ResultsBehaviour:
    """The results table (DynamoDB). Default: never fails.

    fail_mode: throttle (ProvisionedThroughputExceededException) | 5xx (InternalServerError) | slow
    fail_on: scan | summary | any (see RESULTS_FAIL_ON)
    fail_times: the first N matching requests fail (the functions' SDK retries count too); -1 every one
    slow_seconds: how late a `slow` answer comes
    """

    fail_mode: str = "throttle"
    fail_on: str = "scan"
    fail_times: int = 0
    slow_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.fail_mode not in RESULTS_FAIL_MODES or self.fail_on not in RESULTS_FAIL_ON or self.fail_times < -1:
            raise ValueError(f"fail_mode must be one of {', '.join(RESULTS_FAIL_MODES)}, fail_on one of "
                             f"{', '.join(RESULTS_FAIL_ON)}, fail_times -1 or a count >= 0")
        if not (math.isfinite(self.slow_seconds) and 0 <= self.slow_seconds <= 120):
            raise ValueError("slow_seconds must be a number between 0 and 120")


# Stand-in name -> settings type (`--standin fleet.buckets=5`, or `--standin buckets=5`).
STANDIN_SETTINGS = {STANDIN: BucketFleetSettings, RESULTS: ResultsBehaviour}


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
        results: ResultsBehaviour = settings.get(RESULTS) or ResultsBehaviour()
        operations, caller = RESULTS_FAIL_ON[results.fail_on]
        self.results_faults.configure(
            DynamoDBFault(table=self.table_name, mode=results.fail_mode, times=results.fail_times, operations=operations,
                          caller=caller, slow_seconds=results.slow_seconds) if results.fail_times else None
        )
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
            self.rules.vanished.clear()
            self.rules.denied_requests = self.rules.wrong_region_requests = self.rules.throttled_requests = 0
            self.rules.requests_by_region.clear()

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
