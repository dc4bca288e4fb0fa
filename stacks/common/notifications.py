"""An encrypted SNS topic for workflow notices and alarms."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


@dataclass(frozen=True)
class NotificationTopicProps:
    """Props of `NotificationTopic`.

    display_name: shown in e-mail notices; default "Workflow notices".
    removal_policy: of the KMS key; default DESTROY (keys then wait the minimum 7 days).
    """

    display_name: str = "Workflow notices"
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY


class NotificationTopic(Construct):
    """SNS topic encrypted with its own rotating KMS key, TLS-only publishing,
    and topic and key policies that let this stack's CloudWatch alarms publish to it.

    Exposes `topic` and `key`. Subscribe people or systems to `topic`; publishers
    need `grant_publish` (topic *and* key).
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: NotificationTopicProps = NotificationTopicProps()) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            enable_key_rotation=True,
            description="Encrypts workflow notices",
            removal_policy=props.removal_policy,
        )
        # CloudWatch alarm actions publish as the service itself, so the key must trust it.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # "*" in a key policy means this key
                # only alarms of this account (no confused deputy)
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        self.topic = sns.Topic(
            self, "Topic", display_name=props.display_name, master_key=self.key, enforce_ssl=True
        )
        # The topic policy (made for enforce_ssl) replaces SNS's default one, which let the account's
        # CloudWatch alarms publish: allow them again, only this stack's alarms of this account.
        stack = Stack.of(self)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisStacksAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    # CDK names alarms "<stack name>-<id>-<suffix>"
                    "ArnLike": {"aws:SourceArn": stack.format_arn(service="cloudwatch", resource="alarm",
                                                                  resource_name=f"{stack.stack_name}-*",
                                                                  arn_format=ArnFormat.COLON_RESOURCE_NAME)},
                },
            )
        )

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        """sns:Publish on the topic plus the KMS use SNS needs to encrypt the message."""
        iam.Grant.add_to_principal_or_resource(grantee=grantee, actions=["sns:Publish"], resource_arns=[self.topic.topic_arn], resource=self.topic)
        self.key.grant(grantee, "kms:Decrypt", "kms:GenerateDataKey")
