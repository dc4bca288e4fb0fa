"""parallel-search run offline: the synthesized stack in moto, handlers from the assets, real HTTP stand-ins."""

from __future__ import annotations

import hashlib
import json
import time
import uuid

import pytest

from tests.workflows.notices import notice_inbox

STATE_PAYLOAD_LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def workflow(sandbox):
    return sandbox.deploy("parallel-search")


@pytest.fixture(scope="module")
def notices(workflow):
    """An SQS queue subscribed to the workflow's notice topic: what the on-call would receive."""
    return notice_inbox(workflow)


def merged_items(workflow, output: dict) -> list[dict]:
    """The merged items, read the way a consumer would: inline, or from S3 after checking the sha256."""
    envelope = output["result"]
    if envelope["kind"] == "inline":
        return envelope["body"]["items"]
    body = workflow.emulator.client("s3").get_object(Bucket=envelope["bucket"], Key=envelope["key"])["Body"].read()
    assert hashlib.sha256(body).hexdigest() == envelope["sha256"] and len(body) == envelope["size"]
    return json.loads(body)["items"]


def test_small_results_travel_inline_without_s3(workflow, notices):
    # GIVEN both APIs answering about 2 KB
    # WHEN the workflow runs
    report = workflow.run({"keywords": "green tea"}, standins={"*": {"result_bytes": "2000"}})
    # THEN it succeeds, results stay inline, S3 is never called, and nobody is paged
    assert report.status == "SUCCEEDED", report.cause
    assert report.output["result"]["kind"] == "inline"
    assert report.aws_requests.get("s3", 0) == 0
    assert report.lambda_invocations == 3 and report.outside_world["api_requests"] == {"shop-a": 1, "shop-b": 1}
    items = merged_items(workflow, report.output)
    assert report.output["item_count"] == len(items) < sum(report.output["sources"].values())  # duplicates folded
    assert notices() == []


@pytest.mark.parametrize("result_bytes", [300_000, 5_000_000])
def test_large_results_travel_through_s3_by_reference(workflow, result_bytes):
    report = workflow.run({"keywords": "green tea"}, standins={"*": {"result_bytes": str(result_bytes)}})
    assert report.status == "SUCCEEDED", report.cause
    assert report.output["result"]["kind"] == "s3"
    assert report.max_state_payload_bytes < 4_096 < STATE_PAYLOAD_LIMIT
    # two search results and the merged result written; the merge read both back
    counts = workflow.emulator.request_counts()
    assert counts["s3:PutObject"] == 3 and counts["s3:GetObject"] == 2
    items = merged_items(workflow, report.output)
    assert len(items) == report.output["item_count"] > 1_000


