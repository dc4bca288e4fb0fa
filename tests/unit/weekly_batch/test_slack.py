"""Slack answers mapped to named errors, against the real webhook receiver."""

from __future__ import annotations

import pytest
from weekly_batch.errors import InvalidNotice, SlackRateLimited, SlackRejected, SlackUnavailable, SlackWebhookNotConfigured
from weekly_batch.handlers import notify
from weekly_batch.notices import KINDS, build_message
from weekly_batch.slack import SlackWebhook, validate_webhook_url

from tests.unit.weekly_batch.conftest import load_event


def test_a_notice_is_posted_with_the_seed_fields_and_the_url_never_returned(slack, lambda_context):
    # GIVEN the webhook URL in Secrets Manager and a healthy Slack
    # WHEN the notifier posts a "waiting" notice
    result = notify.handler(load_event("notice_waiting"), lambda_context)
    # THEN Slack got one message with username, icon_emoji and text, and the result holds no URL
    assert result == {"delivered": True, "status": 200, "attempts": 1}
    (message,) = slack.messages
    assert message["username"] == "データ更新を待つ猫" and message["icon_emoji"] == ":cat2:"
    assert "10分待って再実行します" in message["text"] and "2/18" in message["text"]
    assert slack.path_secret not in str(result)


@pytest.mark.parametrize(("mode", "error"), [("4xx", SlackRejected), ("5xx", SlackUnavailable), ("drop", SlackUnavailable),
                                             ("crash", SlackUnavailable)])  # crash without a runtime to kill: hangs up
def test_failures_map_to_named_errors(slack, lambda_context, mode, error):
    slack.configure(fail_mode=mode, fail_times=1)
    with pytest.raises(error):
        notify.handler(load_event("notice_waiting"), lambda_context)
    assert slack.messages == []


def test_a_429_within_the_time_left_is_retried_after_retry_after(slack, lambda_context):
    # GIVEN Slack answers 429 once, asking to retry after 0.2 s, and 30 s are left
    slack.configure(fail_mode="429", fail_times=1, retry_after_seconds=0.2)
    result = notify.handler(load_event("notice_waiting"), lambda_context)
    # THEN the notifier waited and delivered on its second post
    assert result["attempts"] == 2 and len(slack.messages) == 1


def test_a_429_longer_than_the_time_left_is_slack_rate_limited(slack, lambda_context):
    slack.configure(fail_mode="429", fail_times=1, retry_after_seconds=60)
    lambda_context.remaining_ms = 10_000
    with pytest.raises(SlackRateLimited):
        notify.handler(load_event("notice_waiting"), lambda_context)
    assert len(slack.requests) == 1  # no sleeping past the timeout


def test_a_wrong_path_secret_is_rejected(slack):
    webhook = SlackWebhook(url=slack.webhook_url + "x", timeout_s=2)
    with pytest.raises(SlackRejected):
        webhook.post({"text": "hi"}, remaining_s=lambda: 30)


@pytest.mark.parametrize("url", ["http://hooks.slack.com/services/x", "ftp://x", "", "not a url"])
def test_only_https_or_this_machine_is_accepted(url):
    with pytest.raises(SlackRejected):
        validate_webhook_url(url)


def test_every_kind_has_the_three_fields_and_an_unknown_kind_is_a_named_error():
    for kind in KINDS:
        message = build_message({"kind": kind, "targetDate": "2026-11-25"})
        assert set(message) == {"username", "icon_emoji", "text"} and all(message.values())
    with pytest.raises(InvalidNotice):
        build_message({"kind": "party"})


def test_a_failure_notice_shows_the_error_message_not_the_stack_trace():
    cause = '{"errorMessage": "403 quota", "errorType": "BigQueryQuotaExceeded", "stackTrace": ["File x"]}'
    text = build_message({"kind": "failed", "targetDate": "2026-11-25", "error": "BigQueryQuotaExceeded", "cause": cause})["text"]
    assert "BigQueryQuotaExceeded" in text and "403 quota" in text and "stackTrace" not in text


def test_a_missing_webhook_secret_is_a_named_error(aws, monkeypatch, lambda_context):
    monkeypatch.setenv("SLACK_WEBHOOK_SECRET_NAME", "weekly-batch/slack/not-created")
    with pytest.raises(SlackWebhookNotConfigured, match="not-created"):
        notify.handler(load_event("notice_waiting"), lambda_context)


