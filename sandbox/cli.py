"""`python -m sandbox list|run|demo`: run the workflows offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from sandbox.emulator import DeployError
from sandbox.engine_limits import UnsupportedByLocalEngine
from sandbox.execution import TimelineEvent
from sandbox.session import RunReport, Sandbox
from sandbox.synth import SynthError
from sandbox.workflows import WORKFLOWS, ScenarioError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Run the Step Functions workflows offline, in an embedded AWS emulator.")
# Timeline on stderr, results on stdout; logs (not a terminal) get a wide fixed width.
_WIDTH = None if sys.stdout.isatty() else 160
console = Console(stderr=True, highlight=False, width=_WIDTH)
out = Console(width=_WIDTH)


def _parse_input(raw: Optional[str]) -> Optional[dict[str, Any]]:
    if raw is None:
        return None
    text = Path(raw[1:]).read_text() if raw.startswith("@") else raw
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--input is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise typer.BadParameter("--input must be a JSON object")
    return value


def _parse_standins(options: list[str]) -> dict[str, dict[str, str]]:
    parsed: dict[str, dict[str, str]] = {}
    for option in options:
        target, equals, value = option.partition("=")
        name, _, setting = target.rpartition(".")
        if not equals or not setting:
            raise typer.BadParameter(f"--standin {option!r}: expected [NAME.]SETTING=VALUE")
        parsed.setdefault(name or "*", {})[setting] = value
    return parsed


def _print_event(event: TimelineEvent) -> None:
    size = f"  {event.payload_bytes:,} B" if event.payload_bytes is not None else ""
    state = f" [bold]{event.state}[/bold]" if event.state else ""
    style = "red" if "Failed" in event.type or "TimedOut" in event.type else "dim" if event.type == "EngineNote" else ""
    line = f"{event.timestamp:%H:%M:%S.%f}"[:-3] + f"  {event.type}{state}  {event.detail}{size}"
    console.print(f"[{style}]{line}[/{style}]" if style else line)


def _print_synth(sandbox: Sandbox) -> None:
    console.print(f"[dim]synth: {'cached' if sandbox.synth.cached else 'done'} in {sandbox.synth.seconds:.1f} s[/dim]")


def _summary(report: RunReport) -> Table:
    table = Table(title=f"{report.workflow}: {report.status}", show_header=False)
    rows = [
        ("duration", f"{report.duration_s:.2f} s"),
        ("state transitions", str(report.state_transitions)),
        ("Lambda invocations", str(report.lambda_invocations)),
        ("largest state payload", f"{report.max_state_payload_bytes:,} bytes"),
        ("AWS requests", ", ".join(f"{k}={v}" for k, v in report.aws_requests.items()) or "none"),
        ("outside world", json.dumps(report.outside_world)),
        ("estimated cost", f"${report.estimated_cost_usd['total']:.6f}"),
        ("not emulated", ", ".join(report.not_emulated) or "nothing"),
    ]
    if report.error:
        rows.append(("error", f"{report.error}: {report.cause}"))
    for key, value in rows:
        table.add_row(key, value)
    return table


@app.command("list")
def list_workflows() -> None:
    """List the workflows and their stacks."""
    table = Table("workflow", "stack", "what it does")
    for spec in WORKFLOWS.values():
        table.add_row(spec.name, spec.stack_id, spec.summary)
    out.print(table)


@app.command()
def run(
    workflow: str = typer.Argument(..., help="Workflow name (see `list`)."),
    input: Optional[str] = typer.Option(None, "--input", help="Execution input: JSON, or @file.json. Default: the workflow's sample."),
    standin: list[str] = typer.Option([], "--standin", help="Stand-in behaviour [NAME.]SETTING=VALUE, e.g. shop-a.fail_times=2 or result_bytes=300000."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with the result at the end."),
) -> None:
    """Deploy one workflow into the emulator, run one execution, print its timeline and summary."""
    if workflow not in WORKFLOWS:
        raise typer.BadParameter(f"unknown workflow {workflow!r}; known: {', '.join(WORKFLOWS)}")
    execution_input = _parse_input(input)
    options = _parse_standins(standin)
    try:
        with Sandbox() as sandbox:
            _print_synth(sandbox)
            deployed = sandbox.deploy(workflow)
            report = deployed.run(execution_input, standins=options, on_event=_print_event)
    except UnsupportedByLocalEngine as exc:
        console.print(f"[red]The local engine cannot run {workflow}:[/red]\n{exc}")
        raise typer.Exit(3) from None
    except (DeployError, SynthError) as exc:
        console.print(f"[red]{type(exc).__name__}:[/red] {exc}")
        raise typer.Exit(4) from None
    except ScenarioError as exc:
        raise typer.BadParameter(str(exc)) from None
    console.print(_summary(report))
    if as_json:
        sys.stdout.write(report.to_json() + "\n")
    raise typer.Exit(0 if report.status == "SUCCEEDED" else 1)


def _tick_result(output: Any) -> str:
    if isinstance(output, dict) and isinstance(output.get("enqueued"), bool):
        return "enqueued" if output["enqueued"] else f"skipped ({output.get('reason', '')})"
    return json.dumps(output, ensure_ascii=False)[:60]


@app.command("fire")
def fire_schedule(
    workflow: str = typer.Argument(..., help="Workflow name (see `list`); it must have a schedule."),
    times: int = typer.Option(10, "--times", min=1, help="How many firings."),
    every: float = typer.Option(60.0, "--every", min=0.0, help="Seconds between firings (compressed time: scheduled times are this far apart too)."),
    standin: list[str] = typer.Option([], "--standin", help="Stand-in behaviour [NAME.]SETTING=VALUE, e.g. api.delay_seconds=3."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with the result at the end."),
) -> None:
    """Fire a workflow's EventBridge Scheduler schedule N times, S seconds apart, with the input
    Scheduler would send; wait for the work the ticks handed on; report each tick and the outside world."""
    from sandbox.fire import fire

    if workflow not in WORKFLOWS:
        raise typer.BadParameter(f"unknown workflow {workflow!r}; known: {', '.join(WORKFLOWS)}")
    options = _parse_standins(standin)
    try:
        with Sandbox() as sandbox:
            _print_synth(sandbox)
            deployed = sandbox.deploy(workflow)
            template = json.loads((sandbox.cloud_assembly / f"{deployed.spec.stack_id}.template.json").read_text())
            report = fire(deployed, template, times=times, every_s=every, standins=options,
                          on_tick=lambda t: console.print(f"tick {t.index:>3}  {t.scheduled_time}  {t.status}  {_tick_result(t.output)}"))
    except UnsupportedByLocalEngine as exc:
        console.print(f"[red]The local engine cannot run {workflow}:[/red]\n{exc}")
        raise typer.Exit(3) from None
    except (DeployError, SynthError) as exc:
        console.print(f"[red]{type(exc).__name__}:[/red] {exc}")
        raise typer.Exit(4) from None
    except ScenarioError as exc:
        raise typer.BadParameter(str(exc)) from None
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    table = Table(title=f"{workflow}: {times} firings of {report.schedule_expression}, {every:g} s apart", show_header=False)
    results = [_tick_result(t.output) for t in report.ticks]
    world = report.outside_world
    rows = [
        ("ticks", ", ".join(f"{t.index}:{r.split(' ')[0]}" for t, r in zip(report.ticks, results))),
        ("enqueued / skipped", f"{sum(r == 'enqueued' for r in results)} / {sum(r.startswith('skipped') for r in results)}"),
        ("failed ticks", str(sum(t.status != "SUCCEEDED" for t in report.ticks))),
        ("API calls", str(world.get("api_calls", "-"))),
        ("max concurrent API calls", str(world.get("max_concurrent_calls", "-"))),
        ("DLQ messages", str(world.get("dlq_messages", "-"))),
        ("Lambda invocations", str(report.lambda_invocations)),
        ("settled", "yes" if report.settled else "NO (timed out waiting for the consumer)"),
        ("wall time", f"{report.wall_s:.1f} s"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    if as_json:
        sys.stdout.write(report.to_json() + "\n")
    ok = report.settled and all(t.status == "SUCCEEDED" for t in report.ticks)
    raise typer.Exit(0 if ok else 1)


@app.command()
def demo() -> None:
    """Run every workflow once with its sample input and print one table."""
    table = Table("workflow", "status", "duration", "transitions", "Lambda invocations", "largest payload", "est. cost")
    failed = False
    with Sandbox() as sandbox:
        _print_synth(sandbox)
        for name in WORKFLOWS:
            console.rule(name)
            try:
                report = sandbox.deploy(name).run(on_event=_print_event)
            except UnsupportedByLocalEngine as exc:
                console.print(f"[red]{exc}[/red]")
                table.add_row(name, "UNSUPPORTED LOCALLY", "-", "-", "-", "-", "-")
                failed = True
                continue
            failed |= report.status != "SUCCEEDED"
            table.add_row(
                name, report.status, f"{report.duration_s:.2f} s", str(report.state_transitions),
                str(report.lambda_invocations), f"{report.max_state_payload_bytes:,} B",
                f"${report.estimated_cost_usd['total']:.6f}",
            )
    out.print(table)
    raise typer.Exit(1 if failed else 0)


def main() -> None:
    app()
