"""stacks/common/table.py: the DataTable construct's defaults and its refusal of an unauditable key."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk.assertions import Template

from stacks.common.table import DataTable, DataTableProps


def test_defaults_are_on_demand_encrypted_pitr_and_ttl():
    stack = cdk.Stack(cdk.App(), "Probe")
    DataTable(stack, "Table")
    (table,) = Template.from_stack(stack).find_resources("AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST" and props["SSESpecification"] == {"SSEEnabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert [k["AttributeName"] for k in props["KeySchema"]] == ["pk", "sk"]


def test_a_partition_key_alone_and_no_ttl():
    stack = cdk.Stack(cdk.App(), "Probe")
    DataTable(stack, "Table", props=DataTableProps(partition_key="id", sort_key=None, ttl_attribute=None))
    (table,) = Template.from_stack(stack).find_resources("AWS::DynamoDB::Table").values()
    assert table["Properties"]["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert "TimeToLiveSpecification" not in table["Properties"]


def test_the_aws_owned_key_is_refused():
    with pytest.raises(ValueError, match="AWS_MANAGED"):
        DataTable(cdk.Stack(cdk.App(), "Probe"), "Table", props=DataTableProps(encryption=dynamodb.TableEncryption.DEFAULT))
