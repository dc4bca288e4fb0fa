"""single-flight: this workflow's declaration (stacks/common/registry.py says what follows from it)."""

from stacks.common.registry import Workflow

WORKFLOW = Workflow(
    name="single-flight",
    summary="an EXPRESS tick enqueues to SQS FIFO only when nothing is in flight; one long API call at a time",
    order=50,
)
