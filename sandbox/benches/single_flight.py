"""single-flight bench: 60 ticks against a 3 s API, and the cost of a tick beside the seed's design.

Time is compressed: ticks fire 1 s apart (the schedule says a minute) against an API that
takes 3 s (the seed's takes 40-120 s), so a call spans about three ticks in both. What is
measured here: calls made, ticks enqueued and skipped, the most calls the API saw at once,
Lambda invocations, state transitions and Express duration per tick, and the SQS requests
the ticks made. The seed's tick is computed from its definition (one Task state invoking an
`EnQueue` Lambda) and its code (boto3: GetQueueUrl, GetQueueAttributes, then GetQueueUrl and
SendMessage when it enqueues).

Not in either tick's figure (same in both designs, or outside the per-tick question): the
consumer's long call, Lambda's SQS polling (the event source mapping's ReceiveMessage calls),
CloudWatch Logs, X-Ray (43,830 ticks a month fit X-Ray's 100,000 free traces).
"""

from __future__ import annotations

import statistics
import time

from rich.console import Console
from rich.table import Table

from sandbox.benches.goals import GOALS
from sandbox.costs import DAYS_PER_MONTH
from sandbox.costs import (
    PRICE_PER_LAMBDA_GB_SECOND_X86,
    PRICE_PER_LAMBDA_REQUEST,
    PRICE_PER_STATE_TRANSITION,
    request_price,
    step_functions_cost,
)
from sandbox.session import Sandbox

TICKS = 60
EVERY_S = 1.0
API_DELAY_S = 3.0
SKIPPED = {"enqueued": False, "reason": "in flight"}
TICKS_PER_MONTH = round(DAYS_PER_MONTH * 24 * 60)  # rate(1 minute) in an average month, as `sandbox cost` counts it

# The seed's tick (serverless.yml + functions/enqueue/handler.py), at published us-east-1 prices.
SEED_TRANSITIONS_PER_TICK = 1  # one Task state, Standard
SEED_LAMBDA_MEMORY_GB = 128 / 1024  # provider.memorySize
SEED_LAMBDA_WARM_DURATION_S = 0.1  # assumed (not measured): four SQS calls from a warm boto3
SEED_SQS_REQUESTS_SKIPPED = 2  # get_queue_by_name (GetQueueUrl) + attributes (GetQueueAttributes)
SEED_SQS_REQUESTS_ENQUEUED = 4  # ... + get_queue_url (GetQueueUrl) + send_message (SendMessage)


def seed_tick_cost(enqueued_share: float) -> dict[str, float]:
    sqs_requests = SEED_SQS_REQUESTS_SKIPPED + enqueued_share * (SEED_SQS_REQUESTS_ENQUEUED - SEED_SQS_REQUESTS_SKIPPED)
    lines = {
        "step_functions": SEED_TRANSITIONS_PER_TICK * PRICE_PER_STATE_TRANSITION,
        "lambda": PRICE_PER_LAMBDA_REQUEST + SEED_LAMBDA_MEMORY_GB * SEED_LAMBDA_WARM_DURATION_S * PRICE_PER_LAMBDA_GB_SECOND_X86,
        "sqs": sqs_requests * request_price("sqs"),
    }
    lines["total"] = sum(lines.values())
    return lines


