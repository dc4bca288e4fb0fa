"""sandbox/engine: moto 5.2.5's interpreter runs ItemBatcher, integer tolerances, EXPRESS children,
a paginated listObjectsV2 reader and ResultWriter with AWS's semantics.

Real moto (in-process mock_aws with execution enabled), real S3 objects, no mocks of our code."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws

from sandbox.engine import EngineVersionError
from sandbox.engine import distributed_map as engine
from sandbox.engine.batching import BatchingError, batch_size_bytes, make_batches
from sandbox.engine.definition import EngineExtensionRefused, rewrite_definition
from sandbox.engine.runtime import tolerance_exceeded

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/sfn"
BUCKET = "source"


def batch_machine(*, tolerance: int | None = 5, execution_type: str = "EXPRESS", batch: int | None = 100,
                  writer: bool = True) -> dict:
    """A Distributed Map over s3://source/in/: a child fails when its first key starts with "bad"."""
    # (moto returns a list for "$.Items[0].Key", so the first item is taken with an intrinsic)
    first = {"Type": "Pass", "Parameters": {"first.$": "States.ArrayGetItem($.Items, 0)"} if batch else {"first.$": "$"},
             "Next": "Check"}
    child = {
        "StartAt": "First",
        "States": {
            "First": first,
            "Check": {"Type": "Choice", "Default": "Done",
                      "Choices": [{"Variable": "$.first.Key", "StringMatches": "in/bad*", "Next": "Broken"}]},
            "Broken": {"Type": "Fail", "Error": "CopyBroken", "Cause": "bad key"},
            "Done": {"Type": "Pass", "End": True},
        },
    }
    state: dict = {
        "Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                       "Parameters": {"Bucket": BUCKET, "Prefix.$": "$.prefix"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type}, **child},
        "MaxConcurrency": 8,
        "End": True,
    }
    if batch:
        state["ItemBatcher"] = {"MaxItemsPerBatch": batch, "BatchInput": {"run.$": "$$.Execution.Name", "day.$": "$.day"}}
    if tolerance is not None:
        state["ToleratedFailurePercentage"] = tolerance
    if writer:
        state["ResultWriter"] = {"Resource": "arn:aws:states:::s3:putObject",
                                 "Parameters": {"Bucket": BUCKET, "Prefix": "results"}}
    return {"StartAt": "Copy", "States": {"Copy": state}}


@pytest.fixture()
def aws():
    with engine.distributed_map_extensions(), mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        yield s3, boto3.client("stepfunctions", region_name=REGION)


def put_keys(s3, keys: list[str]) -> None:
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")


def run(sfn, definition: dict, execution_input: dict, name: str = "m") -> dict:
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="run-1", input=json.dumps(execution_input))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError("execution did not finish")


# --------------------------------------------------------------------------- pure parts


def test_make_batches_respects_item_and_byte_limits():
    # GIVEN 10 items of 10 bytes
    items = [{"k": f"{i:05d}"} for i in range(10)]
    # WHEN batched by count, then by bytes
    by_count = make_batches(items, max_items=4, max_bytes=None, batch_input={"a": 1})
    by_bytes = make_batches(items, max_items=None, max_bytes=60, batch_input=None)
    # THEN counts are 4,4,2 with the BatchInput in each; every byte batch fits and order is kept
    assert [len(b["Items"]) for b in by_count] == [4, 4, 2]
    assert all(b["BatchInput"] == {"a": 1} for b in by_count)
    assert all(batch_size_bytes(b) <= 60 for b in by_bytes)
    assert [i for b in by_bytes for i in b["Items"]] == items
    assert len(by_bytes) > 1
    # AND an item that cannot fit alone is an error, not a silent drop
    with pytest.raises(BatchingError):
        make_batches([{"k": "x" * 100}], max_items=None, max_bytes=50, batch_input=None)


