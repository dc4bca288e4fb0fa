"""distributed-copy's outside world: the source bucket (not part of the stack), filled per run.

The stack is configured with an existing bucket's name; the sandbox creates that bucket in the
emulator and, before each run, fills its source prefix with objects for the target date and for
other dates, in one of several key styles. S3 can deny, throttle, fail, slow down or garble the
requests about chosen objects, and change or delete them mid-run (`sandbox.standins.s3_faults`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from sandbox.emulator import DeployedStack, Emulator
from sandbox.faults import CRASH, ERRORING, GARBAGE, THROTTLED, TIMING_OUT, Fault, FaultMatrix, FunctionSettings, Notice
from sandbox.scenarios.base import LAMBDA_STANDIN, ScenarioError, function_environments
from sandbox.standins.s3_faults import FAULT_OPERATIONS, FaultPlan, S3Faults

KEY_STYLES = ("plain", "unicode", "spaces", "plus", "long")
MAX_KEY_BYTES = 1024
MAX_SIZE_BYTES = 64 * 1024 * 1024


FAULT_KINDS = ("deny", "throttle", "error", "slow", "garbage", "change", "vanish")


@dataclass(frozen=True)
class SourceObjects:
    """What the source prefix holds before a run, and what S3 does to it during the run
    (`--standin source.<setting>=<value>`).

    objects: objects named for the target date (they must move); default 50.
    other_dates: objects named for other dates (they must stay); default 10.
    key_style: plain | unicode | spaces | plus (also "%") | long (destination key of exactly
        1,024 bytes, the S3 maximum); default plain.
    size_bytes: bytes per object (random content); default 64.
    deny_keys: that many target-date objects whose copy S3 denies (403 AccessDenied); default 0.
    throttle_keys: that many target-date objects whose requests S3 answers 503 SlowDown; default 0.
    error_keys: that many target-date objects whose requests S3 answers 500 InternalError; default 0.
    slow_keys: that many target-date objects whose requests S3 answers `slow_seconds` late; default 0.
    garbage_keys: that many target-date objects whose requests S3 carries out, then answers with a
        body that is not S3's XML; default 0.
    fault_on: which requests of the throttle/error/slow/garbage objects meet their fault: copy
        (CopyObject, UploadPartCopy), delete (DeleteObject), head (HeadObject) or any; default copy.
    fault_times: how many of those requests per object meet it (-1: every one); default -1.
    slow_seconds: the delay of a slow answer, 0 to 900; default 5.
    change_keys: that many target-date objects uploaded again with other bytes between their copy
        and their delete; default 0.
    vanish_keys: that many target-date objects deleted between the listing and their copy; default 0.
    fill: empty the prefixes and fill the source before the run; false keeps what an earlier run
        left (re-runs); default true.
    target_date: YYYY-MM-DD the objects are named for; default "" = yesterday in the workflow's
        timezone (the date the workflow picks when the input has no targetDate).

    Each fault takes its own objects, in the order deny, throttle, error, slow, garbage, change,
    vanish, from the first target-date objects (`sandbox.standins.s3_faults` describes each answer).
    """

    objects: int = 50
    other_dates: int = 10
    key_style: str = "plain"
    size_bytes: int = 64
    deny_keys: int = 0
    throttle_keys: int = 0
    error_keys: int = 0
    slow_keys: int = 0
    garbage_keys: int = 0
    fault_on: str = "copy"
    fault_times: int = -1
    slow_seconds: float = 5.0
    change_keys: int = 0
    vanish_keys: int = 0
    fill: bool = True
    target_date: str = ""

    def __post_init__(self) -> None:
        for name in ("objects", "other_dates", "size_bytes", *(f"{kind}_keys" for kind in FAULT_KINDS)):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.key_style not in KEY_STYLES:
            raise ValueError(f"key_style must be one of {', '.join(KEY_STYLES)}")
        if self.size_bytes > MAX_SIZE_BYTES:
            raise ValueError(f"size_bytes must be at most {MAX_SIZE_BYTES} (objects are held in memory)")
        if sum(self.fault_counts().values()) > self.objects:
            raise ValueError("the *_keys faults together must not exceed objects")
        if self.fault_on not in FAULT_OPERATIONS:
            raise ValueError(f"fault_on must be one of {', '.join(FAULT_OPERATIONS)}")
        if self.fault_times < -1:
            raise ValueError("fault_times must be -1 (every request) or a count")
        if not 0 <= self.slow_seconds <= 900:
            raise ValueError("slow_seconds must be between 0 and 900")
        if self.target_date:
            try:
                date.fromisoformat(self.target_date)
            except ValueError:
                raise ValueError(f"target_date {self.target_date!r} is not YYYY-MM-DD") from None

    def fault_counts(self) -> dict[str, int]:
        return {kind: getattr(self, f"{kind}_keys") for kind in FAULT_KINDS}


STANDIN_SETTINGS = {"source": SourceObjects}
# target date: yesterday in Asia/Tokyo; the scenario fills 50 + 10 objects
SAMPLE_INPUT = {}  # what `sandbox run` sends without --input


def object_name(style: str, index: int, day: str, *, name_bytes: int) -> str:
    """A file name carrying `day`, in a key style; `long` pads to exactly `name_bytes` bytes."""
    if style == "unicode":
        return f"レポート-{index:05d}-{day}-ü✓.csv"
    if style == "spaces":
        return f"daily report {index:05d} {day}.csv"
    if style == "plus":
        return f"a+b%20c+{index:05d}+{day}.csv"
    if style == "long":
        stem = f"long-{index:05d}-{day}-"
        return stem + "x" * (name_bytes - len(stem.encode()) - 4) + ".csv"
    return f"report-{index:05d}-{day}.csv"


def headline(output: Any) -> str:
    """The demo table's line for a successful run: objects moved, left alone (other dates) and failed."""
    return (f"{output.get('moved')} objects moved ({output.get('targetDate')}), {output.get('skipped')} of other dates "
            f"left, {output.get('failed')} failed")


