"""weekly-batch figures for `make bench` (printed, never asserted by a timed test).

1. Transitions and Lambda invocations on three paths (rows at once, 2 waits, gave up),
   measured in the sandbox (local stage: max_checks 4), with the prod stage's figures
   (max_checks 18) derived from the measured per-loop cost, beside the seed's design
   computed from its definition (reconstructed from the article: 4 states per wait
   loop, no bound).
2. Cold import of each handler module, and of the BigQuery handlers together with
   `google.cloud.bigquery` (what the first query needs), with the top costs by package.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sandbox.benches.goals import GOALS
from sandbox.lambda_runtime import ensure_runtime_deps
from sandbox.session import Sandbox
from sandbox.synth import SANDBOX_DIR

console = Console(width=150)
WORKFLOW = "weekly-batch"
LOCAL_MAX_CHECKS, PROD_MAX_CHECKS, PROD_WAIT_S = 4, 18, 600
HISTORY_EVENT_LIMIT = 25_000  # a Standard execution fails when its history reaches this

# The seed's state machine (article 001), as its text describes it: a check Lambda answering
# {statusCode, return_value}, a Choice on it, a Slack Lambda per notice, a 600 s Wait, an insert
# Lambda and a Choice on its statusCode. Nothing bounds the wait loop.
SEED_DEFINITION: dict[str, Any] = {
    "StartAt": "CheckYesterdayRows",
    "States": {
        "CheckYesterdayRows": {"Type": "Task", "Resource": "lambda", "Next": "RowsChecked"},
        "RowsChecked": {
            "Type": "Choice",
            "Choices": [
                {"Rule": "statusCode == 200 and return_value > 0", "Next": "NotifyInsertStarting"},
                {"Rule": "statusCode == 500", "Next": "NotifyFailure"},
                {"Rule": "statusCode == 200 and return_value == 0", "Next": "NotifyWaiting"},
            ],
        },
        "NotifyWaiting": {"Type": "Task", "Resource": "lambda", "Next": "Wait600"},
        "Wait600": {"Type": "Wait", "Seconds": 600, "Next": "CheckYesterdayRows"},
        "NotifyInsertStarting": {"Type": "Task", "Resource": "lambda", "Next": "InsertWeek"},
        "InsertWeek": {"Type": "Task", "Resource": "lambda", "Next": "InsertChecked"},
        "InsertChecked": {
            "Type": "Choice",
            "Choices": [{"Rule": "statusCode == 500", "Next": "NotifyFailure"}],
            "Default": "NotifyDone",
        },
        "NotifyDone": {"Type": "Task", "Resource": "lambda", "End": True},
        "NotifyFailure": {"Type": "Task", "Resource": "lambda", "End": True},
    },
}
# History events per state entry when nothing fails (what the 25,000-event limit counts).
_EVENTS = {"Task": 5, "Choice": 2, "Wait": 2, "Pass": 2}


def walk_seed(rows_per_check: list[int], *, max_loops: int | None = None) -> dict[str, Any]:
    """Follow the seed's definition for a sequence of check results; count as the sandbox does
    (one transition per state entered plus one for the start; one Lambda call per Task)."""
    states = SEED_DEFINITION["States"]
    name, checks, entered, lambdas, events = SEED_DEFINITION["StartAt"], 0, 0, 0, 2
    while name:
        state = states[name]
        entered += 1
        events += _EVENTS[state["Type"]]
        lambdas += state["Type"] == "Task"
        if name == "CheckYesterdayRows":
            checks += 1
            if events >= HISTORY_EVENT_LIMIT or (max_loops is not None and checks > max_loops):
                return {
                    "transitions": entered + 1,
                    "lambdas": lambdas,
                    "checks": checks,
                    "events": events,
                    "ended": "history limit",
                }
        if state["Type"] == "Choice":
            rows = rows_per_check[min(checks, len(rows_per_check)) - 1]
            name = (
                (state["Choices"][0]["Next"] if rows > 0 else state["Choices"][2]["Next"])
                if name == "RowsChecked"
                else state["Default"]
            )
        else:
            name = state.get("Next")
    return {"transitions": entered + 1, "lambdas": lambdas, "checks": checks, "events": events, "ended": "succeeded"}


def bench_paths(sandbox: Sandbox) -> None:
    workflow = sandbox.deploy(WORKFLOW)
    runs = {
        "rows at the first check": ({"targetDate": "2031-01-08"}, {"bigquery": {"rows": "3"}}),
        "rows after 2 waits": ({"targetDate": "2031-01-15"}, {"bigquery": {"rows": "3", "appear_after_checks": "2"}}),
        f"never (gave up, local max_checks {LOCAL_MAX_CHECKS})": ({"targetDate": "2031-01-22"}, {"bigquery": {"rows": "0"}}),
    }
    measured = {}
    for label, (execution_input, standins) in runs.items():
        report = workflow.run(execution_input, standins=standins)
        measured[label] = report
    success, two_waits, gave_up = measured.values()
    per_loop_t = (two_waits.state_transitions - success.state_transitions) // 2
    per_loop_l = (two_waits.lambda_invocations - success.lambda_invocations) // 2
    prod_gave_up_t = gave_up.state_transitions + per_loop_t * (PROD_MAX_CHECKS - LOCAL_MAX_CHECKS)
    prod_gave_up_l = gave_up.lambda_invocations + per_loop_l * (PROD_MAX_CHECKS - LOCAL_MAX_CHECKS)

    seed_success, seed_two = walk_seed([3]), walk_seed([0, 0, 3])
    seed_never = walk_seed([0])
    seed_18 = walk_seed([0], max_loops=PROD_MAX_CHECKS)
    days = seed_never["checks"] * PROD_WAIT_S / 86_400

    table = Table(
        title="weekly-batch paths: transitions / Lambda invocations "
        "(this workflow measured; the seed computed from its definition)"
    )
    for column in ("path", "status", "this workflow", "seed (article 001)", "wall time here"):
        table.add_column(column)
    for label, report in measured.items():
        seed = {"rows at the first check": seed_success, "rows after 2 waits": seed_two}.get(label)
        seed_text = (
            f"{seed['transitions']} / {seed['lambdas']}"
            if seed
            else (
                f"never ends: at {LOCAL_MAX_CHECKS} checks {walk_seed([0], max_loops=LOCAL_MAX_CHECKS)['transitions']} / "
                f"{walk_seed([0], max_loops=LOCAL_MAX_CHECKS)['lambdas']} and counting"
            )
        )
        table.add_row(
            label,
            f"{report.status}{' ' + report.error if report.error else ''}",
            f"{report.state_transitions} / {report.lambda_invocations}",
            seed_text,
            f"{report.duration_s:.1f} s",
        )
    table.add_row(
        f"never, prod (max_checks {PROD_MAX_CHECKS}, {PROD_WAIT_S} s waits)",
        "FAILED DataNotReady (derived)",
        f"{prod_gave_up_t} / {prod_gave_up_l}",
        f"at {PROD_MAX_CHECKS} checks {seed_18['transitions']} / {seed_18['lambdas']}; unbounded: fails only at the "
        f"{HISTORY_EVENT_LIMIT:,}-event history limit after {seed_never['checks']:,} checks ({days:.1f} days), "
        f"{seed_never['transitions']:,} / {seed_never['lambdas']:,}",
        "-",
    )
    console.print(table)
    console.print(
        f"[dim]per wait loop: this workflow {per_loop_t} transitions (check, choice, notice, wait) and "
        f"{per_loop_l} Lambda calls, the seed 4 and 2: the counter that bounds the loop is a variable the check "
        f"assigns. This workflow spends {success.state_transitions - seed_success['transitions']} more transitions "
        f"on a run (date plan, run-once guard and outcome record; the seed's Choice on the insert's status code is "
        f"a Catch here).[/dim]"
    )


_IMPORT_PROBE = (
    "import sys, time\n"
    "sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
    "started = time.perf_counter()\n"
    "exec(sys.argv[3])\n"
    "print((time.perf_counter() - started) * 1000)\n"
)
_TOP_PACKAGES = (
    "aws_xray_sdk.core",  # Powertools Tracer: its recorder builds a botocore session at import
    "boto3",
    "google.cloud.bigquery",
    "google.auth",
    "google.api_core",
    "requests",
    "aws_lambda_powertools.utilities.parameters",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "grpc",
)


def _asset_and_env(assembly: Path, module: str) -> tuple[Path, dict[str, str]]:
    template = json.loads((assembly / "WeeklyBatch.template.json").read_text())
    assets = json.loads((assembly / "WeeklyBatch.assets.json").read_text())
    dirs = {f"{h}.zip": assembly / a["source"]["path"] for h, a in assets["files"].items()}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"]["Handler"] == f"{module}.handler":
            props = resource["Properties"]
            env = {k: v for k, v in props.get("Environment", {}).get("Variables", {}).items() if isinstance(v, str)}
            return dirs[props["Code"]["S3Key"]], env
    raise LookupError(module)


def _cumulative_ms(asset: Path, deps: Path, code: str, env: dict[str, str]) -> dict[str, float]:
    """`-X importtime` cumulative time of the heaviest packages, in ms."""
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-X", "importtime", "-c", _IMPORT_PROBE, str(asset), str(deps), code],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    costs: dict[str, float] = {}
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|(\s*)(\S+)", line)
        if match and match.group(3) in _TOP_PACKAGES and match.group(3) not in costs:
            costs[match.group(3)] = int(match.group(1)) / 1000
    return costs


def bench_imports(assembly: Path, repeats: int = 5) -> None:
    deps = ensure_runtime_deps(SANDBOX_DIR / "runtime-deps")
    goal = GOALS["bigquery_import_ms"]
    table = Table(title=f"weekly-batch cold imports (median of {repeats} fresh `python -I -S` processes)")
    for column in ("what", "median", "min", f"{goal.header} (BigQuery)", "largest parts (cumulative)"):
        table.add_column(column)
    probes: list[tuple[str, str, str]] = [
        (f"weekly_batch.handlers.{name}", f"weekly_batch.handlers.{name}", f"import weekly_batch.handlers.{name}")
        for name in ("plan", "notify", "check", "insert")
    ]
    probes += [
        (f"{module} + google.cloud.bigquery (first query)", module, f"import {module}; import google.cloud.bigquery")
        for module in ("weekly_batch.handlers.check",)
    ]
    for label, module, code in probes:
        asset, env = _asset_and_env(assembly, module)
        process_env = {"PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true", **env}
        samples = [
            float(
                subprocess.run(
                    [sys.executable, "-I", "-S", "-c", _IMPORT_PROBE, str(asset), str(deps), code],
                    env=process_env,
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            )
            for _ in range(repeats)
        ]
        median = statistics.median(samples)
        bigquery = "check" in module or "insert" in module
        verdict = goal.verdict(median) if bigquery else "-"
        parts = _cumulative_ms(asset, deps, code, process_env)
        shown = ", ".join(f"{k} {v:.0f}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1])[:4])
        table.add_row(label, f"{median:.0f} ms", f"{min(samples):.0f} ms", verdict, shown)
    console.print(table)


def bench_weekly_batch(sandbox: Sandbox) -> None:
    bench_paths(sandbox)
    bench_imports(sandbox.cloud_assembly)


if __name__ == "__main__":
    with Sandbox() as session:
        bench_weekly_batch(session)


def run(sandbox) -> None:  # noqa: ANN001 - what `make bench` calls for this workflow
    bench_weekly_batch(sandbox)
