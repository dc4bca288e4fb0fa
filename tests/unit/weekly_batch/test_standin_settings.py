"""The weekly-batch stand-ins' settings: typed, validated before anything starts."""

from __future__ import annotations

import pytest

from sandbox.scenarios.base import ScenarioError, validate_standin_options
from sandbox.scenarios.weekly_batch import STANDIN_SETTINGS
from sandbox.standins.bigquery import BigQueryBehaviour
from sandbox.standins.slack import SlackBehaviour


def test_command_line_settings_become_typed_behaviours():
    settings = validate_standin_options(
        {
            "bigquery": {"rows": "0", "appear_after_checks": "2", "fail_mode": "timeout", "fail_times": "-1"},
            "slack": {"fail_mode": "429", "retry_after_seconds": "0.5"},
        },
        STANDIN_SETTINGS,
    )
    assert settings["bigquery"] == BigQueryBehaviour(rows=0, appear_after_checks=2, fail_mode="timeout", fail_times=-1)
    assert settings["slack"] == SlackBehaviour(fail_mode="429", retry_after_seconds=0.5)


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
