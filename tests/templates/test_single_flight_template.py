"""SingleFlight template: what the workflow promises, asserted on the `local` and `prod` stages."""

from __future__ import annotations

import json


from stacks.single_flight.settings import VISIBILITY_FACTOR
from stacks.single_flight.stack import INVALID_INPUT_ERROR, SKIPPED_OUTPUT
from tests.templates.cfn import all_states, as_list, jsonata_throughout, only_resource, policy_statements, resources_of_type

STACK = "SingleFlight"


def _queues(template):
    queues = resources_of_type(template, "AWS::SQS::Queue")
    (work_id,) = [lid for lid, q in queues.items() if "RedrivePolicy" in q["Properties"]]
    dlq_id = queues[work_id]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    return queues, work_id, dlq_id


def _policy_of_role(template, role_id):
    return [s for lid, s in policy_statements(template)
            if {"Ref": role_id} in resources_of_type(template, "AWS::IAM::Policy")[lid]["Properties"]["Roles"]]


def test_the_visibility_timeout_is_at_least_six_times_the_function_timeout(template):
    queues, work_id, _ = _queues(template)
    (_, consumer) = only_resource(template, "AWS::Lambda::Function")
    visibility = queues[work_id]["Properties"]["VisibilityTimeout"]
    assert visibility >= VISIBILITY_FACTOR * consumer["Properties"]["Timeout"]
    # and the API client gives up before the function does
    assert int(consumer["Properties"]["Environment"]["Variables"]["API_TIMEOUT_SECONDS"]) < consumer["Properties"]["Timeout"]


def test_the_consumer_can_hold_its_message_for_the_longest_call_within_sqs_limits(template):
    # GIVEN the consumer's settings: it holds its message in flight for API_MAX_CALL_SECONDS before each call
    queues, work_id, _ = _queues(template)
    (_, consumer) = only_resource(template, "AWS::Lambda::Function")
    role_id = consumer["Properties"]["Role"]["Fn::GetAtt"][0]
    variables = consumer["Properties"]["Environment"]["Variables"]
    max_call, timeout = int(variables["API_MAX_CALL_SECONDS"]), consumer["Properties"]["Timeout"]
    # THEN the hold outlasts the consumer's own wait, and fits SQS's 12 h from the receive
    assert int(variables["API_TIMEOUT_SECONDS"]) <= max_call and max_call + timeout <= 43200
    # AND the consumer may change its messages' visibility on the work queue (and no other queue)
    holders = [s for s in _policy_of_role(template, role_id) if "sqs:ChangeMessageVisibility" in as_list(s["Action"])]
    assert [s["Resource"] for s in holders] == [{"Fn::GetAtt": [work_id, "Arn"]}]


def test_the_work_queue_and_its_dlq_are_fifo_encrypted_with_a_bounded_receive_count_and_an_alarm(template):
    queues, work_id, dlq_id = _queues(template)
    work, dlq = queues[work_id]["Properties"], queues[dlq_id]["Properties"]
    assert work["FifoQueue"] is True and dlq["FifoQueue"] is True
    assert work.get("ContentBasedDeduplication", False) is False  # every message carries its tick's id
    assert 1 <= work["RedrivePolicy"]["maxReceiveCount"] <= 10
    assert work["SqsManagedSseEnabled"] is True and dlq["SqsManagedSseEnabled"] is True
    alarms = [a["Properties"] for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
              if {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}} in a["Properties"].get("Dimensions", [])]
    (alarm,) = alarms
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible" and alarm["Threshold"] == 1
    (topic_id, _) = only_resource(template, "AWS::SNS::Topic")
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def test_the_consumer_reads_the_queue_one_message_at_a_time_and_reports_item_failures(template):
    queues, work_id, _ = _queues(template)
    (_, mapping) = only_resource(template, "AWS::Lambda::EventSourceMapping")
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [work_id, "Arn"]}
    assert props["BatchSize"] == 1 and props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_no_policy_grants_wildcard_actions(template):
    for logical_id, statement in policy_statements(template):
        for action in as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), (logical_id, action)


