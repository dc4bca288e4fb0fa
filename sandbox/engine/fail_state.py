"""A Fail state re-raising a caught States.* error, as AWS allows.

`{"Type": "Fail", "ErrorPath": "$.error.Error"}` after a `Catch` re-raises the caught error's own
name. AWS accepts any name there, States.* included (only a literal `Error` field may not start
with "States."). moto 5.2.5 builds the runtime name as a "custom" error name and refuses the prefix,
so a caught States.ExceedToleratedFailureThreshold / States.Timeout / States.TaskFailed turns into
States.Runtime ("Custom Error Names MUST NOT begin with the prefix 'States.'"). This extension lets
the Fail state's evaluated name through unchanged.

The same refusal broke errors leaving a Map iteration or a Parallel branch: a States.* error raised
inside one (States.QueryEvaluationError, States.Runtime, States.DataLimitExceeded...) reached the
parent as States.Runtime "Custom Error Names MUST NOT begin...". AWS passes the branch's error on by
its own name (a Catch on the Map or Parallel matches it), with the cause the failing state gave it
(moto prefixed it a second time with "An error occurred while executing the state 'None'"); so
does this extension.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

STATE_CAUSE_PREFIX = "An error occurred while executing the state '"


@contextmanager
def fail_state_rethrows_states_errors() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import iteration_worker
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
    from moto.stepfunctions.parser.asl.component.state.fail import state_fail

    class EvaluatedErrorName(ErrorName):
        """An error name evaluated at run time (a Fail's ErrorPath, a branch's error), whatever its prefix."""

    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException

    modules = (state_fail, iteration_worker, branches_decl)
    originals = [module.CustomErrorName for module in modules]
    original_details = FailureEventException.__dict__["get_execution_failed_event_details"]

    def get_execution_failed_event_details(self):  # type: ignore[no-untyped-def]
        pair = self.extract_error_cause_pair()
        if pair and isinstance(pair[1], str) and pair[1].startswith(STATE_CAUSE_PREFIX):
            details = {"error": pair[0], "cause": pair[1]} if pair[0] else {"cause": pair[1]}
            return details  # already names the state it came from
        return original_details(self)

    for module in modules:
        module.CustomErrorName = EvaluatedErrorName
    FailureEventException.get_execution_failed_event_details = get_execution_failed_event_details
    try:
        yield
    finally:
        for module, original in zip(modules, originals):
            module.CustomErrorName = original
        FailureEventException.get_execution_failed_event_details = original_details
