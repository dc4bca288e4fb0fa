"""Each property check fails, naming the violation, on a small template that breaks its rule, and passes
the same template with the rule kept (so a green suite means something)."""

from __future__ import annotations

from typing import Any

from sandbox.checks.properties import (
    dead_letter_queues,
    failures_notify_then_fail,
    lambda_task_retries,
    loops_bounded,
    no_secrets,
    no_wildcard_actions,
    task_timeouts,
)
from tests.reliability.probes import (
    FUNCTION,
    GOOD_RETRY,
    NOTICE_RESOURCE,
    alarm,
    lambda_task,
    machine_template,
    notice_then_fail,
    template,
)


def messages(violations) -> list[str]:
    return [f"{v.where}: {v.message}" for v in violations]


def catch_all(next_state: str) -> list[dict[str, Any]]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": next_state}]


# --------------------------------------------------------------------------- task_timeouts

def test_a_task_without_timeout_is_named_wherever_it_sits():
    # GIVEN tasks without a timeout at the top, in a Parallel branch and in a Distributed Map's processor
    untimed = lambda_task(TimeoutSeconds=None, End=True)
    states = {
        "Top": {**untimed, "End": False, "Next": "Both"},
        "Both": {"Type": "Parallel", "Next": "Each", "Branches": [{"StartAt": "InBranch", "States": {"InBranch": untimed}}]},
        "Each": {"Type": "Map", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "InMap", "States": {"InMap": untimed}}},
    }
    # WHEN checked
    found = messages(task_timeouts(machine_template(states)))
    # THEN each is named by its path
    assert found == [f"probe/Probe/Machine state {path}: Task has no TimeoutSeconds or TimeoutSecondsPath"
                     for path in ("Top", "Both/branch 1/InBranch", "Each/ItemProcessor/InMap")]


def test_a_state_machine_without_timeout_and_a_task_that_gives_up_before_its_function_fail():
    # GIVEN no machine timeout, and a task waiting 10 s for a function that may run 10 s
    probe = machine_template({"Call": lambda_task(TimeoutSeconds=10, End=True)}, TimeoutSeconds=None)
    # WHEN checked
    found = messages(task_timeouts(probe))
    # THEN both are named
    assert found == ["probe/Probe/Machine: the state machine has no TimeoutSeconds",
                     "probe/Probe/Machine state Call: Task gives up after 10 s but Fn may run 10 s: "
                     "a retry would run beside a call still running"]


def test_timed_tasks_pass_including_a_timeout_from_the_input():
    states = {"Call": lambda_task(Next="Path"), "Path": lambda_task(TimeoutSeconds=None, TimeoutSecondsPath="$.timeout", End=True)}
    assert task_timeouts(machine_template(states)) == []


# --------------------------------------------------------------------------- lambda_task_retries

def test_lambda_tasks_without_jittered_bounded_retries_are_named():
    # GIVEN Lambda tasks: no retry; no jitter; unbounded attempts; no max delay; a first-matching
    # States.ALL retrier without jitter shadowing a good one
    no_jitter = {k: v for k, v in GOOD_RETRY.items() if k != "JitterStrategy"}
    states = {
        "NoRetry": lambda_task(Retry=[], Next="NoJitter"),
        "NoJitter": lambda_task(Retry=[no_jitter], Next="Unbounded"),
        "Unbounded": lambda_task(Retry=[{**GOOD_RETRY, "MaxAttempts": 0}], Next="NoMaxDelay"),
        "NoMaxDelay": lambda_task(Retry=[{k: v for k, v in GOOD_RETRY.items() if k != "MaxDelaySeconds"}], Next="Shadowed"),
        "Shadowed": lambda_task(Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}, GOOD_RETRY], End=True),
    }
    # WHEN checked (the definition with a literal function ARN, not a token)
    found = messages(lambda_task_retries(machine_template(states, join=False)))
    # THEN each state is named, for each Lambda service error
    assert len(found) == 5 * 4
    assert "probe/Probe/Machine state NoRetry: Lambda.TooManyRequestsException is not retried" in found
    assert "probe/Probe/Machine state NoJitter: the retrier of Lambda.ServiceException: no JitterStrategy FULL" in found
    assert "probe/Probe/Machine state Unbounded: the retrier of Lambda.ServiceException: MaxAttempts 0 is not from 1 to 10" in found
    assert "probe/Probe/Machine state NoMaxDelay: the retrier of Lambda.ServiceException: no MaxDelaySeconds" in found
    assert ("probe/Probe/Machine state Shadowed: the retrier of Lambda.ServiceException: no JitterStrategy FULL, "
            "no MaxDelaySeconds") in found


