"""Tick messages: parsing and its named error, including a property over arbitrary bodies."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from single_flight.errors import InvalidTickMessage
from single_flight.ticks import parse_tick

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=8)


def test_a_tick_body_parses():
    assert parse_tick('{"scheduled_time": "2026-11-23T04:00:00Z"}', "tick-1") == {
        "scheduled_time": "2026-11-23T04:00:00Z", "deduplication_id": "tick-1"}


@pytest.mark.parametrize("deduplication_id", [None, "", "  "])
def test_a_message_without_deduplication_id_is_refused(deduplication_id):
    with pytest.raises(InvalidTickMessage, match="MessageDeduplicationId"):
        parse_tick('{"scheduled_time": "t"}', deduplication_id)


@given(JSON)
def test_any_json_body_either_parses_to_its_time_or_raises_the_named_error(value):
    # GIVEN any JSON document as a message body
    body = json.dumps(value)
    # WHEN parsed
    try:
        tick = parse_tick(body, "tick-x")
    except InvalidTickMessage:
        # THEN a refusal is the named error, and only for bodies that are not a usable tick
        assert not (isinstance(value, dict) and isinstance(value.get("scheduled_time"), str)
                    and value["scheduled_time"].strip() and len(value["scheduled_time"]) <= 128)
    else:
        assert tick["scheduled_time"] == value["scheduled_time"]


@given(st.binary(max_size=64).map(lambda b: b.decode("latin-1")))
def test_arbitrary_text_never_raises_anything_but_the_named_error(body):
    try:
        parse_tick(body, "tick-x")
    except InvalidTickMessage:
        pass
