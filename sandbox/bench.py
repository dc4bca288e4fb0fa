"""`make bench`: figures measured in one run, printed (never asserted by a timed test).

1. synth time of the whole app (stage prod) and of an empty `cdk.App()`, each in a
   fresh process (both pay the jsii start-up), best of N; their ratio (goal <= 2.0);
   then each stack's marginal cost in one fresh process (sandbox/benches/synth_cost.py):
   first vs later synths, construct build vs synth, and what the rest is made of;
2. parallel-search at API result sizes 1 KB, 300 KB, 5 MB, 10 MB: largest state
   payload (must stay under 262,144 bytes), S3 requests, state transitions, wall time;
3. distributed-copy over 1,000 and 5,000 objects locally, and computed for 1,000,000 objects in
   the prod configuration beside the seed's design (sandbox/benches/distributed_copy.py);
4. bucket-usage at 3, 10, 50 buckets beside the seed's design, and its largest state payload beside its
   previous design's, also at 5,000 buckets (sandbox/benches/bucket_usage.py);
5. cold import time of every handler module, each in a fresh isolated interpreter
   with the deployed asset and the Lambda runtime's boto3 on sys.path, as the
   sandbox's workers run them (goal <= 150 ms), median of N.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sandbox.benches.distributed_copy import bench_distributed_copy
from sandbox.benches.single_flight import bench_single_flight
from sandbox.benches.bucket_usage import bench_bucket_usage
from sandbox.benches.synth_cost import bench_synth_cost
from sandbox.benches.weekly_batch import bench_weekly_batch
from sandbox.lambda_runtime import ensure_runtime_deps
from sandbox.session import Sandbox
from sandbox.synth import REPO_ROOT, SANDBOX_DIR

STATE_PAYLOAD_LIMIT = 262_144
SYNTH_RATIO_GOAL = 2.0
IMPORT_GOAL_MS = 150.0
RESULT_SIZES = {"1 KB": 1_000, "300 KB": 300_000, "5 MB": 5_000_000, "10 MB": 10_000_000}
console = Console(width=150)

_EMPTY_APP = "import aws_cdk as cdk, sys\ncdk.App(outdir=sys.argv[1]).synth()\n"
_WHOLE_APP = (
    "import aws_cdk as cdk, sys, app\n"
    "app.build_app(cdk.App(context=app.cdk_context(stage='prod'), outdir=sys.argv[1])).synth()\n"
)
_IMPORT_PROBE = (
    "import sys, time\n"
    "sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
    "started = time.perf_counter()\n"
    "exec(sys.argv[3])\n"
    "print((time.perf_counter() - started) * 1000)\n"
)
# Shown beside the handlers to explain their figure: what Powertools' Tracer alone costs.
_REFERENCE_IMPORTS = {
    "(reference) Powertools Tracer() = X-Ray SDK": "from aws_lambda_powertools import Tracer; Tracer()",
    "(reference) boto3": "import boto3",
}


def _timed_synth(program: str, **env_overrides: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one synth in a fresh process; CPU counts the process and its node runtime
    (reaped children), so it holds better than wall time on a busy machine."""
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", **env_overrides}
    with tempfile.TemporaryDirectory() as outdir:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", program, outdir], cwd=REPO_ROOT, env=env, check=True, capture_output=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_synth(repeats: int = 3) -> None:
    _timed_synth(_WHOLE_APP)  # warm the dependency cache: the figure is synth, not pip
    runs = {
        "": ([_timed_synth(_EMPTY_APP) for _ in range(repeats)], [_timed_synth(_WHOLE_APP) for _ in range(repeats)]),
        # what CDK's built-in CloudFormation validation costs (cfn-lint and cdk-nag check the templates too)
        ", CDK_VALIDATION=false": ([_timed_synth(_EMPTY_APP, CDK_VALIDATION="false") for _ in range(repeats)],
                                   [_timed_synth(_WHOLE_APP, CDK_VALIDATION="false") for _ in range(repeats)]),
    }
    table = Table(title=f"synth (best of {repeats}, fresh process each)")
    for column in ("measure", "empty cdk.App()", "whole app (prod)", "ratio", f"goal <= {SYNTH_RATIO_GOAL}"):
        table.add_column(column)
    for variant, (empty, whole) in runs.items():
        for index, measure in enumerate(("wall", "CPU")):
            best_empty, best_whole = min(run[index] for run in empty), min(run[index] for run in whole)
            ratio = best_whole / best_empty
            table.add_row(measure + variant, f"{best_empty:.2f} s", f"{best_whole:.2f} s", f"{ratio:.2f}",
                          "met" if ratio <= SYNTH_RATIO_GOAL else "MISSED")
    console.print(table)


