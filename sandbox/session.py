"""A sandbox session: one emulator, workflows deployed on demand, runs reported.

    with Sandbox() as sandbox:
        search = sandbox.deploy("parallel-search")
        report = search.run({"keywords": "tea"}, standins={"*": {"result_bytes": "300000"}})
        ticks = sandbox.deploy("weekly-batch").fire(times=2)   # as EventBridge Scheduler would
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack, nullcontext
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, ContextManager, Mapping

from sandbox.costs import cost_lines, estimate_cost_usd, step_functions_cost, with_map_children
from sandbox.coverage import StateCoverage, entered_states
from sandbox.emulator import SANDBOX_CACHE_DIR, DeployedStack, Emulator
from sandbox.engine.distributed_map import child_entered_states, map_runs
from sandbox.engine.status_events import wait_for_events
from sandbox.event_sources import SqsEventSourcePollers
from sandbox.execution import ExecutionReport, TimelineEvent, run_execution
from sandbox.lambda_runtime import prune_code_cache
from sandbox.scheduler import Schedule, ScheduleError, fire_times, is_scheduled_time, render_input, schedules_in
from sandbox import timings
from sandbox.synth import REPO_ROOT, STATE_FILE, ZIP_CACHE, SynthResult, assembly_lock, plan_synth, synthesize_local
from sandbox.definitions import readable_logical_id
from sandbox.scenarios.base import LAMBDA_STANDIN, FunctionCrashes, settle
from sandbox.workflows import Scenario, ScenarioError, WorkflowSpec, get_workflow


@dataclass(frozen=True)
class RunReport(ExecutionReport):
    """An execution's report plus what the sandbox saw around it (the `--json` output of `run`)."""

    workflow: str
    aws_requests: dict[str, int]  # per service, made by the workflow (not by the sandbox)
    outside_world: dict[str, Any]  # what the stand-ins saw
    estimated_cost_usd: dict[str, float]
    not_emulated: list[str]  # resource types in the stack that moto does not emulate

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("events")
        return {"workflow": data.pop("workflow"), **data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str, ensure_ascii=False)


@dataclass(frozen=True)
class Fire:
    """One scheduler invocation: when it was scheduled for, and what its execution did."""

    scheduled_time: str
    execution: ExecutionReport

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self.execution)
        data.pop("events")
        return {"scheduled_time": self.scheduled_time, **data}


@dataclass(frozen=True)
class FireReport:
    """The `--json` output of `fire`: every invocation, then what they did together."""

    workflow: str
    schedule: str  # expression and time zone, as in the template
    fires: tuple[Fire, ...]
    lambda_invocations: int  # every invocation during the fires, event-source consumers included
    aws_requests: dict[str, int]
    outside_world: dict[str, Any]
    estimated_cost_usd: dict[str, float]
    not_emulated: list[str]

    def to_json(self) -> str:
        data = {field.name: getattr(self, field.name) for field in fields(self)}
        data["fires"] = [fire.to_dict() for fire in self.fires]
        return json.dumps(data, default=str, ensure_ascii=False)