def test_rewrite_keeps_what_the_parser_cannot_see():
    # GIVEN prod's Map: ItemBatcher, integer tolerance, EXPRESS children
    definition = batch_machine()
    # WHEN rewritten for moto's parser
    rewritten, extensions = rewrite_definition(definition)
    state = rewritten["States"]["Copy"]
    # THEN the parser's copy has none of them, and the extension carries them
    assert "ItemBatcher" not in state
    assert state["ToleratedFailurePercentage"] == 5.0 and isinstance(state["ToleratedFailurePercentage"], float)
    assert state["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] == "STANDARD"
    ext = extensions["Copy"]
    assert ext.batcher["MaxItemsPerBatch"] == 100
    assert ext.execution_type == "EXPRESS" and ext.tolerated_percentage_declared and not ext.tolerated_count_declared
    # AND the caller's definition is untouched
    assert "ItemBatcher" in definition["States"]["Copy"]


def test_rewrite_refuses_by_name_what_it_does_not_run():
    # GIVEN an ItemBatcher beside an ItemSelector (not run by the sandbox)
    definition = batch_machine()
    definition["States"]["Copy"]["ItemSelector"] = {"k.$": "$$.Map.Item.Value.Key"}
    # WHEN / THEN the refusal names the state and the combination
    with pytest.raises(EngineExtensionRefused, match="Copy: ItemBatcher with ItemSelector"):
        rewrite_definition(definition)


@pytest.mark.parametrize(
    ("failed", "total", "count", "pct", "count_declared", "pct_declared", "exceeded"),
    [
        (0, 100, 0, 0.0, False, False, False),
        (1, 100, 0, 0.0, False, False, True),  # nothing declared: any failure fails the Map
        (5, 100, 0, 5.0, False, True, False),  # exactly 5 % of 100 is tolerated
        (6, 100, 0, 5.0, False, True, True),
        (3, 100, 2, 50.0, True, True, True),  # either threshold exceeded fails it
    ],
)
def test_tolerance_over_items(failed, total, count, pct, count_declared, pct_declared, exceeded):
    ext = engine.MapExtension(state="M", tolerated_count_declared=count_declared,
                              tolerated_percentage_declared=pct_declared)
    assert tolerance_exceeded(ext, failed_items=failed, total_items=total, tolerated_count=count,
                              tolerated_percentage=pct) is exceeded


def test_install_refuses_other_moto_versions(monkeypatch):
    # GIVEN another moto version
    import moto
    monkeypatch.setattr(moto, "__version__", "5.3.0")
    # WHEN / THEN the extension refuses by name and patches nothing
    with pytest.raises(EngineVersionError, match="moto 5.3.0 is installed"):
        with engine.distributed_map_extensions():
            pass
    assert not engine.installed()


# --------------------------------------------------------------------------- in moto


def test_prod_map_runs_batched_paginated_express_with_results_written(aws):
    s3, sfn = aws
    # GIVEN 1,250 objects (two ListObjectsV2 pages), 20 of them "bad", and prod's Map features
    keys = [f"in/bad-{i:03d}" for i in range(20)] + [f"in/ok-{i:04d}" for i in range(1230)]
    put_keys(s3, keys)
    definition = batch_machine(tolerance=5, batch=20)
    # WHEN it runs
    described = run(sfn, definition, {"prefix": "in/", "day": "2026-11-22"})
    # THEN the definition moto stores is the deployed one (ItemBatcher and all)
    stored = json.loads(sfn.describe_state_machine(stateMachineArn=described["stateMachineArn"])["definition"])
    assert stored == definition
    # AND it succeeds: 20 of 1,250 items failed (1.6 % <= 5 %)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    # AND every item was read (pagination) and batched by 20 into 63 EXPRESS children
    (run_log,) = engine.map_runs(described["executionArn"])
    assert run_log.item_count == 1250 and len(run_log.children) == 63 and run_log.failed_items == 20
    assert {c.execution_type for c in run_log.children.values()} == {"EXPRESS"}
    assert all(":express:" in c.arn for c in run_log.children.values())
    first = run_log.children[0].input
    assert first["BatchInput"] == {"run": "run-1", "day": "2026-11-22"}
    assert set(first["Items"][0]) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}
    assert isinstance(first["Items"][0]["LastModified"], int)
    assert all(c.transitions == 3 and c.duration_ms >= 0 for c in run_log.children.values())
    summary = engine.children_summary(described["executionArn"])
    assert summary["child_executions"] == summary["express_children"] == 63
    assert summary["child_transitions"] == 63 * 3 and summary["child_lambda_invocations"] == 0
    # AND ResultWriter wrote the manifest and the result files like AWS, and the output points at it
    manifest_key = output["ResultWriterDetails"]["Key"]
    assert output["ResultWriterDetails"]["Bucket"] == BUCKET and manifest_key.startswith("results/")
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=manifest_key)["Body"].read())
    assert manifest["MapRunArn"] == output["MapRunArn"]
    succeeded = json.loads(s3.get_object(Bucket=BUCKET, Key=manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])["Body"].read())
    failed = json.loads(s3.get_object(Bucket=BUCKET, Key=manifest["ResultFiles"]["FAILED"][0]["Key"])["Body"].read())
    assert len(succeeded) == 62 and len(failed) == 1
    assert failed[0]["Error"] == "CopyBroken" and json.loads(failed[0]["Input"])["Items"][0]["Key"] == "in/bad-000"
    assert sum(len(json.loads(e["Input"])["Items"]) for e in succeeded) == 1230
    # AND moto's DescribeMapRun counts items, not batches
    counts = sfn.describe_map_run(mapRunArn=output["MapRunArn"])["itemCounts"]
    assert counts["total"] == 1250 and counts["failed"] == 20


