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


@pytest.mark.parametrize(("mode", "error"), [("4xx", SlackRejected), ("5xx", SlackUnavailable), ("drop", SlackUnavailable)])
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
