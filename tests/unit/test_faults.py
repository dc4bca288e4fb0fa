"""The fault matrix's own logic (sandbox/faults.py): a declaration's problems, and `verify`, which must name
every way an observation breaks a fault's promise (and nothing when it keeps it)."""

from __future__ import annotations

import types
from dataclasses import replace

import pytest

from sandbox.faults import (
    CRASH,
    ERRORING,
    GARBAGE,
    KINDS,
    THROTTLED,
    TIMING_OUT,
    Fault,
    FaultMatrix,
    Notice,
    Observation,
    failure_notice,
    fault_matrix_of,
    merge_retries,
    verify,
)

CLEAN = {"moved": ["a", "b"]}
RECOVERS = Fault("api", THROTTLED, {"api": {"fail_mode": "429"}}, retries={"Call": {"Throttled": 1}},
                 observed={"api.calls": 2})
FAILS = Fault("api", GARBAGE, {"api": {"fail_mode": "garbage"}}, error="BadAnswer", notice=Notice("BadAnswer", "not JSON"))
RECOVERED = Observation("SUCCEEDED", None, {"Call": {"Throttled": 1}}, [], [], {"api": {"calls": 2}}, CLEAN)
FAILED = Observation("FAILED", "BadAnswer", {}, [("BadAnswer", "api: response is not JSON")], [], {}, CLEAN,
                     rerun_status="SUCCEEDED")


def every_kind(dependency: str) -> tuple[Fault, ...]:
    return tuple(Fault(dependency, kind, {}) for kind in KINDS)


def test_a_kept_promise_has_no_problem():
    assert verify(RECOVERS, RECOVERED, CLEAN) == []
    assert verify(FAILS, FAILED, CLEAN) == []


@pytest.mark.parametrize(("seen", "problem"), [
    (replace(RECOVERED, retries={"Call": {"Throttled": 2}}), "retries in the history: expected {'Call': {'Throttled': 1}}"),
    (replace(RECOVERED, retries={}), "got none"),
    (replace(RECOVERED, retries={"Call": {"Throttled": 1}, "Other": {"X": 1}}), "retries in the history"),
    (replace(RECOVERED, retries={"Call": {"Unavailable": 1}}), "retries in the history"),
    (replace(RECOVERED, status="FAILED", error="Throttled"), "run: expected SUCCEEDED, got FAILED with Throttled"),
    (replace(RECOVERED, notices=[("Throttled", "")]), "notices: expected none"),
    (replace(RECOVERED, lost=["k was deleted without its copy"]), "lost after the faulted run: k was deleted without its copy"),
    (replace(RECOVERED, outside_world={"api": {"calls": 3}}), "outside world: expected api.calls = 2, got 3"),
    (replace(RECOVERED, outside_world={}), "outside world: expected api.calls = 2, got nothing"),
    (replace(RECOVERED, end_state={"moved": ["a"]}), "end state after the faulted run differs"),
])
def test_each_broken_promise_of_a_recovering_fault_is_named(seen, problem):
    found = verify(RECOVERS, seen, CLEAN)
    assert len(found) == 1 and problem in found[0], found


@pytest.mark.parametrize(("seen", "problem"), [
    (replace(FAILED, status="SUCCEEDED", error=None), "run: expected FAILED with BadAnswer, got SUCCEEDED"),
    (replace(FAILED, error="OtherError"), "run: expected FAILED with BadAnswer, got FAILED with OtherError"),
    (replace(FAILED, notices=[]), "notices: expected one BadAnswer"),
    (replace(FAILED, notices=[("BadAnswer", "x")] * 2), "notices: expected one BadAnswer"),
    (replace(FAILED, notices=[("BadAnswer", "a timeout")]), "whose cause holds 'not JSON'"),
    (replace(FAILED, notices=[("Other", "not JSON")]), "notices: expected one BadAnswer"),
    (replace(FAILED, rerun_status="FAILED", end_state=None), "re-run after the fault was cleared: expected SUCCEEDED, got FAILED"),
    (replace(FAILED, rerun_lost=["m is gone"]), "lost after the re-run: m is gone"),
    (replace(FAILED, end_state={"moved": []}), "end state after the re-run differs"),
])
def test_each_broken_promise_of_a_failing_fault_is_named(seen, problem):
    found = [line for line in verify(FAILS, seen, CLEAN) if problem in line]
    assert found, verify(FAILS, seen, CLEAN)


def test_a_declared_rerun_that_was_not_made_is_named():
    assert verify(replace(RECOVERS, rerun=True), RECOVERED, CLEAN) == ["re-run after the fault was cleared: declared, not made"]


