"""The demo table's result column says something for every workflow (each scenario's `headline(output)`)."""

from __future__ import annotations

import pytest

from sandbox.workflows import all_workflows
from tests.conftest import requires_workflows

# Outputs as the sample runs return them (trimmed to what the headlines read).
OUTPUTS = {
    "parallel-search": ({"keywords": "wireless earbuds", "item_count": 11, "sources": {"shop-a": 7, "shop-b": 7},
                         "result": {"kind": "inline", "size": 2877}},
                        "11 items merged from 7 shop-a + 7 shop-b (inline)"),
    "distributed-copy": ({"targetDate": "2026-11-30", "moved": 50, "skipped": 10, "failed": 0},
                         "50 objects moved (2026-11-30), 10 of other dates left, 0 failed"),
    "single-flight": ({"enqueued": True, "message_id": "m-1", "deduplication_id": "tick-2026-01-01T00:00:00Z"},
                      "tick enqueued (tick-2026-01-01T00:00:00Z)"),
}


def test_every_workflow_has_a_headline():
    # GIVEN every discovered workflow; THEN its scenario module gives the demo table a line
    assert [name for name, spec in all_workflows().items() if spec.headline is None] == []


@pytest.mark.parametrize("workflow", sorted(name for name in OUTPUTS if name in all_workflows()))
def test_the_headline_says_what_the_run_did(workflow: str):
    output, expected = OUTPUTS[workflow]
    assert all_workflows()[workflow].headline(output) == expected


@requires_workflows("single-flight")
def test_a_skipped_tick_says_so_and_why():
    headline = all_workflows()["single-flight"].headline({"enqueued": False, "reason": "in flight"})
    assert headline == "tick skipped: in flight"
