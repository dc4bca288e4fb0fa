"""The last run of each workflow, kept under `.sandbox/runs/` for `sandbox graph --last` and `sandbox cost --last`:
its path through the definition (`<workflow>.json`) and the work it did (`<workflow>.usage.json`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sandbox.cost_report import Usage, lambda_snapshot, measure
from sandbox.graph.run_path import RunPath, record_run
from sandbox.synth import SANDBOX_DIR

__all__ = ["RUNS_DIR", "keep_last_run", "run_and_keep", "lambda_snapshot", "load_last_run", "load_usage", "save_last_run", "save_usage"]

RUNS_DIR = SANDBOX_DIR / "runs"


def _write(path: Path, text: str) -> Path:
    """Write through a temporary file: a reader never sees half a file, and two writers never share one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}-", suffix=".tmp", delete=False,
                                     encoding="utf-8") as tmp:
        tmp.write(text)
    Path(tmp.name).replace(path)
    return path


def save_last_run(run: RunPath, runs_dir: Path = RUNS_DIR) -> Path:
    return _write(runs_dir / f"{run.workflow}.json", run.to_json())


def load_last_run(workflow: str, runs_dir: Path = RUNS_DIR) -> RunPath | None:
    path = runs_dir / f"{workflow}.json"
    return RunPath.from_json(path.read_text(encoding="utf-8")) if path.exists() else None


def save_usage(usage: Usage, runs_dir: Path = RUNS_DIR) -> Path:
    return _write(runs_dir / f"{usage.workflow}.usage.json", usage.to_json())


def load_usage(workflow: str, runs_dir: Path = RUNS_DIR) -> Usage | None:
    path = runs_dir / f"{workflow}.usage.json"
    return Usage.from_json(path.read_text(encoding="utf-8")) if path.exists() else None


def keep_last_run(deployed: Any, report: Any, before: tuple[dict[str, int], dict[str, int]]) -> tuple[RunPath, Usage]:
    """Record a finished run of a deployed workflow (`before`: `lambda_snapshot(runtime)` taken before it started)."""
    logical_id = next(lid for lid, arn in deployed.stack.state_machine_arns.items() if arn == deployed.state_machine_arn)
    path = record_run(deployed.emulator, workflow=deployed.spec.name, state_machine=logical_id,
                      execution_arn=report.execution_arn, status=report.status, error=report.error)
    usage = measure(deployed, report, before, path)
    save_last_run(path)
    save_usage(usage)
    return path, usage


def run_and_keep(deployed: Any, execution_input: Any = None, *, standins: Any = None, on_event: Any = None,
                 timeout_s: float = 600) -> tuple[Any, tuple[RunPath, Usage]]:
    """One run of a deployed workflow, kept as its last run (for `graph --last` and `cost --last`):
    (its RunReport, (its path, its work))."""
    from sandbox import timings

    runtime = deployed.emulator.lambda_runtime
    before, worker_start_s = lambda_snapshot(runtime), runtime.worker_start_s
    with timings.phase("run"):
        report = deployed.run(execution_input, standins=standins, on_event=on_event, timeout_s=timeout_s)
    timings.add("execution", report.duration_s)
    timings.add("worker start", runtime.worker_start_s - worker_start_s)
    with timings.phase("keep last run"):
        kept = keep_last_run(deployed, report, before)
    return report, kept