def test_integer_tolerance_is_applied(aws):
    s3, sfn = aws
    # GIVEN 100 objects, 10 bad, a tolerance of 5 % and batches of 1
    put_keys(s3, [f"in/bad-{i}" for i in range(10)] + [f"in/ok-{i:02d}" for i in range(90)])
    # WHEN it runs
    described = run(sfn, batch_machine(tolerance=5, batch=1), {"prefix": "in/", "day": "d"})
    # THEN 10 % failed > 5 %: the Map fails with AWS's error name
    assert described["status"] == "FAILED"
    assert described["error"] == "States.ExceedToleratedFailureThreshold"
    # AND, as AWS does for a failed Map Run, the results were written: 10 failed, 90 succeeded
    (manifest_key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="results/")["Contents"]
                       if o["Key"].endswith("manifest.json")]
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=manifest_key)["Body"].read())
    failed = json.loads(s3.get_object(Bucket=BUCKET, Key=manifest["ResultFiles"]["FAILED"][0]["Key"])["Body"].read())
    assert len(failed) == 10


def test_failed_child_without_tolerance_fails_the_map(aws):
    s3, sfn = aws
    # GIVEN one bad object among 5, no tolerance declared, no batcher, STANDARD children
    put_keys(s3, ["in/bad-0"] + [f"in/ok-{i}" for i in range(4)])
    described = run(sfn, batch_machine(tolerance=None, batch=None, execution_type="STANDARD", writer=False),
                    {"prefix": "in/", "day": "d"})
    # THEN the Map fails (moto alone would succeed with a null result)
    assert described["status"] == "FAILED" and described["error"] == "States.ExceedToleratedFailureThreshold"


def test_empty_prefix_reads_no_items(aws):
    s3, sfn = aws
    # GIVEN nothing under the prefix
    # WHEN the Map runs (moto alone fails on the missing Contents)
    described = run(sfn, batch_machine(), {"prefix": "in/", "day": "d"})
    # THEN it succeeds with a manifest listing no result files
    assert described["status"] == "SUCCEEDED", described
    manifest_key = json.loads(described["output"])["ResultWriterDetails"]["Key"]
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=manifest_key)["Body"].read())
    assert manifest["ResultFiles"] == {"FAILED": [], "PENDING": [], "SUCCEEDED": []}


