"""distributed-copy: this workflow's declaration (stacks/common/registry.py says what follows from it)."""

from stacks.common.registry import Workflow

WORKFLOW = Workflow(
    name="distributed-copy",
    summary="Distributed Map over an S3 prefix: yesterday's objects, batched, verified copy then delete",
    order=30,
)