def test_jittered_bounded_lambda_retries_pass():
    assert lambda_task_retries(machine_template({"Call": lambda_task(End=True)})) == []


# --------------------------------------------------------------------------- failures_notify_then_fail

def test_a_caught_failure_that_ends_in_success_or_fails_unannounced_is_named():
    # GIVEN one catch leading to Succeed, one straight to Fail, one through a notice to Fail
    states = {
        "Quiet": lambda_task(Catch=catch_all("Done"), Next="Unannounced"),
        "Unannounced": lambda_task(Catch=catch_all("Failed"), Next="Told"),
        "Told": lambda_task(Catch=catch_all("Notify"), Next="Done"),
        "Done": {"Type": "Succeed"},
        **notice_then_fail(),
    }
    # WHEN checked
    found = messages(failures_notify_then_fail(machine_template(states)))
    # THEN the first two are named, the third is not
    assert found == [
        "probe/Probe/Machine state Quiet (Catch ['States.ALL'] -> Done): the caught failure can end the execution successfully",
        "probe/Probe/Machine state Unannounced (Catch ['States.ALL'] -> Failed): reaches Fail state(s) ['Failed'] without a notice",
    ]


def test_a_map_iteration_that_swallows_its_failure_lets_the_run_succeed():
    # GIVEN a Map whose iteration catches a failure and ends, and the run then succeeds
    processor = {"StartAt": "Item", "States": {"Item": lambda_task(Catch=catch_all("Skip"), End=True),
                                               "Skip": {"Type": "Pass", "End": True}}}
    states = {"Each": {"Type": "Map", "ItemProcessor": processor, "Catch": catch_all("Notify"), "End": True}, **notice_then_fail()}
    # WHEN checked
    found = messages(failures_notify_then_fail(machine_template(states)))
    # THEN the iteration's catch is named
    assert found == ["probe/Probe/Machine state Each/ItemProcessor/Item (Catch ['States.ALL'] -> Skip): "
                     "the caught failure can end the execution successfully"]


def test_a_recorded_item_failure_may_lead_to_success_only_through_a_notice_and_a_failure_threshold():
    # GIVEN a Map whose iteration records a failure and ends; after the Map, a summary notice, then
    # either straight to success, or through a threshold Choice that can fail the run
    processor = {"StartAt": "Item", "States": {"Item": lambda_task(Catch=catch_all("Record"), End=True),
                                               "Record": {"Type": "Pass", "End": True}}}
    summary = {"Type": "Task", "Resource": NOTICE_RESOURCE, "TimeoutSeconds": 30,
               "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message.$": "$"}}
    threshold = {"Type": "Choice", "Choices": [{"Variable": "$.over", "BooleanEquals": True, "Next": "TooMany"}], "Default": "Done"}

    def states(after_summary: str) -> dict:
        return {"Each": {"Type": "Map", "ItemProcessor": processor, "Catch": catch_all("Notify"), "Next": "Summary"},
                "Summary": {**summary, "Next": after_summary}, "Threshold": threshold,
                "TooMany": {"Type": "Fail", "Error": "TooManyFailed"}, "Done": {"Type": "Succeed"}, **notice_then_fail()}

    # WHEN checked THEN without the threshold the recorded failure ends in success after its notice: named
    assert messages(failures_notify_then_fail(machine_template(states("Done")))) == [
        "probe/Probe/Machine state Each/ItemProcessor/Item (Catch ['States.ALL'] -> Record): the caught failure can end "
        "the execution successfully after a notice, with no failure threshold on the way"]
    # AND with the threshold (a branch that fails the run) it passes
    assert failures_notify_then_fail(machine_template(states("Threshold"))) == []


def test_a_skipped_step_passes_only_when_its_function_errors_are_alarmed():
    # GIVEN a best-effort step whose Catch goes to its own Next
    states = {"BestEffort": lambda_task(Catch=catch_all("Done"), Next="Done"), "Done": {"Type": "Succeed"}}
    errors_alarm = {"FnErrors": alarm("AWS/Lambda", "Errors", "FunctionName", {"Ref": "Fn"})}
    silent_alarm = {"FnErrors": alarm("AWS/Lambda", "Errors", "FunctionName", {"Ref": "Fn"}, actions=False)}
    # THEN it passes with an alarm (with actions) on the function's errors, and fails without one
    assert failures_notify_then_fail(machine_template(states, extra=errors_alarm)) == []
    assert len(failures_notify_then_fail(machine_template(states, extra=silent_alarm))) == 1


