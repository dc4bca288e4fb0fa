"""BucketUsage template: what the workflow promises, asserted on the `local` and `prod` stages."""

from __future__ import annotations

import importlib.util
import json
import re

from stacks.bucket_usage.settings import BucketUsageSettings
from stacks.bucket_usage.stack import (
    INPUT_PROBLEMS,
    INVALID_INPUT_ERROR,
    LAMBDA_SERVICE_ERRORS,
    LAMBDA_SOURCE,
    LIST_BUCKETS_ACTION,
    MAP_RUNS_PREFIX,
    RETRYABLE_SCAN_ERRORS,
    SCAN_S3_ACTIONS,
    SETTINGS_KEY,
    TARGETS_PREFIX,
    THRESHOLD_ERROR,
)
from stacks.common.config import load_stage
from tests.templates.cfn import all_states, as_list, jsonata_throughout, only_resource, policy_statements, resources_of_type

STACK = "BucketUsage"


def _states(definition):
    return dict(all_states(definition))


def test_no_state_machine_is_created_at_run_time_anywhere(template):
    # GIVEN the whole template (definition and every IAM policy)
    text = json.dumps(template).lower()
    # THEN nothing can create or delete a state machine, and there is one machine in the stack
    for action in ("createstatemachine", "deletestatemachine"):
        assert action not in text, action
    machine_id, _ = only_resource(template, "AWS::StepFunctions::StateMachine")
    # AND the only Step Functions actions are the Distributed Map's, on this machine's own executions
    for _, statement in policy_statements(template):
        actions = [a for a in as_list(statement["Action"]) if a.startswith("states:")]
        if actions:
            assert set(actions) <= {"states:StartExecution", "states:DescribeExecution", "states:StopExecution",
                                    "states:RedriveExecution"}, actions
            assert machine_id in json.dumps(statement["Resource"]), statement


def test_no_polling_loop_no_wait_state_and_the_only_loop_is_the_bounded_scan(definition, stage):
    states = _states(definition)
    assert not [name for name, s in states.items() if s["Type"] == "Wait"]
    # the only backward edge: MoreToScan -> the scan pass, while the pass counter is under the limit
    (more,) = [s for s in states.values() if s["Type"] == "Choice" and any(c.get("Next") == "ScanPass" for c in s["Choices"])]
    done, bound = more["Choices"]
    assert done["Condition"] == "{% $states.input.scan.done = true %}" and states[done["Next"]]["Type"] == "Succeed"
    max_passes = load_stage(stage.name).workflow_settings(SETTINGS_KEY, BucketUsageSettings).max_scan_passes
    assert bound == {"Condition": f"{{% $states.input.passes < {max_passes} %}}", "Next": "ScanPass"} and max_passes >= 1
    assert states[more["Default"]]["Type"] == "Task"  # the pass limit: record partial counts, then end
    # the counter travels in the payload: 0 from the Map's ItemSelector, raised by 1 by each pass that returned
    (scan_map,) = [s for s in states.values() if s["Type"] == "Map"]
    assert scan_map["ItemSelector"]["passes"] == 0 and scan_map["ItemSelector"]["scan"] == {"pass": 0, "done": False}
    assert scan_map["ItemProcessor"]["StartAt"] == "ScanPass"  # no state before the loop: 3 transitions per one-pass bucket
    scan = states["ScanPass"]
    assert scan["Arguments"]["pass"] == "{% $states.input.passes + 1 %}" and scan["Arguments"]["state"] == "{% $states.input.scan %}"
    assert scan["Output"] == "{% $merge([$states.input, {'scan': $states.result, 'passes': $states.input.passes + 1}]) %}"
    assert "Assign" not in scan and scan["Next"] == "MoreToScan"


