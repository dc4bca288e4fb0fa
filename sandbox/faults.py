"""A workflow's fault matrix: each outside dependency failing each way, and what the workflow must do then.

Each scenario module declares, as data, `FAULTS = FaultMatrix(...)`: per dependency (a stand-in, or one of
the workflow's own functions crashing), a `Fault` per kind in `KINDS` - the `--standin` settings that play it,
and the promise: which states retry and how often (as the execution history shows them, Distributed Map
children included), whether the run recovers or fails with which named error, and the notice with its cause.
Its scenario class answers two questions about the world after a run: `nothing_lost(report)` (what a run
lost: a source deleted without its copy, a message gone without the DLQ, a guard left stuck; [] when
nothing) and `end_state(report)` (what a successful run leaves, comparable between runs). A scenario whose
work outlives its run (single-flight's consumer) also has `settle(timeout_s) -> bool`: wait until the work of
earlier runs has ended, so that a run's counts are its own.

`tests/workflows/test_fault_matrix.py` runs every declared fault of every discovered workflow through the
sandbox and checks it with `verify`; a forked workflow inherits its matrix with its scenario module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

THROTTLED = "throttled"
ERRORING = "erroring"
TIMING_OUT = "timing-out"
GARBAGE = "garbage"  # answering something that is not the answer (not JSON, not the protocol's shape)
CRASH = "crash"  # the worker doing the task dies mid-task (a Lambda worker killed mid-invocation)
KINDS = (THROTTLED, ERRORING, TIMING_OUT, GARBAGE, CRASH)

Standins = Mapping[str, Mapping[str, str]]  # stand-in name -> {setting: text}, as `--standin NAME.SETTING=TEXT`


@dataclass(frozen=True)
class Notice:
    """The failure notice a run must publish (SNS): its error's name, and text its cause must contain."""

    error: str
    cause: str = ""


@dataclass(frozen=True)
class FunctionSettings:
    """A deployed function's configuration during the matrix's runs (as `update-function-configuration`
    would set it; restored after): only to make waits shorter, e.g. a redelivery hold or a timeout."""

    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: int | None = None


@dataclass(frozen=True)
class Fault:
    """One dependency failing one way, and what the workflow must do about it.

    dependency: what fails (a stand-in's name, `S3`, or the function whose worker crashes).
    kind: one of KINDS.
    standins: the `--standin` settings that play it (merged over the matrix's `base_standins`).
    retries: `{state: {error: retries}}` the execution history must show, exactly (every other state: none).
    error: None when the run must succeed; else the error the execution must fail with.
    notice: the failure notice the run must publish (None: it must publish none).
    observed: values the stand-ins' report (`outside_world`) must hold, by dotted path (`api_requests.shop-a`).
    rerun: the run succeeds without reaching a clean run's end state (it records the failure and goes on):
        a re-run once the fault is cleared must reach it. A run that fails is always re-run.
    functions: `{function: FunctionSettings}` for this fault's run only (restored before any re-run).
    variant: tells apart two faults of one kind and dependency (part of `id`).
    """

    dependency: str
    kind: str
    standins: Standins
    retries: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    error: str | None = None
    notice: Notice | None = None
    observed: Mapping[str, Any] = field(default_factory=dict)
    rerun: bool = False
    functions: Mapping[str, FunctionSettings] = field(default_factory=dict)
    variant: str = ""

    @property
    def id(self) -> str:
        return "-".join(part for part in (self.dependency, self.kind, self.variant) if part)


def failure_notice(message: Mapping[str, Any]) -> tuple[str, str] | None:
    """(error, cause) of a notice published by `stacks.common.state_machine.notify_failure_then_fail`;
    None for any other notice (a summary)."""
    if "error" not in message:
        return None
    return str(message["error"]), str(message.get("cause") or "")


def same_inputs(sample: Mapping[str, Any]) -> Callable[[int], tuple[dict[str, Any], dict[str, Any]]]:
    """Every run and re-run takes `sample` as its input."""
    return lambda number: (dict(sample), dict(sample))


