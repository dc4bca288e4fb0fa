"""parallel-search's bench: API result sizes 1 KB, 300 KB, 5 MB, 10 MB from each API; largest state payload
(must stay under 262,144 bytes), S3 requests, state transitions, Lambda invocations, wall time."""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

from sandbox.engine.payload_size import MAX_STATE_PAYLOAD_BYTES
from sandbox.session import Sandbox

RESULT_SIZES = {"1 KB": 1_000, "300 KB": 300_000, "5 MB": 5_000_000, "10 MB": 10_000_000}
console = Console(width=150)


def bench_parallel_search(sandbox: Sandbox) -> None:
    workflow = sandbox.deploy("parallel-search")
    table = Table(title="parallel-search by API result size (each API answers that much)")
    for column in ("result size", "status", "max state payload", f"<= {MAX_STATE_PAYLOAD_BYTES:,}", "S3 requests", "transitions", "Lambda", "wall time"):
        table.add_column(column)
    for label, size in RESULT_SIZES.items():
        started = time.perf_counter()
        report = workflow.run({"keywords": "wireless earbuds"}, standins={"*": {"result_bytes": str(size)}})
        wall = time.perf_counter() - started
        table.add_row(
            label, report.status, f"{report.max_state_payload_bytes:,} B",
            "yes" if report.max_state_payload_bytes <= MAX_STATE_PAYLOAD_BYTES else "NO",
            str(report.aws_requests.get("s3", 0)), str(report.state_transitions), str(report.lambda_invocations), f"{wall:.2f} s",
        )
    console.print(table)


def run(sandbox: Sandbox) -> None:
    bench_parallel_search(sandbox)
