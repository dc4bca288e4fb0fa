"""The fault matrix (issue 13): every discovered workflow x every fault its scenario module declares
(`FAULTS`, see sandbox/faults.py), run through the sandbox.

Each case runs the workflow once with the fault's stand-in settings and checks, with `sandbox.faults.verify`:
the retries its execution history shows (Distributed Map children included), the run's outcome, the failure
notice and its cause, that nothing was lost (the scenario's `nothing_lost`), and that the end state equals a
clean run's (the scenario's `end_state`): the faulted run's own when it recovered, else that of a re-run once
the fault is cleared. One clean run per workflow and test process gives that end state.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest
from filelock import FileLock

from sandbox.engine.distributed_map import map_runs
from sandbox.execution import retries_by_state
from sandbox.faults import (
    ERRORING,
    Fault,
    FaultMatrix,
    FunctionSettings,
    Notice,
    Observation,
    fault_matrix_of,
    merge_retries,
    same_inputs,
    verify,
)
from sandbox.scenarios.base import settle
from sandbox.session import DeployedWorkflow, RunReport, Sandbox
from sandbox.workflows import ScenarioError
from stacks.common.registry import discover_workflows
from tests.workflows.notices import notice_inbox

MATRICES: dict[str, FaultMatrix | None] = {workflow.name: fault_matrix_of(workflow.scenario()) for workflow in discover_workflows()}
CASES = [pytest.param(name, fault, id=f"{name}:{fault.id}") for name, matrix in MATRICES.items() if matrix for fault in matrix.faults]


def settled(scenario: Any) -> None:
    """Before a run: work an earlier test set going (single-flight's consumer) has ended, or the run's counts mix."""
    assert settle(scenario, 60), f"earlier work still running after 60 s: {scenario.stats()}"


def as_json(value: Any) -> Any:
    """`value` as JSON gives it back (tuples as lists): how end states are kept and compared."""
    return json.loads(json.dumps(value))


def configure_functions(workflow: DeployedWorkflow, functions: Mapping[str, FunctionSettings]) -> dict[str, dict[str, Any]]:
    """Set deployed functions' environment and timeout as `update-function-configuration` would; returns
    what they were (for `restore_functions`)."""
    client = workflow.emulator.client("lambda")
    before = {}
    for function, settings in functions.items():
        name = workflow.function_named(function)
        configuration = client.get_function_configuration(FunctionName=name)
        environment = configuration.get("Environment", {}).get("Variables", {})
        before[name] = {"Environment": {"Variables": environment}, "Timeout": configuration["Timeout"]}
        change: dict[str, Any] = {"Environment": {"Variables": {**environment, **settings.environment}}}
        if settings.timeout_seconds is not None:
            change["Timeout"] = settings.timeout_seconds
        client.update_function_configuration(FunctionName=name, **change)
    return before


def restore_functions(workflow: DeployedWorkflow, before: Mapping[str, Mapping[str, Any]]) -> None:
    client = workflow.emulator.client("lambda")
    for name, configuration in before.items():
        client.update_function_configuration(FunctionName=name, **configuration)


@dataclass
class PreparedWorkflow:
    """A workflow deployed for the matrix: its notices inbox, the end state of its clean run, its run count."""

    workflow: DeployedWorkflow
    matrix: FaultMatrix
    notices: Callable[[], list[dict]]
    inputs: Callable[[int], tuple[dict[str, Any], dict[str, Any]]]
    restore: dict[str, dict[str, Any]] = field(default_factory=dict)  # function -> its configuration before
    clean_end_state: Any = None
    runs: int = 0
    last_success: RunReport | None = None  # the last run that succeeded; the world is still as it left it

    def failure_notices(self) -> list[tuple[str, str]]:
        return [notice for notice in map(self.matrix.read_notice, self.notices()) if notice is not None]


class MatrixRuns:
    """Prepares each workflow on first use (deploy, function settings, clean run) and runs its faults.

    The clean run's end state is kept in `shared` (a folder every test process of the session sees), so that
    one process runs it and the others read it: an end state is a function of the declarations alone."""

    def __init__(self, sandbox: Sandbox, shared: Path) -> None:
        self._shared = shared
        self._sandbox = sandbox
        self._prepared: dict[str, PreparedWorkflow] = {}
        self._restore: list[PreparedWorkflow] = []  # whose functions to configure back
        self._observed: dict[tuple[str, str], Observation] = {}

    def prepared(self, name: str) -> PreparedWorkflow:
        if name not in self._prepared:
            workflow = self._sandbox.deploy(name)
            matrix = MATRICES[name]
            assert matrix is not None, f"{name} declares no FAULTS"
            prepared = PreparedWorkflow(workflow, matrix, notice_inbox(workflow, wait_seconds=0),
                                        matrix.inputs or same_inputs(workflow.spec.sample_input))
            self._configure_functions(prepared)
            self._restore.append(prepared)
            kept = self._shared / f"clean-end-state-{name}.json"
            with FileLock(f"{kept}.lock"):
                if not kept.exists():
                    kept.write_text(json.dumps(self._clean_end_state(prepared)))
            prepared.clean_end_state = json.loads(kept.read_text())
            self._prepared[name] = prepared
        return self._prepared[name]

    @staticmethod
    def _clean_end_state(prepared: PreparedWorkflow) -> Any:
        workflow, name = prepared.workflow, prepared.workflow.spec.name
        settled(workflow.scenario)
        clean = workflow.run(prepared.inputs(0)[0], standins=prepared.matrix.standins())
        assert clean.status == "SUCCEEDED", f"{name}: the clean run failed: {clean.error}: {clean.cause}"
        assert workflow.scenario.nothing_lost(clean) == [], f"{name}: the clean run lost something"
        prepared.notices()
        return as_json(workflow.scenario.end_state(clean))

    def _configure_functions(self, prepared: PreparedWorkflow) -> None:
        prepared.restore = configure_functions(prepared.workflow, prepared.matrix.functions)

    def restore(self) -> None:
        for prepared in reversed(self._restore):  # a second preparation saved the first one's changes
            restore_functions(prepared.workflow, prepared.restore)

    def last_success(self, name: str) -> RunReport:
        """The last run of the workflow that succeeded in this process, after which the world is as it left it
        (a recovered fault's, a re-run's), or else one more run without a fault."""
        prepared = self.prepared(name)
        if prepared.last_success is None:
            prepared.runs += 1
            settled(prepared.workflow.scenario)
            prepared.last_success = prepared.workflow.run(prepared.inputs(prepared.runs)[0], standins=prepared.matrix.standins())
            prepared.notices()
        return prepared.last_success

    def observe_once(self, name: str, fault: Fault) -> Observation:
        """`observe`, run at most once per fault in this process (the harness's own tests reuse a case's)."""
        key = (name, fault.id)
        if key not in self._observed:
            self._observed[key] = self.observe(name, fault)
        return self._observed[key]

    def observe(self, name: str, fault: Fault) -> Observation:
        """Run `fault` (and, when the run fails, a re-run with the fault cleared); what the matrix sees."""
        prepared = self.prepared(name)
        workflow, matrix, scenario = prepared.workflow, prepared.matrix, prepared.workflow.scenario
        prepared.runs += 1
        run_input, rerun_input = prepared.inputs(prepared.runs)
        prepared.notices()
        settled(scenario)
        before = configure_functions(workflow, fault.functions)
        try:
            report = workflow.run(run_input, standins=matrix.standins(fault.standins))
        finally:
            restore_functions(workflow, before)
        notices = prepared.failure_notices()
        lost = scenario.nothing_lost(report)
        prepared.last_success = None
        if report.status == "SUCCEEDED" and not fault.rerun:
            prepared.last_success = report
            return Observation(report.status, None, self.retries(workflow, report.execution_arn), notices, lost,
                               report.outside_world, as_json(scenario.end_state(report)))
        rerun = workflow.run(rerun_input, standins=matrix.standins(matrix.rerun_standins))
        prepared.notices()  # a re-run's own notices (a summary) are not the fault's
        prepared.last_success = rerun if rerun.status == "SUCCEEDED" else None
        return Observation(report.status, report.error, self.retries(workflow, report.execution_arn), notices, lost,
                           report.outside_world, as_json(scenario.end_state(rerun)) if rerun.status == "SUCCEEDED" else None,
                           rerun_status=rerun.status, rerun_lost=scenario.nothing_lost(rerun))

    @staticmethod
    def retries(workflow: DeployedWorkflow, execution_arn: str) -> dict[str, dict[str, int]]:
        """Retries per state and error in the execution's history and its Distributed Map children's."""
        paginator = workflow.emulator.client("stepfunctions").get_paginator("get_execution_history")
        history = [event for page in paginator.paginate(executionArn=execution_arn) for event in page["events"]]
        children = [child.retries for run in map_runs(execution_arn) for child in run.children.values()]
        return merge_retries([retries_by_state(history), *children])


@pytest.fixture(scope="module")
def matrix_runs(sandbox, tmp_path_factory):
    shared = tmp_path_factory.getbasetemp()
    runs = MatrixRuns(sandbox, shared.parent if "PYTEST_XDIST_WORKER" in os.environ else shared)
    yield runs
    runs.restore()


def test_every_workflow_declares_each_kind_of_fault_for_each_dependency():
    # GIVEN every discovered workflow's scenario module
    # THEN each declares a fault matrix, and it names each kind of fault for each dependency (or why not)
    problems = {name: matrix.problems() if matrix else ["no FAULTS in its scenario module"] for name, matrix in MATRICES.items()}
    assert {name: found for name, found in problems.items() if found} == {}


@pytest.mark.parametrize(("workflow", "fault"), CASES)
def test_a_fault_keeps_the_workflows_promise(matrix_runs, workflow, fault):
    # GIVEN the workflow deployed, and the end state of a clean run
    # WHEN it runs with the fault (and, if it failed, again once the fault is cleared)
    seen = matrix_runs.observe_once(workflow, fault)
    # THEN the history shows the declared retries, the run ends as declared with its notice,
    #      nothing is lost, and the end state is the clean run's
    problems = verify(fault, seen, matrix_runs.prepared(workflow).clean_end_state)
    assert problems == [], "\n".join(problems)


# --------------------------------------------------------------------------- the harness can fail


# A case that recovers after retries, of the first workflow that declares one: the harness's own test runs it.
RECOVERING = next(((name, fault) for name, matrix in MATRICES.items() if matrix for fault in matrix.faults
                   if fault.retries and fault.error is None and fault.notice is None and not fault.rerun), None)


@pytest.mark.skipif(RECOVERING is None, reason="no workflow declares a fault that recovers after retries")
def test_the_harness_fails_a_case_whose_declaration_the_run_does_not_keep(matrix_runs):
    # GIVEN a real case that keeps its promise: it recovers after the retries it declares
    name, fault = RECOVERING
    seen = matrix_runs.observe_once(name, fault)
    clean = matrix_runs.prepared(name).clean_end_state
    assert verify(fault, seen, clean) == []
    # WHEN its declaration is wrong in one way, THEN the same run fails it, saying how
    state, errors = next(iter(fault.retries.items()))
    error, count = next(iter(errors.items()))
    path, value = next(iter(fault.observed.items()), ("no_such.value", None))
    wrong = {
        "retries in the history": replace(fault, retries={**fault.retries, state: {**errors, error: count + 1}}),
        "notices: expected one NoSuchNotice": replace(fault, notice=Notice("NoSuchNotice")),
        "run: expected FAILED with NoSuchError, got SUCCEEDED": replace(fault, error="NoSuchError"),
        f"outside world: expected {path} = ": replace(fault, observed={path: ["not", "this"]}),
    }
    for problem, declared in wrong.items():
        found = verify(declared, seen, clean)
        assert len(found) == 1 and problem in found[0], (problem, found)
    # AND an end state other than the clean run's fails it
    assert "differs from a clean run's" in verify(fault, seen, {"not": "the clean end state"})[0]


def _overwrite_the_merged_result(workflow: DeployedWorkflow, report: RunReport) -> str:
    result = report.output["result"]
    workflow.emulator.client("s3").put_object(Bucket=result["bucket"], Key=result["key"], Body=b'{"items": []}')
    return "the merged result cannot be read back: ValueError"


def _delete_a_copy(workflow: DeployedWorkflow, report: RunReport) -> str:
    scenario = workflow.scenario
    key = sorted(scenario.expected)[0]
    workflow.emulator.client("s3").delete_object(Bucket=scenario.bucket, Key=scenario.destination_of(key))
    return f"{key} was deleted without its copy"


def _forget_the_job(workflow: DeployedWorkflow, report: RunReport) -> str:
    workflow.scenario.api.reset_log()  # the API has no record of the tick's job, and the DLQ has no message
    return f"the tick {report.output['deduplication_id']} was neither done by the API nor dead-lettered"


def _leave_the_guard_running(workflow: DeployedWorkflow, report: RunReport) -> str:
    (table,) = [workflow.stack.resources[lid] for lid, kind in workflow.stack.resource_types.items() if kind == "AWS::DynamoDB::Table"]
    workflow.emulator.client("dynamodb").update_item(
        TableName=table, Key={"targetDate": {"S": report.output["targetDate"]}}, UpdateExpression="SET #s = :r",
        ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":r": {"S": "RUNNING"}})
    return f"the run guard of {report.output['targetDate']} is stuck at RUNNING"


def _delete_an_item(workflow: DeployedWorkflow, report: RunReport) -> str:
    scenario = workflow.scenario
    bucket = scenario.fleet[0].name
    workflow.emulator.client("dynamodb").delete_item(
        TableName=scenario.table_name, Key={"scan_id": {"S": scenario.scan_id(report)}, "bucket": {"S": bucket}})
    return f"{bucket} has no item in the results table"


LOSSES = {"parallel-search": _overwrite_the_merged_result, "distributed-copy": _delete_a_copy, "single-flight": _forget_the_job,
          "weekly-batch": _leave_the_guard_running, "bucket-usage": _delete_an_item}


@pytest.mark.parametrize("workflow", sorted(name for name in LOSSES if MATRICES.get(name)))
def test_the_harness_finds_what_a_run_lost(matrix_runs, workflow):
    # GIVEN a finished run that lost nothing (the last successful one of this process, or a clean one)
    report = matrix_runs.last_success(workflow)
    deployed = matrix_runs.prepared(workflow).workflow
    assert report.status == "SUCCEEDED" and deployed.scenario.nothing_lost(report) == []
    # WHEN what it did is then lost (a copy deleted, a guard left RUNNING, ...)
    expected = LOSSES[workflow](deployed, report)
    # THEN the scenario's nothing_lost names it, and so would the case's verdict
    lost = deployed.scenario.nothing_lost(report)
    assert len(lost) == 1 and expected in lost[0], lost
    seen = Observation(report.status, None, {}, [], lost, report.outside_world, matrix_runs.prepared(workflow).clean_end_state)
    assert verify(Fault("any", ERRORING, {}), seen, seen.end_state) == [f"lost after the faulted run: {lost[0]}"]


@pytest.mark.skipif(not CASES, reason="no workflow declares faults")
def test_a_crash_of_a_function_the_workflow_does_not_have_is_refused_by_name(matrix_runs):
    name = CASES[0].values[0]
    deployed = matrix_runs.prepared(name).workflow
    with pytest.raises(ScenarioError, match=f"{name} has no function 'NoSuchFunction'; its functions: "):
        deployed.run(standins={"lambda": {"function": "NoSuchFunction"}})
