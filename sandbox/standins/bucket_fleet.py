"""The buckets bucket-usage measures: created in the emulator per run, with deterministic contents.

Object `i` of a bucket (0-based) is, by `i % 10`:
    7 -> `data/readme-{i:05d}`          (no extension)
    8 -> `home/u{i:05d}/.profile`        (a dotfile)
    else `files/f{i:05d}.{ext}` with ext = extensions[i % len(extensions)], upper-cased when i % 3 == 0
and has `1 + (i * 37 + b * 11) % 2048` bytes (b: the bucket's index in the fleet) and storage class
storage_classes[i % len(storage_classes)]. Tests recompute the expected totals from a direct listing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator

STORAGE_CLASSES = {"STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER", "DEEP_ARCHIVE", "GLACIER_IR", "REDUCED_REDUNDANCY"}
LIST_PAGE = 1000  # keys per ListObjectsV2 page: a vanishing bucket gets one more, so it has a second page
_EXTENSION = re.compile(r"^[A-Za-z0-9]+(\.[A-Za-z0-9]+)*$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_PREFIX = re.compile(r"^[a-z0-9][a-z0-9-]{0,20}$")
MAX_BUCKETS = 200
MAX_OBJECTS = 20_000


@dataclass(frozen=True)
class BucketFleetSettings:
    """What the sandbox creates before a run (`--standin fleet.SETTING=VALUE`, or just SETTING=VALUE).

    buckets: ordinary buckets in the emulator's region (default 3).
    objects_per_bucket: objects in each ordinary, other-region and denied bucket (default 20).
    extensions: comma-separated extensions the objects cycle through (default "jpg,PNG,csv,tar.gz,json").
    other_region_buckets: buckets created in `other_region` (default 1).
    other_region: default "eu-west-1".
    denied_buckets: buckets that answer AccessDenied to the workflow (default 1).
    empty_buckets: buckets without objects (default 0).
    vanishing_buckets: buckets of 1,001 objects deleted after their first listed page (default 0).
    throttled_buckets: buckets (of `objects_per_bucket` objects) that answer every request of the workflow
        with 503 SlowDown, as S3 does under a request-rate limit (default 0).
    slow_buckets: buckets whose every answer comes `slow_seconds` late (past a client's timeout: a timeout).
    garbage_buckets: buckets answering every request with 200 and an HTML page (a proxy in the way).
    slow_seconds: default 2.
    storage_classes: comma-separated classes the objects cycle through (default "STANDARD").
    name_prefix: every fleet bucket's name starts with it (default "usage-"; the sample input's name_prefix).
    """

    buckets: int = 3
    objects_per_bucket: int = 20
    extensions: str = "jpg,PNG,csv,tar.gz,json"
    other_region_buckets: int = 1
    other_region: str = "eu-west-1"
    denied_buckets: int = 1
    empty_buckets: int = 0
    vanishing_buckets: int = 0
    throttled_buckets: int = 0
    slow_buckets: int = 0
    garbage_buckets: int = 0
    slow_seconds: float = 2.0
    storage_classes: str = "STANDARD"
    name_prefix: str = "usage-"

    def __post_init__(self) -> None:
        counts = {k: getattr(self, k) for k in ("buckets", "objects_per_bucket", "other_region_buckets", "denied_buckets", "empty_buckets", "vanishing_buckets", "throttled_buckets",
                                                    "slow_buckets", "garbage_buckets")}
        for name, value in counts.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if not (0 <= self.slow_seconds <= 120):
            raise ValueError("slow_seconds must be a number between 0 and 120")
        if self.total_buckets > MAX_BUCKETS:
            raise ValueError(f"at most {MAX_BUCKETS} buckets in all, got {self.total_buckets}")
        if self.objects_per_bucket > MAX_OBJECTS:
            raise ValueError(f"objects_per_bucket must be at most {MAX_OBJECTS}")
        if not self.extension_list or not all(_EXTENSION.match(e) for e in self.extension_list):
            raise ValueError(f"extensions must be comma-separated names like jpg or tar.gz, got {self.extensions!r}")
        if not self.class_list or not set(self.class_list) <= STORAGE_CLASSES:
            raise ValueError(f"storage_classes must be among {', '.join(sorted(STORAGE_CLASSES))}")
        if not _REGION.match(self.other_region):
            raise ValueError(f"other_region {self.other_region!r} is not a region name")
        if not _PREFIX.match(self.name_prefix):
            raise ValueError("name_prefix must be 1-21 lower-case letters, digits or '-'")

    @property
    def total_buckets(self) -> int:
        return (self.buckets + self.other_region_buckets + self.denied_buckets + self.empty_buckets + self.vanishing_buckets
                + self.throttled_buckets + self.slow_buckets + self.garbage_buckets)

    @property
    def extension_list(self) -> list[str]:
        return [e.strip() for e in self.extensions.split(",") if e.strip()]

    @property
    def class_list(self) -> list[str]:
        return [c.strip() for c in self.storage_classes.split(",") if c.strip()]

    def nonce(self) -> str:
        """Same settings, same bucket names (so a second run can scan the same fleet)."""
        return hashlib.sha256(repr(sorted(asdict(self).items())).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class FleetBucket:
    name: str
    kind: str  # ordinary | other-region | denied | empty | vanishing | throttled | slow | garbage
    region: str
    objects: int


def object_plan(bucket_index: int, count: int, settings: BucketFleetSettings) -> Iterator[tuple[str, int, str]]:
    """(key, size, storage class) of each object of the fleet's bucket number `bucket_index`."""
    extensions, classes = settings.extension_list, settings.class_list
    for i in range(count):
        if i % 10 == 7:
            key = f"data/readme-{i:05d}"
        elif i % 10 == 8:
            key = f"home/u{i:05d}/.profile"
        else:
            ext = extensions[i % len(extensions)]
            key = f"files/f{i:05d}.{ext.upper() if i % 3 == 0 else ext.lower()}"
        yield key, 1 + (i * 37 + bucket_index * 11) % 2048, classes[i % len(classes)]


