"""DistributedCopy template: what the workflow promises, asserted on the `local` and `prod` stages."""

from __future__ import annotations

import json

import pytest

from stacks.common.config import load_stage
from stacks.distributed_copy.settings import DistributedCopySettings
from stacks.distributed_copy.stack import (
    FAILED_KEYS_PREFIX,
    INVALID_INPUT_ERROR,
    LAMBDA_SERVICE_ERRORS,
    RESULTS_PREFIX,
    RETRYABLE_COPY_ERRORS,
    SETTINGS_KEY,
    THRESHOLD_ERROR,
)
from tests.templates.cfn import all_states, as_list, jsonata_throughout, only_resource, policy_statements, resources_of_type

STACK = "DistributedCopy"


@pytest.fixture
def settings(stage) -> DistributedCopySettings:
    return load_stage(stage.name).workflow_settings(SETTINGS_KEY, DistributedCopySettings)


def copy_map(definition) -> dict:
    (state,) = [s for _, s in all_states(definition) if s["Type"] == "Map"]
    return state


def role_of(template, function_logical_prefix: str) -> str:
    (function,) = [r for lid, r in resources_of_type(template, "AWS::Lambda::Function").items()
                   if lid.startswith(function_logical_prefix)]
    return function["Properties"]["Role"]["Fn::GetAtt"][0]


def statements_of_role(template, role_id: str) -> list[dict]:
    return [statement for lid, statement in policy_statements(template)
            if any(r == {"Ref": role_id} for r in template["Resources"][lid]["Properties"]["Roles"])]


def resource_text(resource) -> str:
    return json.dumps(resource, sort_keys=True)


def test_distributed_map_reads_batches_tolerates_and_writes_results(definition, settings, template):
    state = copy_map(definition)
    # THEN an S3 listObjectsV2 reader over the configured bucket and the plan's prefix (checked by PlanCopy)
    assert state["ItemReader"]["Resource"].endswith(":states:::s3:listObjectsV2")
    assert state["ItemReader"]["Arguments"] == {"Bucket": settings.source_bucket, "Prefix": "{% $plan.sourcePrefix %}"}
    # AND batches of the configured size, each carrying the plan (the variable PlanCopy assigned)
    assert state["ItemBatcher"]["MaxItemsPerBatch"] == settings.max_items_per_batch
    assert state["ItemBatcher"]["MaxInputBytesPerBatch"] == settings.max_input_bytes_per_batch
    assert state["ItemBatcher"]["BatchInput"] == {key: f"{{% $plan.{key} %}}" for key in
                                                  ("bucket", "sourcePrefix", "destinationPrefix", "targetDate")}
    assert definition["States"]["PlanCopy"]["Assign"] == {"plan": "{% $states.result %}"}
    # AND an integer tolerance, EXPRESS children, the configured concurrency
    assert state["ToleratedFailurePercentage"] == settings.tolerated_failure_percentage
    assert isinstance(state["ToleratedFailurePercentage"], int)
    assert state["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}
    assert state["MaxConcurrency"] == settings.max_concurrency
    # AND results written to the stack's results bucket under the results prefix
    results_bucket, _ = only_resource(template, "AWS::S3::Bucket")
    assert state["ResultWriter"]["Resource"].endswith(":states:::s3:putObject")
    assert state["ResultWriter"]["Arguments"] == {"Bucket": f"<Ref {results_bucket}>", "Prefix": RESULTS_PREFIX}
    assert state["Assign"] == {"results": "{% $states.result.ResultWriterDetails %}"}
    # AND any Map failure (reader, tolerance) is caught into the failure notice
    assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "Next": "PublishFailureNotice"}]
    # AND the copy task in the child is JSONata too, given the batch whole
    copy_batch = state["ItemProcessor"]["States"]["CopyBatch"]
    assert copy_batch["QueryLanguage"] == "JSONata" and copy_batch["Arguments"] == "{% $states.input %}"


def test_every_task_has_a_timeout_and_jittered_retries(definition, settings):
    tasks = {name: s for name, s in all_states(definition) if s["Type"] == "Task"}
    assert set(tasks) == {"PlanCopy", "CopyBatch", "Summarize", "PublishFailedKeys", "PublishFailureNotice"}
    assert definition["TimeoutSeconds"] == settings.execution_timeout_seconds
    for name, task in tasks.items():
        assert task["TimeoutSeconds"] > 0, name
        assert task["Retry"] and all(r["JitterStrategy"] == "FULL" for r in task["Retry"]), name
    retried = {e for r in tasks["CopyBatch"]["Retry"] for e in r["ErrorEquals"]}
    assert retried == set(LAMBDA_SERVICE_ERRORS) | set(RETRYABLE_COPY_ERRORS)
    # An EXPRESS child lasts at most 5 minutes: the copy task (and its retries' first attempt) fits.
    assert tasks["CopyBatch"]["TimeoutSeconds"] <= 250