def test_concurrent_executions_never_overwrite_each_other(workflow):
    # GIVEN large results, and two executions started at once with different keywords
    workflow.scenario.configure(workflow.spec.validate_standins({"*": {"result_bytes": "300000"}}))
    sfn = workflow.emulator.client("stepfunctions")
    names = [f"concurrent-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    arns = [
        sfn.start_execution(stateMachineArn=workflow.state_machine_arn, name=name, input=json.dumps({"keywords": f"tea {i}"}))["executionArn"]
        for i, name in enumerate(names)
    ]
    deadline = time.monotonic() + 120
    while any(sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" for arn in arns):
        assert time.monotonic() < deadline, "executions did not finish"
        time.sleep(0.2)
    # THEN each wrote its own search and merged objects, and each result holds its own keywords
    s3 = workflow.emulator.client("s3")
    for i, (name, arn) in enumerate(zip(names, arns)):
        execution = sfn.describe_execution(executionArn=arn)
        assert execution["status"] == "SUCCEEDED"
        output = json.loads(execution["output"])
        bucket = output["result"]["bucket"]
        searches = s3.list_objects_v2(Bucket=bucket, Prefix=f"searches/{name}/")["Contents"]
        assert sorted(obj["Key"] for obj in searches) == [f"searches/{name}/shop-a.json", f"searches/{name}/shop-b.json"]
        assert output["result"]["key"] == f"merged/{name}.json"
        assert all(item["title"].startswith(f"tea {i} ") for item in merged_items(workflow, output))


def test_an_api_failing_then_recovering_is_retried(workflow, notices):
    # GIVEN shop-a answers 503 twice, then works
    report = workflow.run({"keywords": "tea"}, standins={"shop-a": {"fail_mode": "5xx", "fail_times": "2"}})
    # THEN the retry policy absorbs it, and each retry is billed as a transition
    assert report.status == "SUCCEEDED", report.cause
    assert report.state_transitions == 6 + 2
    assert report.outside_world["api_requests"] == {"shop-a": 3, "shop-b": 1}
    assert report.lambda_invocations == 5
    retried = [e for e in report.events if e.type == "LambdaFunctionFailed" and e.state == "Search shop-a"]
    assert len(retried) == 2
    assert notices() == []


def test_a_dropped_connection_is_retried_as_unavailable(workflow):
    report = workflow.run({"keywords": "tea"}, standins={"shop-a": {"fail_mode": "drop", "fail_times": "1"}})
    assert report.status == "SUCCEEDED", report.cause
    assert any("SearchApiUnavailable" in e.detail for e in report.events if e.type == "LambdaFunctionFailed")
    # 6 transitions plus the retry, billed as one more
    assert report.state_transitions == 7


def test_an_api_failing_for_good_is_caught_notified_and_failed(workflow, notices):
    report = workflow.run({"keywords": "tea"}, standins={"shop-a": {"fail_mode": "5xx", "fail_times": "-1"}})
    assert report.status == "FAILED"
    assert report.error == "SearchApiUnavailable"
    assert json.loads(report.cause)["errorMessage"] == "shop-a: HTTP 503"
    assert report.outside_world["api_requests"]["shop-a"] == 4  # first call + MaxAttempts (3) retries
    (notice,) = notices()
    assert notice["workflow"] == "parallel-search" and notice["error"] == "SearchApiUnavailable"
    assert notice["execution"] == report.execution_arn


def test_a_rejected_request_fails_at_once_with_its_name(workflow, notices):
    # (an answer that is not JSON, timeouts, throttling and crashes: tests/workflows/test_fault_matrix.py)
    report = workflow.run({"keywords": "tea"}, standins={"shop-b": {"fail_mode": "4xx", "fail_times": "-1"}})
    assert report.status == "FAILED" and report.error == "SearchApiRejected"
    assert report.outside_world["api_requests"]["shop-b"] == 1
    assert [n["error"] for n in notices()] == ["SearchApiRejected"]


@pytest.mark.parametrize("execution_input", [{}, {"keywords": ""}, {"keywords": 42}])
def test_missing_or_empty_keywords_fail_before_any_call(workflow, execution_input):
    report = workflow.run(execution_input)
    assert report.status == "FAILED" and report.error == "InvalidSearchInput"
    assert report.lambda_invocations == 0
    assert report.outside_world["api_requests"] == {"shop-a": 0, "shop-b": 0}


def test_blank_keywords_are_rejected_by_the_search_functions(workflow):
    report = workflow.run({"keywords": "   "})
    assert report.status == "FAILED" and report.error == "InvalidSearchInput"
    assert report.outside_world["api_requests"] == {"shop-a": 0, "shop-b": 0}


def _deployed_merge_function(workflow) -> str:
    (name,) = [workflow.stack.resources[lid] for lid, t in workflow.stack.resource_types.items()
               if t == "AWS::Lambda::Function" and lid.startswith("Merge")]
    return name


def test_merge_rejects_a_reference_whose_object_changed(workflow):
    # GIVEN a finished run whose search results are in S3
    report = workflow.run({"keywords": "tea"}, standins={"*": {"result_bytes": "300000"}})
    s3 = workflow.emulator.client("s3")
    bucket = report.output["result"]["bucket"]
    execution_name = report.execution_arn.rsplit(":", 1)[1]
    search_key = f"searches/{execution_name}/shop-a.json"
    original = s3.get_object(Bucket=bucket, Key=search_key)["Body"].read()
    reference = {"kind": "s3", "bucket": bucket, "key": search_key, "size": len(original),
                 "sha256": hashlib.sha256(original).hexdigest()}
    event = {"keywords": "tea", "execution_name": "tamper-test", "results": [{"result": reference}]}
    # WHEN the object is changed, or deleted, and the deployed merge function is given the reference
    s3.put_object(Bucket=bucket, Key=search_key, Body=original[:-100])
    changed = workflow.emulator.lambda_runtime.invoke_direct(_deployed_merge_function(workflow), event)
    s3.delete_object(Bucket=bucket, Key=search_key)
    missing = workflow.emulator.lambda_runtime.invoke_direct(_deployed_merge_function(workflow), event)
    # THEN each is a named error
    assert changed.errored and changed.payload_obj["errorType"] == "PayloadIntegrityError"
    assert missing.errored and missing.payload_obj["errorType"] == "PayloadReferenceMissing"


def test_the_sandbox_names_what_it_does_not_emulate(workflow):
    report = workflow.run({"keywords": "tea"})
    assert "AWS::CloudWatch::Alarm" in report.not_emulated


def test_japanese_text_is_measured_as_aws_measures_it(workflow):
    # GIVEN 144 KB of Japanese in the input, and both APIs answering about 63 KB of Japanese text with
    #       emoji, which the 64 KiB (UTF-8) threshold keeps inline; as ASCII-escaped JSON both are far
    #       bigger (moto's own measure, under which AWS-valid runs failed)
    execution_input = {"keywords": "お茶", "memo": "日本語" * 16_000}
    assert len(json.dumps(execution_input)) > STATE_PAYLOAD_LIMIT
    # WHEN the workflow runs
    report = workflow.run(execution_input, standins={"*": {"result_bytes": "63000", "language": "ja"}})
    # THEN it succeeds as in AWS: both results traveled inline, and every payload is under 256 KiB of UTF-8
    assert report.status == "SUCCEEDED", report.cause
    assert workflow.emulator.request_counts()["s3:PutObject"] <= 1  # at most the merged result, no search result
    parallel_output = next(e for e in report.events if e.type == "ParallelStateExited")
    assert 120_000 < parallel_output.payload_bytes < STATE_PAYLOAD_LIMIT
    assert report.max_state_payload_bytes < STATE_PAYLOAD_LIMIT
    # AND that same output, as the engine wrote it (ASCII escapes), is over the limit: the case that used to fail
    history = workflow.emulator.client("stepfunctions").get_execution_history(executionArn=report.execution_arn)["events"]
    (escaped,) = [e["stateExitedEventDetails"]["output"] for e in history if e["type"] == "ParallelStateExited"]
    assert len(escaped) > STATE_PAYLOAD_LIMIT


def test_the_timeline_labels_parallel_events_with_the_parallel_state(workflow):
    report = workflow.run({"keywords": "tea"})
    labels = {e.state for e in report.events if e.type.startswith("ParallelState")}
    assert labels == {"SearchAll"}


def test_cost_and_requests_match_a_hand_count(workflow):
    # GIVEN warm functions (the API keys are cached by then), and results large enough for S3
    workflow.run({"keywords": "tea"}, standins={"*": {"result_bytes": "300000"}})
    # WHEN the same run is made again
    report = workflow.run({"keywords": "tea"}, standins={"*": {"result_bytes": "300000"}})
    # THEN, by hand: 6 transitions (start, ValidateInput, SearchAll, 2 searches, MergeResults),
    #      3 Lambda invocations, S3: 2 search PutObjects + 1 merged PutObject + 2 GetObjects, nothing else
    assert report.state_machine_type == "STANDARD"
    assert report.state_transitions == 6 and report.lambda_invocations == 3
    assert report.aws_requests == {"lambda": 3, "s3": 5}  # the engine invokes the functions through the Lambda API
    assert report.outside_world == {"api_requests": {"shop-a": 1, "shop-b": 1}}
    cost = report.estimated_cost_usd
    assert cost["step_functions"] == pytest.approx(6 * 0.000025)
    assert cost["lambda_requests"] == pytest.approx(3 * 0.0000002)
    assert cost["api_requests"] == pytest.approx(3 * 0.000005 + 2 * 0.0000004)
    assert cost["lambda_compute"] > 0
    assert cost["total"] == pytest.approx(sum(v for k, v in cost.items() if k != "total"))


def test_keywords_that_are_not_valid_unicode_are_invalid_input(workflow):
    # GIVEN keywords holding a lone surrogate (JSON can carry it; UTF-8 cannot encode it)
    report = workflow.run({"keywords": "\ud800 tea"})
    # THEN the search functions name it, and no API is called
    assert report.status == "FAILED" and report.error == "InvalidSearchInput"
    assert report.outside_world["api_requests"] == {"shop-a": 0, "shop-b": 0}
