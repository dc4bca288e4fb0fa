"""The last run of each workflow, kept under `.sandbox/runs/` for `sandbox graph --last` and `sandbox cost --last`:
its path through the definition (`<workflow>.json`) and the work it did (`<workflow>.usage.json`)."""

from __future__ import annotations

from typing import Any

from sandbox.cost_report import Usage, lambda_snapshot, measure, save_usage
from sandbox.graph.run_path import RunPath, record_run, save_last_run

__all__ = ["keep_last_run", "lambda_snapshot"]


def keep_last_run(deployed: Any, report: Any, before: tuple[dict[str, int], dict[str, int]]) -> tuple[RunPath, Usage]:
    """Record a finished run of a deployed workflow (`before`: `lambda_snapshot(runtime)` taken before it started)."""
    logical_id = next(lid for lid, arn in deployed.stack.state_machine_arns.items() if arn == deployed.state_machine_arn)
    path = record_run(deployed.emulator, workflow=deployed.spec.name, state_machine=logical_id,
                      execution_arn=report.execution_arn, status=report.status, error=report.error)
    usage = measure(deployed, report, before, path)
    save_last_run(path)
    save_usage(usage)
    return path, usage
