"""distributed-copy's stand-in settings and key styles (no emulator needed)."""

from __future__ import annotations

import pytest

from sandbox.scenarios.base import ScenarioError, validate_standin_options
from sandbox.scenarios.distributed_copy import KEY_STYLES, STANDIN_SETTINGS, SourceObjects, object_name


@pytest.mark.parametrize("raw", [{"objects": "-1"}, {"size_bytes": "-5"}, {"key_style": "emoji"},
                                 {"deny_keys": "3", "objects": "2"}, {"target_date": "2026-02-30"},
                                 {"objects": "nan"}, {"fill": "maybe"}, {"unknown": "1"},
                                 {"change_keys": "1", "vanish_keys": "1", "error_keys": "1", "objects": "2"},
                                 {"fault_on": "sometimes"}, {"fault_times": "-2"}, {"slow_seconds": "901"},
                                 {"garbage_keys": "-1"}])
def test_bad_settings_are_usage_errors(raw):
    with pytest.raises(ScenarioError):
        validate_standin_options({"source": raw}, STANDIN_SETTINGS)


def test_defaults_are_the_sample():
    assert validate_standin_options({}, STANDIN_SETTINGS) == {"source": SourceObjects()}
    assert (SourceObjects().objects, SourceObjects().other_dates) == (50, 10)


@pytest.mark.parametrize("style", KEY_STYLES)
def test_every_key_style_carries_the_date(style):
    name = object_name(style, 7, "2026-11-22", name_bytes=1005)
    assert "2026-11-22" in name
    if style == "long":
        assert len(name.encode()) == 1005
    if style == "plus":
        assert "+" in name and "%" in name
