"""Stage configuration: typed, layered (defaults < stages.json < settings/<stage>.json < -c), every bad value one line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stacks.common.config import ConfigError, StageConfig, load_stage, resolve_stage
from stacks.common.registry import Workflow, discover_workflows


@dataclass(frozen=True)
class _Api:
    endpoint: str = "https://api.example/v1"
    timeout_seconds: int = 10


@dataclass(frozen=True)
class _ProbeSettings:
    api: _Api = field(default_factory=_Api)
    retries: int = 3
    ratio: float = 0.5
    enabled: bool = True
    suffixes: tuple[str, ...] = ("a",)
    backup: _Api = field(default_factory=lambda: _Api(endpoint="https://backup.example/v1", timeout_seconds=30))

    def __post_init__(self) -> None:
        if self.retries > 10:
            raise ValueError("retries must be at most 10")


@dataclass(frozen=True)
class _Probe(Workflow):
    """A workflow whose per-stage values live in a temporary file."""

    stages_path: Path = Path("/nonexistent")

    @property
    def stages_file(self) -> Path:
        return self.stages_path

    def settings_type(self) -> type:
        return _ProbeSettings


@pytest.fixture
def probe(tmp_path: Path) -> _Probe:
    stages = tmp_path / "stages.json"
    stages.write_text(json.dumps({"dev": {"retries": 4}, "prod": {"retries": 5, "api": {"timeout_seconds": 20}},
                                  "staging": {"ratio": 0.75}}))
    return _Probe(name="probe-flow", summary="x", stages_path=stages)


def _resolve(probe: _Probe, settings_dir: Path | None = None, **context) -> tuple[StageConfig, _ProbeSettings]:
    stage = resolve_stage({"stages": {"prod": {"retain_data": True}}, **context}, workflows=[probe], settings_dir=settings_dir)
    return stage, stage.workflow_settings("probe_flow", _ProbeSettings)


def test_every_shipped_stage_parses_for_every_workflow():
    for name in ("local", "dev", "prod"):
        stage = load_stage(name)
        assert stage.name == stage.base == name
        for workflow in discover_workflows():
            assert isinstance(stage.workflow_settings(workflow.settings_key, workflow.settings_type()), workflow.settings_type())


def test_prod_retains_data_and_local_bundles_for_the_host():
    assert load_stage("prod").retain_data is True
    assert load_stage("local").bundle_for_host is True and load_stage("prod").bundle_for_host is False
    assert load_stage("local").deployable is False and load_stage("dev").deployable is True


def test_layers_apply_in_order_defaults_stages_json_user_file_command_line(probe, tmp_path):
    # GIVEN prod values in stages.json, a user file and a -c value
    user = tmp_path / "settings"
    user.mkdir()
    (user / "prod.json").write_text(json.dumps({"probe_flow": {"api": {"endpoint": "https://api.shop.jp/v1"}, "retries": 6},
                                                "log_retention_days": 14}))
    # WHEN the prod stage is resolved with -c retries=7 (a string, as the CDK CLI passes it)
    stage, settings = _resolve(probe, user, stage="prod", **{"probe_flow.retries": "7"})
    # THEN each value comes from the last layer that sets it
    assert settings.retries == 7  # -c over the user file over stages.json
    assert settings.api == _Api(endpoint="https://api.shop.jp/v1", timeout_seconds=20)  # user file + stages.json merged
    assert settings.ratio == 0.5 and settings.enabled is True  # defaults
    assert stage.log_retention_days == 14 and stage.retain_data is True
    assert stage.origins["probe_flow.retries"] == "-c" and stage.origins["probe_flow.api.endpoint"] == "settings/prod.json"


def test_command_line_strings_become_typed_values(probe):
    _, settings = _resolve(probe, stage="dev", **{"probe_flow.ratio": "0.25", "probe_flow.enabled": "false",
                                                  "probe_flow.suffixes": '["x", "y"]', "probe_flow.api": '{"timeout_seconds": 3}'})
    assert (settings.ratio, settings.enabled, settings.suffixes, settings.api.timeout_seconds) == (0.25, False, ("x", "y"), 3)


def test_a_custom_stage_derives_from_the_base_it_names(probe, tmp_path):
    # GIVEN `staging`, based on prod on the command line
    stage, settings = _resolve(probe, stage="staging", based_on="prod")
    # THEN it has prod's values, its own stages.json section on top, and its own name
    assert (stage.name, stage.base, stage.retain_data, stage.deployable) == ("staging", "prod", True, True)
    assert (settings.retries, settings.ratio) == (5, 0.75)
    # AND the base may come from the user's settings file instead
    user = tmp_path / "settings"
    user.mkdir()
    (user / "qa.json").write_text(json.dumps({"based_on": "dev"}))
    stage, settings = _resolve(probe, user, stage="qa")
    assert (stage.base, settings.retries, stage.retain_data) == ("dev", 4, False)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"stage": "staging"}, "stage 'staging' is not built in"),
        ({"stage": "staging", "based_on": "local"}, "based_on must be one of dev, prod, got 'local' (set in -c)"),
        ({"stage": "dev", "based_on": "prod"}, "stage dev is built in"),
        ({"stage": "Prod!"}, "not a valid stage name"),
        ({"stage": "dev", "probe_flow.retries": "many"}, "probe_flow.retries must be int, got 'many' (set in -c)"),
        ({"stage": "dev", "probe_flow.retries": "11"}, "probe_flow: retries must be at most 10"),
        ({"stage": "dev", "probe_flow.api.endpont": "x"}, "probe_flow.api.endpont: unknown setting (set in -c)"),
        ({"stage": "dev", "probe_flo.retries": "1"}, "probe_flo.retries: unknown setting (from -c)"),
        ({"stage": "dev", "probe_flow.enabled": "yes"}, "probe_flow.enabled must be bool"),
        ({"stage": "dev", "probe_flow.api": "{not json"}, "probe_flow.api must be a JSON value, got '{not json' (set in -c)"),
        ({"stage": "dev", "log_retention_days": "10"}, "log_retention_days=10 is not one of"),
        ({"stage": "dev", "retain_data": "maybe"}, "retain_data must be bool"),
        ({"stage": "dev", "stages": "{oops"}, "stages (from -c) must be a JSON object"),
        ({"stage": "dev", "stages": {"dev": {"workflows": {"probe_flow": {}}}}}, "stages.dev.workflows in cdk.json is no longer read"),
        ({"stage": "dev", "stages": {"dev": {"log_retention": 3}}}, "stages.dev.log_retention: unknown setting"),
    ],
)
def test_every_bad_setting_is_one_config_error_naming_the_key(probe, context, message):
    with pytest.raises(ConfigError) as raised:
        stage = resolve_stage({"stages": {}, **context} if "stages" not in context else context, workflows=[probe], settings_dir=None)
        stage.workflow_settings("probe_flow", _ProbeSettings)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_stages_given_whole_on_the_command_line_are_read_as_json(probe):
    stage = resolve_stage({"stage": "prod", "stages": '{"prod": {"log_retention_days": 7}}'}, workflows=[probe], settings_dir=None)
    assert stage.log_retention_days == 7


@pytest.mark.parametrize(
    ("content", "message"),
    [("{broken", "dev.json: cannot read your settings"), ("[1]", "must be a JSON object"),
     ('{"probe_flow": {"nope": 1}}', "probe_flow.nope: unknown setting (set in settings/dev.json)"),
     ('{"colour": "red"}', "colour: unknown key (set in settings/dev.json)")],
)
def test_a_bad_user_settings_file_is_named(probe, tmp_path, content, message):
    (tmp_path / "dev.json").write_text(content)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_stage({"stage": "dev"}, workflows=[probe], settings_dir=tmp_path)


def test_a_partial_nested_section_keeps_the_other_fields_of_its_default(probe):
    # GIVEN `backup`'s default {endpoint: backup..., timeout 30}, set by its parent's default factory
    # WHEN only its endpoint is set on the command line
    _, settings = _resolve(probe, stage="dev", **{"probe_flow.backup.endpoint": "https://backup.corp.jp/v1"})
    # THEN it keeps its default timeout, not the field type's own default (10)
    assert settings.backup == _Api(endpoint="https://backup.corp.jp/v1", timeout_seconds=30)
