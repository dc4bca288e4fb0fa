"""`python -m sandbox list|run|watch|fire|demo|graph|cost`: run the workflows offline, draw and price them.

The live timeline, progress (on a terminal) and errors go to stderr; the result (a summary, or with
`--json` the JSON alone) to stdout, so `| less` and `| jq` work. Every error outside the execution itself is one line on stderr and its own exit code (see
`ExitCode`); exit 1 means only "the execution did not succeed". `SANDBOX_DEBUG=1` adds the
traceback of an internal error.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
import traceback
from contextlib import contextmanager, nullcontext
from datetime import datetime
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ContextManager, Iterator, NoReturn, Optional

import typer
from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table

from sandbox import timings
from sandbox.emulator import DeployError
from sandbox.engine_limits import UnsupportedByLocalEngine
from sandbox.execution import ExecutionInputTooLarge, ExecutionTimeout, TimelineEvent, check_input_size
from sandbox.scheduler import ScheduleError
from sandbox.session import DeployedWorkflow, FireReport, RunReport, Sandbox
from sandbox.synth import SynthError
from sandbox.workflows import ScenarioError, all_workflows, get_workflow

if TYPE_CHECKING:  # imported by the commands that use them, so the CLI starts without them
    from sandbox.cost_report import CostReport
    from sandbox.graph.run_path import RunPath
    from sandbox.watch import Round

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Run the Step Functions workflows offline, in an embedded AWS emulator.")
# The live timeline, progress and errors on stderr; the summary (or, with --json, the JSON alone) on stdout,
# so `| less` pages the result and `| jq` reads it. Logs (not a terminal) get a wide fixed width.
_WIDTH = None if sys.stdout.isatty() else 160
console = Console(stderr=True, highlight=False, width=_WIDTH)
out = Console(width=_WIDTH)


class ExitCode(IntEnum):
    SUCCEEDED = 0
    EXECUTION_FAILED = 1  # the execution ended FAILED, TIMED_OUT or ABORTED
    USAGE = 2  # bad arguments, input or stand-in settings
    ENGINE_LIMIT = 3  # the local engine cannot run the definition (the message names state and feature)
    SYNTH_OR_DEPLOY = 4
    RUNNER_TIMEOUT = 5  # the sandbox stopped waiting for the execution (and stopped it)
    ENVIRONMENT = 6  # the sandbox could not start: an OS resource (port, file, process) failed
    INTERNAL = 10  # a bug in the sandbox
    INTERRUPTED = 130  # SIGINT (Ctrl-C): 128 + 2, as a shell reports it
    TERMINATED = 143  # SIGTERM: 128 + 15


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so cleanup (context managers) runs as for Ctrl-C."""


_SIGNALS_RECEIVED: list[int] = []


def _raise_terminated(signum: int, frame: Any) -> None:  # noqa: ARG001
    _SIGNALS_RECEIVED.append(signum)
    raise _Terminated()


class _Exit(Exception):
    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def _fail(code: ExitCode, message: str) -> NoReturn:
    raise _Exit(code, message)