@pytest.mark.parametrize("retry_after", [3600, 86_400, 10**9])
def test_a_long_retry_after_is_honoured_by_giving_up_at_once_with_its_real_value(slack, retry_after):
    # GIVEN Slack rate-limits every post and asks to wait an hour or more
    slack.configure(fail_mode="429", fail_times=-1, retry_after_seconds=retry_after)
    waits: list[float] = []
    webhook = SlackWebhook(url=slack.webhook_url, timeout_s=2, sleep=waits.append)
    # WHEN a notice is posted with 30 s left
    with pytest.raises(SlackRateLimited) as raised:
        webhook.post({"text": "hi"}, remaining_s=lambda: 30)
    # THEN one post, no wait, and the error names the wait Slack asked for (not a default)
    assert len(slack.requests) == 1 and waits == []
    assert f"Retry-After {retry_after}s" in str(raised.value) and "not sent" in str(raised.value)


def test_a_retry_after_that_fits_is_honoured_every_time_up_to_three_posts(slack):
    # GIVEN Slack answers 429 twice, asking for 5 s each time, then accepts
    slack.configure(fail_mode="429", fail_times=2, retry_after_seconds=5)
    waits: list[float] = []
    result = SlackWebhook(url=slack.webhook_url, timeout_s=2, sleep=waits.append).post({"text": "hi"}, remaining_s=lambda: 30)
    # THEN it waited exactly what Slack asked before each new post
    assert waits == [5.0, 5.0] and result == {"status": 200, "attempts": 3} and len(slack.messages) == 1


def test_slack_still_limiting_after_three_posts_is_slack_rate_limited(slack):
    slack.configure(fail_mode="429", fail_times=-1, retry_after_seconds=1)
    waits: list[float] = []
    with pytest.raises(SlackRateLimited, match="3 posts"):
        SlackWebhook(url=slack.webhook_url, timeout_s=2, sleep=waits.append).post({"text": "hi"}, remaining_s=lambda: 30)
    assert len(slack.requests) == 3 and waits == [1.0, 1.0]


@pytest.mark.parametrize(
    ("header", "expected"),
    [("120", 120.0), ("0", 0.0), ("1.5", 1.5), ("  7 ", 7.0), ("3600", 3600.0), ("99999999999", 99999999999.0),
     ("soon", None), ("-5", None), ("nan", None), ("inf", None), ("", None), (None, None), ("1e3", None)],
)
def test_retry_after_is_read_as_seconds_whatever_its_size(header, expected):
    from weekly_batch.slack import retry_after_seconds

    assert retry_after_seconds(header) == expected


def test_retry_after_as_an_http_date_is_the_seconds_until_then():
    from datetime import datetime, timedelta, timezone
    from email.utils import format_datetime

    from weekly_batch.slack import retry_after_seconds

    now = datetime(2026, 11, 26, 0, 30, tzinfo=timezone.utc)
    assert retry_after_seconds(format_datetime(now + timedelta(hours=2), usegmt=True), now=now) == 7200.0
    assert retry_after_seconds(format_datetime(now - timedelta(hours=2), usegmt=True), now=now) == 0.0


def test_a_huge_retry_after_header_is_shown_trimmed(slack):
    from weekly_batch.slack import describe_retry_after

    assert len(describe_retry_after("x" * 100_000)) < 100


def test_an_unknown_notice_kind_is_named_in_a_short_message():
    with pytest.raises(InvalidNotice) as raised:
        build_message({"kind": "k" * 100_000})
    assert len(str(raised.value)) < 200


@pytest.mark.parametrize("mode", ["garbage", "slow"])
def test_an_answer_that_is_not_slacks_ok_or_comes_too_late_is_slack_unavailable(slack, mode):
    # GIVEN a 200 that is an HTML page (a proxy in the way), or an answer after the client's 2 s timeout
    slack.configure(fail_mode=mode, fail_times=1, slow_seconds=3)
    with pytest.raises(SlackUnavailable):
        SlackWebhook(url=slack.webhook_url, timeout_s=2).post({"text": "hi"}, remaining_s=lambda: 30)
