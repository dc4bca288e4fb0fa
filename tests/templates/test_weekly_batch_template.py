"""WeeklyBatch template: what the workflow promises, asserted on the `local` and `prod` stages."""

from __future__ import annotations

import importlib.util
import json

import pytest

from stacks.weekly_batch.stack import (
    BIGQUERY_RETRYABLE_ERRORS,
    DATA_NOT_READY,
    GUARD_TAKEN,
    LAMBDA_SOURCE,
    NOTICE_KINDS,
    SLACK_RETRYABLE_ERRORS,
    STATUS_CHANGE,
    UNSUCCESSFUL_END_STATUSES,
)
from tests.templates.cfn import all_states, as_list, jsonata_throughout, only_resource, policy_statements, resources_of_type

STACK = "WeeklyBatch"
# stage -> (max_checks, wait_seconds), as cdk.json sets them (prod: the documented defaults)
LOOP = {"local": (4, 1), "prod": (18, 600)}


def _function_id(template, handler_module: str) -> str:
    (logical_id,) = [
        lid
        for lid, f in resources_of_type(template, "AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == f"weekly_batch.handlers.{handler_module}.handler"
    ]
    return logical_id


def _role_statements(template, function_id: str) -> list[dict]:
    role_id = resources_of_type(template, "AWS::Lambda::Function")[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [s for lid, s in policy_statements(template) if {"Ref": role_id} in template["Resources"][lid]["Properties"]["Roles"]]


def test_the_schedule_is_thursday_0930_tokyo_with_the_scheduled_time_in_its_input(template):
    _, schedule = only_resource(template, "AWS::Scheduler::Schedule")
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "cron(30 9 ? * THU *)"
    assert props["ScheduleExpressionTimezone"] == "Asia/Tokyo"
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"} and props["State"] == "ENABLED"
    assert json.loads(props["Target"]["Input"]) == {"scheduledTime": "<aws.scheduler.scheduled-time>"}


def test_the_schedule_retries_dead_letters_to_an_encrypted_alarmed_queue(template):
    _, schedule = only_resource(template, "AWS::Scheduler::Schedule")
    target = schedule["Properties"]["Target"]
    assert 1 <= target["RetryPolicy"]["MaximumRetryAttempts"] <= 185
    assert 60 <= target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 86_400
    queue_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    queue = template["Resources"][queue_id]
    assert queue["Type"] == "AWS::SQS::Queue" and queue["Properties"]["SqsManagedSseEnabled"] is True
    topic_id, _ = only_resource(template, "AWS::SNS::Topic")
    dlq_alarms = [
        a["Properties"]
        for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Dimensions") == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    ]
    (alarm,) = dlq_alarms
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible" and alarm["Threshold"] == 1
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    # TLS only
    (policy,) = [
        p for p in resources_of_type(template, "AWS::SQS::QueuePolicy").values() if {"Ref": queue_id} in p["Properties"]["Queues"]
    ]
    assert any(
        s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s)
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )


def test_the_schedule_role_may_only_start_this_state_machine(template):
    _, schedule = only_resource(template, "AWS::Scheduler::Schedule")
    target = schedule["Properties"]["Target"]
    machine_id, _ = only_resource(template, "AWS::StepFunctions::StateMachine")
    assert target["Arn"] == {"Ref": machine_id}
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"} and "aws:SourceAccount" in json.dumps(trust["Condition"])
    statements = [
        s for lid, s in policy_statements(template) if {"Ref": role_id} in template["Resources"][lid]["Properties"]["Roles"]
    ]
    assert sorted((s["Action"], json.dumps(s["Resource"])) for s in statements) == sorted(
        [
            ("states:StartExecution", json.dumps({"Ref": machine_id})),
            ("sqs:SendMessage", json.dumps({"Fn::GetAtt": [target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0], "Arn"]})),
        ]
    )


def test_the_wait_loop_is_bounded_by_a_counter_and_its_choice(definition, stage):
    max_checks, wait_seconds = LOOP[stage.name]
    states = dict(all_states(definition))
    # the counter: a variable the plan sets to 0 and each successful check adds 1 to, with the rows it found
    assert states["ResolveTargetDate"]["Assign"]["checks"] == 0
    (counter_name,) = [n for n, s in states.items() if s.get("Assign", {}).get("checks") == "{% $checks + 1 %}"]
    assert counter_name == "CheckRows" and states[counter_name]["Assign"]["rows"] == "{% $states.result.rows %}"
    choice = states[states[counter_name]["Next"]]
    assert choice["Type"] == "Choice"
    # rows first, then the bound, else wait
    rows_rule, bound_rule = choice["Choices"]
    assert rows_rule["Condition"] == "{% $rows > 0 %}"
    assert bound_rule == {"Condition": f"{{% $checks >= {max_checks} %}}", "Next": bound_rule["Next"]}
    (wait,) = [s for s in states.values() if s["Type"] == "Wait"]
    assert wait["Seconds"] == wait_seconds
    # every cycle of the graph passes through the counter: without it the graph is acyclic
    edges = {name: _successors(state) for name, state in states.items()}
    edges[counter_name] = set()
    assert not _has_cycle(edges)
    # nothing else assigns the counter
    assigned = [n for n, s in states.items() for a in [s.get("Assign", {})] + [c.get("Assign", {}) for c in s.get("Catch", [])]
                if "checks" in a]
    assert sorted(assigned) == ["CheckRows", "ResolveTargetDate"]
    # giving up ends in Fail with DataNotReady (the error made by a Pass, then the common failure path)
    (gave_up,) = [s for s in states.values() if s["Type"] == "Pass" and s.get("Output", {}).get("Error") == DATA_NOT_READY]
    assert gave_up["Output"]["Cause"] == "{% 'no rows for ' & $plan.targetDate & ' after ' & $checks & ' checks' %}"
    assert gave_up["Next"] == "MarkRunFailed"


def _successors(state: dict) -> set[str]:
    nexts = {state["Next"]} if "Next" in state else set()
    nexts |= {c["Next"] for c in state.get("Catch", [])}
    nexts |= {c["Next"] for c in state.get("Choices", [])}
    if "Default" in state:
        nexts.add(state["Default"])
    return nexts


def _has_cycle(edges: dict[str, set[str]]) -> bool:
    visiting, done = set(), set()

    def visit(node: str) -> bool:
        if node in done:
            return False
        if node in visiting:
            return True
        visiting.add(node)
        found = any(visit(n) for n in edges.get(node, ()))
        visiting.discard(node)
        done.add(node)
        return found

    return any(visit(n) for n in edges)


def test_every_task_has_a_timeout_longer_than_its_function_and_the_machine_too(template, definition, stage):
    tasks = [(n, s) for n, s in all_states(definition) if s["Type"] == "Task"]
    assert len(tasks) == 12  # plan, guard, check, insert, 5 notices, 2 outcome records, the SNS failure notice
    functions = resources_of_type(template, "AWS::Lambda::Function")
    for name, task in tasks:
        assert task.get("TimeoutSeconds", 0) > 0, name
        if task["Resource"].startswith("<Fn::GetAtt"):
            function_id = task["Resource"].split(" ")[1].split(".")[0]
            assert functions[function_id]["Properties"]["Timeout"] < task["TimeoutSeconds"], name
    max_checks, wait_seconds = LOOP[stage.name]
    assert (max_checks - 1) * wait_seconds < definition["TimeoutSeconds"] <= 24 * 3600


def test_bigquery_errors_are_retried_with_full_jitter_and_everything_else_is_caught(definition):
    states = dict(all_states(definition))
    for name in ("CheckRows", "InsertWeek"):
        (retry,) = [r for r in states[name]["Retry"] if set(r["ErrorEquals"]) == set(BIGQUERY_RETRYABLE_ERRORS)]
        assert retry["JitterStrategy"] == "FULL" and retry["BackoffRate"] >= 2 and retry["MaxAttempts"] >= 2
        (catch,) = states[name]["Catch"]
        # the caught error alone goes on (a JSONata Catch's output) to the "failed" notice, which passes it on
        assert catch == {"ErrorEquals": ["States.ALL"], "Next": "NotifyFailed"}
    failed = states["NotifyFailed"]
    assert failed["Arguments"]["kind"] == "failed" and failed["Output"] == "{% $states.input %}"
    assert failed["Arguments"]["error"] == "{% $states.input.Error %}"
    assert failed["Arguments"]["cause"] == "{% $states.input.Cause %}"
    assert failed["Next"] == failed["Catch"][0]["Next"] == "MarkRunFailed"
    # AND MarkRunFailed passes that error, not its own, to the failure notice, whether it records FAILED or not
    mark = states["MarkRunFailed"]
    assert mark["Output"] == "{% $states.input %}" and mark["Next"] == "PublishFailureNotice"
    assert mark["Catch"] == [{"ErrorEquals": ["States.ALL"], "Next": "PublishFailureNotice", "Output": "{% $states.input %}"}]
    assert states["WorkflowFailed"] == {"Type": "Fail", "Error": "{% $states.input.Error %}",
                                        "Cause": "{% $states.input.Cause %}"}


def test_slack_notices_retry_transient_errors_and_never_stop_the_batch(definition):
    states = dict(all_states(definition))
    notices = {n: s for n, s in states.items() if s["Type"] == "Task" and "kind" in s.get("Arguments", {})}
    assert sorted(s["Arguments"]["kind"] for s in notices.values()) == sorted(NOTICE_KINDS)
    for name, notice in notices.items():
        kind = notice["Arguments"]["kind"]
        (retry,) = [r for r in notice["Retry"] if set(r["ErrorEquals"]) == set(SLACK_RETRYABLE_ERRORS)]
        assert retry["JitterStrategy"] == "FULL"
        # a 4xx cannot improve; a 429 was already waited out as far as Retry-After allowed in the notifier
        assert not any({"SlackRejected", "SlackRateLimited"} & set(r["ErrorEquals"]) for r in notice["Retry"])
        # a failed notice is recorded where a delivered one would be ($notices.<kind>), and the batch goes on to the
        # same state with the same input
        (catch,) = notice["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"] and catch["Next"] == notice["Next"]
        assert notice["Assign"] == {"notices": f"{{% $merge([$notices, {{'{kind}': $states.result}}]) %}}"}
        assert catch["Assign"] == {"notices": f"{{% $merge([$notices, {{'{kind}': $states.errorOutput}}]) %}}"}
        assert notice["Output"] == catch["Output"] == "{% $states.input %}"
        # only facts travel: no URL, no secret
        assert "http" not in json.dumps(notice["Arguments"]) and "Secret" not in json.dumps(notice["Arguments"])
    # AND the output reports them, as the run's outcome
    assert definition["States"]["ResolveTargetDate"]["Assign"]["notices"] == {}
    assert states["MarkRunSucceeded"]["Output"]["notices"] == "{% $notices %}"


def test_one_notifier_function_serves_every_notice_and_its_errors_are_alarmed(template, definition):
    notify_id = _function_id(template, "notify")
    notices = [s for _, s in all_states(definition) if s["Type"] == "Task" and "kind" in s.get("Arguments", {})]
    assert {s["Resource"].split(" ")[1].split(".")[0] for s in notices} == {notify_id}
    alarms = [
        a["Properties"]
        for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Dimensions") == [{"Name": "FunctionName", "Value": {"Ref": notify_id}}]
    ]
    (alarm,) = alarms
    assert alarm["MetricName"] == "Errors" and alarm["Threshold"] == 1


def test_the_run_once_guard_is_a_conditional_put_with_expiry(template, definition):
    states = dict(all_states(definition))
    (guard,) = [s for s in states.values() if s.get("Resource", "").endswith(":dynamodb:putItem")]
    params = guard["Arguments"]
    assert params["ConditionExpression"] == "attribute_not_exists(targetDate) OR #status = :rerunnable"
    assert params["Item"]["expiresAt"] == {"N": "{% $plan.guardExpiresAt %}"}
    assert params["Item"]["executionId"] == {"S": "{% $states.context.Execution.Id %}"}
    assert params["ExpressionAttributeValues"] == {":rerunnable": {"S": "{% $plan.rerunnableStatus %}"}}
    taken = [c for c in guard["Catch"] if c["ErrorEquals"] == [GUARD_TAKEN]]
    (catch,) = taken
    already = states[catch["Next"]]
    assert already["Type"] == "Pass" and already["End"] is True
    assert already["Output"] == {"outcome": "already ran", "targetDate": "{% $plan.targetDate %}"}
    # no notice before the guard: a duplicate start sends nothing
    assert states[definition["StartAt"]]["Next"] == next(n for n, s in states.items() if s is guard)
    _, table = only_resource(template, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    # the outcome is recorded only by the execution holding the guard
    updates = [s for s in states.values() if s.get("Resource", "").endswith(":dynamodb:updateItem")]
    assert len(updates) == 2 and all(u["Arguments"]["ConditionExpression"] == "executionId = :me" for u in updates)
    assert all(u["Arguments"]["ExpressionAttributeValues"][":me"] == {"S": "{% $states.context.Execution.Id %}"} for u in updates)


def test_secret_grants_are_scoped_to_the_two_secrets(template, stage):
    expected = {"notify": "weekly-batch/slack/webhook-url"}
    if stage.name == "prod":  # local uses anonymous credentials against the emulator: no secret at all
        expected |= {"check": "weekly-batch/bigquery/credentials", "insert": "weekly-batch/bigquery/credentials"}
    for module in ("plan", "check", "insert", "notify"):
        statements = [
            s
            for s in _role_statements(template, _function_id(template, module))
            if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))
        ]
        if module not in expected:
            assert statements == [], module
            continue
        (statement,) = statements
        assert sorted(as_list(statement["Action"])) == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
        assert f":secret:{expected[module]}-??????" in json.dumps(statement["Resource"])