def plan_fleet(settings: BucketFleetSettings, home_region: str) -> list[FleetBucket]:
    prefix = f"{settings.name_prefix}{settings.nonce()}-"
    kinds = [
        ("b", "ordinary", settings.buckets, home_region, settings.objects_per_bucket),
        ("r", "other-region", settings.other_region_buckets, settings.other_region, settings.objects_per_bucket),
        ("d", "denied", settings.denied_buckets, home_region, settings.objects_per_bucket),
        ("e", "empty", settings.empty_buckets, home_region, 0),
        ("v", "vanishing", settings.vanishing_buckets, home_region, LIST_PAGE + 1),
        ("t", "throttled", settings.throttled_buckets, home_region, settings.objects_per_bucket),
        ("s", "slow", settings.slow_buckets, home_region, settings.objects_per_bucket),
        ("g", "garbage", settings.garbage_buckets, home_region, settings.objects_per_bucket),
    ]
    return [
        FleetBucket(name=f"{prefix}{tag}{j:03d}", kind=kind, region=region, objects=objects)
        for tag, kind, count, region, objects in kinds
        for j in range(count)
    ]


PutObject = Callable[[str, str, bytes, str], None]  # (bucket, key, body, storage class)


def emulator_put_object(account_id: str) -> PutObject:
    """Write objects straight into moto's S3 backend (in this process): the fleet's thousands of
    objects are set-up, not workflow traffic, and HTTP round trips made set-up take a minute."""
    from moto.s3.models import s3_backends

    def put(bucket: str, key: str, body: bytes, storage_class: str) -> None:
        partition, owner = s3_backends.bucket_accounts.get(bucket, ("aws", account_id))
        s3_backends[owner][partition].put_object(bucket, key, body, storage=storage_class)

    return put


def create_fleet(s3: Any, settings: BucketFleetSettings, home_region: str, *, put_object: PutObject | None = None) -> list[FleetBucket]:
    """Create the buckets with the harness client `s3` (not counted, not access-checked), then their objects
    with `put_object` (default: `s3.put_object`)."""
    fleet = plan_fleet(settings, home_region)
    put = put_object or (lambda bucket, key, body, cls: s3.put_object(Bucket=bucket, Key=key, Body=body, StorageClass=cls))
    for index, bucket in enumerate(fleet):
        config = {} if bucket.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": bucket.region}}
        s3.create_bucket(Bucket=bucket.name, **config)
        for key, size, cls in object_plan(index, bucket.objects, settings):
            put(bucket.name, key, b"u" * size, cls)
    return fleet


def delete_bucket(s3: Any, name: str) -> None:
    """Delete every object, then the bucket (missing buckets are fine)."""
    try:
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=name):
            keys = [{"Key": entry["Key"]} for entry in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
        s3.delete_bucket(Bucket=name)
    except s3.exceptions.NoSuchBucket:
        pass
