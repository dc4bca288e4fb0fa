"""Extensions of moto's Step Functions engine (and of its S3, where a workflow relies on S3's data
integrity features) that make it behave as AWS does where it differs.

Each module patches one behaviour of moto 5.2.5 (checked at install: another moto version is
refused by name, since the patches reach into its internals) and can be undone. The
`Emulator` installs them all while it runs.
"""

from __future__ import annotations

from contextlib import ExitStack
from importlib.metadata import version
from typing import Callable, ContextManager

from sandbox.engine import (
    context_times,
    distributed_map,
    fail_state,
    jsonata_states,
    payload_size,
    s3_integrity,
    status_events,
    string_matches,
)

PINNED_MOTO = "5.2.5"

# Each: a context manager factory that patches on enter and restores on exit.
EXTENSIONS: list[Callable[[], ContextManager[None]]] = [
    payload_size.utf8_payload_quota,
    context_times.iso_start_time,
    distributed_map.distributed_map_extensions,  # ItemBatcher, tolerances, EXPRESS children, reader, ResultWriter
    fail_state.fail_state_rethrows_states_errors,  # Fail with ErrorPath -> States.* (a caught error re-raised)
    jsonata_states.jsonata_and_variables,  # JSONata evaluation, $states, variables read in JSONPath, limits
    s3_integrity.s3_integrity,  # default CRC64NVME, checksum types, CopySourceIfMatch, part checksums
    status_events.status_events,  # execution status changes on EventBridge; rules' Lambda targets invoked
    string_matches.aws_string_matches,  # Choice StringMatches: only `*` is a wildcard (moto: fnmatch's ? and [...])
]


class EngineVersionError(RuntimeError):
    """The installed moto is not the version the engine extensions were written for."""


def install_extensions() -> ExitStack:
    """Apply every extension; close the returned stack to undo them."""
    installed = version("moto")
    if installed != PINNED_MOTO:
        raise EngineVersionError(f"the sandbox's engine extensions are written for moto {PINNED_MOTO}, found {installed}; "
                                 f"install the pinned requirements (make setup)")
    stack = ExitStack()
    try:
        for extension in EXTENSIONS:
            stack.enter_context(extension())
    except BaseException:
        stack.close()
        raise
    return stack
