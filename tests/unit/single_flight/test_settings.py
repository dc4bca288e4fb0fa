"""SingleFlightSettings refuse values that would break a promise, naming the setting."""

from __future__ import annotations

import pytest

from stacks.single_flight.settings import LongApiSettings, SingleFlightSettings


def test_the_defaults_are_valid_and_hold_a_message_for_the_apis_longest_call():
    settings = SingleFlightSettings()
    assert settings.api.max_call_seconds >= settings.api.timeout_seconds


@pytest.mark.parametrize(("changes", "named"), [
    # the consumer itself waits api.timeout_seconds: a shorter hold would let a redelivery overlap its own call
    ({"api": LongApiSettings(timeout_seconds=150, max_call_seconds=100)},
     "api.max_call_seconds must be at least api.timeout_seconds"),
    # SQS keeps a message in flight at most 12 h from its receive
    ({"api": LongApiSettings(max_call_seconds=43100)}, "12 h"),
    # the completed call must be remembered until the last redelivery, which may come max_call_seconds apart
    ({"api": LongApiSettings(max_call_seconds=2000), "idempotency_expiry_seconds": 5000},
     "idempotency_expiry_seconds must cover every redelivery"),
])
def test_settings_that_break_the_single_flight_promise_are_refused_by_name(changes, named):
    with pytest.raises(ValueError, match=named):
        SingleFlightSettings(**changes)