def test_fail_state_rethrows_a_caught_states_error(aws):
    from sandbox.engine.fail_state import fail_state_rethrows_states_errors

    s3, sfn = aws
    # GIVEN a Map that exceeds its tolerance, caught and re-raised by a Fail with ErrorPath
    put_keys(s3, ["in/bad-0"])
    definition = batch_machine(tolerance=None, batch=None, execution_type="STANDARD", writer=False)
    definition["States"]["Copy"].pop("End")
    definition["States"]["Copy"]["Next"] = "Done"
    definition["States"]["Copy"]["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}]
    definition["States"]["Done"] = {"Type": "Succeed"}
    definition["States"]["Failed"] = {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}
    # WHEN it runs with the extension
    with fail_state_rethrows_states_errors():
        described = run(sfn, definition, {"prefix": "in/", "day": "d"})
    # THEN the execution fails with the caught error's own name (moto alone says States.Runtime)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.ExceedToleratedFailureThreshold"


def test_jsonata_distributed_map_reads_batches_and_selects_with_expressions(aws):
    from sandbox.engine.jsonata_states import jsonata_and_variables

    s3, sfn = aws
    # GIVEN 5 objects and a JSONata Distributed Map: reader Arguments, ItemBatcher fields and BatchInput as
    #       expressions, an Output over $states.result
    put_keys(s3, [f"in/k{i}" for i in range(5)])
    definition = {"QueryLanguage": "JSONata", "StartAt": "Copy", "States": {"Copy": {
        "Type": "Map", "End": True,
        "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                       "Arguments": {"Bucket": BUCKET, "Prefix": "{% $states.input.prefix %}"}},
        "ItemBatcher": {"MaxItemsPerBatch": "{% $states.input.size %}", "BatchInput": {"day": "{% $states.input.day %}"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Count",
                          "States": {"Count": {"Type": "Pass", "Output": "{% $count($states.input.Items) & '@' & $states.input.BatchInput.day %}",
                                               "End": True}}},
        "Output": "{% $states.result %}"}}}
    # WHEN it runs
    with jsonata_and_variables():
        described = run(sfn, definition, {"prefix": "in/", "size": 2, "day": "d1"})
    # THEN the expressions were evaluated: batches of 2, 2 and 1 items, each with the BatchInput
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == ["2@d1", "2@d1", "1@d1"]


def _jsonata_writer_machine(tolerance: int) -> dict:
    """A JSONata Distributed Map over s3://source/in/, batches of 1, a child failing on "in/bad*" keys,
    and a ResultWriter whose Arguments are expressions (moto's grammar has no Arguments there)."""
    return {"QueryLanguage": "JSONata", "StartAt": "Copy", "States": {"Copy": {
        "Type": "Map", "End": True, "ToleratedFailurePercentage": tolerance,
        "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                       "Arguments": {"Bucket": BUCKET, "Prefix": "{% $states.input.prefix %}"}},
        "ItemBatcher": {"MaxItemsPerBatch": 1},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "Check",
                          "States": {"Check": {"Type": "Choice", "Default": "Done", "Choices": [
                              {"Condition": "{% $contains($states.input.Items[0].Key, 'in/bad') %}", "Next": "Broken"}]},
                              "Broken": {"Type": "Fail", "Error": "CopyBroken", "Cause": "bad key"},
                              "Done": {"Type": "Pass", "Output": "ok", "End": True}}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                         "Arguments": {"Bucket": "{% $states.input.bucket %}", "Prefix": "{% $states.input.out %}"}},
        "Output": "{% $states.result %}"}}}


def test_a_jsonata_result_writer_writes_the_results_and_gives_their_manifest(aws):
    from sandbox.engine.jsonata_states import jsonata_and_variables

    s3, sfn = aws
    # GIVEN 4 objects, one of them bad, and a JSONata Map tolerating 50 % with a ResultWriter (Arguments)
    put_keys(s3, ["in/bad-0", "in/ok-1", "in/ok-2", "in/ok-3"])
    definition = _jsonata_writer_machine(tolerance=50)
    # WHEN it runs
    with jsonata_and_variables():
        described = run(sfn, definition, {"prefix": "in/", "bucket": BUCKET, "out": "jsonata-results"})
    # THEN it succeeds with AWS's result of a written Map Run: the Map Run and the manifest's place
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert set(output) == {"MapRunArn", "ResultWriterDetails"} and ":mapRun:" in output["MapRunArn"]
    details = output["ResultWriterDetails"]
    assert details["Bucket"] == BUCKET and details["Key"].startswith("jsonata-results/") and details["Key"].endswith("/manifest.json")
    # AND the files hold the 3 successes and the failure, as AWS writes them
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=details["Key"])["Body"].read())
    assert manifest["MapRunArn"] == output["MapRunArn"]
    succeeded = json.loads(s3.get_object(Bucket=BUCKET, Key=manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])["Body"].read())
    failed = json.loads(s3.get_object(Bucket=BUCKET, Key=manifest["ResultFiles"]["FAILED"][0]["Key"])["Body"].read())
    assert sorted(json.loads(e["Output"]) for e in succeeded) == ["ok", "ok", "ok"]
    assert [e["Error"] for e in failed] == ["CopyBroken"]
    # AND the stored definition is the deployed one, writer and all
    stored = json.loads(sfn.describe_state_machine(stateMachineArn=described["stateMachineArn"])["definition"])
    assert stored == definition


def test_a_jsonata_map_past_its_tolerance_fails_and_still_writes_its_results(aws):
    from sandbox.engine.jsonata_states import jsonata_and_variables

    s3, sfn = aws
    # GIVEN 4 objects, 2 bad, and a tolerance of 25 %
    put_keys(s3, ["in/bad-0", "in/bad-1", "in/ok-2", "in/ok-3"])
    # WHEN it runs
    with jsonata_and_variables():
        described = run(sfn, _jsonata_writer_machine(tolerance=25), {"prefix": "in/", "bucket": BUCKET, "out": "jr"})
    # THEN the Map fails by AWS's name, and its results were written as for a JSONPath writer
    assert described["status"] == "FAILED" and described["error"] == "States.ExceedToleratedFailureThreshold"
    (manifest_key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="jr/")["Contents"]
                       if o["Key"].endswith("manifest.json")]
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=manifest_key)["Body"].read())
    assert len(json.loads(s3.get_object(Bucket=BUCKET, Key=manifest["ResultFiles"]["FAILED"][0]["Key"])["Body"].read())) == 2
