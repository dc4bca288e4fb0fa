"""`python -m sandbox watch WORKFLOW`: save a handler, see the execution's result (hot swap).

The emulator, the deployed stack and its stand-ins stay up between runs. After a change to the
project (files under `lambda_src/`, `stacks/`, `app.py`, `cdk.json`, `requirements.txt`, your
`settings/`, seen by watchfiles):

* only Lambda source changed: its asset is rebuilt alone (no synth, `sandbox.synth`), the new zip
  goes to the asset bucket and each deployed function that used the old one gets
  `UpdateFunctionCode`, as `cdk deploy --hotswap` does; the next invocation starts a worker on the
  new code (a cold start, as in AWS). Then the execution runs again;
* the infrastructure changed: the app is synthesized; if the workflow's template differs, a
  fresh emulator deploys it again (its stand-ins with it) and the execution runs again;
* nothing the workflow is made from changed (a README, another workflow's handler): no run.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from threading import Event
from typing import Any, Callable, ContextManager, Iterable, Iterator, Mapping

from sandbox.last_run import run_and_keep
from sandbox.session import HotSwap, RunReport, Sandbox
from sandbox.synth import REPO_ROOT, infrastructure_inputs


def watched_paths(root: Path = REPO_ROOT) -> list[Path]:
    """What the assembly is made from (the Lambda sources and the infrastructure), where it exists."""
    paths = [root / "lambda_src", *infrastructure_inputs(root)]
    # a settings file is watched through its folder: editors often replace a file rather than write it
    return sorted({path.parent if path.name == "local.json" else path for path in paths if path.exists()})


def file_changes(root: Path = REPO_ROOT, *, stop_event: Event | None = None) -> Iterator[set[Path]]:
    """Batches of changed files, as watchfiles reports them: a batch ends 50 ms after its last change. Ends when
    `stop_event` is set or a signal handler raises (watchfiles cannot tell which exception it raised)."""
    from watchfiles import watch

    quiet = logging.getLogger("watchfiles.main")  # it warns "KeyboardInterrupt caught" on any signal
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        for changes in watch(*watched_paths(root), step=50, stop_event=stop_event, raise_interrupt=False):
            yield {Path(path) for _, path in changes}
    finally:
        quiet.setLevel(level)


@dataclass(frozen=True)
class Round:
    """One reaction to a batch of changes."""

    changed: tuple[Path, ...]
    swap: HotSwap
    report: RunReport | None  # None: nothing the workflow is made from changed, so it did not run
    seconds: float  # from the change (the newest modification time of the changed files) to the result
    swap_seconds: float  # of which: bringing the assembly and the deployed code up to date (or redeploying)


class Watch:
    """A workflow deployed once and run again after each change (a context manager)."""

    def __init__(self, workflow: str, *, root: Path = REPO_ROOT, execution_input: Mapping[str, Any] | None = None,
                 standins: Mapping[str, Mapping[str, str]] | None = None, timeout_s: float = 600,
                 on_event: Callable[[Any], None] | None = None,
                 progress: Callable[[str], ContextManager[Any]] | None = None) -> None:
        self.workflow = workflow
        self.root = root
        self.execution_input = execution_input
        self.standins = standins
        self.timeout_s = timeout_s
        self.on_event = on_event
        self.progress = progress
        self._session = ExitStack()
        self.sandbox: Sandbox | None = None

    def __enter__(self) -> "Watch":
        self._open()
        return self

    def __exit__(self, *exc: object) -> None:
        self._session.close()

    def _open(self) -> None:
        self.sandbox = self._session.enter_context(Sandbox(root=self.root, progress=self.progress))
        self.sandbox.deploy(self.workflow)

    def run(self) -> RunReport:
        assert self.sandbox is not None, "use Watch as a context manager"
        report, _ = run_and_keep(self.sandbox.deploy(self.workflow), self.execution_input, standins=self.standins,
                                 on_event=self.on_event, timeout_s=self.timeout_s)
        return report

    def react(self, changed: Iterable[Path]) -> Round:
        """Bring the deployed workflow up to date with the project, and run it again if anything of it changed."""
        assert self.sandbox is not None, "use Watch as a context manager"
        changed = tuple(sorted(changed))
        edited_at = max((path.stat().st_mtime for path in changed if path.exists()), default=time.time())
        started = time.perf_counter()
        swap = self.sandbox.hot_swap(self.workflow)
        if swap.redeploy:
            self._session.close()
            self._open()
        swap_seconds = time.perf_counter() - started
        if not swap.redeploy and not swap.updated_functions:
            return Round(changed, swap, None, time.time() - edited_at, swap_seconds)
        report = self.run()
        return Round(changed, swap, report, time.time() - edited_at, swap_seconds)

    def loop(self, changes: Iterable[set[Path]], on_round: Callable[[Round], None], *, rounds: int | None = None) -> int:
        """React to each batch of `changes` (default source: `file_changes`); stop after `rounds` reactions that
        ran the workflow (None: when the changes end). Returns how many ran it."""
        ran = 0
        for batch in changes:
            result = self.react(batch)
            on_round(result)
            ran += result.report is not None
            if rounds is not None and ran >= rounds:
                break
        return ran
