"""bucket-usage: this workflow's declaration (stacks/common/registry.py says what follows from it)."""

from stacks.common.registry import Workflow

WORKFLOW = Workflow(
    name="bucket-usage",
    summary="usage per file extension of every bucket: a Map of bounded scan loops, results in DynamoDB, summary to SNS",
    order=40,
)