class DeployedWorkflow:
    """A workflow's stack deployed in the emulator, with its outside world running."""

    def __init__(self, spec: WorkflowSpec, emulator: Emulator, stack: DeployedStack, scenario: Scenario,
                 template: dict[str, Any]) -> None:
        self.spec = spec
        self.emulator = emulator
        self.stack = stack
        self.scenario = scenario
        self.template = template
        self.schedules: list[Schedule] = schedules_in(template)
        if len(stack.state_machine_arns) != 1:
            raise RuntimeError(f"{stack.stack_name}: expected one state machine, found {len(stack.state_machine_arns)}")
        self.state_machine_arn = next(iter(stack.state_machine_arns.values()))

    def run(
        self,
        execution_input: Mapping[str, Any] | None = None,
        *,
        standins: Mapping[str, Mapping[str, str]] | None = None,
        on_event: Callable[[TimelineEvent], None] | None = None,
        timeout_s: float = 600,
    ) -> RunReport:
        """Run one execution (default input: the workflow's sample) and report it.

        `standins`: `{name or "*": {setting: text}}` as given on the command line; validated first.
        """
        crashes = self._configure(standins)
        self.emulator.reset_request_counts()
        runtime = self.emulator.lambda_runtime
        gb_seconds_before = runtime.billed_gb_seconds
        report = run_execution(
            self.emulator,
            state_machine_arn=self.state_machine_arn,
            execution_input=dict(self.spec.sample_input if execution_input is None else execution_input),
            on_event=on_event,
            timeout_s=timeout_s,
        )
        wait_for_events(report.execution_arn, timeout_s)  # rules on its status change (EventBridge) have run
        settle(self.scenario, timeout_s)  # e.g. wait for an event-source consumer the execution fed
        counts = self.emulator.request_counts()
        # Distributed Map children run outside the execution's history: counted and priced apart.
        children = [c for run in map_runs(report.execution_arn) for c in run.children.values()]
        return RunReport(
            **{f.name: getattr(report, f.name) for f in fields(ExecutionReport) if f.name != "lambda_invocations"},
            lambda_invocations=report.lambda_invocations + sum(c.lambda_invocations for c in children),
            workflow=self.spec.name,
            aws_requests=_per_service(counts),
            outside_world=self._outside_world(crashes),
            estimated_cost_usd=with_map_children(
                estimate_cost_usd(report, counts, lambda_gb_seconds=runtime.billed_gb_seconds - gb_seconds_before),
                [(c.execution_type, c.duration_ms / 1000, c.transitions, c.lambda_invocations) for c in children],
            ),
            not_emulated=sorted(set(self.stack.not_emulated.values())),
        )

    def fire(
        self,
        *,
        at: datetime | None = None,
        times: int = 1,
        every_s: float | None = None,
        standins: Mapping[str, Mapping[str, str]] | None = None,
        on_event: Callable[[TimelineEvent], None] | None = None,
        timeout_s: float = 600,
    ) -> FireReport:
        """Play EventBridge Scheduler: start the schedule's target with the input it would send.

        `at`: the scheduled time (default: the schedule's next time from now). Without `every_s`,
        all `times` invocations carry that same scheduled time (the scheduler delivers at least
        once, so a repeat is possible). With `every_s`, they carry the schedule's next `times`
        scheduled times and start `every_s` real seconds apart (local time runs faster).
        """
        if not self.schedules:
            raise ScheduleError(f"{self.spec.name} has no AWS::Scheduler::Schedule to fire")
        if times < 1 or (every_s is not None and every_s < 0):
            raise ScheduleError("fire needs times >= 1 and every >= 0")
        (schedule,) = self.schedules
        arn = self.stack.state_machine_arns.get(schedule.target_logical_id)
        if arn is None:
            raise ScheduleError(f"{schedule.logical_id} targets {schedule.target_logical_id}, which is not deployed")
        crashes = self._configure(standins)
        self.emulator.reset_request_counts()
        runtime = self.emulator.lambda_runtime
        gb_seconds_before, invocations_before = runtime.billed_gb_seconds, sum(runtime.invocations.values())
        if at is None:
            (first,) = fire_times(schedule, after=datetime.now(timezone.utc), count=1)
        else:
            first = at if at.tzinfo else at.replace(tzinfo=schedule.zone)
            if first.second or first.microsecond or not is_scheduled_time(schedule, first):
                upcoming = ", ".join(_utc(t) for t in fire_times(schedule, after=first, count=2))
                raise ScheduleError(f"--at {first.isoformat()}: {schedule.expression} ({schedule.timezone}) never fires at "
                                    f"that time; it fires next at {upcoming}")
        if every_s is None:
            scheduled = [first] * times
        else:
            scheduled = [first, *fire_times(schedule, after=first, count=times - 1)] if times > 1 else [first]
        fires = []
        started = time.monotonic()
        for index, moment in enumerate(scheduled):
            if every_s:
                time.sleep(max(0.0, started + index * every_s - time.monotonic()))
            execution_input = render_input(schedule, moment, region=self.emulator.region, account_id=self.emulator.account_id)
            report = run_execution(self.emulator, state_machine_arn=arn, execution_input=execution_input,
                                   on_event=on_event, timeout_s=timeout_s)
            wait_for_events(report.execution_arn, timeout_s)
            fires.append(Fire(scheduled_time=_utc(moment), execution=report))
        settle(self.scenario, timeout_s)
        counts = self.emulator.request_counts()
        invocations = sum(runtime.invocations.values()) - invocations_before
        total = cost_lines(step_functions=sum(step_functions_cost(fire.execution) for fire in fires),
                           lambda_invocations=invocations,
                           lambda_gb_seconds=runtime.billed_gb_seconds - gb_seconds_before, requests=counts)
        return FireReport(
            workflow=self.spec.name, schedule=f"{schedule.expression} {schedule.timezone}", fires=tuple(fires),
            lambda_invocations=invocations, aws_requests=_per_service(counts), outside_world=self._outside_world(crashes),
            estimated_cost_usd=total, not_emulated=sorted(set(self.stack.not_emulated.values())),
        )

    def update_code(self, cloud_assembly: Path, rebuilt: Mapping[str, tuple[str, str]]) -> list[str]:
        """Point the deployed functions whose code was a rebuilt asset at the new one, as `cdk deploy --hotswap`
        does: the new zip into the asset bucket, then UpdateFunctionCode. Their next invocation starts a
        worker on the new code. Returns the function names updated."""
        new_of = {f"{old}.zip": f"{new}.zip" for old, new in rebuilt.values()}
        functions = {
            logical_id: new_of[resource["Properties"]["Code"]["S3Key"]]
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == "AWS::Lambda::Function"
            and isinstance((resource["Properties"].get("Code") or {}).get("S3Key"), str)
            and resource["Properties"]["Code"]["S3Key"] in new_of
        }
        stack_id = self.spec.stack_id
        with assembly_lock(cloud_assembly):
            template = json.loads((cloud_assembly / f"{stack_id}.template.json").read_text())
            uploaded = dict((key, bucket) for bucket, key in self.emulator.upload_assets(
                cloud_assembly / f"{stack_id}.assets.json", zip_cache=cloud_assembly / ZIP_CACHE)) if functions else {}
        lambda_client = self.emulator.client("lambda")
        updated = []
        for logical_id, key in functions.items():
            name = self.stack.resources[logical_id]
            lambda_client.update_function_code(FunctionName=name, S3Bucket=uploaded[key], S3Key=key)
            updated.append(name)
        self.template = template
        return updated

    def function_named(self, name: str) -> str:
        """The deployed name of the stack's function `name`: its logical id without CDK's hash (`CopyFunction`),
        as `sandbox graph` shows it. ScenarioError naming the stack's functions if there is none."""
        functions = {readable_logical_id(logical_id): self.stack.resources[logical_id]
                     for logical_id, kind in self.stack.resource_types.items() if kind == "AWS::Lambda::Function"}
        if name not in functions:
            raise ScenarioError(f"{self.spec.name} has no function {name!r}; its functions: {', '.join(sorted(functions))}")
        return functions[name]

    def _configure(self, standins: Mapping[str, Mapping[str, str]] | None) -> tuple[str, int] | None:
        """Validate and apply `--standin` settings: the scenario's stand-ins, and the `lambda` stand-in's crashes
        (planned for this run; earlier plans of this stack's functions cancelled). Returns the crashing function's
        deployed name and its crash count so far, when one is planned."""
        settings = self.spec.validate_standins(standins or {})
        crashes: FunctionCrashes = settings.pop(LAMBDA_STANDIN)
        target = self.function_named(crashes.function) if crashes.function else None
        runtime = self.emulator.lambda_runtime
        for logical_id, kind in self.stack.resource_types.items():
            if kind == "AWS::Lambda::Function":
                runtime.crash(self.stack.resources[logical_id], times=0)
        self.scenario.configure(settings)
        if target is None or not crashes.crashes:
            return None
        runtime.crash(target, times=crashes.crashes, after_s=crashes.crash_after_seconds)
        return target, runtime.crashed[target]

    def _outside_world(self, crashes: tuple[str, int] | None) -> dict[str, Any]:
        """What the stand-ins saw, and how many invocations the `lambda` stand-in crashed (when it was asked to)."""
        world = dict(self.scenario.stats())
        if crashes is not None:
            function, before = crashes
            world["lambda_crashes"] = self.emulator.lambda_runtime.crashed[function] - before
        return world

    def state_coverage(self) -> list[StateCoverage]:
        """Which states of each deployed definition some execution (of this session) entered."""
        sfn = self.emulator.client("stepfunctions")
        coverage = []
        for logical_id, arn in self.stack.state_machine_arns.items():
            definition = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
            entered: set[str] = set()
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
                for execution in page["executions"]:
                    history = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
                    entered |= entered_states(history)
                    entered |= child_entered_states(execution["executionArn"])  # Distributed Map children
            coverage.append(StateCoverage.of(self.spec.name, logical_id, definition, entered))
        return coverage


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _per_service(counts: Mapping[str, int]) -> dict[str, int]:
    return {key: count for key, count in sorted(counts.items()) if ":" not in key}


