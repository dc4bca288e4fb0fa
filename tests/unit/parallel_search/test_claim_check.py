"""Claim check: inline below the threshold, S3 with verified size and sha256 above it."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parallel_search.claim_check import PayloadStore, encode
from parallel_search.errors import InvalidPayloadReference, PayloadIntegrityError, PayloadReferenceMissing
from tests.unit.parallel_search.conftest import BUCKET

THRESHOLD = 1024


@pytest.fixture
def store(aws):
    return PayloadStore(s3=aws["s3"], bucket=BUCKET, inline_threshold_bytes=THRESHOLD)


def test_small_value_travels_inline_without_touching_s3(store, aws):
    envelope = store.put({"items": [1, 2, 3]}, key="k/small.json")
    assert envelope == {"kind": "inline", "size": len(encode({"items": [1, 2, 3]})), "body": {"items": [1, 2, 3]}}
    assert aws["s3"].list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0
    assert store.get(envelope) == {"items": [1, 2, 3]}


def test_large_value_goes_to_s3_as_a_verifiable_reference(store, aws):
    value = {"items": ["x" * 100] * 20}
    envelope = store.put(value, key="k/large.json")
    stored = aws["s3"].get_object(Bucket=BUCKET, Key="k/large.json")["Body"].read()
    assert envelope == {"kind": "s3", "bucket": BUCKET, "key": "k/large.json", "size": len(stored),
                        "sha256": hashlib.sha256(stored).hexdigest()}
    assert envelope["size"] > THRESHOLD
    assert store.get(envelope) == value


def test_missing_object_is_a_named_error(store):
    envelope = store.put({"items": ["y" * 2000]}, key="k/gone.json")
    store.s3.delete_object(Bucket=BUCKET, Key="k/gone.json")
    with pytest.raises(PayloadReferenceMissing, match="k/gone.json"):
        store.get(envelope)


@pytest.mark.parametrize("tamper", ["content", "truncate"])
def test_changed_object_fails_integrity_check(store, tamper):
    envelope = store.put({"items": ["z" * 2000]}, key="k/changed.json")
    body = encode({"items": ["Z" * 2000]}) if tamper == "content" else encode({"items": ["z" * 2000]})[:-10]
    store.s3.put_object(Bucket=BUCKET, Key="k/changed.json", Body=body)
    with pytest.raises(PayloadIntegrityError):
        store.get(envelope)


@pytest.mark.parametrize(
    "envelope",
    [None, "s3://x/y", {"kind": "inline"}, {"kind": "s3", "bucket": BUCKET}, {"kind": "s3", "bucket": "other", "key": "k", "size": 1, "sha256": "0"}],
)
def test_malformed_envelopes_are_rejected(store, envelope):
    with pytest.raises(InvalidPayloadReference):
        store.get(envelope)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=300),
    lambda children: st.lists(children, max_size=8) | st.dictionaries(st.text(max_size=10), children, max_size=8),
    max_leaves=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values)
def test_any_json_value_round_trips_whichever_way_it_travels(store, value):
    envelope = store.put(value, key="k/property.json")
    assert envelope["kind"] == ("inline" if len(encode(value)) <= THRESHOLD else "s3")
    assert store.get(envelope) == value