def test_named_error_branches_pass_and_unalarmed_machines_fail():
    # GIVEN a catch of a named error leading to success (a designed branch)
    states = {"Guard": lambda_task(Catch=[{"ErrorEquals": ["AlreadyDone"], "Next": "Done"}], Next="Done"), "Done": {"Type": "Succeed"}}
    # THEN it passes; without the execution alarms the machine fails the check
    assert failures_notify_then_fail(machine_template(states)) == []
    assert messages(failures_notify_then_fail(machine_template(states, alarms=False))) == [
        "probe/Probe/Machine: no alarm with actions on its ExecutionsFailed",
        "probe/Probe/Machine: no alarm with actions on its ExecutionsTimedOut",
    ]


def test_a_function_that_may_publish_counts_as_a_notice():
    # GIVEN a catch leading to a Lambda whose role may sns:Publish, then Fail
    states = {"Work": lambda_task(Catch=catch_all("Report"), Next="Done"), "Report": lambda_task(Next="Failed"),
              "Done": {"Type": "Succeed"}, "Failed": {"Type": "Fail"}}
    policy = {"FnPolicy": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": [{"Ref": "FnRole"}], "PolicyDocument": {
        "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": {"Ref": "Topic"}}]}}}}
    # THEN it passes with the grant and fails without it
    assert failures_notify_then_fail(machine_template(states, extra=policy)) == []
    assert len(failures_notify_then_fail(machine_template(states))) == 1


# --------------------------------------------------------------------------- loops_bounded

def _wait_loop(choice: dict[str, Any], count: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "Check": lambda_task(ResultPath="$.check", Next="Count"),
        "Count": count or {"Type": "Pass", "Parameters": {"checks.$": "States.MathAdd($.checks, 1)", "rows.$": "$.check.rows"}, "Next": "Ready"},
        "Ready": {"Type": "Choice", **choice},
        "Wait": {"Type": "Wait", "Seconds": 5, "Next": "Check"},
        "Done": {"Type": "Succeed"},
        "GaveUp": {"Type": "Fail", "Error": "DataNotReady"},
    }


def test_a_loop_without_a_bound_is_named():
    # GIVEN a wait loop that leaves only when data arrives
    states = _wait_loop({"Choices": [{"Variable": "$.rows", "NumericGreaterThan": 0, "Next": "Done"}], "Default": "Wait"})
    # WHEN checked
    found = messages(loops_bounded(machine_template(states)))
    # THEN the cycle is named
    assert found == ["probe/Probe/Machine cycle ['Check', 'Count', 'Ready', 'Wait']: "
                     "no Choice in the cycle bounds a counter that the cycle increments "
                     "(States.MathAdd, a variable assigned {% $n + step %}, or a payload field output as "
                     "{% $states.input.f + step %})"]


def test_a_loop_bounded_by_a_counter_it_increments_passes_either_way_round():
    leave_at_limit = {"Choices": [{"Variable": "$.rows", "NumericGreaterThan": 0, "Next": "Done"},
                                  {"Variable": "$.checks", "NumericGreaterThanEquals": 4, "Next": "GaveUp"}], "Default": "Wait"}
    stay_below_limit = {"Choices": [{"Variable": "$.rows", "NumericGreaterThan": 0, "Next": "Done"},
                                    {"Variable": "$.checks", "NumericLessThan": 4, "Next": "Wait"}], "Default": "GaveUp"}
    assert loops_bounded(machine_template(_wait_loop(leave_at_limit))) == []
    assert loops_bounded(machine_template(_wait_loop(stay_below_limit))) == []


def test_a_bound_on_a_counter_nobody_increments_or_one_a_rule_can_bypass_is_no_bound():
    bound = {"Choices": [{"Variable": "$.checks", "NumericGreaterThanEquals": 4, "Next": "GaveUp"}], "Default": "Wait"}
    never_counted = {"Type": "Pass", "Next": "Ready"}
    stay_first = {"Choices": [{"Variable": "$.rows", "NumericEquals": 0, "Next": "Wait"},
                              {"Variable": "$.checks", "NumericGreaterThanEquals": 4, "Next": "GaveUp"}], "Default": "Done"}
    assert len(loops_bounded(machine_template(_wait_loop(bound, count=never_counted)))) == 1
    assert len(loops_bounded(machine_template(_wait_loop(stay_first)))) == 1


def test_a_cycle_that_goes_around_the_bound_through_a_catch_is_named():
    # GIVEN a bounded loop, and a Catch on the check that goes back to the wait without passing the Choice
    bound = {"Choices": [{"Variable": "$.checks", "NumericGreaterThanEquals": 4, "Next": "GaveUp"}], "Default": "Wait"}
    states = _wait_loop(bound)
    states["Check"]["Catch"] = catch_all("Wait")
    # THEN the cycle is named
    assert len(loops_bounded(machine_template(states))) == 1


