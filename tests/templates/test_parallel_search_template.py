"""ParallelSearch template: what the workflow promises, asserted on the `local` and `prod` stages."""

from __future__ import annotations

import importlib.util
import json

import pytest

from stacks.parallel_search.stack import LAMBDA_SOURCE
from tests.templates.cfn import all_states, as_list, jsonata_throughout, only_resource, policy_statements, resources_of_type

STACK = "ParallelSearch"
STATE_PAYLOAD_LIMIT = 256 * 1024
# Written out here, not imported from the stack: the test reads what the synthesized definition says.
RETRIED_API_ERRORS = {"SearchApiThrottled", "SearchApiUnavailable", "SearchApiTimeout"}
LAMBDA_SERVICE_ERRORS = {
    "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException", "Lambda.ClientExecutionTimeoutException",
}
NEVER_RETRIED = {"SearchApiRejected", "SearchApiBadResponse", "InvalidSearchInput", "SearchApiNotConfigured"}
# Error classes deliberately left to the States.ALL catch (notice, then Fail): retrying cannot help.
DELIBERATELY_TERMINAL = {
    "InvalidSearchInput": "bad execution input",
    "SearchApiRejected": "4xx: the key or the request is wrong",
    "SearchApiBadResponse": "the API broke its contract",
    "SearchApiNotConfigured": "the endpoint is a placeholder: a deploy fixes it, not a retry",
    "InvalidPayloadReference": "a bug between our own states",
    "PayloadReferenceMissing": "the S3 object expired or was deleted",
    "PayloadIntegrityError": "the S3 object was changed",
}


def test_search_apis_run_in_one_parallel_state_then_merge(definition):
    # GIVEN the synthesized definition
    parallel = [state for _, state in all_states(definition) if state["Type"] == "Parallel"]
    # THEN one Parallel state has one branch per API, each a single Lambda task, followed by the merge task
    assert len(parallel) == 1
    branches = parallel[0]["Branches"]
    assert len(branches) == 2
    for branch in branches:
        (task,) = branch["States"].values()
        assert task["Type"] == "Task" and task["Resource"].startswith("<Fn::GetAtt Search")
        assert task["Arguments"] == {"keywords": "{% $keywords %}", "execution_name": "{% $states.context.Execution.Name %}"}
    # AND the merge gets both results (the Parallel's output) and the keywords from their variable
    merge = definition["States"][parallel[0]["Next"]]
    assert merge["Type"] == "Task" and merge["Resource"].startswith("<Fn::GetAtt Merge")
    assert merge["Arguments"] == {"keywords": "{% $keywords %}", "execution_name": "{% $states.context.Execution.Name %}",
                                  "results": "{% $states.input %}"}


def test_every_task_has_a_timeout_and_the_machine_too(template, definition):
    tasks = [(name, state) for name, state in all_states(definition) if state["Type"] == "Task"]
    assert tasks
    for name, task in tasks:
        assert 0 < task.get("TimeoutSeconds", 0) <= 120, name
    assert 0 < definition["TimeoutSeconds"] <= 900
    # the Lambda timeout is shorter than its task's timeout, so Lambda reports its own timeout first
    lambda_task_timeout = min(t["TimeoutSeconds"] for _, t in tasks if t["Resource"].startswith("<Fn::GetAtt"))
    for _, function in resources_of_type(template, "AWS::Lambda::Function").items():
        assert function["Properties"]["Timeout"] < lambda_task_timeout


def _retried(state: dict) -> set[str]:
    return {name for retry in state.get("Retry", []) for name in retry["ErrorEquals"]}


def test_api_errors_are_retried_with_backoff_and_full_jitter(definition):
    searches = [state for name, state in all_states(definition) if name.startswith("Search ")]
    assert len(searches) == 2
    for search in searches:
        api_retry = [r for r in search["Retry"] if set(r["ErrorEquals"]) == RETRIED_API_ERRORS]
        assert len(api_retry) == 1
        (retry,) = api_retry
        assert retry["JitterStrategy"] == "FULL"
        assert retry["BackoffRate"] >= 2 and 2 <= retry["MaxAttempts"] <= 5
        assert retry["MaxDelaySeconds"] >= retry["IntervalSeconds"]


def test_the_definition_retries_exactly_the_transient_errors_and_never_the_terminal_ones(definition):
    # GIVEN the Retry rules of every state of the synthesized definition
    retried = {name: _retried(state) for name, state in all_states(definition) if state.get("Retry")}
    # THEN the searches retry exactly the transient API errors plus Lambda's service errors, the merge only the latter
    assert {name: names for name, names in retried.items() if name.startswith("Search ")} == {
        name: RETRIED_API_ERRORS | LAMBDA_SERVICE_ERRORS for name in retried if name.startswith("Search ")
    }
    assert len([name for name in retried if name.startswith("Search ")]) == 2
    assert retried["MergeResults"] == LAMBDA_SERVICE_ERRORS
    # AND no state retries a terminal error, by name or through a catch-all
    for name, names in retried.items():
        assert not names & (NEVER_RETRIED | {"States.ALL", "States.TaskFailed"}), (name, names)


