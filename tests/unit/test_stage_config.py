"""Stage configuration from CDK context: typed, validated, with defaults."""

from __future__ import annotations

import pytest
from aws_cdk import RemovalPolicy

from app import cdk_context
from stacks.common.config import ConfigError, StageConfig
from stacks.parallel_search.settings import ParallelSearchSettings


def test_cdk_json_describes_every_stage():
    stages = cdk_context()["stages"]
    for name in ("local", "dev", "prod"):
        config = StageConfig.from_context(stages, name)
        assert config.name == name
        assert isinstance(config.workflow_settings("parallel_search", ParallelSearchSettings), ParallelSearchSettings)


def test_prod_retains_data_and_local_bundles_for_the_host():
    stages = cdk_context()["stages"]
    assert StageConfig.from_context(stages, "prod").removal_policy == RemovalPolicy.RETAIN
    assert StageConfig.from_context(stages, "local").bundle_for_host is True
    assert StageConfig.from_context(stages, "prod").bundle_for_host is False


def test_missing_sections_fall_back_to_documented_defaults():
    config = StageConfig.from_context(None, None)
    assert config.name == "dev" and config.log_retention_days == 30
    settings = config.workflow_settings("parallel_search", ParallelSearchSettings)
    assert settings == ParallelSearchSettings()


@pytest.mark.parametrize(
    ("stages", "stage", "message"),
    [
        ({}, "staging", "unknown stage"),
        ({"dev": {"log_retention": 3}}, "dev", "unknown setting"),
        ({"dev": {"log_retention_days": "7"}}, "dev", "must be int"),
        ({"dev": {"workflows": {"parallel_search": {"inline_threshold_bytes": "big"}}}}, "dev", "must be int"),
        ({"dev": {"workflows": {"parallel_search": {"api_a": {"endpont": "x"}}}}}, "dev", "unknown setting"),
    ],
)
def test_bad_context_is_a_clear_config_error(stages, stage, message):
    with pytest.raises(ConfigError, match=message):
        config = StageConfig.from_context(stages, stage)
        config.workflow_settings("parallel_search", ParallelSearchSettings)


def test_log_retention_must_be_a_cloudwatch_period():
    with pytest.raises(ConfigError, match="one of"):
        _ = StageConfig(log_retention_days=10).log_retention


def test_threshold_must_leave_room_for_both_branches():
    with pytest.raises(ValueError, match="256 KiB"):
        ParallelSearchSettings(inline_threshold_bytes=200 * 1024)
