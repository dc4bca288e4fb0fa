"""What a run would cost in AWS (us-east-1 on-demand list prices, no free tier).

An estimate from what the sandbox counted: state transitions (Standard) or requests and
duration (Express), Lambda requests and GB-seconds (measured handler time at the configured
memory), and the AWS API requests the handlers and the engine made. Not included:
CloudWatch Logs ingestion and storage, X-Ray traces, KMS requests, S3 storage and data
transfer. Prices as published for us-east-1 in 2026; check https://aws.amazon.com/pricing
before relying on them.

Express executions are billed per request plus duration x memory, in 100 ms increments and
64 MB steps. AWS sizes an Express execution's memory from its definition and payloads, which
the sandbox does not see; it assumes the smallest step, 64 MB.
"""

from __future__ import annotations

import math
from typing import Mapping

from sandbox.execution import ExecutionReport

PRICE_PER_STATE_TRANSITION = 0.000025  # Step Functions Standard
PRICE_PER_EXPRESS_REQUEST = 0.000001  # Step Functions Express: $1.00 per million executions
PRICE_PER_EXPRESS_GB_SECOND = 0.00001667  # first 1,000 GB-hours a month
EXPRESS_MEMORY_GB = 64 / 1024  # assumed: the smallest 64 MB step
EXPRESS_BILLING_INCREMENT_S = 0.1
PRICE_PER_LAMBDA_REQUEST = 0.0000002
PRICE_PER_LAMBDA_GB_SECOND_ARM = 0.0000133334
PRICE_PER_REQUEST = {  # per API request, by service or service:Operation
    "s3:PutObject": 0.000005,
    "s3:CopyObject": 0.000005,
    "s3:ListObjectsV2": 0.000005,
    "s3:ListBuckets": 0.000005,
    "s3:GetObject": 0.0000004,
    "s3:HeadObject": 0.0000004,
    "secretsmanager": 0.000005,  # $0.05 per 10,000 API calls
    "sns": 0.0000005,
    "sqs": 0.0000005,  # FIFO: $0.50 per million requests (standard queues: $0.40)
}


def express_duration_cost(duration_s: float) -> float:
    """Express duration charge of one execution: 100 ms increments at the assumed 64 MB."""
    billed_s = math.ceil(max(duration_s, 0.0) / EXPRESS_BILLING_INCREMENT_S) * EXPRESS_BILLING_INCREMENT_S
    return billed_s * EXPRESS_MEMORY_GB * PRICE_PER_EXPRESS_GB_SECOND


def step_functions_cost(report: ExecutionReport) -> float:
    """Step Functions' own charge for one execution: transitions (Standard), or request + duration (Express)."""
    if report.state_machine_type == "EXPRESS":
        return PRICE_PER_EXPRESS_REQUEST + express_duration_cost(report.duration_s)
    return report.state_transitions * PRICE_PER_STATE_TRANSITION


def cost_lines(*, step_functions: float, lambda_invocations: int, lambda_gb_seconds: float,
               requests: Mapping[str, int]) -> dict[str, float]:
    """Cost lines in USD, plus their `total`."""
    lines = {
        "step_functions": step_functions,
        "lambda_requests": lambda_invocations * PRICE_PER_LAMBDA_REQUEST,
        "lambda_compute": lambda_gb_seconds * PRICE_PER_LAMBDA_GB_SECOND_ARM,
        "api_requests": sum(price * requests.get(key, 0) for key, price in PRICE_PER_REQUEST.items()),
    }
    lines["total"] = sum(lines.values())
    return {key: round(value, 12) for key, value in lines.items()}


def estimate_cost_usd(
    report: ExecutionReport, requests: Mapping[str, int], *, lambda_gb_seconds: float = 0.0
) -> dict[str, float]:
    """Cost lines in USD for one execution, plus their `total`."""
    return cost_lines(step_functions=step_functions_cost(report), lambda_invocations=report.lambda_invocations,
                      lambda_gb_seconds=lambda_gb_seconds, requests=requests)
