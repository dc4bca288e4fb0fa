"""A Fail state re-raising a caught States.* error, as AWS allows.

`{"Type": "Fail", "ErrorPath": "$.error.Error"}` after a `Catch` re-raises the caught error's own
name. AWS accepts any name there, States.* included (only a literal `Error` field may not start
with "States."). moto 5.2.5 builds the runtime name as a "custom" error name and refuses the prefix,
so a caught States.ExceedToleratedFailureThreshold / States.Timeout / States.TaskFailed turns into
States.Runtime ("Custom Error Names MUST NOT begin with the prefix 'States.'"). This extension lets
the Fail state's evaluated name through unchanged.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


@contextmanager
def fail_state_rethrows_states_errors() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
    from moto.stepfunctions.parser.asl.component.state.fail import state_fail

    class EvaluatedErrorName(ErrorName):
        """The error name a Fail state evaluated (ErrorPath), whatever its prefix."""

    original = state_fail.CustomErrorName
    state_fail.CustomErrorName = EvaluatedErrorName
    try:
        yield
    finally:
        state_fail.CustomErrorName = original