@dataclass(frozen=True)
class FaultMatrix:
    """A workflow's faults, and how to run them.

    faults: the faults, each run once by the matrix.
    not_played: `{(dependency, kind): reason}` for a kind a dependency cannot show; every other kind of
        every dependency named in `faults` must have its fault.
    base_standins: settings of every run: the clean one, each fault's (under its own) and each re-run's.
    rerun_standins: what a re-run after a failed fault adds to `base_standins`: the fault cleared, what
        the failed run left kept (e.g. the source objects not refilled).
    functions: `{function: FunctionSettings}` for the matrix's runs (shorter waits).
    inputs: `inputs(n) -> (input, rerun input)` of the n-th run of the matrix (0: the clean run), when runs
        need inputs of their own (a once-per-date guard); None: the scenario's sample input every time.
    read_notice: (error, cause) of a failure notice, None for another notice.
    """

    faults: tuple[Fault, ...]
    not_played: Mapping[tuple[str, str], str] = field(default_factory=dict)
    base_standins: Standins = field(default_factory=dict)
    rerun_standins: Standins = field(default_factory=dict)
    functions: Mapping[str, FunctionSettings] = field(default_factory=dict)
    inputs: Callable[[int], tuple[dict[str, Any], dict[str, Any]]] | None = None
    read_notice: Callable[[Mapping[str, Any]], tuple[str, str] | None] = failure_notice

    def problems(self) -> list[str]:
        """What is wrong with the declaration itself: unknown kinds, duplicate ids, kinds left out without a reason."""
        found: list[str] = []
        ids = [fault.id for fault in self.faults]
        found += [f"fault {fault_id!r} is declared twice" for fault_id in sorted({i for i in ids if ids.count(i) > 1})]
        found += [f"{fault.id}: unknown kind {fault.kind!r} (one of {', '.join(KINDS)})"
                  for fault in self.faults if fault.kind not in KINDS]
        dependencies = sorted({fault.dependency for fault in self.faults})
        played = {(fault.dependency, fault.kind) for fault in self.faults}
        for dependency in dependencies:
            for kind in KINDS:
                reason = self.not_played.get((dependency, kind), "")
                if (dependency, kind) in played and reason:
                    found.append(f"{dependency}: {kind} is both played and declared not played")
                elif (dependency, kind) not in played and not reason.strip():
                    found.append(f"{dependency}: no {kind} fault, and no reason why not (not_played)")
        found += [f"not_played names {dependency!r}, which no fault names" for dependency, _ in self.not_played
                  if dependency not in dependencies]
        return found

    def standins(self, *layers: Standins) -> dict[str, dict[str, str]]:
        """`base_standins` with `layers` over it, setting by setting."""
        merged: dict[str, dict[str, str]] = {}
        for layer in (self.base_standins, *layers):
            for name, settings in layer.items():
                merged.setdefault(name, {}).update(settings)
        return merged


@dataclass(frozen=True)
class Observation:
    """What one fault's run (and its re-run, when it failed) did, as the matrix saw it."""

    status: str
    error: str | None
    retries: Mapping[str, Mapping[str, int]]
    notices: list[tuple[str, str]]  # (error, cause) of each failure notice received
    lost: list[str]  # what `nothing_lost` found after the faulted run
    outside_world: Mapping[str, Any]
    end_state: Any  # after the faulted run when it succeeded, else after the re-run
    rerun_status: str | None = None  # None: no re-run (the faulted run succeeded, and no re-run was declared)
    rerun_lost: list[str] = field(default_factory=list)


def _at(world: Mapping[str, Any], path: str) -> Any:
    value: Any = world
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


_MISSING = object()


def verify(fault: Fault, seen: Observation, clean_end_state: Any) -> list[str]:
    """Every way `seen` breaks `fault`'s promise, one line each ([] when it keeps it)."""
    found: list[str] = []
    expected_status = "SUCCEEDED" if fault.error is None else "FAILED"
    if (seen.status, seen.error if seen.status != "SUCCEEDED" else None) != (expected_status, fault.error):
        found.append(f"run: expected {expected_status}{f' with {fault.error}' if fault.error else ''}, "
                     f"got {seen.status}{f' with {seen.error}' if seen.error else ''}")
    retries = {state: dict(errors) for state, errors in seen.retries.items()}
    expected_retries = {state: dict(errors) for state, errors in fault.retries.items()}
    if retries != expected_retries:
        found.append(f"retries in the history: expected {expected_retries or 'none'}, got {retries or 'none'}")
    if fault.notice is None:
        if seen.notices:
            found.append(f"notices: expected none, got {seen.notices}")
    elif len(seen.notices) != 1 or seen.notices[0][0] != fault.notice.error or fault.notice.cause not in seen.notices[0][1]:
        found.append(f"notices: expected one {fault.notice.error} whose cause holds {fault.notice.cause!r}, got {seen.notices}")
    found += [f"lost after the faulted run: {item}" for item in seen.lost]
    found += [f"lost after the re-run: {item}" for item in seen.rerun_lost]
    for path, value in fault.observed.items():
        actual = _at(seen.outside_world, path)
        if actual != value:
            found.append(f"outside world: expected {path} = {value!r}, got {'nothing' if actual is _MISSING else repr(actual)}")
    if fault.rerun and seen.rerun_status is None:
        found.append("re-run after the fault was cleared: declared, not made")
    if seen.rerun_status not in (None, "SUCCEEDED"):
        found.append(f"re-run after the fault was cleared: expected SUCCEEDED, got {seen.rerun_status}")
    if seen.end_state != clean_end_state:
        where = "the faulted run" if seen.rerun_status is None else "the re-run"
        found.append(f"end state after {where} differs from a clean run's: {seen.end_state!r} != {clean_end_state!r}")
    return found


def merge_retries(histories: Iterable[Mapping[str, Mapping[str, int]]]) -> dict[str, dict[str, int]]:
    """Retries of several histories (an execution's and its Map children's), added up per state and error."""
    total: dict[str, dict[str, int]] = {}
    for retries in histories:
        for state, errors in retries.items():
            for error, count in errors.items():
                total.setdefault(state, {})
                total[state][error] = total[state].get(error, 0) + count
    return total


def fault_matrix_of(scenario_module: Any) -> FaultMatrix | None:
    """The module's `FAULTS` (None when it declares none)."""
    matrix = getattr(scenario_module, "FAULTS", None)
    if matrix is not None and not isinstance(matrix, FaultMatrix):
        raise TypeError(f"{scenario_module.__name__}.FAULTS must be a sandbox.faults.FaultMatrix")
    return matrix
