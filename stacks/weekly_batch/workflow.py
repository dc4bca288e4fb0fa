"""weekly-batch: this workflow's declaration (stacks/common/registry.py says what follows from it)."""

from stacks.common.registry import Workflow

WORKFLOW = Workflow(
    name="weekly-batch",
    summary="weekly schedule; wait (bounded) for yesterday's BigQuery rows; idempotent MERGE of the week; Slack notices",
    order=20,
)
