"""JSONata in the templates: the finder of JSONPath fields the workflows' template tests use, and the CDK bugs
met writing workflows in JSONata. Each `*_is_still_there` test builds the construct as the bug report does and
asserts the wrong output, so it fails, saying what to change, once CDK fixes the bug."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from tests.templates.cfn import jsonata_throughout, jsonpath_fields, state_machine_definition


def test_jsonpath_fields_are_found_anywhere_in_a_state():
    state = {"Type": "Task", "Arguments": {"a": 1}, "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.e", "Next": "N"}],
             "ItemReader": {"Parameters": {"Prefix.$": "$.p"}}}
    assert jsonpath_fields(state) == ["Catch/ResultPath", "ItemReader/Parameters", "ItemReader/Parameters/Prefix.$"]
    assert jsonpath_fields({"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": True, "Next": "N"}]}) == ["Choices/Variable"]
    assert jsonpath_fields({"Type": "Choice", "Choices": [{"Condition": "{% true %}", "Next": "N"}]}) == []


def test_a_definition_is_jsonata_throughout_only_when_no_state_is_in_jsonpath():
    states = {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "QueryLanguage": "JSONPath", "Parameters": {}, "End": True}}
    assert jsonata_throughout({"QueryLanguage": "JSONata", "StartAt": "A", "States": states}) == ["B: JSONPath", "B: Parameters"]
    assert jsonata_throughout({"StartAt": "A", "States": {"A": states["A"]}}) == ["the top level is not JSONata", "A: JSONPath"]
    assert jsonata_throughout({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": states["A"]}}) == []


# --------------------------------------------------------------------------- CDK bugs worked around


def _definition_of(build) -> dict[str, Any]:
    """The definition of a one-machine stack whose chain `build(stack, bucket, function)` returns."""
    app = cdk.App(context={"@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2": True})
    stack = cdk.Stack(app, "Probe")
    bucket = s3.Bucket(stack, "Bucket")
    function = lambda_.Function(stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
                                code=lambda_.Code.from_inline("def handler(event, context): return event"))
    sfn.StateMachine(stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(build(stack, bucket, function)),
                     query_language=sfn.QueryLanguage.JSONATA)
    return state_machine_definition(app.synth().get_stack_by_name("Probe").template)


def test_aws_cdk_34352_lambda_invoke_in_a_jsonata_map_is_still_there():
    # GIVEN a JSONata Distributed Map whose processor is a LambdaInvoke built without `.jsonata` (the bug report's form)
    def build(stack, bucket, function):
        copy_map = sfn.DistributedMap.jsonata(stack, "Map", items=sfn.ProvideItems.jsonata("{% $states.input.items %}"))
        copy_map.item_processor(tasks.LambdaInvoke(stack, "Invoke", lambda_function=function,
                                                   payload=sfn.TaskInput.from_object({"item": "{% $states.input %}"})))
        return copy_map

    child = _definition_of(build)["States"]["Map"]["ItemProcessor"]["States"]["Invoke"]
    # THEN CDK still renders the child as JSONPath (Parameters) though it runs in JSONata, which AWS refuses
    assert "Parameters" in child and "Arguments" not in child, (
        "aws-cdk #34352 is fixed: a LambdaInvoke inside a JSONata Map now renders JSONata, so a Map's processor no longer "
        "needs LambdaInvoke.jsonata; update the stacks and READMEs that name #34352 (git grep 34352) and delete this test")


def test_aws_cdk_35403_result_writer_of_a_map_inside_a_parallel_is_still_there():
    # GIVEN a Distributed Map built without `.jsonata`, with a ResultWriterV2, in a JSONata Parallel's branch
    #       (the form that still fails after the fix of #35403, aws-cdk #35834, which covers a Map at the top level)
    def build(stack, bucket, function):
        inner = sfn.DistributedMap(stack, "Map", result_writer_v2=sfn.ResultWriterV2(bucket=bucket, prefix="out/"))
        inner.item_processor(sfn.Pass.jsonata(stack, "Each"))
        return sfn.Parallel.jsonata(stack, "Both").branch(inner)

    writer = _definition_of(build)["States"]["Both"]["Branches"][0]["States"]["Map"]["ResultWriter"]
    # THEN its ResultWriter still carries JSONPath's Parameters, which AWS refuses in JSONata
    assert "Parameters" in writer and "Arguments" not in writer, (
        "aws-cdk #35403 is fixed for a Map inside a Parallel branch too: drop that caveat from the READMEs "
        "that name #35403 (git grep 35403) and delete this test")


def test_a_top_level_jsonata_distributed_map_writes_its_results_with_arguments():
    # GIVEN the form distributed-copy uses: DistributedMap.jsonata at the top level with a ResultWriterV2
    def build(stack, bucket, function):
        copy_map = sfn.DistributedMap.jsonata(stack, "Map", result_writer_v2=sfn.ResultWriterV2(bucket=bucket, prefix="out/"))
        copy_map.item_processor(sfn.Pass.jsonata(stack, "Each"))
        return copy_map

    writer = _definition_of(build)["States"]["Map"]["ResultWriter"]
    # THEN CDK renders JSONata's Arguments (aws-cdk #35403, fixed by #35834 for this form)
    assert set(writer) == {"Resource", "Arguments"}