# --------------------------------------------------------------------------- dead_letter_queues

def _queue(**properties: Any) -> dict[str, Any]:
    return {"Type": "AWS::SQS::Queue", "Properties": properties}


def _depth_alarm(queue: str, **kwargs: Any) -> dict[str, Any]:
    return alarm("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", {"Fn::GetAtt": [queue, "QueueName"]}, **kwargs)


def test_a_fifo_queue_with_a_standard_dlq_and_unalarmed_dlqs_are_named():
    # GIVEN a FIFO queue whose DLQ is standard and unalarmed, a function DLQ whose alarm has no action,
    # and a queue without a DLQ
    probe = template({
        "Work": _queue(FifoQueue=True, RedrivePolicy={"deadLetterTargetArn": {"Fn::GetAtt": ["WorkDlq", "Arn"]}, "maxReceiveCount": 3}),
        "WorkDlq": _queue(),
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"DeadLetterConfig": {"TargetArn": {"Fn::GetAtt": ["FnDlq", "Arn"]}}}},
        "FnDlq": _queue(),
        "FnDlqDepth": _depth_alarm("FnDlq", actions=False),
        "Loose": _queue(),
    })
    # WHEN checked
    found = messages(dead_letter_queues(probe))
    # THEN each is named
    assert sorted(found) == sorted([
        "probe/Probe/Work: a FIFO queue with a standard DLQ WorkDlq",
        "probe/Probe/Loose: a work queue without a DLQ (RedrivePolicy)",
        "probe/Probe/WorkDlq: the DLQ of Work has no alarm with actions on its depth",
        "probe/Probe/FnDlq: the DLQ of Fn has no alarm with actions on its depth",
    ])


def test_same_kind_alarmed_dlqs_pass_and_a_dlq_elsewhere_is_named():
    redrive = {"deadLetterTargetArn": {"Fn::GetAtt": ["WorkDlq", "Arn"]}, "maxReceiveCount": 3}
    good = template({"Work": _queue(FifoQueue=True, RedrivePolicy=redrive), "WorkDlq": _queue(FifoQueue=True),
                     "Depth": _depth_alarm("WorkDlq"), "Topic": {"Type": "AWS::SNS::Topic"}})
    elsewhere = template({"Schedule": {"Type": "AWS::Scheduler::Schedule", "Properties": {
        "Target": {"Arn": "arn:aws:states:::x", "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:123456789012:other"}}}}})
    assert dead_letter_queues(good) == []
    assert messages(dead_letter_queues(elsewhere)) == [
        "probe/Probe/Schedule: its DLQ 'arn:aws:sqs:us-east-1:123456789012:other' is not a queue of this template"]


# --------------------------------------------------------------------------- no_wildcard_actions

def _policy(kind: str, statement: dict[str, Any], key: str = "PolicyDocument") -> dict[str, Any]:
    return {"Type": kind, "Properties": {key: {"Version": "2012-10-17", "Statement": [statement]}}}


ACCOUNT_ROOT = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}


