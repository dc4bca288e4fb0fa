"""What a run would cost in AWS (us-east-1 on-demand list prices, no free tier).

An estimate from what the sandbox counted: state transitions, Lambda requests
and GB-seconds (measured handler time at the configured memory), and the AWS
API requests the handlers made. Not included: CloudWatch Logs ingestion and
storage, X-Ray traces, KMS requests, S3 storage and data transfer. Prices as published for us-east-1 in 2026;
check https://aws.amazon.com/pricing before relying on them.
"""

from __future__ import annotations

from typing import Mapping

from sandbox.execution import ExecutionReport

PRICE_PER_STATE_TRANSITION = 0.000025  # Step Functions Standard
PRICE_PER_LAMBDA_REQUEST = 0.0000002
PRICE_PER_LAMBDA_GB_SECOND_ARM = 0.0000133334
PRICE_PER_REQUEST = {  # per API request, by service
    "s3:PutObject": 0.000005,
    "s3:GetObject": 0.0000004,
    "secretsmanager": 0.000005,  # $0.05 per 10,000 API calls
    "sns": 0.0000005,
}


def estimate_cost_usd(
    report: ExecutionReport, requests: Mapping[str, int], *, lambda_gb_seconds: float = 0.0
) -> dict[str, float]:
    """Cost lines in USD for one execution, plus their `total`."""
    lines = {
        "step_functions": report.state_transitions * PRICE_PER_STATE_TRANSITION,
        "lambda_requests": report.lambda_invocations * PRICE_PER_LAMBDA_REQUEST,
        "lambda_compute": lambda_gb_seconds * PRICE_PER_LAMBDA_GB_SECOND_ARM,
        "api_requests": sum(price * requests.get(key, 0) for key, price in PRICE_PER_REQUEST.items()),
    }
    lines["total"] = sum(lines.values())
    return {key: round(value, 8) for key, value in lines.items()}
