"""`make bench` reads every goal from sandbox/benches/goals.py and prints `met` or `MISSED` against it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sandbox.benches.goals import GOALS, Goal
from tests.conftest import REPO_ROOT


@pytest.mark.parametrize(("goal", "value", "items", "verdict"), [
    (Goal("import over the baseline", 50.0, unit="ms"), 50.0, 0, "met"),
    (Goal("import over the baseline", 50.0, unit="ms"), 50.1, 0, "MISSED"),
    (Goal("cost ratio", 50.0, at_least=True, unit="x"), 49.9, 0, "MISSED"),
    (Goal("transitions", 5, per_item=3), 155, 50, "met"),
    (Goal("transitions", 5, per_item=3), 156, 50, "MISSED"),
])
def test_a_goal_says_met_or_missed_at_its_bound(goal, value, items, verdict):
    assert goal.verdict(value, items) == verdict


def test_headers_read_as_the_bench_tables_print_them():
    assert GOALS["handler_import_overhead_ms"].header == "goal <= 50 ms"
    assert GOALS["distributed_copy_orchestration_ratio"].header == "goal >= 50x"
    assert GOALS["bucket_usage_transitions"].header == "goal <= 3N+5"
    assert GOALS["bucket_usage_invocations"].header == "goal <= N+2"


def test_the_benches_take_goals_from_the_table_only():
    # THEN no bench module defines a goal constant of its own (a *_GOAL* name or a literal "goal <=" header)
    for path in [REPO_ROOT / "sandbox" / "bench.py", *sorted((REPO_ROOT / "sandbox" / "benches").glob("*.py"))]:
        if path.name == "goals.py":
            continue
        text = path.read_text()
        names = {target.id for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Assign)
                 for target in node.targets if isinstance(target, ast.Name)}
        assert not {name for name in names if "GOAL" in name}, path
        assert "goal <=" not in text and "goal >=" not in text, path
        assert "express_memory_gb_assumed" not in text, path