class DistributedCopyScenario:
    """Creates the configured source bucket in the emulator and fills it per run."""

    def __init__(self, emulator: Emulator, stack: DeployedStack) -> None:
        self._emulator = emulator
        self._stack = stack
        self._faults = S3Faults()
        self.bucket = self.source_prefix = self.destination_prefix = ""
        self.timezone = "UTC"
        self.target_date = ""
        self.expected: dict[str, str] = {}  # source key -> sha256 of its content (target-date objects)
        self.other_keys: list[str] = []
        self.fault_keys: dict[str, list[str]] = {kind: [] for kind in FAULT_KINDS}  # fault -> its objects' keys

    def __enter__(self) -> "DistributedCopyScenario":
        for env in function_environments(self._emulator, self._stack).values():
            if "SOURCE_BUCKET" in env:
                self.bucket, self.source_prefix = env["SOURCE_BUCKET"], env["SOURCE_PREFIX"]
                self.destination_prefix, self.timezone = env["DESTINATION_PREFIX"], env["TARGET_TIMEZONE"]
        if not self.bucket:
            raise ScenarioError(f"no plan function (SOURCE_BUCKET) in {self._stack.stack_name}")
        s3 = self._emulator.client("s3")
        try:
            s3.create_bucket(Bucket=self.bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        self._faults.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._faults.__exit__(*exc)

    # ------------------------------------------------------------------ per run

    def _backend(self) -> Any:
        from moto.s3.models import s3_backends

        return s3_backends[self._emulator.account_id]["aws"]

    def keys(self, prefix: str) -> list[str]:
        """Keys under `prefix`, read from the emulator's S3 backend (not counted as workflow requests)."""
        bucket = self._backend().get_bucket(self.bucket)
        return sorted(k for k in bucket.keys.keys() if k.startswith(prefix))

    def body(self, key: str) -> bytes:
        return self._backend().get_object(self.bucket, key).value

    def yesterday(self) -> str:
        return (datetime.now(timezone.utc).astimezone(ZoneInfo(self.timezone)).date() - timedelta(days=1)).isoformat()

    @property
    def denied_keys(self) -> list[str]:
        return self.fault_keys["deny"]

    @property
    def throttled_keys(self) -> list[str]:
        return self.fault_keys["throttle"]

    @property
    def changed(self) -> dict[str, str]:
        """Key -> sha256 of the bytes a `change` fault re-uploaded it with, this run."""
        return dict(self._faults.record.changed)

    def configure(self, settings: Mapping[str, Any]) -> None:
        source: SourceObjects = settings.get("source", SourceObjects())
        if source.fill:
            self._fill(source)
            candidates = list(self.expected)
        else:  # a re-run: faults hit target-date objects still at the source
            present = set(self.keys(self.source_prefix))
            candidates = [key for key in self.expected if key in present]
        start = 0
        for kind, count in source.fault_counts().items():
            self.fault_keys[kind] = candidates[start:start + count]
            start += count
        self._faults.configure(FaultPlan(
            **{kind: frozenset((self.bucket, key) for key in keys) for kind, keys in self.fault_keys.items()},
            fault_on=source.fault_on, fault_times=source.fault_times, slow_seconds=source.slow_seconds))

    def _fill(self, source: SourceObjects) -> None:
        backend = self._backend()
        for key in self.keys(self.source_prefix) + self.keys(self.destination_prefix):
            backend.delete_object(self.bucket, key)
        self.target_date = source.target_date or self.yesterday()
        name_bytes = MAX_KEY_BYTES - len(f"{self.destination_prefix}YYYY/MM/DD/".encode())
        self.expected, self.other_keys = {}, []
        day = date.fromisoformat(self.target_date)
        for index in range(source.objects):
            key = self.source_prefix + object_name(source.key_style, index, self.target_date, name_bytes=name_bytes)
            body = os.urandom(source.size_bytes)
            backend.put_object(self.bucket, key, body)
            self.expected[key] = hashlib.sha256(body).hexdigest()
        for index in range(source.other_dates):
            other = (day - timedelta(days=1 + index % 7)).isoformat()
            key = self.source_prefix + object_name(source.key_style, 50_000 + index, other, name_bytes=name_bytes)
            backend.put_object(self.bucket, key, os.urandom(source.size_bytes))
            self.other_keys.append(key)

    def destination_of(self, key: str) -> str:
        name = key[len(self.source_prefix):]
        return f"{self.destination_prefix}{self.target_date.replace('-', '/')}/{name}"

    def progress(self) -> str | None:
        """For a live display during a run: objects at the destination so far (None when it cannot tell now)."""
        if not self.expected:
            return None
        try:
            moved = len(self.keys(self.destination_prefix))
        except RuntimeError:  # the bucket changed while its keys were read: ask again later
            return None
        return f"{moved:,}/{len(self.expected):,} objects moved"

    # -- the fault matrix's questions (sandbox.faults) -------------------------------------------
    def nothing_lost(self, report: Any = None) -> list[str]:
        """Each object of the last fill still exists: at the source with the bytes it had (or, if someone
        uploaded it again, the newer ones), or at its destination byte-identical; objects of other dates
        untouched. Objects a `vanish` fault deleted are gone by someone else's hand, not the workflow's."""
        found: list[str] = []
        source, destination = set(self.keys(self.source_prefix)), set(self.keys(self.destination_prefix))
        vanished = set(self.fault_keys["vanish"])
        for key, digest in self.expected.items():
            at_source = key in source and hashlib.sha256(self.body(key)).hexdigest() in (digest, self.changed.get(key))
            copy = self.destination_of(key)
            copied = copy in destination and hashlib.sha256(self.body(copy)).hexdigest() == digest
            if copy in destination and not copied:
                found.append(f"{copy} does not hold the bytes of {key}")
            elif not (at_source or copied or key in vanished):
                found.append(f"{key} was deleted without its copy")
        found += [f"{key}, of another date, is gone" for key in self.other_keys if key not in source]
        return found

    def end_state(self, report: Any = None) -> dict[str, Any]:
        """Where the last fill's objects are (names with the date written `<date>`), and whether every copy
        holds its source's bytes."""
        def named(keys: list[str], prefix: str) -> list[str]:
            return [key[len(prefix):].replace(self.target_date, "<date>").replace(self.target_date.replace("-", "/"), "<date>")
                    for key in keys]

        copies = self.keys(self.destination_prefix)
        return {
            "source": named(self.keys(self.source_prefix), self.source_prefix),
            "destination": named(copies, self.destination_prefix),
            "copies_intact": all(hashlib.sha256(self.body(self.destination_of(key))).hexdigest() == digest
                                 for key, digest in self.expected.items() if self.destination_of(key) in copies),
        }

    def stats(self) -> dict[str, Any]:
        return {
            "source_objects_left": len(self.keys(self.source_prefix)),
            "destination_objects": len(self.keys(self.destination_prefix)),
            "faults_injected": dict(self._faults.record.injected),
            "sources_changed": len(self._faults.record.changed),
            "sources_vanished": len(self._faults.record.vanished),
        }


SCENARIO = DistributedCopyScenario  # what the sandbox starts around a deployed stack of this workflow

_MAP_FAILED = "States.ExceedToleratedFailureThreshold"  # a batch that fails counts all its objects: past 5 %
_MAP_FAILED_NOTICE = Notice(_MAP_FAILED, "tolerated failure threshold was exceeded")

FAULTS = FaultMatrix(
    base_standins={"source": {"objects": "8", "other_dates": "2"}},  # one batch of 10
    rerun_standins={"source": {"fill": "false"}},  # S3 answers again; the objects stay where the failed run left them
    faults=(
        # S3's client tries 3 times (S3_MAX_ATTEMPTS: 2 retries locally), then the batch is retried: its first copy passes
        Fault("S3", THROTTLED, {"source": {"throttle_keys": "1", "fault_times": "3"}}, retries={"CopyBatch": {"S3Throttled": 1}},
              observed={"faults_injected": {"throttle": 3}}),
        # every copy of one object fails: the batch is retried twice, its child fails, so does the Map, after the notice
        Fault("S3", ERRORING, {"source": {"error_keys": "1"}}, retries={"CopyBatch": {"S3Throttled": 2}}, error=_MAP_FAILED,
              notice=_MAP_FAILED_NOTICE, observed={"faults_injected": {"error": 9}}),
        # a copy answered after the function's timeout (4 s for this run instead of the local stage's 60 s): a
        # function timeout is not retried
        Fault("S3", TIMING_OUT, {"source": {"slow_keys": "1", "slow_seconds": "5"}}, error=_MAP_FAILED, notice=_MAP_FAILED_NOTICE,
              functions={"CopyFunction": FunctionSettings(timeout_seconds=4)}, observed={"faults_injected": {"slow": 1}}),
        # the copy is made but its answer is not XML: the retried batch finds the copy equal by content
        Fault("S3", GARBAGE, {"source": {"garbage_keys": "1"}}, retries={"CopyBatch": {"S3Throttled": 1}}),
        # the copy function's worker dies half-way through the batch: not retried, nothing lost
        Fault("S3", CRASH, {LAMBDA_STANDIN: {"function": "CopyFunction", "crash_after_seconds": "0.2"}}, error=_MAP_FAILED,
              notice=_MAP_FAILED_NOTICE, observed={"lambda_crashes": 1}),
    ),
)
