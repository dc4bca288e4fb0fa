"""bucket-usage's outside world: a fleet of buckets in the emulator, some denied, some in another
region, some vanishing mid-scan, some throttled (see sandbox.standins.bucket_fleet and sandbox.s3_access),
and faults of the results table on demand (stand-in `results`, see `ResultsBehaviour`).

`configure()` (called before every run) builds the fleet its settings describe; the same settings
keep the same buckets (so two runs can scan the same fleet), other settings replace the fleet.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Mapping

from sandbox.emulator import DeployedStack, Emulator
from sandbox.s3_access import S3AccessEmulation, S3AccessRules
from sandbox.standins.bucket_fleet import BucketFleetSettings, FleetBucket, create_fleet, delete_bucket, emulator_put_object
from sandbox.scenarios.base import ScenarioError
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


SCENARIO = BucketUsageScenario  # what the sandbox starts around a deployed stack of this workflow
