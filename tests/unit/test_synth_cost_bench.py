"""The per-stack synth cost report: figures survive the trip from the measuring process, notes are computed from them."""

from __future__ import annotations

import subprocess
import sys
import time

from sandbox.benches.synth_cost import Phase, SynthCost, _children_cpu_s, notes


def _phase(label: str, cpu: float, **extra: float) -> Phase:
    values = dict(wall_s=cpu, node_s=0.0, round_trips=0, bundling_s=0.0, bundles=0, hashing_s=0.0, cpu_s=cpu, node_cpu_s=0.0)
    return Phase(label=label, **{**values, **extra})


def _cost(empty_first: float, stack_first_synth: float) -> SynthCost:
    return SynthCost(
        stage="prod", repeats=3,
        one_time=[_phase("import aws_cdk", 0.4), _phase("import app", 0.5)],
        phases={
            "empty App synth": {"first": _phase("e", empty_first), "later": _phase("e", 0.001)},
            "Demo build": {
                "first": _phase("b", 0.7, node_cpu_s=0.45, bundling_s=0.15), "later": _phase("b", 0.3, round_trips=246),
            },
            "Demo synth": {"first": _phase("s", stack_first_synth), "later": _phase("s", 0.13)},
            "Demo synth (no cdk-nag)": {"later": _phase("s", 0.11)},
        },
    )


def test_figures_survive_the_json_trip_from_the_measuring_process():
    cost = _cost(4.1, 1.0)
    assert SynthCost.from_json(cost.to_json()) == cost


def test_notes_rank_what_a_cold_synth_is_made_of_from_the_measurements():
    # GIVEN a run where the empty App's first synth costs 4.1 s and drops to 24 ms without the built-in validation
    cost = _cost(4.1, 1.0)
    without_validation = _cost(0.024, 0.38)
    # WHEN the notes are written
    lines = notes(cost, without_validation)
    # THEN they give each stack's first vs later figures and rank the parts, largest first
    (stack_line,) = [line for line in lines if line.startswith("Demo:")]
    assert "first build 700 ms + synth 1,000 ms, later 300 ms + 130 ms" in stack_line
    assert "246 jsii round trips" in stack_line and "later synth with cdk-nag 130 ms, without 110 ms" in stack_line
    (ranked,) = [line for line in lines if line.startswith("a cold synth")]
    assert ranked.index("first-synth initialisation") < ranked.index("Demo first synth") < ranked.index("start-up imports")
    assert any("the first is 24 ms" in line for line in lines)


def test_child_process_cpu_is_counted():
    # GIVEN a child process that burns CPU for a while
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\ntime.sleep(5)"
    child = subprocess.Popen([sys.executable, "-c", burn])
    try:
        deadline = time.monotonic() + 10
        while _children_cpu_s() < 0.25 and time.monotonic() < deadline:
            time.sleep(0.05)
        # THEN its CPU shows up in the figure the bench attributes to node
        assert _children_cpu_s() >= 0.25
    finally:
        child.kill()
        child.wait()
