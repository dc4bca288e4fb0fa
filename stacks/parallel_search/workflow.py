"""parallel-search: this workflow's declaration (stacks/common/registry.py says what follows from it)."""

from stacks.common.registry import Workflow

WORKFLOW = Workflow(
    name="parallel-search",
    summary="two search APIs in a Parallel state, merged; large results through S3 (claim check)",
    order=10,
)