def test_every_lambda_task_retries_lambda_service_errors_and_throttling_with_jitter(definition):
    lambda_tasks = [state for _, state in all_states(definition) if state.get("Resource", "").startswith("<Fn::GetAtt")]
    assert len(lambda_tasks) == 3
    for task in lambda_tasks:
        (service_retry,) = [r for r in task["Retry"] if "Lambda.TooManyRequestsException" in r["ErrorEquals"]]
        assert set(service_retry["ErrorEquals"]) == LAMBDA_SERVICE_ERRORS
        assert service_retry["JitterStrategy"] == "FULL"


def test_failures_are_caught_notified_on_sns_and_fail_with_the_original_error(definition):
    states = dict(all_states(definition))
    catchers = [state for state in states.values() if state.get("Catch")]
    assert {state["Type"] for state in catchers} == {"Parallel", "Task"}
    for state in catchers:
        # a JSONata Catch without Output passes on the caught error alone ($states.errorOutput)
        (catch,) = state["Catch"]
        assert catch == {"ErrorEquals": ["States.ALL"], "Next": "PublishFailureNotice"}
        notice = states[catch["Next"]]
        assert notice["Resource"].endswith(":states:::sns:publish")
        assert notice["Arguments"]["Message"]["error"] == "{% $states.input.Error %}"
        assert notice["Output"] == "{% $states.input %}"
        failed = states[notice["Next"]]
        assert failed == {"Type": "Fail", "Error": "{% $states.input.Error %}", "Cause": "{% $states.input.Cause %}"}


def test_missing_keywords_fail_fast_with_a_named_error(definition):
    start = definition["States"][definition["StartAt"]]
    assert start["Type"] == "Choice"
    invalid = definition["States"][start["Default"]]
    assert invalid["Type"] == "Fail" and invalid["Error"] == "InvalidSearchInput"
    # valid input continues with the keywords alone, as a variable: nothing else rides through the states
    (valid,) = start["Choices"]
    assert valid["Condition"] == "{% $type($states.input.keywords) = 'string' and $states.input.keywords != '' %}"
    assert valid["Assign"] == {"keywords": "{% $states.input.keywords %}"} and valid["Output"] == {}
    assert definition["States"][valid["Next"]]["Type"] == "Parallel"


def _errors_module():
    """The Lambda code's errors module, loaded by path (it is not on sys.path here)."""
    spec = importlib.util.spec_from_file_location("ps_errors", LAMBDA_SOURCE / "parallel_search" / "errors.py")
    errors = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(errors)
    return errors


def test_error_names_in_the_definition_are_exception_classes_of_the_handlers(definition):
    # GIVEN the errors module of the Lambda code and every error name the definition retries, catches or fails with
    errors = _errors_module()
    named = {name for _, state in all_states(definition) for rule in [*state.get("Retry", []), *state.get("Catch", [])]
             for name in rule["ErrorEquals"]}
    named |= {state["Error"] for _, state in all_states(definition) if state["Type"] == "Fail" and "Error" in state}
    ours = {name for name in named if "." not in name}  # States.*, Lambda.*, SNS.* are AWS's names
    # THEN each of our names is an exception class there (a typo would never match)
    assert ours >= RETRIED_API_ERRORS | {"InvalidSearchInput"}
    for name in ours:
        assert issubclass(getattr(errors, name), errors.SearchWorkflowError), name


def test_every_error_class_is_retried_caught_by_name_or_deliberately_terminal(definition):
    # GIVEN every error class the handlers raise on purpose
    errors = _errors_module()
    base = errors.SearchWorkflowError
    classes = {name for name, value in vars(errors).items()
               if isinstance(value, type) and issubclass(value, base) and value is not base}
    retried = {name for _, state in all_states(definition) for name in _retried(state)}
    caught = {name for _, state in all_states(definition) for rule in state.get("Catch", []) for name in rule["ErrorEquals"]}
    # THEN each is retried in the definition, caught there by name, or listed here as deliberately terminal
    unclassified = classes - retried - caught - set(DELIBERATELY_TERMINAL)
    assert not unclassified, f"decide how the workflow handles {sorted(unclassified)}"
    assert not set(DELIBERATELY_TERMINAL) & retried
    assert set(DELIBERATELY_TERMINAL) <= classes  # no stale names here either


def test_the_errors_module_holds_exception_classes_only():
    # the retry policy lives in one place, the stack; a second list in the Lambda code would drift unused
    errors = _errors_module()
    public = {name: value for name, value in vars(errors).items() if not name.startswith("_")}
    assert public and all(isinstance(value, type) and issubclass(value, Exception) for value in public.values()), [
        name for name, value in public.items() if not isinstance(value, type)
    ]


def test_each_search_function_names_the_setting_of_its_endpoint(template, stage):
    # a placeholder endpoint fails with SearchApiNotConfigured naming this setting
    functions = resources_of_type(template, "AWS::Lambda::Function").values()
    environments = [f["Properties"]["Environment"]["Variables"] for f in functions]
    settings = {env["SEARCH_API_NAME"]: env["SEARCH_API_ENDPOINT_SETTING"] for env in environments if "SEARCH_API_NAME" in env}
    where = "parallel_search"
    assert settings == {"shop-a": f"{where}.api_a.endpoint", "shop-b": f"{where}.api_b.endpoint"}