@dataclass(frozen=True)
class HotSwap:
    """What `Sandbox.hot_swap` did after a change to the project."""

    synth: SynthResult
    updated_functions: tuple[str, ...] = ()  # code updated in place (UpdateFunctionCode)
    redeploy: bool = False  # the workflow's template changed: it needs a new deploy

    def describe(self) -> str:
        if self.redeploy:
            return f"{self.synth.describe()}; the stack changed: deploying it again"
        if self.updated_functions:
            names = ", ".join(name.split("-")[-2] if name.count("-") >= 2 else name for name in self.updated_functions)
            return f"{self.synth.describe()}; UpdateFunctionCode: {len(self.updated_functions)} function(s) ({names})"
        if self.synth.cached:
            return "nothing the workflow is made from changed"
        return f"{self.synth.describe()}; none of the workflow's functions or resources changed"


class Sandbox:
    """Synthesizes the local stage (cached), starts the emulator, deploys workflows on demand.

    root: the project whose `local` stage is run (default: this repository); its assembly is
    `<root>/.sandbox/cdk.out`.
    """

    def __init__(self, *, force_synth: bool = False, root: Path = REPO_ROOT,
                 progress: Callable[[str], ContextManager[Any]] | None = None) -> None:
        self._force_synth = force_synth
        self._root = root
        self._progress = progress or (lambda _message: nullcontext())
        self._exit = ExitStack()
        self._deployed: dict[str, DeployedWorkflow] = {}
        self.event_sources: dict[str, SqsEventSourcePollers] = {}  # workflow -> its SQS pollers
        self.synth: SynthResult | None = None
        self.emulator: Emulator | None = None

    def __enter__(self) -> "Sandbox":
        try:
            with timings.phase("synth check"), self._synth_progress(force=self._force_synth):
                self.synth = synthesize_local(force=self._force_synth, root=self._root)
            # Code extracted for functions of earlier synths: unused since this assembly was made (and for 10 minutes).
            assembly_time = (self.synth.cloud_assembly / STATE_FILE).stat().st_mtime
            prune_code_cache(SANDBOX_CACHE_DIR, unused_since=min(assembly_time, time.time() - 600))
            with timings.phase("moto start"):
                self.emulator = self._exit.enter_context(Emulator())
        except BaseException:
            self._exit.close()
            raise
        return self

    def _synth_progress(self, *, force: bool = False) -> ContextManager[Any]:
        """The progress display for a synth that will take long (not when the assembly is current)."""
        plan = plan_synth(self._root, force=force)
        if plan.synthesize:
            return self._progress(f"synthesizing the local stage ({plan.reason})")
        if plan.rebuild:
            return self._progress(f"rebuilding the asset of {', '.join(plan.rebuild)}")
        return nullcontext()

    def __exit__(self, *exc: object) -> None:
        with timings.phase("teardown"):
            self._exit.close()

    @property
    def cloud_assembly(self) -> Path:
        assert self.synth, "use Sandbox as a context manager"
        return self.synth.cloud_assembly

    @property
    def deployed(self) -> dict[str, DeployedWorkflow]:
        return dict(self._deployed)

    def deploy(self, workflow: str) -> DeployedWorkflow:
        if workflow in self._deployed:
            return self._deployed[workflow]
        assert self.emulator, "use Sandbox as a context manager"
        with timings.phase("deploy"), self._progress(f"deploying {workflow}"):
            spec = get_workflow(workflow)
            template_path = self.cloud_assembly / f"{spec.stack_id}.template.json"
            # under the assembly's lock: another process may be rebuilding an asset of it
            with assembly_lock(self.cloud_assembly):
                template = json.loads(template_path.read_text())
                stack = self.emulator.deploy(
                    stack_name=f"{spec.stack_id}-local",
                    template_path=template_path,
                    assets_manifest_path=self.cloud_assembly / f"{spec.stack_id}.assets.json",
                    zip_cache=self.cloud_assembly / ZIP_CACHE,
                )
            # Lambda's SQS pollers for the stack's event source mappings (moto's own are disabled).
            self.event_sources[workflow] = self._exit.enter_context(SqsEventSourcePollers(self.emulator, stack, template_path))
            scenario = self._exit.enter_context(spec.scenario(self.emulator, stack))
            self._deployed[workflow] = DeployedWorkflow(spec, self.emulator, stack, scenario, template)
        return self._deployed[workflow]

    def hot_swap(self, workflow: str) -> HotSwap:
        """After a change to the project: bring the assembly up to date (an asset rebuilt alone when only its
        Lambda source changed), then update the code of the deployed workflow's functions that use a rebuilt
        asset. `redeploy` says the workflow's template itself changed (a new deploy is needed)."""
        deployed = self._deployed[workflow]
        with self._synth_progress():
            self.synth = synth = synthesize_local(root=self._root)
        if synth.cached:
            return HotSwap(synth)
        if synth.synthesized:
            template = json.loads((self.cloud_assembly / f"{deployed.spec.stack_id}.template.json").read_text())
            return HotSwap(synth, redeploy=template != deployed.template)
        return HotSwap(synth, updated_functions=tuple(deployed.update_code(self.cloud_assembly, synth.rebuilt_assets)))