def _raised_by(*names: str) -> tuple[type[BaseException], ...]:
    """Exception classes `module.Class` of the modules this command imported (a module it never imported
    raised nothing), so the CLI does not import every command's modules to start."""
    found = []
    for name in names:
        module, _, class_name = name.rpartition(".")
        if module in sys.modules:
            found.append(getattr(sys.modules[module], class_name))
    return tuple(found)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Map every error outside the execution to one line and its exit code."""
    try:
        yield
    except _Exit as exc:
        _print_error(exc.code, str(exc))
    except UnsupportedByLocalEngine as exc:
        _print_error(ExitCode.ENGINE_LIMIT, f"the local engine cannot run this workflow: {exc.summary()}")
    except (DeployError, SynthError, *_raised_by("sandbox.fork.SnapshotError", "stacks.common.bundling.BundlingError")) as exc:
        _print_error(ExitCode.SYNTH_OR_DEPLOY, f"{type(exc).__name__}: {_first_line(str(exc))}")
    except (ScenarioError, ScheduleError, ExecutionInputTooLarge,
            *_raised_by("sandbox.fork.ForkError", "sandbox.graph.page.DiagramBlockMissing",
                        "sandbox.cost_report.CostModelError")) as exc:
        _print_error(ExitCode.USAGE, str(exc))
    except ExecutionTimeout as exc:
        _print_error(ExitCode.RUNNER_TIMEOUT, str(exc))
    except _raised_by("sandbox.engine.EngineVersionError", "sandbox.graph.page.MermaidNotInstalled") as exc:
        _print_error(ExitCode.ENVIRONMENT, str(exc))
    except OSError as exc:
        _print_error(ExitCode.ENVIRONMENT, f"the sandbox could not start: {exc}")
    except KeyboardInterrupt:
        _print_error(ExitCode.INTERRUPTED, "interrupted (SIGINT); the emulator and stand-ins were stopped")
    except _Terminated:
        _print_error(ExitCode.TERMINATED, "terminated (SIGTERM); the emulator and stand-ins were stopped")
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        if os.environ.get("SANDBOX_DEBUG"):
            traceback.print_exc()
        _print_error(ExitCode.INTERNAL, f"internal error in the sandbox: {type(exc).__name__}: {_first_line(str(exc))} "
                                        f"(SANDBOX_DEBUG=1 shows the traceback)")


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if len(lines) <= 1 else f"{lines[0]} ... {lines[-1].strip()}"


def _print_error(code: ExitCode, message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {escape(' '.join(message.split()))}", soft_wrap=True)
    raise typer.Exit(int(code))


def _check_range(option: str, value: float, *, minimum: float, maximum: float | None = None) -> None:
    if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
        bounds = f"at least {minimum:g}" if maximum is None else f"from {minimum:g} to {maximum:,g}"
        _fail(ExitCode.USAGE, f"{option} must be {bounds}, got {value:g}")


def _parse_input(raw: Optional[str]) -> Optional[dict[str, Any]]:
    if raw is None:
        return None
    if raw.startswith("@"):
        path = Path(raw[1:])
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            _fail(ExitCode.USAGE, f"--input {raw}: the file is not UTF-8 text ({exc.reason} at byte {exc.start})")
        except OSError as exc:
            _fail(ExitCode.USAGE, f"--input {raw}: cannot read the file: {exc.strerror or exc}")
    else:
        text = raw
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(ExitCode.USAGE, f"--input is not JSON: {exc}")
    except RecursionError:
        _fail(ExitCode.USAGE, "--input is nested too deeply to read as JSON")
    if not isinstance(value, dict):
        _fail(ExitCode.USAGE, "--input must be a JSON object")
    return value


def _parse_standins(options: list[str]) -> dict[str, dict[str, str]]:
    parsed: dict[str, dict[str, str]] = {}
    for option in options:
        target, equals, value = option.partition("=")
        name, _, setting = target.rpartition(".")
        if not equals or not setting:
            _fail(ExitCode.USAGE, f"--standin {option!r}: expected [NAME.]SETTING=VALUE")
        parsed.setdefault(name or "*", {})[setting] = value
    return parsed


def _check_workflow(workflow: str, standin: list[str]) -> dict[str, dict[str, str]]:
    """Everything that can be checked before synth and deploy: the workflow name and stand-in settings."""
    get_workflow(workflow)  # raises ScenarioError naming the known ones
    options = _parse_standins(standin)
    get_workflow(workflow).validate_standins(options)  # raises ScenarioError
    return options


def _print_event(event: TimelineEvent) -> None:
    size = f"  {event.payload_bytes:,} B" if event.payload_bytes is not None else ""
    state = f" [bold]{escape(event.state)}[/bold]" if event.state else ""
    style = "red" if "Failed" in event.type or "TimedOut" in event.type else "dim" if event.type == "EngineNote" else ""
    line = f"{event.timestamp:%H:%M:%S.%f}"[:-3] + f"  {event.type}{state}  {escape(event.detail)}{size}"
    console.print(f"[{style}]{line}[/{style}]" if style else line)


def _print_synth(sandbox: Sandbox) -> None:
    console.print(f"[dim]synth: {escape(sandbox.synth.describe())}[/dim]")


def _progress(message: str) -> ContextManager[Any]:
    """A spinner on stderr while a long step runs; nothing when stderr is not a terminal (logs stay clean)."""
    return console.status(escape(message)) if console.is_terminal else nullcontext()


@contextmanager
def _run_progress(deployed: DeployedWorkflow) -> Iterator[None]:
    """While an execution runs: a status line on stderr with the time so far and, where the scenario can
    tell (`progress()`), how far it got (objects moved, buckets scanned). Only on a terminal."""
    if not console.is_terminal:
        yield
        return
    progress_of = getattr(deployed.scenario, "progress", None)
    started = time.monotonic()
    done = threading.Event()
    with console.status(f"running {deployed.spec.name}") as status:
        def refresh() -> None:
            while not done.wait(0.5):
                told = progress_of() if progress_of else None
                status.update(escape(f"running {deployed.spec.name}: {time.monotonic() - started:.0f} s"
                                     + (f", {told}" if told else "")))

        thread = threading.Thread(target=refresh, name="run-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()


def _summary(report: RunReport) -> Table:
    table = Table(title=f"{report.workflow}: {report.status}", show_header=False)
    rows = [
        ("duration", f"{report.duration_s:.2f} s ({report.state_machine_type})"),
        ("state transitions", str(report.state_transitions)),
        ("Lambda invocations", str(report.lambda_invocations)),
        ("largest state payload", f"{report.max_state_payload_bytes:,} bytes"),
        ("AWS requests", ", ".join(f"{k}={v}" for k, v in report.aws_requests.items()) or "none"),
        ("outside world", json.dumps(report.outside_world, ensure_ascii=False)),
        ("estimated cost", f"${report.estimated_cost_usd['total']:.6f}"),
        ("not emulated", ", ".join(report.not_emulated) or "nothing"),
    ]
    if report.error:
        rows.append(("error", f"{report.error}: {report.cause}"))
    for key, value in rows:
        table.add_row(key, escape(value))
    return table


def _fire_summary(report: FireReport) -> Group:
    table = Table("scheduled time", "status", "output", "transitions", "duration", title=f"{report.workflow}: {report.schedule}")
    for fire in report.fires:
        execution = fire.execution
        shown = json.dumps(execution.output, ensure_ascii=False) if execution.status == "SUCCEEDED" else f"{execution.error}"
        table.add_row(fire.scheduled_time, execution.status, escape(shown[:80]), str(execution.state_transitions),
                      f"{execution.duration_s:.2f} s")
    table.caption = escape(f"Lambda invocations {report.lambda_invocations}; est. ${report.estimated_cost_usd['total']:.6f}")
    world = Table("outside world", "", title="after the last invocation and the work it handed on")
    world.add_row("Lambda invocations (all functions)", str(report.lambda_invocations))
    for key, value in report.outside_world.items():
        world.add_row(escape(key.replace("_", " ")), escape(json.dumps(value, ensure_ascii=False)))
    return Group(table, world)


@app.command("list")
def list_workflows() -> None:
    """List the workflows and their stacks."""
    table = Table("workflow", "stack", "what it does")
    for spec in all_workflows().values():
        table.add_row(spec.name, spec.stack_id, spec.summary)
    out.print(table)


@app.command()
def run(
    workflow: str = typer.Argument(..., help="Workflow name (see `list`)."),
    input: Optional[str] = typer.Option(None, "--input", help="Execution input: JSON, or @file.json. Default: the workflow's sample."),
    standin: list[str] = typer.Option([], "--standin", help="Stand-in behaviour [NAME.]SETTING=VALUE, e.g. shop-a.fail_times=2 or result_bytes=300000."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with the result (on stdout; the summary then goes to stderr)."),
    timeout: float = typer.Option(600.0, "--timeout", help="Stop the execution and exit 5 after this many seconds."),
    watch_files: bool = typer.Option(False, "--watch", help="Stay up and run again after each change to the project (as `watch`)."),
) -> None:
    """Deploy one workflow into the emulator, run one execution, print its timeline and summary."""
    if watch_files:
        watch(workflow, input, standin, as_json, timeout)
        return
    with _one_line_errors():
        options, execution_input = _run_arguments(workflow, standin, input, timeout)
        with Sandbox(progress=_progress) as sandbox:
            _print_synth(sandbox)
            report, _ = _run_and_keep(sandbox, workflow, execution_input, options, timeout)
        _print_result(report, as_json)
    raise typer.Exit(int(ExitCode.SUCCEEDED if report.status == "SUCCEEDED" else ExitCode.EXECUTION_FAILED))


def _run_arguments(workflow: str, standin: list[str], input: Optional[str],
                   timeout: float) -> tuple[dict[str, dict[str, str]], Optional[dict[str, Any]]]:
    """`run`'s and `watch`'s arguments checked before any synth and deploy: (stand-in options, input or None)."""
    _check_range("--timeout", timeout, minimum=0.1)
    options = _check_workflow(workflow, standin)
    execution_input = _parse_input(input)
    if execution_input is not None:
        check_input_size(execution_input)
    return options, execution_input


def _print_result(report: RunReport, as_json: bool) -> None:
    """The summary on stdout; with --json, the JSON alone on stdout (one line) and the summary on stderr."""
    (console if as_json else out).print(_summary(report))
    if as_json:
        sys.stdout.write(report.to_json() + "\n")
        sys.stdout.flush()


def _run_and_keep(sandbox: Sandbox, workflow: str, execution_input: Optional[dict[str, Any]],
                  options: dict[str, dict[str, str]], timeout: float = 600.0) -> tuple[RunReport, Any]:
    """One run, kept as the workflow's last run (its path and work) for `graph --last` and `cost --last`."""
    from sandbox.last_run import run_and_keep

    deployed = sandbox.deploy(workflow)
    with _run_progress(deployed):
        return run_and_keep(deployed, execution_input, standins=options, on_event=_print_event, timeout_s=timeout)


