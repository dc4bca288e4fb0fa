"""A DynamoDB table with the project's defaults: on-demand, encrypted, point-in-time recovery, optional TTL."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct


@dataclass(frozen=True)
class DataTableProps:
    """Props of `DataTable`.

    partition_key: name of the string partition key; default "pk".
    sort_key: name of the string sort key, or None for a partition key alone; default "sk".
    ttl_attribute: number attribute (epoch seconds) after which DynamoDB deletes an item, or None; default "expires_at".
    point_in_time_recovery: continuous backups (35 days); default True.
    encryption: at-rest encryption; default AWS_MANAGED (the account's `aws/dynamodb` KMS key, logged in
        CloudTrail). CUSTOMER_MANAGED needs a key; DEFAULT (AWS owned key) is not accepted.
    removal_policy: default DESTROY; RETAIN keeps the table (and its data) on stack deletion.
    """

    partition_key: str = "pk"
    sort_key: str | None = "sk"
    ttl_attribute: str | None = "expires_at"
    point_in_time_recovery: bool = True
    encryption: dynamodb.TableEncryption = dynamodb.TableEncryption.AWS_MANAGED
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY


class DataTable(Construct):
    """On-demand (pay per request) table with string keys, encryption at rest, PITR and TTL.

    Exposes `table`. Grant exactly the actions a role needs with `table.grant(role, "dynamodb:PutItem", ...)`.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: DataTableProps = DataTableProps()) -> None:
        super().__init__(scope, construct_id)
        if props.encryption == dynamodb.TableEncryption.DEFAULT:
            raise ValueError("DataTableProps.encryption: use AWS_MANAGED or CUSTOMER_MANAGED (auditable key use)")
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=props.partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=props.sort_key, type=dynamodb.AttributeType.STRING) if props.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=props.encryption,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=props.point_in_time_recovery
            ),
            time_to_live_attribute=props.ttl_attribute,
            removal_policy=props.removal_policy,
        )