def test_wildcard_and_not_actions_are_named_in_identity_and_resource_policies():
    # GIVEN wildcard actions in an identity policy, a role's inline policy, a queue policy and a key policy
    probe = template({
        "Identity": _policy("AWS::IAM::Policy", {"Effect": "Allow", "Action": ["s3:GetObject", "s3:List*"], "Resource": "*"}),
        "Inline": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [
            {"PolicyName": "p", "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}]}},
        "QueuePolicy": _policy("AWS::SQS::QueuePolicy", {"Effect": "Allow", "NotAction": "sqs:DeleteQueue", "Resource": "*"}),
        "Key": _policy("AWS::KMS::Key", {"Effect": "Allow", "Action": "kms:*", "Resource": "*",
                                          "Principal": {"AWS": {"Fn::GetAtt": ["SomeRole", "Arn"]}}}, key="KeyPolicy"),
    })
    # WHEN checked
    found = messages(no_wildcard_actions(probe))
    # THEN each is named
    assert found == [
        "probe/Probe/Identity statement: allows wildcard action(s) ['s3:List*']",
        "probe/Probe/Inline statement: allows wildcard action(s) ['*']",
        "probe/Probe/QueuePolicy statement: Allow with NotAction grants every other action",
        "probe/Probe/Key statement: allows wildcard action(s) ['kms:*']",
    ]


def test_broad_denies_and_the_default_key_policy_pass():
    probe = template({
        "TlsOnly": _policy("AWS::S3::BucketPolicy", {"Effect": "Deny", "Action": "s3:*", "Principal": {"AWS": "*"}, "Resource": "*",
                                                     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
        "Key": _policy("AWS::KMS::Key", {"Effect": "Allow", "Action": "kms:*", "Resource": "*", "Principal": {"AWS": ACCOUNT_ROOT}},
                       key="KeyPolicy"),
    })
    assert no_wildcard_actions(probe) == []


# --------------------------------------------------------------------------- no_secrets

def test_secrets_in_an_environment_a_state_payload_and_an_output_are_named():
    # GIVEN an AWS key in a Lambda environment, a Slack webhook in a Task's Parameters, a password in an output
    states = {"Post": lambda_task(Parameters={"webhook": "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/cccccccccccccccccccccccc"},
                                  End=True)}
    probe = machine_template(states)
    probe.body["Resources"]["Fn"]["Properties"]["Environment"] = {"Variables": {"UPLOAD_KEY_ID": "AKIAIOSFODNN7EXAMPLE"}}
    probe.body["Outputs"] = {"Db": {"Value": "password: 'correct-horse-battery-staple'"}}
    # WHEN checked
    found = messages(no_secrets(probe))
    # THEN each is named where it stands (the webhook also in the template's own text of the definition)
    assert "probe/Probe Resources.Fn.Properties.Environment.Variables.UPLOAD_KEY_ID: looks like a secret (AWS Access Key)" in found
    assert "probe/Probe Machine definition States.Post.Parameters.webhook: looks like a secret (Slack Token)" in found
    assert any(line.startswith("probe/Probe Outputs.Db.Value: looks like a secret") for line in found)


def test_names_of_secrets_and_cdk_made_names_pass():
    probe = machine_template({"Post": lambda_task(End=True)})
    probe.body["Resources"]["Fn"]["Properties"]["Environment"] = {"Variables": {
        "SLACK_WEBHOOK_SECRET_NAME": "weekly-batch/slack-webhook", "API_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:x"}}
    probe.body["Resources"]["FnPolicy"] = {"Type": "AWS::IAM::Policy",
                                           "Properties": {"PolicyName": "WorkflowStateMachineRoleDefaultPolicyB2EAF58E"}}
    assert no_secrets(probe) == []


def test_a_notice_state_is_recognised_by_its_resource():
    from sandbox.checks.properties import is_notice

    assert is_notice(template({}), {"Type": "Task", "Resource": NOTICE_RESOURCE})
    assert not is_notice(template({}), {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage"})


# --------------------------------------------------------------------------- JSONata definitions

def jsonata_lambda_task(**overrides: Any) -> dict[str, Any]:
    """lambda_task in JSONata: Arguments instead of Parameters."""
    return lambda_task(**{"Arguments": {"id": "{% $states.input.id %}"}, **overrides})


def test_jsonata_timeouts_that_are_constant_expressions_are_held_to_the_rules():
    # GIVEN JSONata tasks whose TimeoutSeconds are expressions: a constant as long as the function (10 s),
    #       a constant that is no number, and one read from the input
    states = {
        "Short": jsonata_lambda_task(TimeoutSeconds="{% 5 * 2 %}", Next="Word"),
        "Word": jsonata_lambda_task(TimeoutSeconds="{% 'soon' %}", Next="FromInput"),
        "FromInput": jsonata_lambda_task(TimeoutSeconds="{% $states.input.timeout %}", Next="Untimed"),
        "Untimed": jsonata_lambda_task(TimeoutSeconds=None, End=True),
    }
    # WHEN checked
    found = messages(task_timeouts(machine_template(states, QueryLanguage="JSONata")))
    # THEN the constants are held to the rules as numbers are, the input's timeout passes as TimeoutSecondsPath does,
    #      and a task without any timeout is named
    assert found == [
        "probe/Probe/Machine state Short: Task gives up after 10 s but Fn may run 10 s: a retry would run beside a call still running",
        "probe/Probe/Machine state Word: TimeoutSeconds \"'soon'\" is always 'soon', not a positive integer",
        "probe/Probe/Machine state Untimed: Task has no TimeoutSeconds or TimeoutSecondsPath",
    ]
    assert task_timeouts(machine_template({"Call": jsonata_lambda_task(TimeoutSeconds="{% 30 %}", End=True)},
                                          QueryLanguage="JSONata")) == []


def test_a_jsonata_lambda_invoke_whose_arguments_are_one_expression_is_checked_for_retries():
    # GIVEN lambda:invoke tasks in JSONata: Arguments as one expression (no FunctionName to read), and as an object
    invoke = {"Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": 30}
    states = {
        "Whole": {**invoke, "Type": "Task", "Arguments": "{% {'FunctionName': $fn, 'Payload': $states.input} %}", "Next": "Named"},
        "Named": {**invoke, "Type": "Task", "Arguments": {"FunctionName": FUNCTION, "Payload": "{% $states.input %}"},
                  "Retry": [{**GOOD_RETRY, "JitterStrategy": "NONE"}], "End": True},
    }
    # WHEN checked
    found = messages(lambda_task_retries(machine_template(states, QueryLanguage="JSONata")))
    # THEN both are found as Lambda tasks and named, for each service error
    assert "probe/Probe/Machine state Whole: Lambda.ServiceException is not retried" in found
    assert "probe/Probe/Machine state Named: the retrier of Lambda.ServiceException: no JitterStrategy FULL" in found
    assert len(found) == 2 * 4
    states["Whole"]["Retry"] = states["Named"]["Retry"] = [GOOD_RETRY]
    assert lambda_task_retries(machine_template(states, QueryLanguage="JSONata")) == []


def test_a_jsonata_catch_that_a_condition_routes_to_success_is_named():
    # GIVEN JSONata catchers (Output, Assign) and a Choice whose Condition can send the caught error to success
    notice = {"Type": "Task", "Resource": NOTICE_RESOURCE, "TimeoutSeconds": 30, "Next": "Failed",
              "Arguments": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "{% $failure %}"}}
    catch = [{"ErrorEquals": ["States.ALL"], "Assign": {"failure": "{% $states.errorOutput %}"},
              "Output": "{% $states.errorOutput %}", "Next": "Triage"}]
    states = {
        "Work": jsonata_lambda_task(Catch=catch, Next="Done"),
        "Triage": {"Type": "Choice", "Choices": [{"Condition": "{% $failure.Error = 'Minor' %}", "Next": "Done"}],
                   "Default": "Notify"},
        "Notify": notice, "Failed": {"Type": "Fail", "Error": "{% $failure.Error %}"}, "Done": {"Type": "Succeed"},
    }
    # WHEN checked THEN the catch is named; routed to the notice only, it passes
    assert messages(failures_notify_then_fail(machine_template(states, QueryLanguage="JSONata"))) == [
        "probe/Probe/Machine state Work (Catch ['States.ALL'] -> Triage): the caught failure can end the execution successfully"]
    states["Work"]["Catch"][0]["Next"] = "Notify"
    assert failures_notify_then_fail(machine_template(states, QueryLanguage="JSONata")) == []


def _jsonata_wait_loop(choices: list[dict[str, Any]], default: str, *, count: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "Check": jsonata_lambda_task(Assign={"rows": "{% $states.result.rows %}"}, Next="Count"),
        "Count": count or {"Type": "Pass", "Assign": {"checks": "{% $checks + 1 %}"}, "Next": "Ready"},
        "Ready": {"Type": "Choice", "Choices": choices, "Default": default},
        "Wait": {"Type": "Wait", "Seconds": 5, "Next": "Check"},
        "Done": {"Type": "Succeed"},
        "GaveUp": {"Type": "Fail", "Error": "DataNotReady"},
    }


def _jsonata_loops(states: dict[str, Any]) -> list[str]:
    states = {"Start": {"Type": "Pass", "Assign": {"checks": 0}, "Next": "Check"}, **states}
    return messages(loops_bounded(machine_template(states, QueryLanguage="JSONata")))


def test_a_jsonata_loop_bounded_by_a_variable_counter_passes_either_way_round():
    ready = {"Condition": "{% $rows > 0 %}", "Next": "Done"}
    leave_at_limit = _jsonata_wait_loop([ready, {"Condition": "{% $checks >= 4 %}", "Next": "GaveUp"}], "Wait")
    stay_below_limit = _jsonata_wait_loop([ready, {"Condition": "{% (4 > $checks) and $rows = 0 %}", "Next": "Wait"}], "GaveUp")
    # the Choice itself may count, on the rule that stays
    counted_by_the_rule = _jsonata_wait_loop(
        [ready, {"Condition": "{% $checks < 4 %}", "Assign": {"checks": "{% $checks + 1 %}"}, "Next": "Wait"}], "GaveUp",
        count={"Type": "Pass", "Next": "Ready"})
    assert _jsonata_loops(leave_at_limit) == []
    assert _jsonata_loops(stay_below_limit) == []
    assert _jsonata_loops(counted_by_the_rule) == []


def test_jsonata_loops_without_a_sound_variable_bound_are_named():
    ready = {"Condition": "{% $rows > 0 %}", "Next": "Done"}
    limit = {"Condition": "{% $checks >= 4 %}", "Next": "GaveUp"}
    cycle = "probe/Probe/Machine cycle ['Check', 'Count', 'Ready', 'Wait']"
    unbounded = _jsonata_wait_loop([ready], "Wait")
    reset_in_the_cycle = _jsonata_wait_loop([ready, limit], "Wait")
    reset_in_the_cycle["Wait"]["Assign"] = {"checks": 0}
    never_counted = _jsonata_wait_loop([ready, limit], "Wait", count={"Type": "Pass", "Next": "Ready"})
    counted_down = _jsonata_wait_loop([ready, limit], "Wait",
                                      count={"Type": "Pass", "Assign": {"checks": "{% $checks + -1 %}"}, "Next": "Ready"})
    bound_needs_more = _jsonata_wait_loop([ready, {"Condition": "{% $checks >= 4 and $rows = 0 %}", "Next": "GaveUp"}], "Wait")
    in_the_payload = _jsonata_wait_loop(
        [ready, {"Condition": "{% $states.input.checks >= 4 %}", "Next": "GaveUp"}], "Wait",
        count={"Type": "Pass", "Output": {"checks": "{% $states.input.checks + 1 %}"}, "Next": "Ready"})
    for states in (unbounded, reset_in_the_cycle, never_counted, counted_down, bound_needs_more, in_the_payload):
        (found,) = _jsonata_loops(states)
        assert found.startswith(cycle) and "no Choice in the cycle bounds a counter" in found


def test_a_jsonata_variable_counter_raised_on_one_cycle_only_is_no_bound():
    # GIVEN a Choice bounding $checks whose second staying rule goes back to it through a Pause that never counts
    bound = {"Condition": "{% $checks < 4 %}", "Next": "Wait"}
    states = _jsonata_wait_loop([{"Condition": "{% $rows > 0 %}", "Next": "Done"}, bound,
                                 {"Condition": "{% $checks < 4 %}", "Next": "Pause"}], "GaveUp")
    states["Pause"] = {"Type": "Pass", "Next": "Ready"}
    # THEN the component is named: Ready -> Pause -> Ready never raises the counter
    (found,) = _jsonata_loops(states)
    assert "no Choice in the cycle bounds a counter" in found
    del states["Ready"]["Choices"][2], states["Pause"]
    assert _jsonata_loops(states) == []


_RAISE_PASSES = "{% $merge([$states.input, {'scan': $states.result, 'passes': $states.input.passes + 1}]) %}"


def _payload_loop(*, scan: dict[str, Any] | None = None, more: dict[str, Any] | None = None) -> dict[str, Any]:
    """bucket-usage's child in small: ScanPass carries the loop's state in its Output; MoreToScan reads it."""
    return {
        "ScanPass": jsonata_lambda_task(**{"Arguments": {"state": "{% $states.input.scan %}"}, "Output": _RAISE_PASSES,
                                           "Next": "MoreToScan", **(scan or {})}),
        "MoreToScan": more or {"Type": "Choice", "Choices": [
            {"Condition": "{% $states.input.scan.done = true %}", "Next": "Done"},
            {"Condition": "{% $states.input.passes < 4 %}", "Next": "ScanPass"}], "Default": "GaveUp"},
        "Done": {"Type": "Succeed"},
        "GaveUp": {"Type": "Fail", "Error": "TooManyPasses"},
    }


def _payload_loops(states: dict[str, Any]) -> list[str]:
    return messages(loops_bounded(machine_template(states, QueryLanguage="JSONata")))


def test_a_jsonata_loop_bounded_by_a_counter_in_the_payload_passes():
    # GIVEN a loop whose task outputs its input with the counter raised, as $merge or as an object
    as_object = {"Output": {"scan": "{% $states.result %}", "passes": "{% 1 + $states.input.passes %}"}}
    # a Catch going back into the loop raises the counter too, and the Choice passes its input on (to a Wait)
    retried = {"Catch": [{"ErrorEquals": ["Transient"], "Next": "MoreToScan", "Output":
                          "{% $merge([$states.input, {'failure': $states.errorOutput, 'passes': $states.input.passes + 1}]) %}"}]}
    with_pause = {**_payload_loop(scan=retried), "Pause": {"Type": "Wait", "Seconds": 1, "Next": "ScanPass"}}
    with_pause["MoreToScan"]["Choices"].append({"Condition": "{% $states.input.passes < 4 %}", "Next": "Pause"})
    # THEN each passes
    assert _payload_loops(_payload_loop()) == []
    assert _payload_loops(_payload_loop(scan=as_object)) == []
    assert _payload_loops(with_pause) == []


def test_jsonata_loops_without_a_sound_payload_bound_are_named():
    cycle = "probe/Probe/Machine cycle ['MoreToScan', 'ScanPass']"
    leave_at_limit = {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.passes >= 4 %}", "Next": "GaveUp"}],
                      "Default": "ScanPass"}
    not_raised = {"Output": "{% $merge([$states.input, {'scan': $states.result, 'passes': $states.input.passes}]) %}"}
    counted_down = {"Output": "{% $merge([$states.input, {'passes': $states.input.passes + -1}]) %}"}
    reset = {"Output": "{% $merge([$states.input, {'passes': 0}]) %}"}
    result_only = {"Output": "{% $states.result %}"}
    set_twice = {"Output": "{% $merge([$states.input, {'passes': $states.input.passes + 1, 'passes': 0}]) %}"}
    object_without_counter = {"Output": {"scan": "{% $states.result %}"}}
    choice_replacing_its_input = {"Type": "Choice", "Output": "{% $states.result %}", "Default": "ScanPass",
                                "Choices": [{"Condition": "{% $states.input.passes >= 4 %}", "Next": "GaveUp"}]}
    cases = [
        _payload_loop(more=leave_at_limit),  # a missing field never reaches the limit: only `stay while < N` bounds
        _payload_loop(scan=not_raised),
        _payload_loop(scan=counted_down),
        _payload_loop(scan=reset),
        _payload_loop(scan=result_only),  # the result replaces the payload: the counter is gone
        _payload_loop(scan=set_twice),
        _payload_loop(scan=object_without_counter),
        _payload_loop(more=choice_replacing_its_input),
    ]
    # raised off the loop: by a state before it, whose raise the loop never repeats
    before = {"Start": {"Type": "Pass", "Output": "{% $merge([$states.input, {'passes': $states.input.passes + 1}]) %}",
                        "Next": "ScanPass"}, **_payload_loop(scan={"Output": "{% $merge([$states.input, {'scan': $states.result}]) %}"})}
    cases.append(before)
    # raised on one cycle only: MoreToScan -> Pause -> MoreToScan never raises it
    around = _payload_loop()
    around["MoreToScan"]["Choices"].append({"Condition": "{% $states.input.passes < 4 %}", "Next": "Pause"})
    around["Pause"] = {"Type": "Wait", "Seconds": 1, "Next": "MoreToScan"}
    # a Catch back into the loop that loses the counter (no Output: the error alone goes on), or only keeps it
    lossy_catch = _payload_loop(scan={"Catch": [{"ErrorEquals": ["Transient"], "Next": "MoreToScan"}]})
    keeping_catch = _payload_loop(scan={"Catch": [{"ErrorEquals": ["Transient"], "Next": "MoreToScan",
                                                   "Output": "{% $merge([$states.input, {'failure': $states.errorOutput}]) %}"}]})
    for states in [*cases, lossy_catch, keeping_catch]:
        (found,) = _payload_loops(states)
        assert found.startswith(cycle) and "no Choice in the cycle bounds a counter" in found, states
    (found,) = _payload_loops(around)
    assert found.startswith("probe/Probe/Machine cycle ['MoreToScan', 'Pause', 'ScanPass']")


def test_secrets_written_by_jsonata_expressions_are_named():
    # GIVEN a webhook concatenated in an expression, a password assigned through an expression, a key in Arguments
    webhook = "{% 'https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/' & 'cccccccccccccccccccccccc' %}"
    states = {
        "Post": jsonata_lambda_task(Arguments={"url": webhook, "id": "{% $states.input.id %}"},
                                    Assign={"password": "{% 'correct-horse-battery-staple' %}"}, Next="Sign"),
        "Sign": jsonata_lambda_task(Arguments={"keyId": "AKIAIOSFODNN7EXAMPLE"}, End=True),
    }
    # WHEN checked
    found = messages(no_secrets(machine_template(states, QueryLanguage="JSONata")))
    # THEN each is named where it stands
    assert "probe/Probe Machine definition States.Post.Arguments.url: looks like a secret (Slack Token)" in found
    assert "probe/Probe Machine definition States.Post.Assign.password: looks like a secret (Secret Keyword)" in found
    assert "probe/Probe Machine definition States.Sign.Arguments.keyId: looks like a secret (AWS Access Key)" in found


def test_a_jsonata_definition_without_secrets_passes():
    states = {"Post": jsonata_lambda_task(Arguments={"id": "{% $uuid() %}", "at": "{% $states.context.Execution.StartTime %}",
                                                     "tick": "{% 'tick-' & $scheduledTime %}"},
                                          Assign={"keywords": "{% $states.input.keywords %}"}, End=True)}
    assert no_secrets(machine_template(states, QueryLanguage="JSONata")) == []
