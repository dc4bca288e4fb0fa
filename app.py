#!/usr/bin/env python3
"""The CDK app: one stack per workflow for the stage chosen with `-c stage=local|dev|prod`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import aws_cdk as cdk

from stacks.bucket_usage import BucketUsageStack
from stacks.common.config import ConfigError, StageConfig
from stacks.common.nag import add_nag_checks
from stacks.distributed_copy import DistributedCopyStack
from stacks.parallel_search import ParallelSearchStack
from stacks.single_flight import SingleFlightStack
from stacks.weekly_batch import WeeklyBatchStack

# Workflow short name -> (stack id, stack class). The sandbox reads this too.
WORKFLOW_STACKS = {
    "parallel-search": ("ParallelSearch", ParallelSearchStack),
    "weekly-batch": ("WeeklyBatch", WeeklyBatchStack),
    "distributed-copy": ("DistributedCopy", DistributedCopyStack),
    "bucket-usage": ("BucketUsage", BucketUsageStack),
    "single-flight": ("SingleFlight", SingleFlightStack),
}


def stack_name(stage: StageConfig, suffix: str) -> str:
    """CloudFormation name: stage-suffixed so dev and prod can share an account."""
    return f"{suffix}-{stage.name}"


CDK_JSON = Path(__file__).resolve().parent / "cdk.json"


def cdk_context(**overrides: Any) -> dict[str, Any]:
    """cdk.json's context, as the CLI passes it, for code that builds the App itself (tests, sandbox, bench).

    Like the CLI without --debug, construct creation stack traces are off (they slow synth down).
    """
    return {"aws:cdk:disable-stack-trace": True, **json.loads(CDK_JSON.read_text())["context"], **overrides}


def build_app(app: cdk.App | None = None, *, workflows: Iterable[str] | None = None, nag: bool = True) -> cdk.App:
    """Add the workflow stacks for the app's `stage` context to `app` (default: a new App).

    workflows: short names of the stacks to build (default: every one in WORKFLOW_STACKS).
    nag: register cdk-nag's rule packs (default True; False only to measure what they cost).
    """
    app = app or cdk.App()
    chosen = list(WORKFLOW_STACKS) if workflows is None else list(dict.fromkeys(workflows))
    unknown = [name for name in chosen if name not in WORKFLOW_STACKS]
    if unknown:
        raise ConfigError(f"unknown workflow(s) {', '.join(unknown)}; expected some of {', '.join(WORKFLOW_STACKS)}")
    stage = StageConfig.from_context(app.node.try_get_context("stages"), app.node.try_get_context("stage"))
    for workflow in chosen:
        suffix, stack_class = WORKFLOW_STACKS[workflow]
        stack = stack_class(app, suffix, stack_name=stack_name(stage, suffix), stage=stage)
        cdk.Tags.of(stack).add("workflow", workflow)
        cdk.Tags.of(stack).add("stage", stage.name)
    if nag:
        add_nag_checks(app)
    return app


if __name__ == "__main__":
    build_app().synth()
