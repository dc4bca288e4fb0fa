"""Extensions of moto's Step Functions engine (and of its S3, where a workflow relies on S3's data
integrity features) that make it behave as AWS does where it differs.

Each module patches one behaviour of moto 5.2.5 (checked at install: another moto version is
refused by name, since the patches reach into its internals) and can be undone. The
`Emulator` installs them all while it runs.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from functools import cache
from importlib.metadata import version
from typing import Callable, ContextManager, Iterator


@contextmanager
def _one_botocore_loader() -> Iterator[None]:
    """While moto is imported, new botocore sessions share one data loader, so EC2's service model is parsed once:
    moto 5.2.5's EC2 models (which its Step Functions engine imports, through Batch) build three boto3 Sessions
    at import, each parsing EC2's model and the endpoints file anew (about a second of CPU) to list regions.
    Only for the import: a loader's data may be changed by botocore's handlers as clients are made, so moto's
    server and the harness's clients keep loaders of their own."""
    import botocore.session

    original = botocore.session.create_loader
    botocore.session.create_loader = cache(original)
    try:
        yield
    finally:
        botocore.session.create_loader = original


with _one_botocore_loader():
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
