"""Sandbox core: embedded moto server, deploy of a CDK-shaped template, local Lambda runtime,
execution follower and engine-limit checks. Real moto server, real worker processes, no mocks."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from sandbox.emulator import DeployedStack, Emulator, deterministic_zip
from sandbox.engine_limits import EngineGap, UnsupportedByLocalEngine, find_engine_gaps
from sandbox.execution import ExecutionReport, TimelineEvent, run_execution

FIXTURES = Path(__file__).parent / "fixtures" / "cloud_assembly"
TEMPLATE = FIXTURES / "FixtureStack.template.json"
ASSETS = FIXTURES / "FixtureStack.assets.json"


@pytest.fixture(scope="module")
def emulator():
    with Emulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def stack(emulator: Emulator) -> DeployedStack:
    return emulator.deploy(stack_name="FixtureStack", template_path=TEMPLATE, assets_manifest_path=ASSETS)


def run(emulator: Emulator, stack: DeployedStack, execution_input: dict, **kwargs) -> ExecutionReport:
    return run_execution(emulator, state_machine_arn=stack.state_machine_arns["Machine"],
                         execution_input=execution_input, timeout_s=60, poll_interval_s=0.05, **kwargs)


def test_deploy_resolves_definition_and_reregisters_machine(emulator: Emulator, stack: DeployedStack):
    # GIVEN a CDK-shaped template (Fn::Join + Fn::GetAtt definition, DefinitionSubstitutions,
    #       bootstrap parameter and rule) deployed with its asset manifest
    # WHEN we describe the state machine the deploy re-registered
    sfn = emulator.client("stepfunctions")
    described = sfn.describe_state_machine(stateMachineArn=stack.state_machine_arns["Machine"])
    definition = json.loads(described["definition"])

    # THEN the ARNs are resolved, the ${FnBArn} substitution is applied, and settings carried over
    fn_a, fn_b = stack.resources["FnA"], stack.resources["FnB"]
    assert definition["States"]["CallDirect"]["Resource"].endswith(f":function:{fn_a}")
    branch_b = definition["States"]["Par"]["Branches"][1]["States"]["B"]
    assert branch_b["Resource"].endswith(f":function:{fn_b}")
    assert "${" not in described["definition"]
    assert described["loggingConfiguration"]["level"] == "ALL"
    assert described["tracingConfiguration"] == {"enabled": True}
    assert stack.outputs["MachineArn"] == stack.state_machine_arns["Machine"]
    assert stack.resource_types["FnA"] == "AWS::Lambda::Function"

    # AND the Lambda code in moto is exactly the deterministic zip of the asset directory
    code = emulator.client("lambda").get_function(FunctionName=fn_a)["Configuration"]
    asset_dir = next(FIXTURES.glob("asset.*"))
    import base64
    import hashlib
    expected = base64.b64encode(hashlib.sha256(deterministic_zip(asset_dir)).digest()).decode()
    assert code["CodeSha256"] == expected


def test_successful_run_reports_output_counts_and_timeline(emulator: Emulator, stack: DeployedStack):
    # GIVEN a deployed machine and a listener collecting the live timeline
    seen: list[TimelineEvent] = []
    before = emulator.lambda_runtime.invocations[stack.resources["FnA"]]

    # WHEN an execution runs the happy path (Choice -> lambda:invoke Task)
    report = run(emulator, stack, {"action": "ok"}, on_event=seen.append)

    # THEN it succeeds with the handler's output, built from the function's env and context
    assert report.status == "SUCCEEDED", report
    result = report.output["result"]
    assert result["greeting"] == "hello from A"
    assert result["function_name"] == stack.resources["FnA"]
    assert result["memory"] == 256
    assert 0 < result["remaining_ms"] <= 2000
    assert result["has_host_env"] is False  # nothing of the host environment leaks in
    # AND the counters follow AWS's rules: start + Route + Call = 3 transitions, 1 Lambda call
    assert report.state_transitions == 3
    assert report.lambda_invocations == 1
    assert emulator.lambda_runtime.invocations[stack.resources["FnA"]] - before == 1
    assert report.max_state_payload_bytes >= len(json.dumps(report.output))
    # AND every history event was streamed, in order, with its state
    assert [e.type for e in seen] == [e.type for e in report.events]
    assert seen[0].type == "ExecutionStarted" and seen[-1].type == "ExecutionSucceeded"
    scheduled = [e for e in seen if e.type == "TaskScheduled"]
    assert scheduled and scheduled[0].state == "Call" and stack.resources["FnA"] in scheduled[0].detail


def test_catch_matches_custom_exception_class_name(emulator: Emulator, stack: DeployedStack):
    # GIVEN a Task with Catch ["BadThing"] before Catch ["States.TaskFailed"]
    # WHEN the handler raises class BadThing(Exception)
    report = run(emulator, stack, {"action": "bad"})

    # THEN the BadThing catcher ran, with Error/Cause shaped as AWS does (cause = Lambda error JSON)
    assert report.status == "SUCCEEDED"
    assert report.output["caught"] == "BadThing"
    assert report.output["error"]["Error"] == "BadThing"
    cause = json.loads(report.output["error"]["Cause"])
    assert cause["errorType"] == "BadThing"
    assert cause["errorMessage"] == "something bad happened"
    assert any("raise BadThing" in line for line in cause["stackTrace"])
    assert not any("lambda_worker.py" in line for line in cause["stackTrace"])


def test_states_taskfailed_matches_other_function_errors(emulator: Emulator, stack: DeployedStack):
    # GIVEN the same Task; WHEN the handler raises ValueError (no catcher names it)
    report = run(emulator, stack, {"action": "valueerror"})

    # THEN States.TaskFailed catches it and the error name is still the class name
    assert report.status == "SUCCEEDED"
    assert report.output["caught"] == "States.TaskFailed"
    assert report.output["error"]["Error"] == "ValueError"


def test_timeout_kills_worker_and_fails_with_sandbox_timedout(emulator: Emulator, stack: DeployedStack):
    # GIVEN a function with Timeout 2 s; WHEN the handler sleeps 10 s (Task without Catch)
    report = run(emulator, stack, {"action": "sleep", "seconds": 10})

    # THEN the execution fails with Lambda's timeout error after about 2 s, not 10 s
    assert report.status == "FAILED"
    assert report.error == "Sandbox.Timedout"
    assert json.loads(report.cause)["errorMessage"].endswith("Task timed out after 2.00 seconds")
    assert report.duration_s < 8
    failed = [e for e in report.events if e.type == "LambdaFunctionFailed"]
    assert failed and failed[0].detail.startswith("Sandbox.Timedout")

    # AND the function still works afterwards (a cold worker replaces the killed one)
    again = run(emulator, stack, {"action": "ok"})
    assert again.status == "SUCCEEDED"


def test_a_planned_crash_kills_the_worker_mid_invocation_as_runtime_exit_error(emulator: Emulator, stack: DeployedStack):
    # GIVEN the next two invocations of a function planned to crash 3 s in
    runtime, function = emulator.lambda_runtime, stack.resources["FnA"]
    crashed_before = runtime.crashed[function]
    runtime.crash(function, times=2, after_s=3)
    # WHEN one runs longer (a 10 s sleep), and one writes to S3 and returns sooner
    slow = runtime.invoke_direct(function, {"action": "sleep", "seconds": 10})
    s3 = emulator.client("s3")
    bucket = emulator.client("lambda").get_function_configuration(FunctionName=function)["Environment"]["Variables"]["BUCKET_NAME"]
    s3.delete_object(Bucket=bucket, Key="from-worker.txt")
    quick = runtime.invoke_direct(function, {"action": "s3"})
    # THEN both end as Lambda ends a killed worker: Runtime.ExitError, "signal: killed", the slow one long before its sleep's end
    for result in (slow, quick):
        assert result.errored and result.payload_obj["errorType"] == "Runtime.ExitError"
        assert result.payload_obj["errorMessage"].endswith("Runtime exited with error: signal: killed")
    assert slow.duration_ms < 8_000
    # AND the quick one's work was done, its answer lost
    assert s3.get_object(Bucket=bucket, Key="from-worker.txt")["Body"].read() == b"hello"
    assert runtime.crashed[function] - crashed_before == 2 and runtime.crashes_left(function) == 0
    # AND the next invocation runs on a new worker, normally
    again = runtime.invoke_direct(function, {"action": "ok"})
    assert not again.errored and again.payload_obj["greeting"] == "hello from A"


def test_a_crash_at_the_start_runs_no_handler_and_a_cancelled_plan_crashes_nothing(emulator: Emulator, stack: DeployedStack):
    runtime, function = emulator.lambda_runtime, stack.resources["FnA"]
    s3 = emulator.client("s3")
    bucket = emulator.client("lambda").get_function_configuration(FunctionName=function)["Environment"]["Variables"]["BUCKET_NAME"]
    s3.delete_object(Bucket=bucket, Key="from-worker.txt")
    # GIVEN a crash planned at the invocation's start
    runtime.crash(function, times=1, after_s=0)
    # WHEN the function is invoked to write to S3
    result = runtime.invoke_direct(function, {"action": "s3"})
    # THEN it crashed before its handler ran: nothing written
    assert result.errored and result.payload_obj["errorType"] == "Runtime.ExitError"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="from-worker.txt")
    # AND a plan cancelled with times=0 crashes nothing
    runtime.crash(function, times=3)
    runtime.crash(function, times=0)
    assert runtime.crashes_left(function) == 0
    assert not runtime.invoke_direct(function, {"action": "ok"}).errored
    with pytest.raises(ValueError):
        runtime.crash(function, times=-1)


def test_undeclared_dependency_fails_like_in_aws(emulator: Emulator, stack: DeployedStack):
    # GIVEN a worker isolated from the host's site-packages (aws_lambda_powertools is installed
    #       in the venv, but not bundled into the asset)
    # WHEN the handler imports it
    report = run(emulator, stack, {"action": "powertools"})

    # THEN the import fails as it would in AWS Lambda
    assert report.status == "FAILED"
    assert report.error == "ModuleNotFoundError"
    assert "aws_lambda_powertools" in json.loads(report.cause)["errorMessage"]


def test_parallel_branches_run_two_functions_concurrently(emulator: Emulator, stack: DeployedStack):
    # GIVEN a Parallel state whose branches call FnA and FnB, each sleeping 1 s
    # WHEN it runs
    report = run(emulator, stack, {"action": "parallel"})

    # THEN both ran, in two processes, and their run times overlap
    assert report.status == "SUCCEEDED", report
    a, b = report.output
    assert (a["greeting"], b["greeting"]) == ("hello from A", "hello from B")
    assert a["pid"] != b["pid"]
    assert a["started"] < b["ended"] and b["started"] < a["ended"]
    assert report.lambda_invocations == 2
    # start + Route + Par + A + B
    assert report.state_transitions == 5
    assert {e.state for e in report.events if e.type == "LambdaFunctionScheduled"} == {"A", "B"}


def test_request_counts_include_worker_s3_calls(emulator: Emulator, stack: DeployedStack):
    # GIVEN fresh request counters
    emulator.reset_request_counts()

    # WHEN a handler (in its worker process) writes and reads an object through boto3
    result = emulator.lambda_runtime.invoke_direct(stack.resources["FnA"], {"action": "s3"})

    # THEN the call succeeded and the server counted the worker's S3 requests by operation
    assert result.errored is False, result.payload
    assert result.payload_obj == {"read_back": "hello"}
    counts = emulator.request_counts()
    assert counts["s3:PutObject"] == 1
    assert counts["s3:GetObject"] == 1
    assert counts["s3"] == 2
    assert "START RequestId" in result.logs and "action=s3" in result.logs


def test_request_counts_leave_out_the_sandboxs_own_calls(emulator: Emulator, stack: DeployedStack):
    # GIVEN fresh counters; WHEN the harness itself lists buckets and reads a stack
    emulator.reset_request_counts()
    emulator.client("s3").list_buckets()
    emulator.client("cloudformation").describe_stacks(StackName=stack.stack_name)
    # THEN nothing is attributed to the workflow
    assert emulator.request_counts() == {}
    # WHILE a handler's call right after is counted
    emulator.lambda_runtime.invoke_direct(stack.resources["FnA"], {"action": "s3"})
    assert emulator.request_counts()["s3"] == 2


def test_invoke_through_lambda_api_returns_function_error(emulator: Emulator, stack: DeployedStack):
    # GIVEN the Lambda API of the emulator; WHEN a caller (not the harness) invokes a function that raises
    caller = boto3.client("lambda", endpoint_url=emulator.endpoint_url, region_name=emulator.region,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    resp = caller.invoke(FunctionName=stack.resources["FnA"], Payload=json.dumps({"action": "bad"}).encode())

    # THEN the response is a function error with the AWS error payload, and it was counted
    assert resp.get("FunctionError")
    assert json.loads(resp["Payload"].read())["errorType"] == "BadThing"
    assert emulator.request_counts()["lambda:Invoke"] >= 1


def test_find_engine_gaps_flags_refused_map_combinations_and_not_jsonata():
    # GIVEN a definition with a Distributed Map (ItemBatcher beside an ItemSelector, EXPRESS children,
    #       integer ToleratedFailurePercentage, S3 ItemReader) inside a Parallel branch, and a JSONata state
    definition = {
        "StartAt": "Par",
        "States": {
            "Par": {"Type": "Parallel", "Next": "Shape", "Branches": [
                {"StartAt": "noop", "States": {"noop": {"Type": "Pass", "End": True}}},
                {"StartAt": "CopyObjects", "States": {"CopyObjects": {
                    "Type": "Map", "End": True,
                    "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"}},
                    "ItemBatcher": {"MaxItemsPerBatch": 10},
                    "ItemSelector": {"k.$": "$$.Map.Item.Value"},
                    "ToleratedFailurePercentage": 5,
                    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                                      "StartAt": "Call", "States": {"Call": {
                                          "Type": "Task", "Resource": "arn:aws:states:::http:invoke", "End": True}}},
                }}},
            ]},
            "Shape": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input %}", "End": True},
        },
    }

    # WHEN we look for gaps
    gaps = find_engine_gaps(definition)
    by_feature = {g.feature: g for g in gaps}

    # THEN each is found at its state path, blocking ones apart from notes
    refused = by_feature["Distributed Map (sandbox/engine)"]
    assert (refused.state, refused.blocking) == ("Par/branch 2/CopyObjects", True)
    assert "ItemBatcher with ItemSelector" in refused.detail
    assert by_feature["http:invoke"].state == "Par/branch 2/CopyObjects/ItemProcessor/Call"
    # AND what sandbox/engine runs (ItemBatcher, EXPRESS children, integer tolerance, paginated reader,
    #     the JSONata state) is no gap
    assert {g.feature for g in gaps} == {"Distributed Map (sandbox/engine)", "http:invoke"}
    # AND the exception lists every blocking gap by state and feature
    message = str(UnsupportedByLocalEngine([g for g in gaps if g.blocking], state_machine="M"))
    assert "Par/branch 2/CopyObjects: Distributed Map" in message and "CopyObjects/ItemProcessor/Call: http:invoke" in message


def test_find_engine_gaps_runs_jsonata_variables_and_a_jsonata_result_writer_but_names_writer_config():
    # GIVEN a JSONata state machine reading variables, a JSONPath one reading them, and a JSONata
    #       Distributed Map with a ResultWriter (Arguments)
    jsonata = {"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Assign": {"x": 1}, "Output": "{% $x %}", "End": True}}}
    jsonpath = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"x.$": "$x"}, "End": True}}}
    writer = {"QueryLanguage": "JSONata", "StartAt": "Copy", "States": {"Copy": {
        "Type": "Map", "End": True, "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                                                    "Arguments": {"Bucket": "b", "Prefix": "out"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}
    # WHEN/THEN JSONata, variables and the JSONata writer are no gap
    assert find_engine_gaps(jsonata) == [] and find_engine_gaps(jsonpath) == [] and find_engine_gaps(writer) == []
    # AND a writer with WriterConfig (not run by the sandbox) is refused by name
    writer["States"]["Copy"]["ResultWriter"]["WriterConfig"] = {"OutputType": "JSONL", "Transformation": "NONE"}
    (gap,) = find_engine_gaps(writer)
    assert (gap.state, gap.feature, gap.blocking) == ("Copy", "Distributed Map (sandbox/engine)", True)
    assert "ResultWriter fields ['WriterConfig']" in gap.detail


def test_run_execution_refuses_blocking_gaps_before_starting(emulator: Emulator):
    # GIVEN a machine the local engine accepts but cannot run (StartSyncExecution), registered directly
    sfn = emulator.client("stepfunctions")
    arn = sfn.create_state_machine(
        name="SyncChildMachine", roleArn="arn:aws:iam::123456789012:role/r",
        definition=json.dumps({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:startSyncExecution",
            "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:child"}, "End": True}}}),
    )["stateMachineArn"]

    # WHEN the runner is asked to run it
    with pytest.raises(UnsupportedByLocalEngine) as err:
        run_execution(emulator, state_machine_arn=arn, execution_input={})

    # THEN it refuses with a readable list, and no execution was started
    assert "StartSyncExecution" in str(err.value)
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_same_function_invoked_concurrently_uses_several_warm_workers(emulator: Emulator, stack: DeployedStack):
    # GIVEN one function; WHEN three callers invoke it at once (as a Map with MaxConcurrency would)
    from concurrent.futures import ThreadPoolExecutor

    fn_b = stack.resources["FnB"]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: emulator.lambda_runtime.invoke_direct(
            fn_b, {"action": "sleep", "seconds": 1}), range(3)))

    # THEN they ran side by side in separate worker processes
    outs = [r.payload_obj for r in results]
    assert all(not r.errored for r in results)
    assert len({o["pid"] for o in outs}) == 3
    assert max(o["started"] for o in outs) < min(o["ended"] for o in outs)


def test_express_machine_runs_through_start_execution(emulator: Emulator, stack: DeployedStack):
    # GIVEN an EXPRESS machine calling a deployed function
    sfn = emulator.client("stepfunctions")
    fn_arn = emulator.client("lambda").get_function(FunctionName=stack.resources["FnA"])["Configuration"]["FunctionArn"]
    arn = sfn.create_state_machine(
        name="ExpressMachine", roleArn="arn:aws:iam::123456789012:role/r", type="EXPRESS",
        definition=json.dumps({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": fn_arn, "End": True}}}),
    )["stateMachineArn"]

    # WHEN the runner starts it (StartExecution: moto has no StartSyncExecution)
    report = run_execution(emulator, state_machine_arn=arn, execution_input={"action": "ok"}, timeout_s=30)

    # THEN it succeeds like a STANDARD one
    assert report.status == "SUCCEEDED"
    assert report.output["greeting"] == "hello from A"


def test_deploy_fails_clearly_when_function_code_is_missing(emulator: Emulator, tmp_path: Path):
    # GIVEN the fixture template whose function points at an S3 key no asset provides
    from sandbox.emulator import DeployError

    template = json.loads(TEMPLATE.read_text())
    template["Resources"]["FnA"]["Properties"]["Code"]["S3Key"] = "missing.zip"
    bad = tmp_path / "Bad.template.json"
    bad.write_text(json.dumps(template))

    # WHEN it is deployed; THEN a DeployError names the resource (moto itself would accept it)
    with pytest.raises(DeployError) as err:
        emulator.deploy(stack_name="BadStack", template_path=bad, assets_manifest_path=ASSETS)
    assert err.value.resource == "FnA"
    assert "missing.zip" in str(err.value)


def test_deploy_names_engine_gaps_that_moto_would_refuse_with_a_trace(emulator: Emulator, tmp_path: Path):
    # GIVEN a stack whose Distributed Map batches items selected by an ItemSelector (sandbox/engine
    #       refuses that combination; moto alone refuses any ItemBatcher at CreateStateMachine)
    definition = {
        "StartAt": "CopyAll",
        "States": {
            "CopyAll": {
                "Type": "Map",
                "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b", "Prefix": "p/"}},
                "ItemBatcher": {"MaxItemsPerBatch": 10},
                "ItemSelector": {"key.$": "$$.Map.Item.Value.Key"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Noop",
                    "States": {"Noop": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    }
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"RoleArn": "arn:aws:iam::123456789012:role/fake", "DefinitionString": json.dumps(definition)},
            }
        }
    }
    template_path = tmp_path / "GapStack.template.json"
    template_path.write_text(json.dumps(template))
    manifest_path = tmp_path / "GapStack.assets.json"
    manifest_path.write_text(json.dumps({"version": "36.0.0", "files": {}, "dockerImages": {}}))
    # WHEN deployed, THEN the sandbox names the state and the feature instead of a moto trace
    with pytest.raises(UnsupportedByLocalEngine) as raised:
        emulator.deploy(stack_name="GapStack", template_path=template_path, assets_manifest_path=manifest_path)
    assert [(gap.state, gap.feature) for gap in raised.value.gaps] == [("CopyAll", "Distributed Map (sandbox/engine)")]
    assert "CopyAll: Distributed Map (sandbox/engine): CopyAll: ItemBatcher with ItemSelector" in str(raised.value)