def test_no_secret_values_anywhere_only_secret_names(template):
    text = json.dumps(template)
    assert "SecretString" not in text and "hooks.slack.com" not in text and "private_key" not in text
    for function in resources_of_type(template, "AWS::Lambda::Function").values():
        env = function["Properties"]["Environment"]["Variables"]
        assert not [
            k for k in env if any(w in k for w in ("KEY", "TOKEN", "PASSWORD", "WEBHOOK_URL")) and not k.endswith("_SECRET_NAME")
        ]


def test_iam_is_least_privilege(template):
    for logical_id, statement in policy_statements(template):
        actions = as_list(statement["Action"])
        assert not [a for a in actions if "*" in a], (logical_id, actions)
        if statement["Resource"] == "*":
            assert all(a.startswith(("xray:", "logs:")) for a in actions), (logical_id, actions)
    for role in resources_of_type(template, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
    table_id, _ = only_resource(template, "AWS::DynamoDB::Table")
    table_statements = {p: sorted(as_list(s["Action"])) for p, s in policy_statements(template) if table_id in json.dumps(s["Resource"])}
    # the state machine takes and records the guard; the releaser may only update it
    assert sorted(table_statements.values()) == [["dynamodb:PutItem", "dynamodb:UpdateItem"], ["dynamodb:UpdateItem"]]
    releaser = [s for s in _role_statements(template, _function_id(template, "release_guard")) if table_id in json.dumps(s["Resource"])]
    assert [as_list(s["Action"]) for s in releaser] == [["dynamodb:UpdateItem"]]


def test_a_run_ending_without_success_releases_its_guard_through_an_alarmed_rule(template):
    # GIVEN the rule on Step Functions' own status events
    (rule,) = resources_of_type(template, "AWS::Events::Rule").values()
    machine_id, _ = only_resource(template, "AWS::StepFunctions::StateMachine")
    pattern = rule["Properties"]["EventPattern"]
    # THEN it matches this machine's executions that ended ABORTED, TIMED_OUT or FAILED, nothing else
    assert pattern["source"] == ["aws.states"] and pattern["detail-type"] == [STATUS_CHANGE]
    assert pattern["detail"] == {"stateMachineArn": [{"Ref": machine_id}], "status": UNSUCCESSFUL_END_STATUSES}
    assert sorted(UNSUCCESSFUL_END_STATUSES) == ["ABORTED", "FAILED", "TIMED_OUT"]
    # AND its target is the releaser, with bounded retries and a DLQ, as is the releaser's own async failure
    (target,) = rule["Properties"]["Targets"]
    releaser = _function_id(template, "release_guard")
    assert target["Arn"] == {"Fn::GetAtt": [releaser, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86_400, "MaximumRetryAttempts": 185}
    dlq = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    (invoke_config,) = resources_of_type(template, "AWS::Lambda::EventInvokeConfig").values()
    assert invoke_config["Properties"]["FunctionName"] == {"Ref": releaser}
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == 2
    assert invoke_config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [dlq, "Arn"]}
    queue = template["Resources"][dlq]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    alarmed = [a for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
               if {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}} in a["Properties"].get("Dimensions", [])]
    assert len(alarmed) == 1 and alarmed[0]["Properties"]["Threshold"] == 1
    # AND the releaser reads back only executions of this machine
    (describe,) = [s for s in _role_statements(template, releaser) if "states:DescribeExecution" in as_list(s["Action"])]
    assert as_list(describe["Action"]) == ["states:DescribeExecution"]
    assert {"Fn::GetAtt": [machine_id, "Name"]} in describe["Resource"]["Fn::Join"][1]


