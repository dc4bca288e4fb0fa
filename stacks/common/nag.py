"""cdk-nag v3: AwsSolutions and Serverless rule packs on every synth."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, CfnResource, Stack, Validations
from cdk_nag import AwsSolutionsChecks, NagPack, ServerlessChecks
from constructs import IConstruct


def rule_packs(app: App) -> list[NagPack]:
    return [AwsSolutionsChecks(app), ServerlessChecks(app)]


def add_nag_checks(app: App) -> None:
    """Register the packs as validation plugins: an unacknowledged finding fails `cdk synth`."""
    Validations.of(app).add_plugins(*rule_packs(app))


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one finding on `scope` (and below) with the reason it is accepted."""
    if len(reason.strip()) < 20:
        raise ValueError(f"acknowledging {rule_id} needs a reason that explains it, got {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def arn_token(resource: IConstruct, attribute: str = "Arn") -> str:
    """How cdk-nag writes `Fn::GetAtt [<logical id>, <attribute>]` in a finding id."""
    cfn = resource.node.default_child if not isinstance(resource, CfnResource) else resource
    if not isinstance(cfn, CfnResource):
        raise ValueError(f"{resource.node.path} has no CloudFormation resource to name in a finding")
    return f"<{Stack.of(cfn).resolve(cfn.logical_id)}.{attribute}>"


def acknowledge_wildcard_resource(scope: IConstruct, resource_pattern: str, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for one wildcard resource pattern (e.g. '<Bucket.Arn>/prefix/*')."""
    acknowledge(scope, f"AwsSolutions-IAM5[Resource::{resource_pattern}]", reason)
