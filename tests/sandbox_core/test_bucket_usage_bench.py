"""The seed's figures printed by the bench come from walking its definitions: checked against a hand count."""

from __future__ import annotations

import json

from sandbox.benches.bucket_usage import SEED_OUTER, previous_design_largest_state, seed_figures, seed_inner_definition, walk


def test_seed_inner_definition_has_two_lambda_tasks_per_bucket():
    inner = seed_inner_definition(4)
    (parallel,) = [s for s in inner["States"].values() if s["Type"] == "Parallel"]
    assert len(parallel["Branches"]) == 4 and all(len(b["States"]) == 2 for b in parallel["Branches"])


def test_seed_figures_for_ten_buckets_match_a_hand_count():
    # outer: start, create, 7 x (describe + choice) for polls at 0..180 s, 6 waits, delete = 23
    # inner: start, Pass, Parallel, 10 x 2 tasks, CreateMessage, Publish = 25
    figures = seed_figures(10)
    assert figures["transitions"] == 23 + 25
    # Lambda: create, 7 describes, delete, 20 branch tasks, create-message
    assert figures["lambda"] == 1 + 7 + 1 + 20 + 1
    assert figures["polls"] == 7 and figures["wall_seconds"] == 180


def test_a_failed_poll_status_goes_to_the_error_branch():
    figures = walk(SEED_OUTER, status_at=lambda clock: "FAILED")
    assert figures == {"transitions": 1 + 1 + 1 + 1 + 1, "lambda": 2, "seconds": 0, "polls": 1}


def test_the_previous_designs_state_is_built_in_its_own_shape_and_grows_with_each_result():
    # GIVEN two per-bucket results as the previous design's inline Map collected them
    results = [{"bucket": "usage-a", "pass": 1, "done": True, "status": "scanned", "region": "us-east-1", "objects": 1, "bytes": 2},
               {"bucket": "usage-b", "pass": 1, "done": True, "status": "denied", "region": "us-east-1", "objects": 0, "bytes": 0,
                "error": "AccessDenied"}]
    request = {"name_prefix": "usage-", "scan_id": "s"}
    # THEN its largest state is the Map's output: the request, the names and every result, as compact JSON
    expected = {**request, "targets": {"names": ["usage-a", "usage-b"], "request_overrides": {"buckets": []}}, "results": results}
    assert previous_design_largest_state(request, "run-1", results) == len(json.dumps(expected, separators=(",", ":")))
    assert previous_design_largest_state(request, "run-1", results * 2) > previous_design_largest_state(request, "run-1", results)
