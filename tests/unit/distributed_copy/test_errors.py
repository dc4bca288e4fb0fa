"""Every error message the workflow produces is bounded, whatever the input, and keeps its error name."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from distributed_copy.errors import MAX_MESSAGE_CHARS, InvalidCopyInput, ResultsUnreadable, bounded, bounded_errors  # noqa: E402
from distributed_copy.handlers import plan
from distributed_copy.planning import plan_copy
from distributed_copy.summary import collect

NOW = datetime(2026, 11, 22, 16, 0, tzinfo=timezone.utc)
HOSTILE = "9" * 200_000


@pytest.mark.parametrize("event", [{"targetDate": HOSTILE}, {"targetDate": "2026-02-30" + HOSTILE},
                                   {"sourcePrefix": HOSTILE}, {HOSTILE: 1},
                                   {"sourcePrefix": "in/" + "x" * 1100 + "/"}])
def test_hostile_input_is_refused_by_name_in_a_bounded_message(event):
    with pytest.raises(InvalidCopyInput) as refused:
        plan_copy(event, bucket="b", source_prefix="in/", destination_prefix="out/", now=NOW, timezone="Asia/Tokyo")
    assert len(str(refused.value)) <= MAX_MESSAGE_CHARS


def test_the_plan_handler_answers_a_200_kb_target_date_with_a_short_named_error(lambda_context, monkeypatch):
    for name, value in {"SOURCE_BUCKET": "b", "SOURCE_PREFIX": "in/", "DESTINATION_PREFIX": "out/",
                        "TARGET_TIMEZONE": "Asia/Tokyo"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(InvalidCopyInput) as refused:
        plan.handler({"targetDate": HOSTILE}, lambda_context)
    assert "targetDate" in str(refused.value) and len(str(refused.value)) < 200


def test_results_unreadable_quotes_a_bounded_preview():
    with pytest.raises(ResultsUnreadable) as refused:
        collect(None, {"Bucket": HOSTILE})
    assert len(str(refused.value)) <= MAX_MESSAGE_CHARS


def test_any_escaping_exception_keeps_its_name_with_a_bounded_message():
    class ShoutingError(Exception):
        def __str__(self) -> str:
            return "!" * 10_000  # ignores its args

    for raised in (KeyError(HOSTILE), ValueError(HOSTILE), ShoutingError()):
        @bounded_errors
        def handler(event, context, error=raised):
            raise error

        with pytest.raises(Exception) as caught:
            handler({}, None)
        assert type(caught.value).__name__ == type(raised).__name__
        assert len(str(caught.value)) <= MAX_MESSAGE_CHARS + 2  # KeyError's str() quotes its text


def test_short_messages_pass_unchanged():
    assert bounded("fine") == "fine"
    assert bounded("x" * 5000).endswith("(5,000 characters, cut)") and len(bounded("x" * 5000)) == MAX_MESSAGE_CHARS
