"""A sandbox session: one emulator, workflows deployed on demand, runs reported.

    with Sandbox() as sandbox:
        search = sandbox.deploy("parallel-search")
        report = search.run({"keywords": "tea"}, standins={"*": {"result_bytes": "300000"}})
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping

from sandbox.costs import estimate_cost_usd
from sandbox.emulator import DeployedStack, Emulator
from sandbox.event_sources import SqsEventSourcePollers
from sandbox.execution import ExecutionReport, TimelineEvent, run_execution
from sandbox.fire import fill_context_attributes
from sandbox.fire import now as scheduled_now
from sandbox.synth import SynthResult, synthesize_local
from sandbox.workflows import Scenario, WorkflowSpec, get_workflow


@dataclass(frozen=True)
class RunReport(ExecutionReport):
    """An execution's report plus what the sandbox saw around it (the `--json` output of `run`)."""

    workflow: str
    aws_requests: dict[str, int]  # per service, made by the workflow (not by the sandbox)
    outside_world: dict[str, Any]  # what the stand-ins saw
    estimated_cost_usd: dict[str, float]
    not_emulated: list[str]  # resource types in the stack that moto does not emulate

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("events")
        return json.dumps({"workflow": data.pop("workflow"), **data}, default=str, ensure_ascii=False)


class DeployedWorkflow:
    """A workflow's stack deployed in the emulator, with its outside world running."""

    def __init__(self, spec: WorkflowSpec, emulator: Emulator, stack: DeployedStack, scenario: Scenario) -> None:
        self.spec = spec
        self.emulator = emulator
        self.stack = stack
        self.scenario = scenario
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
        """Run one execution (default input: the workflow's sample) and report it."""
        self.scenario.configure(standins or {})
        self.emulator.reset_request_counts()
        runtime = self.emulator.lambda_runtime
        gb_seconds_before = runtime.billed_gb_seconds
        # Scheduler context attributes (e.g. "<aws.scheduler.scheduled-time>") filled as Scheduler fills them.
        report: ExecutionReport = run_execution(
            self.emulator,
            state_machine_arn=self.state_machine_arn,
            execution_input=fill_context_attributes(dict(self.spec.sample_input if execution_input is None else execution_input),
                                                    scheduled_time=scheduled_now()),
            on_event=on_event,
            timeout_s=timeout_s,
        )
        settle = getattr(self.scenario, "settle", None)
        if settle is not None:  # work the execution handed on (e.g. a queue's consumer) finishes first
            settle(timeout_s)
        counts = self.emulator.request_counts()
        return RunReport(
            **{f.name: getattr(report, f.name) for f in fields(ExecutionReport)},
            workflow=self.spec.name,
            aws_requests={key: count for key, count in sorted(counts.items()) if ":" not in key},
            outside_world=self.scenario.stats(),
            estimated_cost_usd=estimate_cost_usd(
                report, counts, lambda_gb_seconds=runtime.billed_gb_seconds - gb_seconds_before
            ),
            not_emulated=sorted(set(self.stack.not_emulated.values())),
        )


class Sandbox:
    """Synthesizes the local stage (cached), starts the emulator, deploys workflows on demand."""

    def __init__(self, *, force_synth: bool = False) -> None:
        self._force_synth = force_synth
        self._exit = ExitStack()
        self._deployed: dict[str, DeployedWorkflow] = {}
        self.event_sources: dict[str, SqsEventSourcePollers] = {}
        self.synth: SynthResult | None = None
        self.emulator: Emulator | None = None

    def __enter__(self) -> "Sandbox":
        self.synth = synthesize_local(force=self._force_synth)
        self.emulator = self._exit.enter_context(Emulator())
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    @property
    def cloud_assembly(self) -> Path:
        assert self.synth, "use Sandbox as a context manager"
        return self.synth.cloud_assembly

    def deploy(self, workflow: str) -> DeployedWorkflow:
        if workflow in self._deployed:
            return self._deployed[workflow]
        assert self.emulator, "use Sandbox as a context manager"
        spec = get_workflow(workflow)
        stack = self.emulator.deploy(
            stack_name=f"{spec.stack_id}-local",
            template_path=self.cloud_assembly / f"{spec.stack_id}.template.json",
            assets_manifest_path=self.cloud_assembly / f"{spec.stack_id}.assets.json",
        )
        # Lambda's SQS pollers for the stack's event source mappings (moto's own are disabled).
        template_path = self.cloud_assembly / f"{spec.stack_id}.template.json"
        self.event_sources[workflow] = self._exit.enter_context(SqsEventSourcePollers(self.emulator, stack, template_path))
        scenario = self._exit.enter_context(spec.scenario(self.emulator, stack))
        self._deployed[workflow] = DeployedWorkflow(spec, self.emulator, stack, scenario)
        return self._deployed[workflow]