def bench_parallel_search(sandbox: Sandbox) -> None:
    workflow = sandbox.deploy("parallel-search")
    table = Table(title="parallel-search by API result size (each API answers that much)")
    for column in ("result size", "status", "max state payload", "< 262,144", "S3 requests", "transitions", "Lambda", "wall time"):
        table.add_column(column)
    for label, size in RESULT_SIZES.items():
        started = time.perf_counter()
        report = workflow.run({"keywords": "wireless earbuds"}, standins={"*": {"result_bytes": str(size)}})
        wall = time.perf_counter() - started
        table.add_row(
            label, report.status, f"{report.max_state_payload_bytes:,} B",
            "yes" if report.max_state_payload_bytes < STATE_PAYLOAD_LIMIT else "NO",
            str(report.aws_requests.get("s3", 0)), str(report.state_transitions), str(report.lambda_invocations), f"{wall:.2f} s",
        )
    console.print(table)


def _handler_modules(assembly: Path) -> list[tuple[str, Path, dict[str, str]]]:
    """(module, asset dir, environment) of every handler module in the local cloud assembly, once each."""
    found: dict[tuple[str, Path], dict[str, str]] = {}
    for template_path in sorted(assembly.glob("*.template.json")):
        template = json.loads(template_path.read_text())
        assets = json.loads(template_path.with_name(template_path.name.replace(".template.json", ".assets.json")).read_text())
        asset_dirs = {f"{h}.zip": assembly / a["source"]["path"] for h, a in assets["files"].items()}
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            props = resource["Properties"]
            module = props["Handler"].rsplit(".", 1)[0]
            # CloudFormation references (table names, ARNs) get a stand-in value: imports may read them
            env = {k: v if isinstance(v, str) else f"bench-{k.lower()}" for k, v in props.get("Environment", {}).get("Variables", {}).items()}
            found.setdefault((module, asset_dirs[props["Code"]["S3Key"]]), env)
    return [(module, asset_dir, env) for (module, asset_dir), env in found.items()]


def bench_imports(assembly: Path, repeats: int = 5) -> None:
    runtime_deps = ensure_runtime_deps(SANDBOX_DIR / "runtime-deps")
    table = Table(title=f"cold import of handler modules (median of {repeats} fresh `python -I -S` processes)")
    for column in ("module", "median", "min", "max", f"goal <= {IMPORT_GOAL_MS:.0f} ms"):
        table.add_column(column)
    handlers = _handler_modules(assembly)
    probes = [(module, f"import {module}", asset_dir, env) for module, asset_dir, env in handlers]
    probes += [(label, code, handlers[0][1], handlers[0][2]) for label, code in _REFERENCE_IMPORTS.items()]
    for label, code, asset_dir, env in probes:
        # as the Lambda runtime sets them (a handler may make its clients at import)
        process_env = {"PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                       "POWERTOOLS_TRACE_DISABLED": "true", **env}
        samples = [
            float(subprocess.run([sys.executable, "-I", "-S", "-c", _IMPORT_PROBE, str(asset_dir), str(runtime_deps), code],
                                 env=process_env, check=True, capture_output=True, text=True).stdout)
            for _ in range(repeats)
        ]
        median = statistics.median(samples)
        verdict = "-" if label.startswith("(reference)") else "met" if median <= IMPORT_GOAL_MS else "MISSED"
        table.add_row(label, f"{median:.1f} ms", f"{min(samples):.1f} ms", f"{max(samples):.1f} ms", verdict)
    console.print(table)


def main() -> None:
    console.print(f"[dim]{sys.version.split()[0]} on {os.uname().machine}, {os.cpu_count()} cores[/dim]")
    bench_synth()
    bench_synth_cost()
    with Sandbox() as sandbox:
        bench_parallel_search(sandbox)
        bench_single_flight(sandbox, console=console)
        bench_weekly_batch(sandbox)
        bench_distributed_copy(sandbox)
        bench_bucket_usage(sandbox)
        bench_imports(sandbox.cloud_assembly)


if __name__ == "__main__":
    main()
