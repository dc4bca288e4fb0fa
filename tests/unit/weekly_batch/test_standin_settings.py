"""The weekly-batch stand-ins' settings: typed, validated before anything starts."""

from __future__ import annotations

import pytest

from sandbox.scenarios.base import ScenarioError, validate_standin_options
from sandbox.scenarios.weekly_batch import STANDIN_SETTINGS, GuardBehaviour
from sandbox.standins.bigquery import BigQueryBehaviour
from sandbox.standins.slack import SlackBehaviour


def test_command_line_settings_become_typed_behaviours():
    settings = validate_standin_options(
        {
            "bigquery": {"rows": "0", "appear_after_checks": "2", "fail_mode": "timeout", "fail_times": "-1"},
            "slack": {"fail_mode": "429", "retry_after_seconds": "0.5"},
            "guard": {"fail_mode": "5xx", "fail_on": "release", "fail_times": "2"},
        },
        STANDIN_SETTINGS,
    )
    assert settings["bigquery"] == BigQueryBehaviour(rows=0, appear_after_checks=2, fail_mode="timeout", fail_times=-1)
    assert settings["slack"] == SlackBehaviour(fail_mode="429", retry_after_seconds=0.5)
    assert settings["guard"] == GuardBehaviour(fail_mode="5xx", fail_on="release", fail_times=2)


def test_a_retry_after_of_any_size_is_sent_as_plain_seconds():
    assert SlackBehaviour(retry_after_seconds=10**9).retry_after_header == "1000000000"
    assert SlackBehaviour(retry_after_seconds=3600).retry_after_header == "3600"
    assert SlackBehaviour(retry_after_seconds=0.25).retry_after_header == "0.25"


@pytest.mark.parametrize(
    "options",
    [
        {"bigquery": {"rows": "-1"}},
        {"bigquery": {"appear_after_checks": "-2"}},
        {"bigquery": {"fail_mode": "teapot"}},
        {"bigquery": {"fail_on": "both"}},
        {"bigquery": {"fail_times": "-5"}},
        {"bigquery": {"slow_seconds": "nan"}},
        {"bigquery": {"slow_seconds": "-1"}},
        {"slack": {"fail_mode": "timeout"}},
        {"slack": {"retry_after_seconds": "inf"}},
        {"slack": {"colour": "red"}},
        {"slack": {"retry_after_seconds": "-1"}},
        {"guard": {"fail_mode": "teapot"}},
        {"guard": {"fail_on": "everything"}},
        {"guard": {"fail_times": "-2"}},
        {"guard": {"slow_seconds": "inf"}},
        {"bigtable": {"rows": "1"}},
    ],
)
def test_bad_settings_are_scenario_errors(options):
    with pytest.raises(ScenarioError):
        validate_standin_options(options, STANDIN_SETTINGS)


@pytest.mark.parametrize("kwargs", [{"rows": -1}, {"slow_seconds": float("nan")}, {"fail_on": "x"}])
def test_behaviours_reject_bad_values_themselves(kwargs):
    with pytest.raises(ValueError):
        BigQueryBehaviour(**kwargs)
