"""Synth cost per stack, measured in ONE fresh process (`make bench` runs it in a subprocess).

In that process, in this order:

1. one-time costs: `import aws_cdk` (starts the jsii node runtime, loads aws-cdk-lib) and
   `import app` (the stacks' Python modules, cdk-nag's assembly);
2. an empty `cdk.App()` synth, first and later;
3. each workflow stack alone (`app.build_app(workflows=[name])`), the first time in the process
   and then `repeats` more times (the best of those is "later"): construct build and synth
   timed apart, and a later synth without cdk-nag beside it, so nag's share is a difference of
   two measurements, not a guess;
4. the whole app (every stack), later, with and without cdk-nag.

Beside the wall times, every phase reports what it spent where, by timers wrapped around
jsii's node round trip (`_NodeProcess.send`: time the node side worked plus the pipe),
the Docker-free bundling callback (`bundle_into`, which the local bundler's `try_bundle` calls: copying
dependencies and sources into the asset folder) and the asset content hash (`content_hash`). What is left is
Python-side work (our constructs' code, jsii (de)serialisation). CPU time (this process plus its
live child processes, read from /proc in 10 ms ticks) is reported beside wall time: on a busy
machine only CPU compares between runs. Node's background threads (WebAssembly tier-up, GC) may
keep working after a phase returns; their CPU lands in the next phase, so a fresh-process total
(`bench_synth`'s CPU column) is the figure to trust for a whole cold synth.

`python -m sandbox.benches.synth_cost [--stage prod] [--repeats 3]` prints the figures as JSON;
`bench_synth_cost()` runs that in a fresh interpreter and prints the table and notes.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator

STAGE = "prod"
REPEATS = 3


@dataclass
class Counters:
    """Time and calls of the wrapped functions, accumulated while a phase runs."""

    node_s: float = 0.0
    round_trips: int = 0
    bundling_s: float = 0.0
    bundles: int = 0
    hashing_s: float = 0.0


@dataclass
class Phase:
    """One timed phase (seconds): wall time; `node_s` wall time waiting on jsii round trips; CPU time of
    this process + the node runtime (`cpu_s`), of node alone (`node_cpu_s`), of the bundling and hash callbacks."""

    label: str
    wall_s: float
    node_s: float
    round_trips: int
    bundling_s: float
    bundles: int
    hashing_s: float
    cpu_s: float = 0.0  # CPU of this process plus its child processes (the jsii node runtime): robust to a busy machine
    node_cpu_s: float = 0.0

    @property
    def python_s(self) -> float:
        """CPU of this process outside the bundling and hash callbacks (our construct code, jsii (de)serialisation)."""
        return max(self.cpu_s - self.node_cpu_s - self.bundling_s - self.hashing_s, 0.0)


@dataclass
class SynthCost:
    stage: str
    repeats: int
    one_time: list[Phase] = field(default_factory=list)
    # label -> {"first": Phase, "later": Phase}; labels like "ParallelSearch build"
    phases: dict[str, dict[str, Phase]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage, "repeats": self.repeats,
            "one_time": [asdict(p) for p in self.one_time],
            "phases": {label: {k: asdict(p) for k, p in by_kind.items()} for label, by_kind in self.phases.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SynthCost":
        return cls(
            stage=data["stage"], repeats=data["repeats"],
            one_time=[Phase(**p) for p in data["one_time"]],
            phases={label: {k: Phase(**p) for k, p in by_kind.items()} for label, by_kind in data["phases"].items()},
        )


_COUNTERS = Counters()


def _wrap(owner: Any, name: str, account: Callable[[float], None], clock: Callable[[], float] = time.perf_counter) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            return original(*args, **kwargs)
        finally:
            account(clock() - started)

    setattr(owner, name, timed)


def _install_node_timer() -> None:
    from jsii._kernel.providers.process import _NodeProcess  # importing it does not start node

    def node(elapsed: float) -> None:
        _COUNTERS.node_s += elapsed
        _COUNTERS.round_trips += 1

    _wrap(_NodeProcess, "send", node)


def _install_bundling_timers() -> None:
    import stacks.common.bundling as bundling

    def bundle(elapsed: float) -> None:
        _COUNTERS.bundling_s += elapsed
        _COUNTERS.bundles += 1

    def hashing(elapsed: float) -> None:
        _COUNTERS.hashing_s += elapsed

    # CPU time: these run in this process's main thread
    _wrap(bundling, "bundle_into", bundle, time.process_time)  # the local bundler's try_bundle calls it
    _wrap(bundling, "content_hash", hashing, time.process_time)


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _children_cpu_s(pid: int | None = None) -> float:
    """user+system CPU of every live descendant of `pid` (default: this process), from /proc (Linux)."""
    total = 0.0
    task_dir = f"/proc/{pid or os.getpid()}/task"
    try:
        children = {int(c) for task in os.listdir(task_dir) for c in open(f"{task_dir}/{task}/children").read().split()}
    except OSError:
        return 0.0
    for child in children:
        try:
            fields = open(f"/proc/{child}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK + _children_cpu_s(child)
    return total


@contextmanager
def _phase(label: str, into: list[Phase]) -> Iterator[None]:
    before = Counters(**asdict(_COUNTERS))
    node_cpu, own_cpu = _children_cpu_s(), time.process_time()
    started = time.perf_counter()
    yield
    wall = time.perf_counter() - started
    node_cpu = _children_cpu_s() - node_cpu
    into.append(Phase(
        label=label, wall_s=wall, cpu_s=time.process_time() - own_cpu + node_cpu, node_cpu_s=node_cpu,
        node_s=_COUNTERS.node_s - before.node_s, round_trips=_COUNTERS.round_trips - before.round_trips,
        bundling_s=_COUNTERS.bundling_s - before.bundling_s, bundles=_COUNTERS.bundles - before.bundles,
        hashing_s=_COUNTERS.hashing_s - before.hashing_s,
    ))


def measure(stage: str = STAGE, repeats: int = REPEATS, *, nag: bool = True) -> SynthCost:
    """Run every measurement in this process (call it in a fresh one: the first figures assume a cold start).

    Later runs with and without cdk-nag alternate, so both see the same JIT warm-up; `nag=False` builds
    the first runs without cdk-nag too (what a process that never loads its rules pays).
    """
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    result = SynthCost(stage=stage, repeats=repeats)
    _install_node_timer()
    with _phase("import aws_cdk (jsii runtime + aws-cdk-lib)", result.one_time):
        import aws_cdk as cdk
    with _phase("import app (stacks, constructs, cdk-nag)", result.one_time):
        import app
    _install_bundling_timers()
    first_with_nag = nag

    def run(label: str, workflows: list[str] | None, *, first: bool) -> None:
        runs: dict[str, list[Phase]] = {}
        plan = ([(first_with_nag, "first")] if first else []) + [
            variant for _ in range(repeats) for variant in ([(True, "later")] + ([(False, "later")] if workflows != [] else []))
        ]
        for nag, kind in plan:
            suffix = "" if nag else " (no cdk-nag)"
            with tempfile.TemporaryDirectory() as outdir:
                application = cdk.App(context=app.cdk_context(stage=stage), outdir=outdir)
                with _phase(f"{label} build{suffix}", runs.setdefault(f"build{suffix}/{kind}", [])):
                    if workflows != []:
                        app.build_app(application, workflows=workflows, nag=nag)
                with _phase(f"{label} synth{suffix}", runs.setdefault(f"synth{suffix}/{kind}", [])):
                    application.synth()
        for key, phases in runs.items():
            what, kind = key.split("/")
            entry = result.phases.setdefault(f"{label} {what}", {})
            entry[kind] = min(phases, key=lambda p: p.cpu_s)

    run("empty App", [], first=True)
    from stacks.common.registry import discover_workflows

    for workflow in discover_workflows():
        run(workflow.stack_id, [workflow.name], first=True)
    run("whole app", None, first=False)
    return result


# --------------------------------------------------------------------------- report (parent process)


# aws-cdk-lib 2.275 validates every template against CloudFormation's rules at synth (a WebAssembly
# module, whatever @aws-cdk/core:validateAgainstDefaultRules says: that flag only turns its findings
# into errors). `App(builtin_cloud_formation_validation=False)` or this environment variable turn it off.
BUILTIN_VALIDATION_OFF = {"CDK_VALIDATION": "false"}


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.0f} ms"


def _cpu(cost: SynthCost, label: str, kind: str) -> float | None:
    phase = cost.phases.get(label, {}).get(kind)
    return phase.cpu_s if phase else None


def notes(
    cost: SynthCost, without_builtin_validation: SynthCost | None = None, without_nag: SynthCost | None = None
) -> list[str]:
    """What the figures say would cut the rest; every number is a measurement or a difference of two.

    CPU seconds (this process + the jsii node runtime), not wall time: other work on the machine
    inflates wall time, and differences between runs are only meaningful in CPU."""
    lines: list[str] = ["(CPU time: this process + the jsii node runtime)"]
    one_time = sum(p.cpu_s for p in cost.one_time)
    lines.append("start-up, once per process: " + ", ".join(f"{p.label} {_ms(p.cpu_s)}" for p in cost.one_time)
                 + f" = {_ms(one_time)}.")
    empty_first, empty_later = _cpu(cost, "empty App synth", "first"), _cpu(cost, "empty App synth", "later")
    line = f"first synth of an empty App {_ms(empty_first)}, later {_ms(empty_later)}"
    if without_builtin_validation is not None:
        line += (f"; with CDK's built-in CloudFormation validation off (CDK_VALIDATION=false, another fresh process) "
                 f"the first is {_ms(_cpu(without_builtin_validation, 'empty App synth', 'first'))}: the rest of the "
                 "first-synth cost is initialising that validator (a WebAssembly module), once per process")
    lines.append(line + ".")
    stacks = [key.removesuffix(" build") for key in cost.phases
              if key.endswith(" build") and not key.startswith(("empty App", "whole app"))]
    for label in stacks:
        build, synth = cost.phases[f"{label} build"], cost.phases[f"{label} synth"]
        first = build["first"].cpu_s + synth["first"].cpu_s
        later = build["later"].cpu_s + synth["later"].cpu_s
        parts = [f"{label}: first build {_ms(build['first'].cpu_s)} + synth {_ms(synth['first'].cpu_s)}, "
                 f"later {_ms(build['later'].cpu_s)} + {_ms(synth['later'].cpu_s)} "
                 f"(one-time share {_ms(first - later)})"]
        parts.append(f"later build = {build['later'].round_trips:,} jsii round trips (node CPU {_ms(build['later'].node_cpu_s)}) "
                     f"+ bundling callback {_ms(build['later'].bundling_s)} ({build['later'].bundles}x: it links the cached "
                     f"dependencies into every new outdir and copies the sources) + Python {_ms(build['later'].python_s)}")
        no_nag = _cpu(cost, f"{label} synth (no cdk-nag)", "later")
        if no_nag is not None:
            parts.append(f"later synth with cdk-nag {_ms(synth['later'].cpu_s)}, without {_ms(no_nag)}")
        if without_nag is not None:
            first_no_nag = sum(_cpu(without_nag, f"{label} {what} (no cdk-nag)", "first") or 0.0 for what in ("build", "synth"))
            parts.append(f"first build + synth without cdk-nag (fresh process) {_ms(first_no_nag)} vs {_ms(first)} with it")
        if without_builtin_validation is not None:
            first_other = _cpu(without_builtin_validation, f"{label} synth", "first")
            other = _cpu(without_builtin_validation, f"{label} synth", "later")
            if other is not None and first_other is not None:
                parts.append(f"without the built-in validation its synth takes {_ms(first_other)} first, {_ms(other)} later")
        lines.append("; ".join(parts) + ".")
    whole_build, whole_synth = _cpu(cost, "whole app build", "later"), _cpu(cost, "whole app synth", "later")
    whole_no_nag = _cpu(cost, "whole app synth (no cdk-nag)", "later")
    if whole_build is not None and whole_synth is not None:
        line = f"whole app, later: build {_ms(whole_build)} + synth {_ms(whole_synth)}"
        if whole_no_nag is not None:
            line += f" (synth without cdk-nag {_ms(whole_no_nag)}; CPU is read in 10 ms ticks)"
        lines.append(line + ".")
    # A cold `cdk synth` = start-up + each stack's first build + first synth; rank what it is made of.
    if stacks and empty_first is not None and empty_later is not None:
        shares = {"start-up imports": one_time, "first-synth initialisation (empty App first - later)": empty_first - empty_later}
        for label in stacks:
            build = cost.phases[f"{label} build"]["first"]
            shares[f"{label} first build: node (jsii round trips, module loading)"] = build.node_cpu_s
            shares[f"{label} first build: bundling callback"] = build.bundling_s
            shares[f"{label} first build: Python"] = build.python_s
            shares[f"{label} first synth"] = cost.phases[f"{label} synth"]["first"].cpu_s
        ranked = sorted(shares.items(), key=lambda item: -item[1])[:4]
        lines.append(f"a cold synth (start-up + first synths + first builds) = {_ms(sum(shares.values()))} CPU; largest parts: "
                     + "; ".join(f"{name} {_ms(value)}" for name, value in ranked) + ".")
        if without_builtin_validation is not None:
            lines.append("the whole-app / empty-App ratio shares that validator start-up in both terms: turning the "
                         "validation off (App(builtin_cloud_formation_validation=False) or CDK_VALIDATION=false; cfn-lint "
                         "and cdk-nag still run) cuts every cold synth by about that much but raises the ratio, since "
                         "the empty App loses most of its time.")
    return lines


def _measure_in_fresh_process(
    stage: str, repeats: int, env_overrides: dict[str, str] | None = None, *, nag: bool = True
) -> SynthCost:
    from sandbox.synth import REPO_ROOT

    command = [sys.executable, "-m", "sandbox.benches.synth_cost", "--stage", stage, "--repeats", str(repeats)]
    command += [] if nag else ["--no-nag"]
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", **(env_overrides or {})}
    completed = subprocess.run(command, cwd=REPO_ROOT, env=env, check=False, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:])} failed: {completed.stderr.strip().splitlines()[-1:]}")
    return SynthCost.from_json(json.loads(completed.stdout))


def bench_synth_cost(stage: str = STAGE, repeats: int = REPEATS) -> SynthCost:
    """Measure in a fresh interpreter (and once more with CDK's built-in CloudFormation validation off), print table and notes."""
    from rich.console import Console
    from rich.table import Table

    cost = _measure_in_fresh_process(stage, repeats)
    without_builtin_validation = _measure_in_fresh_process(stage, 1, BUILTIN_VALIDATION_OFF)
    without_nag = _measure_in_fresh_process(stage, 1, nag=False)
    console = Console(width=150)
    table = Table(title=f"synth cost per stack, one fresh process (stage {stage}; later = best of {repeats})")
    columns = ("phase", "first: wall", "first: CPU", "later: wall", "later: CPU", "round trips", "waiting on node",
               "node CPU", "bundling")
    for column in columns:
        table.add_column(column, justify="left" if column == "phase" else "right")
    for phase in cost.one_time:
        table.add_row(phase.label, _ms(phase.wall_s), _ms(phase.cpu_s), "-", "-", f"{phase.round_trips:,}",
                      _ms(phase.node_s), _ms(phase.node_cpu_s), "-")
    for label, by_kind in cost.phases.items():
        first, later = by_kind.get("first"), by_kind.get("later")
        shown = later or first
        table.add_row(
            label, _ms(first.wall_s if first else None), _ms(first.cpu_s if first else None),
            _ms(later.wall_s if later else None), _ms(later.cpu_s if later else None),
            f"{shown.round_trips:,}", _ms(shown.node_s), _ms(shown.node_cpu_s), _ms(shown.bundling_s),
        )
    console.print("[dim]round trips, waiting on node, node CPU and bundling: of the later runs (first where none)[/dim]")
    console.print(table)
    for line in notes(cost, without_builtin_validation, without_nag):
        console.print(f"- {line}")
    return cost


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default=STAGE)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--no-nag", action="store_true", help="first runs without cdk-nag too")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.stage, args.repeats, nag=not args.no_nag).to_json()))


if __name__ == "__main__":
    main()