def test_state_machine_logs_all_events_traces_and_alarms(template):
    _, machine = only_resource(template, "AWS::StepFunctions::StateMachine")
    props = machine["Properties"]
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm").values()
    assert {a["Properties"]["MetricName"] for a in alarms} == {"ExecutionsFailed", "ExecutionsTimedOut"}
    topic_id, _ = only_resource(template, "AWS::SNS::Topic")
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]


def test_functions_are_traced_sized_and_log_to_a_retained_group(template, stage):
    functions = resources_of_type(template, "AWS::Lambda::Function")
    assert len(functions) == 3
    log_groups = resources_of_type(template, "AWS::Logs::LogGroup")
    for function in functions.values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.14" and props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["MemorySize"] >= 256 and props["Timeout"] >= 10
        log_group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert log_groups[log_group_id]["Properties"]["RetentionInDays"] == (90 if stage.name == "prod" else 7)


def test_no_secret_values_in_environment_only_secret_names(template):
    secret_names = []
    for function in resources_of_type(template, "AWS::Lambda::Function").values():
        env = function["Properties"]["Environment"]["Variables"]
        assert not [key for key in env if "KEY" in key and not key.endswith("_SECRET_NAME")]
        if "SEARCH_API_KEY_SECRET_NAME" in env:
            secret_names.append(env["SEARCH_API_KEY_SECRET_NAME"])
    assert len(set(secret_names)) == 2
    assert "SecretString" not in json.dumps(template)


def test_iam_is_least_privilege(template):
    for logical_id, statement in policy_statements(template):
        actions = as_list(statement["Action"])
        # no service-wide or prefix wildcards such as s3:* or s3:Get*
        assert not [a for a in actions if "*" in a], (logical_id, actions)
        if statement["Resource"] == "*":
            assert all(a.startswith(("xray:", "logs:")) for a in actions), (logical_id, actions)
    for role in resources_of_type(template, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
    # S3 object access is per key prefix; the reader may also list (so a missing key is a 404, not a 403)
    s3_statements = [s for _, s in policy_statements(template) if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    object_statements = [s for s in s3_statements if s["Action"] != "s3:ListBucket"]
    assert sorted(s["Action"] for s in object_statements) == ["s3:GetObject", "s3:PutObject", "s3:PutObject", "s3:PutObject"]
    for statement in object_statements:
        assert statement["Resource"]["Fn::Join"][1][-1] in ("/searches/*", "/merged/*")
    (list_bucket,) = [s for s in s3_statements if s["Action"] == "s3:ListBucket"]
    assert list(list_bucket["Resource"]) == ["Fn::GetAtt"]


def test_publishing_to_the_encrypted_topic_is_granted_its_kms_key(template):
    topic_id, topic = only_resource(template, "AWS::SNS::Topic")
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    machine_role_policies = [
        s for lid, s in policy_statements(template) if lid.startswith("WorkflowStateMachineRole")
    ]
    assert any(s["Action"] == "sns:Publish" and s["Resource"] == {"Ref": topic_id} for s in machine_role_policies)
    assert any(
        sorted(as_list(s["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"] and s["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
        for s in machine_role_policies
    )


def test_payload_bucket_is_private_encrypted_tls_only_and_expires_objects(template, stage):
    bucket_id, bucket = only_resource(template, "AWS::S3::Bucket")
    props = bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 1 and rule["Status"] == "Enabled"
    _, policy = only_resource(template, "AWS::S3::BucketPolicy")
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert bucket["DeletionPolicy"] == ("Retain" if stage.name == "prod" else "Delete")


def test_inline_threshold_leaves_room_for_both_branches(template):
    thresholds = {
        int(f["Properties"]["Environment"]["Variables"]["INLINE_THRESHOLD_BYTES"])
        for f in resources_of_type(template, "AWS::Lambda::Function").values()
    }
    (threshold,) = thresholds
    assert 2 * threshold + 16 * 1024 < STATE_PAYLOAD_LIMIT


def test_outside_local_an_api_endpoint_must_be_https():
    import aws_cdk as cdk

    from stacks.common.config import ConfigError, load_stage
    from stacks.parallel_search.stack import ParallelSearchStack

    # GIVEN a prod stage whose API endpoint is plain HTTP
    stage = load_stage("prod", {"parallel_search.api_a.name": "a", "parallel_search.api_a.endpoint": "http://api.example/items"})
    # THEN the stack refuses it: the API key would travel in clear text
    with pytest.raises(ConfigError, match="https"):
        ParallelSearchStack(cdk.App(), "Probe", stage=stage)


def test_the_definition_is_jsonata_throughout(definition):
    # GIVEN the synthesized definition THEN JSONata is its top level's language and every state's (branches,
    # Map children), and no state holds a JSONPath field
    assert jsonata_throughout(definition) == []