def test_a_matrix_names_each_kind_left_out_without_a_reason():
    # GIVEN a dependency with every kind but one, and one kind declared twice
    faults = tuple(fault for fault in every_kind("api") if fault.kind != CRASH) + (Fault("api", THROTTLED, {}),)
    problems = FaultMatrix(faults=faults).problems()
    # THEN both are named
    assert problems == ["fault 'api-throttled' is declared twice", "api: no crash fault, and no reason why not (not_played)"]
    # AND a reason stands for the missing kind; a blank one does not; played and "not played" at once is named
    assert FaultMatrix(faults=every_kind("api")[:-1], not_played={("api", CRASH): "no worker of ours"}).problems() == []
    assert FaultMatrix(faults=every_kind("api")[:-1], not_played={("api", CRASH): " "}).problems() != []
    assert FaultMatrix(faults=every_kind("api"), not_played={("api", CRASH): "why"}).problems() == [
        "api: crash is both played and declared not played"]
    assert FaultMatrix(faults=every_kind("api"), not_played={("db", CRASH): "why"}).problems() == [
        "not_played names 'db', which no fault names"]
    assert FaultMatrix(faults=(Fault("api", "flooded", {}),) + every_kind("api")).problems() == [
        "api-flooded: unknown kind 'flooded' (one of throttled, erroring, timing-out, garbage, crash)"]


def test_standins_are_layered_setting_by_setting():
    matrix = FaultMatrix(faults=(), base_standins={"source": {"objects": "8", "other_dates": "2"}})
    assert matrix.standins({"source": {"objects": "3"}}, {"lambda": {"function": "F"}}) == {
        "source": {"objects": "3", "other_dates": "2"}, "lambda": {"function": "F"}}
    assert matrix.base_standins == {"source": {"objects": "8", "other_dates": "2"}}  # not changed by merging


def test_retries_of_several_histories_add_up_and_notices_are_read_by_their_error():
    assert merge_retries([{"Copy": {"S3Throttled": 1}}, {"Copy": {"S3Throttled": 2, "Timeout": 1}}, {}]) == {
        "Copy": {"S3Throttled": 3, "Timeout": 1}}
    assert failure_notice({"workflow": "w", "error": "E", "cause": "c"}) == ("E", "c")
    assert failure_notice({"workflow": "w", "failures": []}) is None


def test_every_kind_is_distinct_and_a_module_without_faults_has_none():
    assert len(set(KINDS)) == len(KINDS) == 5 and {THROTTLED, ERRORING, TIMING_OUT, GARBAGE, CRASH} == set(KINDS)

    no_faults, wrong_faults = types.ModuleType("no_faults"), types.ModuleType("wrong_faults")
    wrong_faults.FAULTS = {"api": "throttled"}
    assert fault_matrix_of(no_faults) is None
    with pytest.raises(TypeError, match="wrong_faults.FAULTS must be a sandbox.faults.FaultMatrix"):
        fault_matrix_of(wrong_faults)


def test_every_workflow_has_the_lambda_stand_in_and_its_settings_are_checked():
    from sandbox.scenarios.base import LAMBDA_STANDIN, FunctionCrashes
    from sandbox.workflows import ScenarioError, all_workflows

    for spec in all_workflows().values():
        assert spec.validate_standins({})[LAMBDA_STANDIN] == FunctionCrashes()
        assert spec.validate_standins({LAMBDA_STANDIN: {"function": "F", "crashes": "2", "crash_after_seconds": "0"}})[
            LAMBDA_STANDIN] == FunctionCrashes(function="F", crashes=2, crash_after_seconds=0.0)
        for bad in ({"crashes": "-1"}, {"crash_after_seconds": "901"}, {"crash_after_seconds": "nan"}, {"crash": "F"}):
            with pytest.raises(ScenarioError):
                spec.validate_standins({LAMBDA_STANDIN: bad})


def test_a_scenario_may_not_name_a_stand_in_lambda():
    from sandbox.scenarios.base import LAMBDA_STANDIN
    from sandbox.workflows import ScenarioError, spec_of

    module = types.ModuleType("sandbox.scenarios.mine")
    module.SCENARIO, module.SAMPLE_INPUT, module.STANDIN_SETTINGS = object, {}, {LAMBDA_STANDIN: dict}

    class Declared:  # what spec_of reads of a declaration
        name, package, stack_id, summary, scenario_module = "mine", "mine", "Mine", "", "sandbox.scenarios.mine"

        def scenario(self):
            return module

    with pytest.raises(ScenarioError, match="the stand-in name 'lambda' is every workflow's own"):
        spec_of(Declared())