@app.command()
def watch(
    workflow: str = typer.Argument(..., help="Workflow name (see `list`)."),
    input: Optional[str] = typer.Option(None, "--input", help="Execution input: JSON, or @file.json. Default: the workflow's sample."),
    standin: list[str] = typer.Option([], "--standin", help="Stand-in behaviour [NAME.]SETTING=VALUE."),
    as_json: bool = typer.Option(False, "--json", help="After each run, one JSON object on stdout (one per line: JSON Lines)."),
    timeout: float = typer.Option(600.0, "--timeout", help="Per execution: stop it and exit 5 after this many seconds."),
) -> None:
    """Run the workflow, then stay up: after each change under lambda_src/ the changed asset is rebuilt alone and
    the deployed functions get the new code (UpdateFunctionCode, as `cdk deploy --hotswap`), then it runs again;
    a change to the infrastructure (stacks/, app.py, cdk.json, requirements.txt) synthesizes and deploys again.
    Ctrl-C stops it."""
    from sandbox.watch import Watch, file_changes

    with _one_line_errors():
        options, execution_input = _run_arguments(workflow, standin, input, timeout)
        with Watch(workflow, execution_input=execution_input, standins=options, timeout_s=timeout,
                   on_event=_print_event, progress=_progress) as watching:
            _print_synth(watching.sandbox)
            with _run_progress(watching.sandbox.deploy(workflow)):
                _print_result(watching.run(), as_json)
            console.print(f"[bold]watching[/bold] {escape(', '.join(_shown(p) for p in _watched()))} "
                          f"for changes (Ctrl-C stops)")
            watching.loop(file_changes(), lambda round_: _print_round(round_, as_json))
            # the watcher ends only when a signal interrupts it (it swallows which): say which one it was
            raise _Terminated() if signal.SIGTERM in _SIGNALS_RECEIVED else KeyboardInterrupt()


