"""The workflows the sandbox can run, found by discovery: each `stacks/*/workflow.py` declaration
plus its scenario module `sandbox/scenarios/<package>.py`.

A *scenario* prepares what a deployed stack expects to exist outside it (secrets it reads by
name, stand-in servers at the endpoints its functions are configured with) and can change
stand-in behaviour between runs. Its module defines `SCENARIO` (the class), `STANDIN_SETTINGS`
(stand-in name -> settings dataclass), `SAMPLE_INPUT` and, optionally, `headline(output)`: one
line about a successful run for the demo table; and `FAULTS` (`sandbox.faults.FaultMatrix`: each outside
dependency failing each way, and what the workflow must do), with `nothing_lost(report)` and
`end_state(report)` on the scenario class, which tests/workflows/test_fault_matrix.py runs and checks.
Every workflow also has the stand-in `lambda` (`FunctionCrashes`): one of its functions crashing.
Kept free of jsii/CDK imports so the CLI starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, Callable, Mapping

from sandbox.emulator import DeployedStack, Emulator
from sandbox.scenarios.base import LAMBDA_STANDIN, FunctionCrashes, Scenario, ScenarioError, validate_standin_options
from stacks.common.registry import Workflow, WorkflowError, discover_workflows


@dataclass(frozen=True)
class WorkflowSpec:
    name: str
    stack_id: str  # the CDK construct id (template file <stack_id>.template.json)
    summary: str
    sample_input: Mapping[str, Any]
    scenario: Callable[[Emulator, DeployedStack], Scenario]
    standin_settings: Mapping[str, type] = field(default_factory=dict)  # stand-in name -> settings dataclass
    # One line about a successful run's output for the demo table (None: nothing to show).
    headline: Callable[[Any], str] | None = None
    declaration: Workflow | None = None

    def validate_standins(self, options: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
        """`--standin` strings -> one validated settings object per stand-in (ScenarioError if not), the
        `lambda` stand-in every workflow has (`FunctionCrashes`) included."""
        return validate_standin_options(options, {**self.standin_settings, LAMBDA_STANDIN: FunctionCrashes})


def spec_of(workflow: Workflow) -> WorkflowSpec:
    """The sandbox's view of one declared workflow (imports its scenario module)."""
    try:
        module = workflow.scenario()
    except ModuleNotFoundError as exc:
        if exc.name != workflow.scenario_module:
            raise
        raise ScenarioError(f"{workflow.name} has no sandbox scenario: create sandbox/scenarios/{workflow.package}.py "
                            "(SCENARIO, STANDIN_SETTINGS, SAMPLE_INPUT)") from None
    missing = [name for name in ("SCENARIO", "STANDIN_SETTINGS", "SAMPLE_INPUT") if not hasattr(module, name)]
    if missing:
        raise ScenarioError(f"sandbox/scenarios/{workflow.package}.py must define {', '.join(missing)}")
    if LAMBDA_STANDIN in module.STANDIN_SETTINGS:
        raise ScenarioError(f"sandbox/scenarios/{workflow.package}.py: the stand-in name {LAMBDA_STANDIN!r} is every "
                            "workflow's own (its functions crashing); choose another")
    return WorkflowSpec(
        name=workflow.name,
        stack_id=workflow.stack_id,
        summary=workflow.summary,
        sample_input=module.SAMPLE_INPUT,
        scenario=module.SCENARIO,
        standin_settings=module.STANDIN_SETTINGS,
        headline=getattr(module, "headline", None),
        declaration=workflow,
    )


@cache
def all_workflows() -> dict[str, WorkflowSpec]:
    return {workflow.name: spec_of(workflow) for workflow in discover_workflows()}


def get_workflow(name: str) -> WorkflowSpec:
    workflows = all_workflows()
    try:
        return workflows[name]
    except KeyError:
        raise ScenarioError(f"unknown workflow {name!r}; known: {', '.join(workflows)}") from None


__all__ = ["Scenario", "ScenarioError", "WorkflowError", "WorkflowSpec", "all_workflows", "get_workflow", "spec_of"]
