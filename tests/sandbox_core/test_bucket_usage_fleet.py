"""The bucket fleet stand-in: settings validated before anything is created, deterministic plans."""

from __future__ import annotations

import pytest

from sandbox.standins.bucket_fleet import BucketFleetSettings, object_plan, plan_fleet


@pytest.mark.parametrize(
    "bad",
    [{"buckets": -1}, {"objects_per_bucket": -5}, {"denied_buckets": 1.5}, {"extensions": ""}, {"extensions": "jpg,../x"},
     {"storage_classes": "FAST"}, {"other_region": "mars"}, {"buckets": 500}, {"name_prefix": "UPPER"}],
)
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        BucketFleetSettings(**bad)


def test_the_same_settings_plan_the_same_buckets_and_objects():
    settings = BucketFleetSettings(buckets=2, vanishing_buckets=1)
    assert plan_fleet(settings, "us-east-1") == plan_fleet(BucketFleetSettings(buckets=2, vanishing_buckets=1), "us-east-1")
    assert plan_fleet(settings, "us-east-1") != plan_fleet(BucketFleetSettings(buckets=3), "us-east-1")
    (vanishing,) = [b for b in plan_fleet(settings, "us-east-1") if b.kind == "vanishing"]
    assert vanishing.objects == 1001  # a second page exists to fail on
    keys = [key for key, _, _ in object_plan(0, 20, settings)]
    assert len(set(keys)) == 20 and "data/readme-00007" in keys and "home/u00008/.profile" in keys
    assert "files/f00000.JPG" in keys and "files/f00001.png" in keys