def _watched() -> list[Path]:
    from sandbox.watch import watched_paths

    return watched_paths()


def _shown(path: Path) -> str:
    from sandbox.synth import REPO_ROOT

    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _print_round(result: "Round", as_json: bool) -> None:
    changed = ", ".join(_shown(path) for path in result.changed[:3]) + (" ..." if len(result.changed) > 3 else "")
    console.rule(escape(f"changed: {changed}"))
    console.print(f"[dim]{escape(result.swap.describe())} ({result.swap_seconds:.2f} s)[/dim]")
    if result.report is None:
        return
    _print_result(result.report, as_json)
    console.print(f"[bold]result {result.seconds:.2f} s after the save[/bold] "
                  f"(execution {result.report.duration_s:.2f} s); watching for changes")


@app.command()
def fire(
    workflow: str = typer.Argument(..., help="Workflow with an EventBridge Scheduler schedule."),
    at: Optional[str] = typer.Option(None, "--at", help="Scheduled time, ISO 8601 (default: the schedule's next time). Without a zone: the schedule's."),
    times: int = typer.Option(1, "--times", help="How many invocations, 1 to 10,000 (same scheduled time unless --every)."),
    every: Optional[float] = typer.Option(None, "--every", help="Seconds (>= 0) between invocations; each then gets the schedule's next scheduled time."),
    standin: list[str] = typer.Option([], "--standin", help="Stand-in behaviour [NAME.]SETTING=VALUE."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with every invocation at the end."),
    timeout: float = typer.Option(600.0, "--timeout", help="Per execution: stop it and exit 5 after this many seconds."),
) -> None:
    """Start the workflow as its schedule would: the target input with the scheduler's time filled in."""
    with _one_line_errors():
        _check_range("--times", times, minimum=1, maximum=10_000)
        if every is not None:
            _check_range("--every", every, minimum=0.0)
        _check_range("--timeout", timeout, minimum=0.1)
        options = _check_workflow(workflow, standin)
        moment = None
        if at is not None:
            try:
                moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
            except ValueError:
                _fail(ExitCode.USAGE, f"--at {at!r} is not an ISO 8601 time such as 2026-11-26T09:30:00+09:00")
        with Sandbox(progress=_progress) as sandbox:
            _print_synth(sandbox)
            report = sandbox.deploy(workflow).fire(at=moment, times=times, every_s=every, standins=options,
                                                   on_event=_print_event, timeout_s=timeout)
        (console if as_json else out).print(_fire_summary(report))  # with --json, stdout holds the JSON alone
        if as_json:
            sys.stdout.write(report.to_json() + "\n")
    failed = any(fire.execution.status != "SUCCEEDED" for fire in report.fires)
    raise typer.Exit(int(ExitCode.EXECUTION_FAILED if failed else ExitCode.SUCCEEDED))


@app.command("fork")
def fork_workflow(
    source: str = typer.Argument(..., help="The workflow to start from (see `list`)."),
    new_name: str = typer.Argument(..., help="The new workflow's name, kebab-case (e.g. my-search)."),
    into: Optional[Path] = typer.Option(None, "--into", help="Export as a standalone project in this (new or empty) folder instead."),
    snapshots: bool = typer.Option(True, "--snapshots/--no-snapshots", help="Synthesize and write its template snapshots."),
) -> None:
    """Copy a workflow under a new name: stack, Lambda package, scenario and tests, every spelling renamed."""
    from sandbox import fork as forking

    with _one_line_errors():
        log = lambda message: console.print(f"[dim]{escape(message)}[/dim]")  # noqa: E731
        if into is None:
            forking.check_fork(source, new_name)
            result = forking.fork(source, new_name, snapshots=snapshots, log=log)
        else:
            result = forking.export(source, new_name, into, snapshots=snapshots, log=log)
        out.print(escape(result.next_steps()), soft_wrap=True)
        if into is not None:
            out.print(escape(f"\nA standalone project: cd {result.root} && make test && make demo"), soft_wrap=True)


def _print_received_messages(outside_world: dict[str, Any]) -> None:
    """What a person would read: every message a stand-in received (e.g. Slack), one per line."""
    for standin, seen in outside_world.items():
        for message in (seen.get("messages") if isinstance(seen, dict) else None) or []:
            console.print(f"  [bold]{escape(standin)} received:[/bold] {escape(str(message))}")


@app.command()
def demo() -> None:
    """Run every workflow once with its sample input and print one table."""
    table = Table("workflow", "status", "duration", "transitions", "Lambda invocations", "largest payload", "est. cost", "result")
    failed = False
    with _one_line_errors():
        with Sandbox(progress=_progress) as sandbox:
            _print_synth(sandbox)
            for name, spec in all_workflows().items():
                console.rule(name)
                try:
                    deployed = sandbox.deploy(name)
                    with _run_progress(deployed):
                        report = deployed.run(on_event=_print_event)
                except UnsupportedByLocalEngine as exc:
                    console.print(f"[red]{escape(str(exc))}[/red]")
                    table.add_row(name, "UNSUPPORTED LOCALLY", "-", "-", "-", "-", "-", "-")
                    failed = True
                    continue
                failed |= report.status != "SUCCEEDED"
                _print_received_messages(report.outside_world)
                table.add_row(
                    name, report.status, f"{report.duration_s:.2f} s", str(report.state_transitions),
                    str(report.lambda_invocations), f"{report.max_state_payload_bytes:,} B",
                    f"${report.estimated_cost_usd['total']:.6f}",
                    spec.headline(report.output) if spec.headline and report.status == "SUCCEEDED" else "-",
                )
        out.print(table)
    raise typer.Exit(int(ExitCode.EXECUTION_FAILED if failed else ExitCode.SUCCEEDED))


@app.command()
def graph(
    workflow: str = typer.Argument(..., help="Workflow name (see `list`)."),
    html: Optional[Path] = typer.Option(None, "--html", help="Write a self-contained HTML page (Mermaid inlined, no CDN) to FILE."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Refresh the <!-- diagram:start --> ... <!-- diagram:end --> block of FILE."),
    check: bool = typer.Option(False, "--check", help="With --markdown: change nothing; exit 1 if the block differs from the definition."),
    run_now: bool = typer.Option(False, "--run", help="Run the workflow now (its sample input, or --input) and colour the path it took."),
    last: bool = typer.Option(False, "--last", help="Colour the path of this workflow's last `sandbox run` (kept in .sandbox/runs/)."),
    input: Optional[str] = typer.Option(None, "--input", help="With --run: execution input, JSON or @file.json."),
    standin: list[str] = typer.Option([], "--standin", help="With --run: stand-in behaviour [NAME.]SETTING=VALUE."),
) -> None:
    """Draw the workflow's synthesized definition as a Mermaid flowchart (stdout), an HTML page or a markdown block."""
    from sandbox.graph import command as graphs
    from sandbox.last_run import load_last_run

    changed = False
    with _one_line_errors():
        options = _check_workflow(workflow, standin)
        if run_now and last:
            _fail(ExitCode.USAGE, "--run and --last both choose a run: give one")
        if markdown is not None and (run_now or last):
            _fail(ExitCode.USAGE, "--markdown writes the definition only; colour a run with --html or on stdout")
        if check and markdown is None:
            _fail(ExitCode.USAGE, "--check compares a --markdown FILE with the definition: give --markdown")
        if (input is not None or standin) and not run_now:
            _fail(ExitCode.USAGE, "--input and --standin go with --run")
        execution_input = _parse_input(input)
        run: Optional["RunPath"] = None
        if run_now:
            with Sandbox(progress=_progress) as sandbox:
                _print_synth(sandbox)
                _, (run, _) = _run_and_keep(sandbox, workflow, execution_input, options)
            machines = graphs.workflow_state_machines(workflow, sandbox.cloud_assembly)
        else:
            machines = graphs.workflow_state_machines(workflow)
        if last:
            run = load_last_run(workflow)
            if run is None:
                _fail(ExitCode.USAGE, f"no run of {workflow} kept yet: `python -m sandbox run {workflow}` first, or use --run")
        if run is not None:
            stale = graphs.stale_states(run, machines)
            if stale:
                console.print(f"[yellow]the run entered states the definition no longer has ({', '.join(sorted(stale))}): "
                              f"it ran an older definition[/yellow]")
            console.print(f"[dim]coloured: {run.execution_arn.rsplit(':', 1)[-1]} {run.status}[/dim]")
        drawn = graphs.diagrams(workflow, machines, run)
        if markdown is not None:
            if check:
                changed = graphs.markdown_differs(markdown, workflow, drawn)
                console.print(f"{markdown}: {'differs from the definition; refresh it with' if changed else 'up to date with'} "
                              f"`python -m sandbox graph {workflow} --markdown {markdown}`")
            else:
                refreshed = graphs.refresh_markdown(markdown, workflow, drawn)
                console.print(f"{markdown}: diagram block {'refreshed' if refreshed else 'already up to date'}")
        if html is not None:
            graphs.write_html(html, workflow, drawn, run)
            console.print(f"{html}: written ({html.stat().st_size:,} bytes, opens offline)")
        if markdown is None and html is None:
            sys.stdout.write("\n".join(d.mermaid for d in drawn))
    raise typer.Exit(int(ExitCode.EXECUTION_FAILED if changed else ExitCode.SUCCEEDED))


def _quantity(value: float, unit: str) -> str:
    return f"{value:,.6g} {unit.removesuffix('s') if value == 1 and unit.endswith('s') else unit}"


def _cost_table(report: "CostReport") -> Group:
    from sandbox.cost_report import EXCLUDED
    from sandbox.costs import PRICES

    per_month = report.runs_per_month
    runs = f"{per_month:,.0f}" if per_month >= 100 else f"{per_month:,.2f}"
    table = Table("line", "quantity", "per run", f"per month ({runs} runs)",
                  title=f"{report.workflow}: cost of one run ({report.status}), {PRICES['region']} prices of {PRICES['checked']}")
    for line in report.lines:
        mark = "  ◀ biggest" if line is report.biggest else ""
        table.add_row(escape(line.label) + mark, _quantity(line.quantity, line.unit), f"${line.usd:.8f}", f"${line.usd * per_month:,.4f}")
    table.add_row("[bold]total[/bold]", "", f"[bold]${report.per_run_usd:.8f}[/bold]", f"[bold]${report.per_run_usd * per_month:,.4f}[/bold]")
    if report.seed is not None:
        seed = report.seed
        ratio = f"{seed.per_run_usd / report.per_run_usd:,.2f}x this total" if report.per_run_usd else ""
        table.add_row(escape(f"seed design: {seed.label}"), ratio, f"${seed.per_run_usd:.8f}", f"${seed.per_run_usd * per_month:,.4f}")
    notes = [f"runs per month: {report.runs_per_month_source}"]
    if report.items:
        notes.append(f"scaled from {report.items['measured']:,} to {report.items['scaled_to']:,} {report.items['unit']}: {report.items['model']}")
    if report.seed is not None:
        notes.append(f"seed figure covers {report.seed.covers}")
    elif report.status != "SUCCEEDED":
        notes.append("no seed figure: it follows the path of a run that succeeded")
    else:
        notes.append(f"the benches compute no seed figure for {report.workflow}")
    if report.not_priced:
        notes.append("requests not priced (no price in the table): " + ", ".join(f"{k}={v}" for k, v in report.not_priced.items()))
    notes.append("not included: " + ", ".join(EXCLUDED) + "; prices: sandbox/prices.toml")
    return Group(table, *(f"[dim]{escape(note)}[/dim]" for note in notes))


@app.command()
def cost(
    workflow: str = typer.Argument(..., help="Workflow name (see `list`)."),
    runs_per_month: Optional[float] = typer.Option(None, "--runs-per-month", min=0, help="Runs a month (default: the schedule's, or 1,000 on demand)."),
    items: Optional[int] = typer.Option(None, "--items", min=1, help="Scale the run to N items (distributed-copy: objects; bucket-usage: buckets)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with every line at the end."),
    last: bool = typer.Option(False, "--last", help="Price this workflow's last `sandbox run` (kept in .sandbox/runs/) instead of running it."),
    input: Optional[str] = typer.Option(None, "--input", help="Execution input: JSON, or @file.json. Default: the workflow's sample."),
    standin: list[str] = typer.Option([], "--standin", help="Stand-in behaviour [NAME.]SETTING=VALUE."),
) -> None:
    """Run the workflow once (or reuse its last run) and price the work: per run, per month, beside the seed's design."""
    from sandbox.cost_report import ITEM_SCALING, cost_report
    from sandbox.last_run import load_usage

    with _one_line_errors():
        options = _check_workflow(workflow, standin)
        if items is not None and workflow not in ITEM_SCALING:
            _fail(ExitCode.USAGE, f"--items scales {', '.join(ITEM_SCALING)}; {workflow} has no per-item model")
        if last and (input is not None or standin):
            _fail(ExitCode.USAGE, "--input and --standin choose a new run: leave out --last")
        execution_input = _parse_input(input)
        if last:
            usage = load_usage(workflow)
            if usage is None:
                _fail(ExitCode.USAGE, f"no run of {workflow} kept yet: `python -m sandbox run {workflow}` first, or leave out --last")
            console.print(f"[dim]reusing {usage.execution_arn.rsplit(':', 1)[-1]} ({usage.status})[/dim]")
        else:
            with Sandbox(progress=_progress) as sandbox:
                _print_synth(sandbox)
                _, (_, usage) = _run_and_keep(sandbox, workflow, execution_input, options)
        report = cost_report(usage, runs_per_month=runs_per_month, items=items)
        (console if as_json else out).print(_cost_table(report))  # with --json, stdout holds the JSON alone
        if as_json:
            sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
    raise typer.Exit(int(ExitCode.SUCCEEDED))


def main() -> None:
    signal.signal(signal.SIGTERM, _raise_terminated)
    timings.add("imports", time.perf_counter() - timings.STARTED)
    try:
        app()
    finally:
        timings.write_if_asked()
