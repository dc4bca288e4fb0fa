"""A Step Functions state machine with logging, tracing, a timeout and alarms."""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.common.nag import acknowledge, acknowledge_wildcard_resource, arn_token
from stacks.common.notifications import NotificationTopic
from stacks.common.alarms import alarm_on_any
from stacks.common.retries import retry_publish


@dataclass(frozen=True)
class MonitoredStateMachineProps:
    """Props of `MonitoredStateMachine`.

    definition: the first state of the workflow (a chain); required.
    notices: topic for failed/timed-out execution alarms, which the workflow may also
        publish to (it is granted publish); required.
    invoked_functions: Lambda functions the definition invokes (their version qualifiers
        are acknowledged in the role's policy); default none.
    timeout: the whole execution's limit; default 5 minutes.
    state_machine_type: default STANDARD.
    log_retention: of the execution log group; default one month.
    removal_policy: of the log group; default DESTROY.
    include_execution_data: log state inputs/outputs; default False (they may carry user data).
    log_level: what goes to the log group; default ALL (ERROR suits high-frequency EXPRESS
        machines, whose log ingestion would otherwise cost more than the executions).
    query_language: the definition's top-level QueryLanguage; default None (JSONPath, AWS's default:
        states may still set JSONata one by one; under a JSONata top level no state may be JSONPath).
    comment: default "".
    """

    definition: sfn.IChainable | None = None
    notices: NotificationTopic | None = None
    invoked_functions: tuple[lambda_.IFunction, ...] = ()
    timeout: Duration = field(default_factory=lambda: Duration.minutes(5))
    state_machine_type: sfn.StateMachineType = sfn.StateMachineType.STANDARD
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY
    include_execution_data: bool = False
    log_level: sfn.LogLevel = sfn.LogLevel.ALL
    query_language: sfn.QueryLanguage | None = None
    comment: str = ""


class MonitoredStateMachine(Construct):
    """State machine logging to its own log group (ALL events unless `log_level` says otherwise), with X-Ray tracing,
    an execution timeout, and alarms on failed and timed-out executions.

    Exposes `state_machine`, `log_group`, `failed_alarm`, `timed_out_alarm`.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: MonitoredStateMachineProps) -> None:
        super().__init__(scope, construct_id)
        if props.definition is None or props.notices is None:
            raise ValueError("MonitoredStateMachineProps.definition and .notices are required")
        self.log_group = logs.LogGroup(
            self, "ExecutionLogs", retention=props.log_retention, removal_policy=props.removal_policy
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(props.definition),
            state_machine_type=props.state_machine_type,
            timeout=props.timeout,
            tracing_enabled=True,
            query_language=props.query_language,
            comment=props.comment or None,
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=props.log_level,
                include_execution_data=props.include_execution_data,
            ),
        )
        if props.log_level != sfn.LogLevel.ALL:
            acknowledge(self.state_machine, "AwsSolutions-SF1",
                f"Logs at level {props.log_level.value} by design (see the workflow's log_level choice); "
                "failures are logged and alarmed.")
        props.notices.grant_publish(self.state_machine)
        role = self.state_machine.role
        acknowledge_wildcard_resource(
            role, "*", "Log delivery and X-Ray actions that Step Functions needs support no resource-level permissions."
        )
        for function in props.invoked_functions:
            acknowledge_wildcard_resource(
                role, f"{arn_token(function)}:*", "Qualified versions/aliases of a function this workflow invokes."
            )
        self.failed_alarm = alarm_on_any(self, "FailedExecutions", notices=props.notices, metric=self.state_machine.metric_failed(
            period=Duration.minutes(5), statistic=cloudwatch.Stats.SUM))
        self.timed_out_alarm = alarm_on_any(self, "TimedOutExecutions", notices=props.notices, metric=self.state_machine.metric_timed_out(
            period=Duration.minutes(5), statistic=cloudwatch.Stats.SUM))



def acknowledge_distributed_map(machine: sfn.StateMachine, *, label: str, bucket: s3.IBucket, holds: str) -> None:
    """Acknowledge, with reasons, the wildcards CDK grants a state machine for a Distributed Map labelled `label`
    whose ItemReader/ResultWriter use `bucket` (which holds only `holds`)."""
    stack = Stack.of(machine)
    bucket_id = stack.resolve(bucket.node.default_child.logical_id)
    acknowledge_wildcard_resource(
        machine.role, f"arn:<AWS::Partition>:s3:::<{bucket_id}>/*",
        f"CDK's ItemReader/ResultWriter grants cover a bucket that holds only {holds} (no other data).")
    logical_id = stack.resolve(machine.node.default_child.logical_id)
    name = '{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"' + logical_id + '"}]}]}'
    execution = f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{name}"
    for pattern in (f"{execution}:*", f"{execution}/{label}:*"):
        acknowledge_wildcard_resource(
            machine, pattern,
            "Distributed Map: Describe/StopExecution on this state machine's own executions and Map Run "
            "children, whose ARNs are generated per run.")


def notify_failure_then_fail_jsonata(scope: Construct, *, notices: NotificationTopic, workflow: str) -> sfn.IChainable:
    """JSONata states for a `Catch` whose output is the caught error (a JSONata Catch's default output,
    `$states.errorOutput`): publish a failure notice, then fail the execution with the caught error's
    own name and cause."""
    notice = tasks.SnsPublish.jsonata(
        scope,
        "PublishFailureNotice",
        topic=notices.topic,
        subject=f"{workflow} failed",
        message=sfn.TaskInput.from_object(
            {
                "workflow": workflow,
                "execution": "{% $states.context.Execution.Id %}",
                "error": "{% $states.input.Error %}",
                "cause": "{% $states.input.Cause %}",
            }
        ),
        outputs="{% $states.input %}",  # the caught error, for the Fail state
        task_timeout=sfn.Timeout.duration(Duration.seconds(30)),
    )
    retry_publish(notice)
    failed = sfn.Fail.jsonata(scope, "WorkflowFailed", error="{% $states.input.Error %}", cause="{% $states.input.Cause %}")
    return notice.next(failed)
