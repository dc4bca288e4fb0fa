"""A private, encrypted, TLS-only bucket for short-lived payloads."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.common.nag import acknowledge, acknowledge_wildcard_resource, arn_token


@dataclass(frozen=True)
class PayloadBucketProps:
    """Props of `PayloadBucket`.

    expire_after_days: objects are deleted this long after creation; default 1.
    removal_policy: default DESTROY (with auto-delete of objects off: deletion fails
        while objects remain, which the lifecycle rule clears within a day).
    """

    expire_after_days: int = 1
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY


class PayloadBucket(Construct):
    """S3 bucket for claim-check payloads: SSE-S3, public access blocked, TLS
    enforced, versioning off (objects live a day), lifecycle expiry.

    Exposes `bucket`. Grant access per key prefix with `grant_prefix`.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: PayloadBucketProps = PayloadBucketProps()) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=props.removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpirePayloads",
                    expiration=Duration.days(props.expire_after_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
        acknowledge(self.bucket, "AwsSolutions-S1",
            "Transient payloads that expire after a day; CloudTrail data events cover access auditing where needed.",
        )

    def grant_prefix(self, role: iam.IRole, prefix: str, *, read: bool = False, write: bool = False) -> None:
        """Allow exactly s3:GetObject and/or s3:PutObject on keys under `prefix` (e.g. "searches/").

        Readers also get s3:ListBucket on the bucket: without it S3 answers a missing
        key with 403 AccessDenied instead of 404, and "expired" could not be told
        from "forbidden".
        """
        actions = (["s3:GetObject"] if read else []) + (["s3:PutObject"] if write else [])
        if not actions or not prefix.endswith("/"):
            raise ValueError("grant_prefix needs read and/or write, and a prefix ending in '/'")
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=actions, resources=[self.bucket.arn_for_objects(f"{prefix}*")])
        )
        if read:
            role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn]))
        acknowledge_wildcard_resource(
            role,
            f"{arn_token(self.bucket)}/{prefix}*",
            f"Keys under {prefix} are per execution; the grant is limited to that prefix and to {', '.join(actions)}.",
        )
