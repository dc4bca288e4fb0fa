"""parallel-search's settings as the layers give them (stacks/parallel_search/settings.py)."""

from __future__ import annotations

import pytest

from stacks.common.config import ConfigError, load_stage
from stacks.parallel_search.settings import ParallelSearchSettings


def test_setting_only_api_b_endpoint_keeps_its_default_name_so_the_apis_do_not_clash():
    stage = load_stage("prod", {"parallel_search.api_b.endpoint": "https://b.shop.jp/v1"})
    settings = stage.workflow_settings("parallel_search", ParallelSearchSettings)
    assert (settings.api_a.name, settings.api_b.name, settings.api_b.endpoint) == ("shop-a", "shop-b", "https://b.shop.jp/v1")


def test_the_inline_threshold_must_leave_room_for_both_branches_named_by_key():
    with pytest.raises(ConfigError, match=r"^parallel_search: inline_threshold_bytes must be between .*256 KiB"):
        load_stage("dev", {"parallel_search.inline_threshold_bytes": str(200 * 1024)}).workflow_settings(
            "parallel_search", ParallelSearchSettings)