def test_the_consumer_may_only_use_its_table_its_secret_and_its_queues(template):
    queues, work_id, dlq_id = _queues(template)
    (role_id, _) = [(lid, r) for lid, r in resources_of_type(template, "AWS::IAM::Role").items()
                    if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}][0]
    (table_id, _) = only_resource(template, "AWS::DynamoDB::Table")
    statements = _policy_of_role(template, role_id)
    dynamo = [s for s in statements if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
    assert dynamo == [{"Action": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                       "Effect": "Allow", "Resource": {"Fn::GetAtt": [table_id, "Arn"]}}]
    to_dlq = [s for s in statements if s["Resource"] == {"Fn::GetAtt": [dlq_id, "Arn"]}]
    assert [s["Action"] for s in to_dlq] == ["sqs:SendMessage"]


def test_the_idempotency_table_has_ttl_pitr_and_encryption(template):
    (_, table) = only_resource(template, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True


def test_the_tick_is_express_logged_traced_and_timed_out(template, definition):
    (_, machine) = only_resource(template, "AWS::StepFunctions::StateMachine")
    props = machine["Properties"]
    assert props["StateMachineType"] == "EXPRESS"
    assert props["LoggingConfiguration"]["Level"] in ("ERROR", "ALL")
    assert props["LoggingConfiguration"]["Destinations"]
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert 0 < definition["TimeoutSeconds"] <= 300
    alarms = [a["Properties"]["MetricName"] for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()]
    assert {"ExecutionsFailed", "ExecutionsTimedOut"} <= set(alarms)


def test_the_tick_has_no_lambda_and_reads_both_counts_before_sending(definition):
    states = dict(all_states(definition))
    tasks = {name: s for name, s in states.items() if s["Type"] == "Task"}
    assert sorted(s["Resource"] for s in tasks.values()) == [
        "arn:<Ref AWS::Partition>:states:::aws-sdk:sqs:getQueueAttributes",
        "arn:<Ref AWS::Partition>:states:::sns:publish",  # the failure notice
        "arn:<Ref AWS::Partition>:states:::sqs:sendMessage",
    ]
    tasks = {name: s for name, s in tasks.items() if ":sqs" in s["Resource"]}
    (read,) = [s for s in tasks.values() if s["Resource"].endswith("getQueueAttributes")]
    assert set(read["Arguments"]["AttributeNames"]) == {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}
    assert read["Output"] == {"visible": "{% $number($states.result.Attributes.ApproximateNumberOfMessages) %}",
                              "in_flight": "{% $number($states.result.Attributes.ApproximateNumberOfMessagesNotVisible) %}"}
    assert states[read["Next"]]["Choices"] == [
        {"Condition": "{% $states.input.visible = 0 and $states.input.in_flight = 0 %}", "Next": "Enqueue"}]
    # AND the message is named by the tick's scheduled time (the variable ValidateInput assigned)
    (send,) = [s for s in tasks.values() if s["Resource"].endswith("sendMessage")]
    assert isinstance(send["Arguments"]["MessageGroupId"], str)
    assert send["Arguments"]["MessageDeduplicationId"] == "{% 'tick-' & $scheduledTime %}"
    assert send["Output"] == {"enqueued": True, "message_id": "{% $states.result.MessageId %}",
                              "deduplication_id": "{% 'tick-' & $scheduledTime %}"}
    for task in tasks.values():
        assert 0 < task["TimeoutSeconds"] <= 60
        assert all(r["JitterStrategy"] == "FULL" for r in task["Retry"])
        assert [c["Next"] for c in task["Catch"]] == ["PublishFailureNotice"]


def test_a_skipped_tick_outputs_exactly_enqueued_false_in_flight(definition):
    skipped = [s for _, s in all_states(definition) if s["Type"] == "Pass" and s.get("Output") == SKIPPED_OUTPUT]
    assert len(skipped) == 1 and skipped[0]["Output"] == {"enqueued": False, "reason": "in flight"}
    assert skipped[0].get("End") is True


def test_an_input_without_a_scheduled_time_fails_by_name(definition):
    fails = [s for _, s in all_states(definition) if s["Type"] == "Fail" and not s["Error"].startswith("{%")]
    assert [f["Error"] for f in fails] == [INVALID_INPUT_ERROR]
    # AND a valid one goes on with its scheduled time alone, as a variable
    start = definition["States"][definition["StartAt"]]
    (valid,) = start["Choices"]
    assert valid["Assign"] == {"scheduledTime": "{% $states.input.scheduled_time %}"} and valid["Output"] == {}
    assert start["Default"] == "InvalidInput"


def test_the_schedule_retries_dead_letters_and_may_only_start_the_tick(template):
    (_, schedule) = only_resource(template, "AWS::Scheduler::Schedule")
    (machine_id, _) = only_resource(template, "AWS::StepFunctions::StateMachine")
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "rate(1 minute)" and props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = props["Target"]
    assert target["Arn"] == {"Ref": machine_id}
    assert json.loads(target["Input"]) == {"scheduled_time": "<aws.scheduler.scheduled-time>"}
    assert 0 < target["RetryPolicy"]["MaximumRetryAttempts"] <= 5 and target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 3600
    dlq_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    dlq = template["Resources"][dlq_id]["Properties"]
    assert dlq["SqsManagedSseEnabled"] is True
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    trust = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"},
                      "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]
    statements = _policy_of_role(template, role_id)
    assert sorted((json.dumps(s["Action"]), json.dumps(s["Resource"])) for s in statements) == sorted([
        (json.dumps("states:StartExecution"), json.dumps({"Ref": machine_id})),
        (json.dumps("sqs:SendMessage"), json.dumps({"Fn::GetAtt": [dlq_id, "Arn"]})),
    ])
    alarms = [a for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
              if {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}} in a["Properties"].get("Dimensions", [])]
    assert len(alarms) == 1


def test_prod_keeps_more_receives_and_a_day_of_idempotency(stage, template):
    queues, work_id, _ = _queues(template)
    expected = {"local": 2, "prod": 5}[stage.name]
    assert queues[work_id]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == expected


def test_the_definition_is_jsonata_throughout(definition):
    # GIVEN the synthesized definition THEN JSONata is its top level's language and every state's (branches,
    # Map children), and no state holds a JSONPath field
    assert jsonata_throughout(definition) == []
