"""`make bench`: figures measured in one run, printed (never asserted by a timed test).

1. synth time of the whole app (stage prod) and of an empty `cdk.App()`, each in a
   fresh process (both pay the jsii start-up), best of N; their ratio;
   then each stack's marginal cost in one fresh process (sandbox/benches/synth_cost.py):
   first vs later synths, construct build vs synth, and what the rest is made of;
2. each workflow's own bench, found by discovery: `run(sandbox)` of sandbox/benches/<package>.py
   (payload sizes, requests, transitions, invocations, cost beside the seed's design);
5. cold import time of every handler module, each in a fresh isolated interpreter
   with the deployed asset and the Lambda runtime's boto3 on sys.path, as the
   sandbox's workers run them, median of N, and what it adds over a process that
   imports boto3 and creates Powertools' Tracer() (what every handler pays anyway);
6. a warm `sandbox run` and `sandbox watch`'s save-to-result, each beside its execution's own duration,
   and where the rest of the time goes (sandbox/benches/hot_swap.py);
7. each workflow's diagram page (`sandbox graph --html`) in headless Chromium.

On a terminal, a spinner on stderr names the section being measured; the figures go to stdout.

Every goal comes from sandbox/benches/goals.py.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any, ContextManager

from rich.console import Console
from rich.table import Table

from sandbox.benches.goals import GOALS
from sandbox.benches.graph_pages import bench_graph_pages
from sandbox.benches.hot_swap import bench_hot_swap
from sandbox.benches.synth_cost import bench_synth_cost
from sandbox.lambda_runtime import ensure_runtime_deps
from sandbox.session import Sandbox
from sandbox.synth import REPO_ROOT, SANDBOX_DIR
from stacks.common.registry import discover_workflows

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
# What every handler pays before its own code: the goal is measured over this baseline.
_BASELINE_IMPORT = ("(baseline) boto3 + Powertools Tracer()", "import boto3\nfrom aws_lambda_powertools import Tracer\nTracer()")
# Shown beside it to explain it.
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
    goal = GOALS["synth_ratio"]
    table = Table(title=f"synth (best of {repeats}, fresh process each)")
    for column in ("measure", "empty cdk.App()", "whole app (prod)", "ratio", goal.header):
        table.add_column(column)
    for variant, (empty, whole) in runs.items():
        for index, measure in enumerate(("wall", "CPU")):
            best_empty, best_whole = min(run[index] for run in empty), min(run[index] for run in whole)
            ratio = best_whole / best_empty
            table.add_row(measure + variant, f"{best_empty:.2f} s", f"{best_whole:.2f} s", f"{ratio:.2f}",
                          goal.verdict(ratio))
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


def _import_ms(code: str, asset_dir: Path, runtime_deps: Path, env: dict[str, str], repeats: int) -> list[float]:
    # as the Lambda runtime sets them (a handler may make its clients at import)
    process_env = {"PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                   "POWERTOOLS_TRACE_DISABLED": "true", **env}
    return [
        float(subprocess.run([sys.executable, "-I", "-S", "-c", _IMPORT_PROBE, str(asset_dir), str(runtime_deps), code],
                             env=process_env, check=True, capture_output=True, text=True).stdout)
        for _ in range(repeats)
    ]


def bench_imports(assembly: Path, repeats: int = 5) -> None:
    runtime_deps = ensure_runtime_deps(SANDBOX_DIR / "runtime-deps")
    goal = GOALS["handler_import_overhead_ms"]
    table = Table(title=f"cold import of handler modules (median of {repeats} fresh `python -I -S` processes)")
    for column in ("module", "median", "min", "max", "over the baseline", goal.header):
        table.add_column(column)
    handlers = _handler_modules(assembly)
    asset_dir, env = handlers[0][1], handlers[0][2]
    label, code = _BASELINE_IMPORT
    baseline = _import_ms(code, asset_dir, runtime_deps, env, repeats)
    rows = [(label, baseline, "-", "-")]
    for reference, code in _REFERENCE_IMPORTS.items():
        rows.append((reference, _import_ms(code, asset_dir, runtime_deps, env, repeats), "-", "-"))
    baseline_ms = statistics.median(baseline)
    for module, asset_dir, env in handlers:
        samples = _import_ms(f"import {module}", asset_dir, runtime_deps, env, repeats)
        overhead = statistics.median(samples) - baseline_ms
        rows.append((module, samples, f"{overhead:+.1f} ms", goal.verdict(overhead)))
    for label, samples, overhead, verdict in rows:
        table.add_row(label, f"{statistics.median(samples):.1f} ms", f"{min(samples):.1f} ms", f"{max(samples):.1f} ms",
                      overhead, verdict)
    console.print(table)
    console.print(f"[dim]goal: {goal.text}, at most {goal.limit:g} ms (medians).[/dim]")


_progress = Console(stderr=True)


def section(title: str) -> ContextManager[Any]:
    """A spinner naming the section being measured, on stderr, only when stdout and stderr are both a terminal
    (the spinner passes what is printed meanwhile through its own stream; piped, the tables stay on stdout alone)."""
    return _progress.status(f"bench: {title}") if _progress.is_terminal and console.is_terminal else nullcontext()


def main() -> None:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    console.print(f"[dim]{sys.version.split()[0]} on {os.uname().machine}, {os.cpu_count()} cores, "
                  f"load average {load} (1, 5, 15 min) at the start: wall times stretch with it[/dim]")
    with section("synth of the whole app vs an empty app"):
        bench_synth()
    with section("each stack's marginal synth cost"):
        bench_synth_cost()
    with ExitStack() as session:
        with section("the local stage's assembly and the sandbox"):
            sandbox = session.enter_context(Sandbox())
        for workflow in discover_workflows():  # each workflow's own bench: sandbox/benches/<package>.py, run(sandbox)
            if importlib.util.find_spec(workflow.bench_module) is not None:
                with section(workflow.name):
                    importlib.import_module(workflow.bench_module).run(sandbox)
        with section("cold import of the handler modules"):
            bench_imports(sandbox.cloud_assembly)
    with section("warm sandbox run and sandbox watch"):
        bench_hot_swap(console)
    with section("diagram pages in headless Chromium"):
        bench_graph_pages(console=console)


if __name__ == "__main__":
    main()
