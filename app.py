#!/usr/bin/env python3
"""The CDK app: one stack per workflow found under `stacks/*/workflow.py`, for the stage chosen
with `-c stage=NAME` (local, dev, prod, or a stage of yours based on dev or prod).

`-c workflow=NAME[,NAME]` builds only those workflows' stacks. When the CDK CLI runs this app to
deploy (`cdk deploy`, `cdk watch`, `cdk import`), a stack whose settings still hold a placeholder
stops the deploy before anything is uploaded, naming the setting (stacks/preflight.py).
"""

from __future__ import annotations

import sys
from typing import Any, Iterable

import stacks  # noqa: F401  (first: it keeps jsii's Node end-of-life banner quiet)
import aws_cdk as cdk  # noqa: E402

from stacks.common.config import WORKFLOW_SELECTION_KEY, ConfigError, StageConfig, resolve_stage  # noqa: E402
from stacks.common.nag import add_nag_checks  # noqa: E402
from stacks.common.registry import Workflow, WorkflowError, read_cdk_context, select_workflows  # noqa: E402


def cdk_context(**overrides: Any) -> dict[str, Any]:
    """cdk.json's context, as the CLI passes it, for code that builds the App itself (tests, sandbox, bench).

    Like the CLI without --debug, construct creation stack traces are off (they slow synth down).
    """
    return {"aws:cdk:disable-stack-trace": True, **read_cdk_context(), **overrides}


def build_app(app: cdk.App | None = None, *, workflows: Iterable[str] | None = None, nag: bool = True) -> cdk.App:
    """Add the workflow stacks for the app's stage to `app` (default: a new App).

    workflows: short names of the stacks to build (default: the `workflow` context, else every one).
    nag: register cdk-nag's rule packs (default True; False only to measure what they cost).
    Raises ConfigError (a bad setting or stage, naming the key) or WorkflowError (an unknown workflow).
    """
    app = app or cdk.App()
    chosen = select_workflows(list(workflows) if workflows is not None else app.node.try_get_context(WORKFLOW_SELECTION_KEY))
    stage = resolve_stage(app.node.get_all_context(), workflows=chosen)
    for workflow in chosen:
        add_workflow_stack(app, workflow, stage)
    if nag:
        add_nag_checks(app)
    return app


def add_workflow_stack(app: cdk.App, workflow: Workflow, stage: StageConfig) -> cdk.Stack:
    stack = workflow.stack_class()(app, workflow.stack_id, stack_name=workflow.stack_name(stage.name), stage=stage)
    cdk.Tags.of(stack).add("workflow", workflow.name)
    cdk.Tags.of(stack).add("stage", stage.name)
    return stack


def main() -> int:
    from stacks.preflight import refuse_deploy_with_placeholders

    try:
        app = build_app()
        refusal = refuse_deploy_with_placeholders(app)
        if refusal:
            print("\n".join(refusal), file=sys.stderr)
            return 1
        app.synth()
    except (ConfigError, WorkflowError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
