"""A Python Lambda function with the project's operational defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.common.nag import acknowledge, acknowledge_wildcard_resource

LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_14
LAMBDA_ARCHITECTURE = lambda_.Architecture.ARM_64


@dataclass(frozen=True)
class PythonFunctionProps:
    """Props of `PythonFunction`.

    code: the bundled asset (see `bundling.python_code_asset`); required.
    handler: `package.module.function` inside the asset; required.
    service: Powertools service name (logs, metrics dimension); default "workflow".
    metrics_namespace: Powertools metrics namespace; default "StepFunctionsWorkflows".
    memory_size_mb: default 256.
    timeout: default 30 seconds.
    environment: extra variables; never secrets (pass a secret's *name*); default none.
    log_retention: retention of the function's log group; default one month.
    removal_policy: of the log group; default DESTROY.
    description: default "".
    """

    code: lambda_.Code | None = None
    handler: str = ""
    service: str = "workflow"
    metrics_namespace: str = "StepFunctionsWorkflows"
    memory_size_mb: int = 256
    timeout: Duration = field(default_factory=lambda: Duration.seconds(30))
    environment: Mapping[str, str] = field(default_factory=dict)
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY
    description: str = ""


class PythonFunction(Construct):
    """Lambda on Python 3.14/arm64 with its own role (no managed policies), with X-Ray active tracing, an explicit log group
    with retention, explicit memory and timeout, and Powertools settings.

    Exposes `function`, `role` and `log_group`.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: PythonFunctionProps) -> None:
        super().__init__(scope, construct_id)
        if props.code is None or not props.handler:
            raise ValueError("PythonFunctionProps.code and .handler are required")
        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=props.log_retention, removal_policy=props.removal_policy
        )
        # Own role instead of AWSLambdaBasicExecutionRole: writes to its own log group only.
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            code=props.code,
            handler=props.handler,
            memory_size=props.memory_size_mb,
            timeout=props.timeout,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            role=self.role,
            description=props.description or None,
            environment={
                "POWERTOOLS_SERVICE_NAME": props.service,
                "POWERTOOLS_METRICS_NAMESPACE": props.metrics_namespace,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                # Responses can be megabytes of user data: keep them out of X-Ray (64 KB segment limit).
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
                **props.environment,
            },
        )
        acknowledge(self.function, "Serverless-LambdaDLQ",
            "Invoked synchronously by Step Functions, which retries and catches errors; "
            "an async DLQ would never receive anything.",
        )
        acknowledge_wildcard_resource(
            self.role, "*", "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions."
        )
