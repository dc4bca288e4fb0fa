"""A DynamoDB table with the project's defaults: on-demand, encrypted, PITR, optional TTL."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct


@dataclass(frozen=True)
class TableProps:
    """Props of `Table`.

    partition_key: name of the string partition key; default "pk".
    sort_key: name of a string sort key; default None (no sort key).
    ttl_attribute: attribute holding an epoch-seconds expiry; default None (no TTL).
    point_in_time_recovery: default True.
    removal_policy: default DESTROY (RETAIN in stages that keep data).
    """

    partition_key: str = "pk"
    sort_key: str | None = None
    ttl_attribute: str | None = None
    point_in_time_recovery: bool = True
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY


class Table(Construct):
    """On-demand table, encrypted with the AWS-managed key, point-in-time recovery on.

    Exposes `table`.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: TableProps = TableProps()) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=props.partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=props.sort_key, type=dynamodb.AttributeType.STRING) if props.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=props.point_in_time_recovery
            ),
            time_to_live_attribute=props.ttl_attribute,
            removal_policy=props.removal_policy,
        )
