"""Hot-swap bench: a warm `sandbox run` and `sandbox watch`'s edit-to-result, each beside its own execution.

1. warm run: `python -m sandbox run parallel-search --json` in a fresh process with the synth cached (one run
   first warms the caches), `RUNS` times; the run with the median overhead is shown with where its time went
   (`SANDBOX_TIMINGS`, sandbox/timings.py): interpreter start and exit, imports, synth check, moto start,
   deploy, the execution (of which Lambda worker starts), following it, keeping the last run, teardown;
2. watch: a copy of the project (sandbox.synth.copy_project) watched through the real file watcher while a
   handler gets a comment line appended, `EDITS` times; from each save to its result: the watcher's
   notice, rebuilding the asset, the new code into the functions (upload, UpdateFunctionCode), the execution
   (of which the new workers' start), following it, keeping it.

Both goals (sandbox/benches/goals.py) bound the time beyond the execution; the tables also give it as a
ratio to the execution's own duration, with the goal's bound as the same ratio.
"""

from __future__ import annotations

import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sandbox import timings
from sandbox.benches.goals import GOALS, Goal
from sandbox.synth import REPO_ROOT, copy_project

WORKFLOW = "parallel-search"
RUNS = 3
EDITS = 3
HANDLER = Path("lambda_src/parallel_search/parallel_search/handlers/merge.py")