def test_error_names_in_the_definition_are_exception_classes_of_the_handlers(definition):
    spec = importlib.util.spec_from_file_location("wb_errors", LAMBDA_SOURCE / "weekly_batch" / "errors.py")
    errors = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(errors)
    named = {e for _, s in all_states(definition) for r in s.get("Retry", []) + s.get("Catch", []) for e in r["ErrorEquals"]}
    ours = {e for e in named if not e.startswith(("States.", "Lambda.", "DynamoDB.", "SNS."))}
    assert ours == set(BIGQUERY_RETRYABLE_ERRORS) | set(SLACK_RETRYABLE_ERRORS)
    for name in ours:
        assert issubclass(getattr(errors, name), errors.WeeklyBatchError), name


def test_sql_templates_in_s3_are_readable_key_by_key_and_prod_refuses_local_only_settings():
    import aws_cdk as cdk

    import app as cdk_app
    from stacks.common.config import ConfigError, load_stage
    from stacks.weekly_batch.stack import WeeklyBatchStack

    context = cdk_app.cdk_context(stage="local")
    stage = load_stage("local", {"weekly_batch.bigquery.sql_templates_bucket": "team-sql",
                                 "weekly_batch.bigquery.sql_templates_prefix": "wb/"})
    stack = WeeklyBatchStack(cdk.App(context=context), "Probe", stage=stage)
    template = cdk.assertions.Template.from_stack(stack).to_json()
    s3 = [s for _, s in policy_statements(template) if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    assert len(s3) == 2  # the check and the insert function
    for statement in s3:
        assert statement["Action"] == "s3:GetObject"
        keys = sorted(json.dumps(r).split(":::")[1] for r in statement["Resource"])
        assert [k.split('"')[0] for k in keys] == ["team-sql/wb/count_rows.sql", "team-sql/wb/weekly_insert.sql"]
    with pytest.raises(ConfigError):
        WeeklyBatchStack(cdk.App(context=context), "Probe2", stage=load_stage("prod", {"weekly_batch.bigquery.credentials": "anonymous"}))


def test_the_definition_is_jsonata_throughout(definition):
    # GIVEN the synthesized definition THEN JSONata is its top level's language and every state's, and no state holds
    # a JSONPath field
    assert jsonata_throughout(definition) == []


def test_a_batch_outputs_its_outcome_from_the_variables_its_states_assigned(definition):
    states = dict(all_states(definition))
    # GIVEN the variables: the plan, the rows found, the rows the MERGE affected
    assert states["ResolveTargetDate"]["Assign"]["plan"] == "{% $states.result %}"
    assert states["ResolveTargetDate"]["Arguments"] == {"input": "{% $states.input %}"}
    assert states["InsertWeek"]["Assign"] == {"rowsAffected": "{% $states.result.rowsAffected %}"}
    assert states["InsertWeek"]["Arguments"] == {"weekStart": "{% $plan.weekStart %}", "weekEnd": "{% $plan.weekEnd %}"}
    # THEN the guard's record of success is the last state, and its output is the batch's outcome
    mark = states["MarkRunSucceeded"]
    assert mark["End"] is True
    assert mark["Output"] == {"outcome": "inserted", "targetDate": "{% $plan.targetDate %}", "weekStart": "{% $plan.weekStart %}",
                              "weekEnd": "{% $plan.weekEnd %}", "rowsFound": "{% $rows %}", "rowsAffected": "{% $rowsAffected %}",
                              "checks": "{% $checks %}", "notices": "{% $notices %}"}
    # AND a failure to record it fails the run after the failure notice, with DynamoDB's own error
    assert mark["Catch"] == [{"ErrorEquals": ["States.ALL"], "Next": "PublishFailureNotice"}]