def test_failures_publish_then_fail_and_failed_keys_one_notice(definition):
    states = dict(all_states(definition))
    # GIVEN every Catch: a JSONata Catch without Output passes on the caught error alone, so a rejected
    #       input (up to 256 KiB) is dropped and the error always fits the state
    for name in ("PlanCopy", "CopyObjects", "Summarize"):
        assert states[name]["Catch"] == [{"ErrorEquals": ["States.ALL"], "Next": "PublishFailureNotice"}], name
    assert states["PublishFailureNotice"]["Next"] == "WorkflowFailed"
    assert states["PublishFailureNotice"]["Output"] == "{% $states.input %}"
    assert states["WorkflowFailed"] == {"Type": "Fail", "Error": "{% $states.input.Error %}", "Cause": "{% $states.input.Cause %}"}
    # AND the summary is a variable the choices, the notice and the report read
    assert states["Summarize"]["Assign"] == {"summary": "{% $states.result %}"}
    assert states["Summarize"]["Arguments"] == {"results": "{% $results %}", "targetDate": "{% $plan.targetDate %}",
                                                "execution": "{% $states.context.Execution.Name %}"}
    choice = states["AnyFailedKeys"]
    assert choice["Choices"] == [{"Condition": "{% $summary.notice != null %}", "Next": "PublishFailedKeys"}]
    assert states["PublishFailedKeys"]["Arguments"]["Message"] == "{% $summary.notice %}"
    # AND after that notice, failures past the tolerated share fail the run by name
    assert states["PublishFailedKeys"]["Next"] == "OverFailureThreshold"
    assert states["OverFailureThreshold"]["Choices"] == [
        {"Condition": "{% $summary.thresholdExceeded = true %}", "Next": THRESHOLD_ERROR}]
    assert states["OverFailureThreshold"]["Default"] == "Report"
    assert states[THRESHOLD_ERROR] == {"Type": "Fail", "Error": THRESHOLD_ERROR, "Cause": "{% $summary.cause %}"}
    assert states["Report"]["Output"] == {"targetDate": "{% $plan.targetDate %}", "moved": "{% $summary.moved %}",
                                          "skipped": "{% $summary.skipped %}", "failed": "{% $summary.failed %}",
                                          "results": "{% $results %}"}


def test_copy_function_may_touch_only_its_prefixes(template, settings):
    statements = [s for s in statements_of_role(template, role_of(template, "CopyFunction"))
                  if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    by_resource = {resource_text(s["Resource"]): sorted(as_list(s["Action"])) for s in statements}
    assert len(by_resource) == 3
    for text, actions in by_resource.items():
        if text.endswith(f':s3:::{settings.source_bucket}/{settings.source_prefix}*"]]}}'):
            assert actions == ["s3:DeleteObject", "s3:GetObject"], text
        elif text.endswith(f':s3:::{settings.source_bucket}/{settings.destination_prefix}*"]]}}'):
            assert actions == ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"], text
        else:
            assert actions == ["s3:ListBucket"] and text.endswith(f':s3:::{settings.source_bucket}"]]}}'), text


def test_state_machine_role_gets_only_what_the_map_run_needs(template, settings):
    _, machine = only_resource(template, "AWS::StepFunctions::StateMachine")
    role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    machine_id = next(lid for lid, r in template["Resources"].items() if r is machine)
    statements = statements_of_role(template, role_id)
    actions = {a for s in statements for a in as_list(s["Action"])}
    # THEN it may start executions of itself only, and list (never read, write or delete) the source
    (start,) = [s for s in statements if "states:StartExecution" in as_list(s["Action"])]
    assert start["Resource"] == {"Ref": machine_id}
    source_statements = [s for s in statements if f":s3:::{settings.source_bucket}" in resource_text(s["Resource"])]
    assert [as_list(s["Action"]) for s in source_statements] == [["s3:ListBucket"]]
    assert not {"s3:DeleteObject", "states:StartExecution*"} & actions
    assert not any(a == "*" or a.endswith(":*") for a in actions)


def test_summarize_judges_failures_against_the_configured_threshold(template, settings):
    (function,) = [r for lid, r in resources_of_type(template, "AWS::Lambda::Function").items() if lid.startswith("SummarizeFunction")]
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["TOLERATED_FAILED_OBJECTS_PERCENTAGE"] == str(settings.tolerated_failed_objects_percentage)


def test_summarize_reads_results_and_writes_failed_key_lists_only(template):
    statements = statements_of_role(template, role_of(template, "SummarizeFunction"))
    s3 = {(tuple(sorted(as_list(s["Action"]))), resource_text(s["Resource"])) for s in statements
          if any(a.startswith("s3:") for a in as_list(s["Action"]))}
    assert any(a == ("s3:GetObject",) and f"/{RESULTS_PREFIX}*" in r for a, r in s3)
    assert any(a == ("s3:PutObject",) and f"/{FAILED_KEYS_PREFIX}*" in r for a, r in s3)
    assert not any("s3:DeleteObject" in a for a, _ in s3)


def test_no_wildcard_actions_anywhere(template):
    for _, statement in policy_statements(template):
        for action in as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), statement


def test_error_names_in_the_definition_are_the_handlers_exceptions(definition):
    # GIVEN the error names the definition retries on, and the one the plan handler raises for bad input
    from stacks.distributed_copy.stack import LAMBDA_SOURCE

    errors = (LAMBDA_SOURCE / "distributed_copy" / "errors.py").read_text()
    retried = {e for _, s in all_states(definition) for r in s.get("Retry", []) for e in r["ErrorEquals"]}
    # THEN each non-service name is an exception class of the handlers' errors module
    for name in (retried - set(LAMBDA_SERVICE_ERRORS)) - {"SNS.InternalErrorException", "SNS.ThrottledException", "States.Timeout"}:
        assert f"class {name}(" in errors, name
    assert f"class {INVALID_INPUT_ERROR}(" in errors


def test_the_definition_is_jsonata_throughout(definition):
    # GIVEN the synthesized definition THEN JSONata is its top level's language and every state's (branches,
    # Map children), and no state holds a JSONPath field
    assert jsonata_throughout(definition) == []