def test_a_child_reads_and_assigns_no_variable(definition):
    # GIVEN the Map's child: a Distributed Map's child execution cannot read the execution's variables, and AWS fails
    # the read of a variable not yet assigned
    (scan_map,) = [s for s in _states(definition).values() if s["Type"] == "Map"]
    child = scan_map["ItemProcessor"]["States"]
    expressions = " ".join(re.findall(r"\{%(.*?)%\}", json.dumps(child)))
    read = set(re.findall(r"\$([A-Za-z_]\w*)", expressions)) - {"states", "merge", "count", "type", "exists", "not"}
    assigned = {name for state in child.values()
                for assign in [state.get("Assign", {})] + [c.get("Assign", {}) for c in state.get("Catch", [])]
                for name in assign}
    # THEN it reads only $states: the loop's state travels in the payload, from the Map's ItemSelector on
    assert read == set() and assigned == set()


def test_buckets_go_to_s3_and_feed_one_distributed_map_whose_results_stay_out_of_the_state(definition):
    states = _states(definition)
    (scan_map,) = [s for s in states.values() if s["Type"] == "Map"]
    lister = states["ListTargets"]
    # the lister's answer is a variable: where the list is, never the list itself
    assert lister["Assign"] == {"targets": "{% $states.result %}"} and states[lister["Next"]] is scan_map
    assert lister["Arguments"] == {"request": "{% $states.input %}", "execution": "{% $states.context.Execution.Name %}"}
    assert scan_map["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert scan_map["ItemReader"]["Resource"].endswith(":states:::s3:getObject")
    assert scan_map["ItemReader"]["ReaderConfig"] == {"InputType": "JSON"}
    assert scan_map["ItemReader"]["Arguments"]["Key"] == "{% $targets.key %}"
    assert "Items" not in scan_map
    # each child carries its bucket and the checked request (a few bytes), never the list
    assert scan_map["ItemSelector"] == {"bucket": "{% $states.context.Map.Item.Value %}", "request": "{% $targets.request %}",
                                        "execution": "{% $states.context.Execution.Name %}",
                                        "scan": {"pass": 0, "done": False}, "passes": 0}
    # the children's results go to S3: the Map's output is where they are, a constant size
    assert scan_map["ResultWriter"]["Resource"].endswith(":states:::s3:putObject")
    assert scan_map["ResultWriter"]["Arguments"]["Prefix"] == MAP_RUNS_PREFIX
    assert states[scan_map["Next"]]["Arguments"] == {"targets": "{% $targets %}",
                                                     "execution": "{% $states.context.Execution.Name %}"}
    assert 1 <= scan_map["MaxConcurrency"] <= 10_000


def test_every_element_of_a_given_list_is_type_checked_before_any_task(definition):
    start = definition["States"][definition["StartAt"]]
    # GIVEN the first state: one Choice whose only rule names every way an input is invalid
    (reject,) = start["Choices"]
    assert reject == {"Condition": f"{{% {' or '.join(INPUT_PROBLEMS)} %}}", "Next": "InvalidInput"}
    assert start["Default"] == "ListTargets"
    # THEN a given list must be a non-empty array holding as many strings as elements (one condition, no Pass state)
    assert "$count($states.input.buckets[$type($) = 'string']) = $count($states.input.buckets)" in reject["Condition"]
    assert "$type($states.input.buckets) = 'array' and $count($states.input.buckets) > 0" in reject["Condition"]
    assert not [name for name, s in definition["States"].items() if s["Type"] == "Pass"]


def test_the_failure_threshold_reads_the_summarys_verdict(definition):
    states = _states(definition)
    assert states["Summarize"]["Next"] == "OverFailureThreshold"
    threshold = states["OverFailureThreshold"]
    assert threshold["Choices"] == [{"Condition": "{% $states.input.verdict.thresholdExceeded = true %}",
                                     "Next": THRESHOLD_ERROR}]
    assert states[THRESHOLD_ERROR] == {"Type": "Fail", "Error": THRESHOLD_ERROR, "Cause": "{% $states.input.verdict.cause %}"}
    assert states[threshold["Default"]] == {"Type": "Succeed"}


def test_the_definition_is_jsonata_throughout(definition):
    # GIVEN the synthesized definition THEN JSONata is its top level's language and every state's (the Map's child
    # included), and no state holds a JSONPath field
    assert jsonata_throughout(definition) == []


def test_every_task_has_a_timeout_longer_than_its_function_and_the_machine_too(template, definition):
    tasks = [(name, s) for name, s in all_states(definition) if s["Type"] == "Task"]
    assert tasks and all(0 < s.get("TimeoutSeconds", 0) <= 910 for _, s in tasks)
    assert 0 < definition["TimeoutSeconds"] <= 86_400
    functions = {lid: f["Properties"]["Timeout"] for lid, f in resources_of_type(template, "AWS::Lambda::Function").items()}
    for name, task in tasks:
        if task["Resource"].startswith("<Fn::GetAtt"):
            function_id = task["Resource"].split()[1].split(".")[0]
            assert functions[function_id] < task["TimeoutSeconds"], name


def test_retries_use_backoff_with_full_jitter(definition):
    retried = [(name, s) for name, s in all_states(definition) if s["Type"] == "Task"]
    for name, task in retried:
        assert task.get("Retry"), name
        for retry in task["Retry"]:
            assert retry["JitterStrategy"] == "FULL" and retry["BackoffRate"] >= 2 and 2 <= retry["MaxAttempts"] <= 5, name
    for name in ("ScanPass", "RecordIncomplete", "ScanFailed", "Summarize"):
        errors = [e for r in _states(definition)[name]["Retry"] for e in r["ErrorEquals"]]
        assert set(LAMBDA_SERVICE_ERRORS) <= set(errors) and set(RETRYABLE_SCAN_ERRORS) <= set(errors), name


def test_a_bucket_whose_scan_fails_is_a_result_and_everything_else_is_caught_notified_and_failed(definition):
    states = _states(definition)
    for name in ("ScanPass", "RecordIncomplete"):
        (catch,) = states[name]["Catch"]
        # ScanFailed's input: the failed state's input (the loop's state) with the caught error
        assert catch == {"ErrorEquals": ["States.ALL"], "Next": "ScanFailed",
                         "Output": "{% $merge([$states.input, {'failure': $states.errorOutput}]) %}"}
        failed = states[catch["Next"]]
        assert failed.get("End") and failed["Arguments"]["failure"] == "{% $states.input.failure %}"
        assert failed["Arguments"]["state"] == "{% $states.input.scan %}" and failed["Arguments"]["pass"] == "{% $states.input.passes %}"
    assert "Catch" not in states["ScanFailed"]  # if even the failure cannot be recorded, the child fails, and the Map
    top_level = [s for s in definition["States"].values()
                 if s["Type"] in ("Task", "Map") and not s["Resource" if "Resource" in s else "Type"].endswith("sns:publish")]
    assert len(top_level) == 3  # the lister, the Map, the summary
    for state in top_level:
        (catch,) = state["Catch"]
        assert catch == {"ErrorEquals": ["States.ALL"], "Next": "PublishFailureNotice"}  # the caught error alone goes on
        notice = states[catch["Next"]]
        assert notice["Resource"].endswith(":states:::sns:publish") and notice["Output"] == "{% $states.input %}"
        assert states[notice["Next"]] == {"Type": "Fail", "Error": "{% $states.input.Error %}",
                                          "Cause": "{% $states.input.Cause %}"}


def test_bad_input_fails_first_with_a_named_error(definition):
    start = definition["States"][definition["StartAt"]]
    assert start["Type"] == "Choice"
    invalid = definition["States"][start["Choices"][0]["Next"]]
    assert invalid == {"Type": "Fail", "Error": INVALID_INPUT_ERROR, "Cause": invalid["Cause"]}


def test_error_names_in_the_definition_are_exception_classes_of_the_handlers():
    spec = importlib.util.spec_from_file_location("bu_errors", LAMBDA_SOURCE / "bucket_usage" / "errors.py")
    errors = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(errors)
    for name in [*RETRYABLE_SCAN_ERRORS, INVALID_INPUT_ERROR]:
        assert issubclass(getattr(errors, name), Exception), name
    assert set(errors.RETRYABLE_ERRORS) == set(RETRYABLE_SCAN_ERRORS)


def test_s3_permissions_are_read_only_except_the_workflows_own_lists(template):
    lists_id = next(lid for lid in resources_of_type(template, "AWS::S3::Bucket") if lid.startswith("Lists"))
    for _, statement in policy_statements(template):
        actions = as_list(statement["Action"])
        assert not [a for a in actions if "*" in a], actions
        if statement["Resource"] == "*":
            # ListAllMyBuckets has no resource-level permissions; neither do log delivery and X-Ray
            assert all(a == LIST_BUCKETS_ACTION or a.startswith(("xray:", "logs:")) for a in actions), actions
        s3 = [a for a in actions if a.startswith("s3:")]
        if s3 and lists_id not in json.dumps(statement["Resource"]):
            # every other bucket of the account: list keys and ask the region, nothing else
            assert s3 in (sorted(SCAN_S3_ACTIONS), [LIST_BUCKETS_ACTION]), s3
        elif s3 and "s3:PutObject" in s3 and "Fn::Join" in json.dumps(statement["Resource"]):
            resource = json.dumps(statement["Resource"])
            assert f"/{TARGETS_PREFIX}*" in resource or '"/*"' in resource, resource  # the lister; the Map's writer
    for role in resources_of_type(template, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


def test_results_table_is_keyed_by_scan_and_bucket_with_pitr_encryption_and_ttl(template, stage):
    table_id, table = only_resource(template, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "scan_id", "KeyType": "HASH"}, {"AttributeName": "bucket", "KeyType": "RANGE"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["DeletionPolicy"] == ("Retain" if stage.name == "prod" else "Delete")
    # written whole (PutItem) by the functions, never updated in place (no ADD)
    dynamodb_actions = {a for _, s in policy_statements(template) for a in as_list(s["Action"]) if a.startswith("dynamodb:")}
    assert dynamodb_actions == {"dynamodb:PutItem", "dynamodb:Query"}


def test_functions_know_the_table_topic_and_lists_and_the_summary_may_publish(template):
    functions = resources_of_type(template, "AWS::Lambda::Function")
    assert len(functions) == 3
    topic_id, _ = only_resource(template, "AWS::SNS::Topic")
    table_id, _ = only_resource(template, "AWS::DynamoDB::Table")
    lists_id = next(lid for lid in resources_of_type(template, "AWS::S3::Bucket") if lid.startswith("Lists"))
    envs = [f["Properties"]["Environment"]["Variables"] for f in functions.values()]
    assert [env["RESULTS_TABLE"] for env in envs if "RESULTS_TABLE" in env] == [{"Ref": table_id}] * 2
    assert [env["SUMMARY_TOPIC_ARN"] for env in envs if "SUMMARY_TOPIC_ARN" in env] == [{"Ref": topic_id}]
    assert [(env["TARGETS_BUCKET"], env["TARGETS_PREFIX"]) for env in envs if "TARGETS_BUCKET" in env] == [({"Ref": lists_id}, TARGETS_PREFIX)]
    publishers = [lid for lid, s in policy_statements(template) if s["Action"] == "sns:Publish"]
    assert len(publishers) == 2  # the state machine (failure notices) and the summary function


def test_scan_pass_budget_fits_the_function_timeout(template):
    (scan,) = [f for f in resources_of_type(template, "AWS::Lambda::Function").values() if "COMPOUND_EXTENSIONS" in f["Properties"]["Environment"]["Variables"]]
    env = scan["Properties"]["Environment"]["Variables"]
    assert 0 < int(env["SCAN_TIME_RESERVE_SECONDS"]) < scan["Properties"]["Timeout"] / 2
    assert "tar.gz" in env["COMPOUND_EXTENSIONS"].split(",")