def _warm_run() -> dict[str, float]:
    """One `sandbox run` in a fresh process: its wall time, execution and phases (seconds)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as phases_file:
        env = {**os.environ, "SANDBOX_TIMINGS": phases_file.name}
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "sandbox", "run", WORKFLOW, "--json"], cwd=REPO_ROOT, env=env,
                                capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        if result.returncode != 0:
            raise RuntimeError(f"sandbox run {WORKFLOW} exited {result.returncode}: {result.stderr[-2000:]}")
        phases = json.loads(Path(phases_file.name).read_text())
    execution = json.loads(result.stdout)["duration_s"]
    return {**phases, "wall": wall, "execution": execution}


def _warm_run_rows(run: dict[str, float]) -> list[tuple[str, float]]:
    overhead = run["wall"] - run["execution"]
    counted = ["imports", "synth check", "moto start", "deploy", "run", "keep last run", "teardown"]
    rows = [
        ("interpreter start and exit", run["wall"] - run["in_process"]),
        ("imports (CLI, boto3, moto and its Step Functions engine)", run.get("imports", 0.0)),
        ("synth check (hash the inputs; nothing to rebuild)", run.get("synth check", 0.0)),
        ("moto start (server, engine extensions, Lambda runtime)", run.get("moto start", 0.0)),
        ("deploy (asset upload, CreateStack, state machine, stand-ins, secrets)", run.get("deploy", 0.0)),
        ("following the execution (start, history, report)", run.get("run", 0.0) - run["execution"]),
        ("keeping the last run (path, usage)", run.get("keep last run", 0.0)),
        ("teardown (workers, stand-ins, moto)", run.get("teardown", 0.0)),
        ("other", run["in_process"] - sum(run.get(name, 0.0) for name in counted)),
    ]
    return rows + [("= beyond the execution", overhead)]


def _ratio_cells(goal: Goal, beyond: float, execution: float) -> list[str]:
    total = beyond + execution
    return [f"{total:.2f} s", f"{execution:.2f} s", f"{beyond:.2f} s", f"{total / execution:.2f}x",
            f"<= {(goal.limit + execution) / execution:.2f}x", goal.verdict(beyond)]


def bench_warm_run(console: Console) -> None:
    goal = GOALS["warm_run_overhead_s"]
    _warm_run()  # caches warm: synth, asset zips, extracted function code, the OS's file cache
    runs = sorted((_warm_run() for _ in range(RUNS)), key=lambda run: run["wall"] - run["execution"])
    median = runs[len(runs) // 2]
    table = Table(title=f"warm `sandbox run {WORKFLOW} --json`, fresh process each ({RUNS} runs; the median shown)")
    for column in ("wall", "execution", "beyond it", "wall / execution", "goal, as that ratio", goal.header):
        table.add_column(column)
    table.add_row(*_ratio_cells(goal, median["wall"] - median["execution"], median["execution"]))
    console.print(table)
    each = ", ".join(f"{run['wall'] - run['execution']:.2f} s" for run in runs)
    console.print(f"[dim]all runs beyond the execution: {each}; "
                  f"Lambda worker starts are inside the execution ({median.get('worker start', 0.0):.2f} s of it here).[/dim]")
    breakdown = Table(title="where the median warm run's time beyond the execution goes")
    for column in ("phase", "seconds", "share"):
        breakdown.add_column(column)
    beyond = median["wall"] - median["execution"]
    for label, seconds in _warm_run_rows(median):
        breakdown.add_row(label, f"{seconds:.2f}", f"{seconds / beyond:.0%}" if beyond > 0 else "-")
    console.print(breakdown)


def bench_watch(console: Console, edits: int = EDITS) -> None:
    from sandbox.watch import Watch, file_changes

    goal = GOALS["watch_edit_to_result_s"]
    measured: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="hot-swap-bench-") as scratch:
        project = copy_project(Path(scratch) / "project")
        handler = project / HANDLER
        original = handler.read_text()
        stop = threading.Event()
        results: queue.Queue[Any] = queue.Queue()
        with Watch(WORKFLOW, root=project) as watching:
            watching.run()  # the first run: the deploy's workers are warm, as after `sandbox watch` starts
            runtime = watching.sandbox.emulator.lambda_runtime
            failures: list[BaseException] = []

            def edit_and_wait() -> None:
                try:
                    time.sleep(2.0)  # the watcher starts on its first read, in the main thread
                    for index in range(edits):
                        before, workers_before = dict(timings.PHASES), runtime.worker_start_s
                        saved = time.perf_counter()
                        handler.write_text(f"{original}\n# bench edit {index}\n")
                        round_, finished = results.get(timeout=600)
                        spent = {name: timings.PHASES.get(name, 0.0) - before.get(name, 0.0) for name in timings.PHASES}
                        measured.append({
                            "total": finished - saved, "execution": round_.report.duration_s,
                            "rebuild": round_.swap.synth.seconds, "swap": round_.swap_seconds,
                            "run": spent.get("run", 0.0), "keep": spent.get("keep last run", 0.0),
                            "workers": runtime.worker_start_s - workers_before,
                            "functions": len(round_.swap.updated_functions),
                        })
                except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                    failures.append(exc)
                finally:
                    stop.set()

            editor = threading.Thread(target=edit_and_wait, name="bench-editor", daemon=True)
            editor.start()
            watching.loop(file_changes(project, stop_event=stop),
                          lambda round_: results.put((round_, time.perf_counter())) if round_.report else None,
                          rounds=edits)
            editor.join(60)
            if failures:
                raise failures[0]
    median = sorted(measured, key=lambda m: m["total"] - m["execution"])[len(measured) // 2]
    table = Table(title=f"`sandbox watch {WORKFLOW}`: a handler saved, to its result ({edits} saves; the median shown)")
    for column in ("save to result", "execution", "beyond it", "(save to result) / execution", "goal, as that ratio",
                   goal.header):
        table.add_column(column)
    table.add_row(*_ratio_cells(goal, median["total"] - median["execution"], median["execution"]))
    console.print(table)
    beyond = median["total"] - median["execution"]
    rows = [
        ("the watcher's notice (batch closed 50 ms after the save)", median["total"] - median["swap"] - median["run"] - median["keep"]),
        ("rebuilding the asset alone (no synth)", median["rebuild"]),
        (f"new code into {median['functions']:.0f} functions (zip upload, UpdateFunctionCode)", median["swap"] - median["rebuild"]),
        ("following the execution (start, history, report)", median["run"] - median["execution"]),
        ("keeping the last run (path, usage)", median["keep"]),
    ]
    breakdown = Table(title="where the median save-to-result time beyond the execution goes")
    for column in ("phase", "seconds", "share"):
        breakdown.add_column(column)
    for label, seconds in [*rows, ("= beyond the execution", beyond)]:
        breakdown.add_row(label, f"{seconds:.2f}", f"{seconds / beyond:.0%}" if beyond > 0 else "-")
    console.print(breakdown)
    each = ", ".join(f"{m['total'] - m['execution']:.2f} s" for m in measured)
    console.print(f"[dim]all saves beyond the execution: {each}; the new code's workers start "
                  f"inside the execution (a cold start, as after an update in AWS: {median['workers']:.2f} s of it here).[/dim]")


def bench_hot_swap(console: Console | None = None) -> None:
    console = console or Console(width=150)
    bench_warm_run(console)
    bench_watch(console)


if __name__ == "__main__":
    bench_hot_swap()