def bench_single_flight(sandbox: Sandbox, *, console: Console | None = None, ticks: int = TICKS,
                        every_s: float = EVERY_S, api_delay_s: float = API_DELAY_S) -> dict[str, float]:
    console = console or Console(width=150)
    workflow = sandbox.deploy("single-flight")
    started = time.perf_counter()
    report = workflow.fire(times=ticks, every_s=every_s, standins={"api": {"delay_seconds": str(api_delay_s)}})
    wall = time.perf_counter() - started
    counts = workflow.emulator.request_counts()
    executions = [fire.execution for fire in report.fires]
    enqueued = sum(1 for e in executions if isinstance(e.output, dict) and e.output.get("enqueued") is True)
    skipped = sum(1 for e in executions if e.output == SKIPPED)
    failed = sum(1 for e in executions if e.status != "SUCCEEDED")
    world = report.outside_world
    tick_lambda = sum(e.lambda_invocations for e in executions)
    tick_sqs = counts.get("sqs:GetQueueAttributes", 0) + counts.get("sqs:SendMessage", 0)

    measured = Table(title=f"single-flight: {ticks} ticks {every_s:g} s apart against a {api_delay_s:g} s API "
                           f"(compressed time: the schedule says 1 minute, the seed's API takes 40-120 s)")
    for column in ("ticks", "enqueued", "skipped", "failed", "API calls (distinct keys)", "call outcomes", "max concurrent calls", "DLQ",
                   "Lambda in ticks", "consumer invocations", "transitions / tick", "tick duration (median)", "wall time"):
        measured.add_column(column)
    measured.add_row(
        str(ticks), str(enqueued), str(skipped), str(failed), f"{world['api_calls']} ({world['distinct_keys']})",
        ", ".join(f"{k}: {v}" for k, v in world["outcomes"].items()), str(world["max_concurrent_calls"]),
        str(world["dlq_messages"]), str(tick_lambda), str(world["consumer_invocations"]),
        f"{statistics.mean(e.state_transitions for e in executions):.2f}",
        f"{statistics.median(e.duration_s for e in executions) * 1000:.0f} ms", f"{wall:.1f} s",
    )
    console.print(measured)

    ours = {
        "step_functions": sum(step_functions_cost(e) for e in executions) / ticks,  # Express: request + duration
        "lambda": tick_lambda * PRICE_PER_LAMBDA_REQUEST / ticks,
        "sqs": tick_sqs * request_price("sqs") / ticks,
    }
    ours["total"] = sum(ours.values())
    seed = seed_tick_cost(enqueued / ticks)
    ratio = ours["total"] / seed["total"]
    costs = Table(title="estimated cost per tick (us-east-1 list prices; consumer, SQS polling, logs and X-Ray excluded from both)")
    for column in ("design", "Step Functions", "Lambda", "SQS requests", "per tick", f"per month ({TICKS_PER_MONTH:,} ticks)", "vs seed"):
        costs.add_column(column)
    costs.add_row("this workflow: EXPRESS tick, no Lambda (measured)", f"${ours['step_functions']:.8f}", f"${ours['lambda']:.8f}",
                  f"${ours['sqs']:.8f} ({tick_sqs / ticks:.2f}/tick)", f"${ours['total']:.8f}",
                  f"${ours['total'] * TICKS_PER_MONTH:.4f}", f"{ratio:.3f} ({GOALS['single_flight_tick_cost_ratio'].header}: {GOALS['single_flight_tick_cost_ratio'].verdict(ratio)})")
    costs.add_row("seed: Standard Task + EnQueue Lambda (computed)", f"${seed['step_functions']:.8f}", f"${seed['lambda']:.8f}",
                  f"${seed['sqs']:.8f}", f"${seed['total']:.8f}", f"${seed['total'] * TICKS_PER_MONTH:.4f}", "1")
    console.print(costs)
    console.print("[dim]EXPRESS duration billed in 100 ms steps at the assumed 64 MB (sandbox.costs); the seed's Lambda "
                  f"duration is assumed {SEED_LAMBDA_WARM_DURATION_S * 1000:.0f} ms warm at 128 MB x86. The seed also lets a "
                  "second message in while one waits unreceived, and its consumer has no idempotency.[/dim]")
    return {"ratio": ratio, "ours": ours["total"], "seed": seed["total"], "api_calls": world["api_calls"],
            "max_concurrent_calls": world["max_concurrent_calls"], "skipped": skipped, "enqueued": enqueued}


def run(sandbox) -> None:  # noqa: ANN001 - what `make bench` calls for this workflow
    bench_single_flight(sandbox)
