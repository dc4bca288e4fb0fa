"""What a run would cost in AWS, from the pinned price table `sandbox/prices.toml` (one region, one date,
its sources; on-demand list prices, no free tier).

An estimate from what the sandbox counted: state transitions (Standard) or requests and duration
(Express), Lambda requests and GB-seconds (measured handler time at the configured memory), and
the AWS API requests the handlers and the engine made (S3 by request tier, SQS, SNS, DynamoDB
request units, Secrets Manager). Not included: CloudWatch Logs ingestion and storage, X-Ray
traces, KMS requests, S3 storage and data transfer, Secrets Manager's monthly charge per secret.

Express executions are billed per request plus duration x memory, in 100 ms increments and
64 MB chunks. AWS sizes an Express execution's memory from its definition and payloads, and
publishes no formula; the sandbox assumes the smallest chunk, 64 MB (`EXPRESS_MEMORY_GB`).
DynamoDB requests are priced at one request unit each (items up to 1 KB written, 4 KB read).
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Iterable, Mapping

from sandbox.execution import ExecutionReport

PRICE_TABLE_PATH = Path(__file__).with_name("prices.toml")
DAYS_PER_MONTH = 365.25 / 12  # an average month, for every per-month figure
PRICES: dict[str, Any] = tomllib.loads(PRICE_TABLE_PATH.read_text(encoding="utf-8"))

_SFN, _LAMBDA = PRICES["step_functions"], PRICES["lambda"]
PRICE_PER_STATE_TRANSITION: float = _SFN["standard_transition"]
PRICE_PER_EXPRESS_REQUEST: float = _SFN["express_request"]
PRICE_PER_EXPRESS_GB_SECOND: float = _SFN["express_gb_second"]
EXPRESS_MEMORY_GB: float = _SFN["express_memory_step_mb"] / 1024  # assumed: the smallest chunk
EXPRESS_BILLING_INCREMENT_S: float = _SFN["express_billing_increment_s"]
PRICE_PER_LAMBDA_REQUEST: float = _LAMBDA["request"]
PRICE_PER_LAMBDA_GB_SECOND_ARM: float = _LAMBDA["gb_second_arm64"]
PRICE_PER_LAMBDA_GB_SECOND_X86: float = _LAMBDA["gb_second_x86_64"]
# Services whose requests are priced here; Lambda invocations and Step Functions have lines of their own.
PRICED_SERVICES = ("s3", "sqs", "sns", "dynamodb", "secretsmanager", "scheduler")
_NOT_REQUESTS = {"lambda", "stepfunctions", "moto-api"}


def request_price(service: str, operation: str | None = None, *, sqs_fifo: bool = True) -> float | None:
    """USD for one request (`operation` None: the service's usual request); None if the table has no price."""
    if service == "s3":
        s3 = PRICES["s3"]
        if operation in s3["free_operations"]:
            return 0.0
        return s3["tier1_request"] if operation in s3["tier1_operations"] else s3["tier2_request"]
    if service == "sqs":
        return PRICES["sqs"]["fifo_request" if sqs_fifo else "standard_request"]
    if service == "dynamodb":
        dynamodb = PRICES["dynamodb"]
        if operation in dynamodb["read_operations"]:
            return dynamodb["read_request_unit"]
        return dynamodb["write_request_unit"] if operation in dynamodb["write_operations"] else 0.0  # control plane
    if service == "scheduler":
        return PRICES["scheduler"]["invocation"]
    if service in ("sns", "secretsmanager"):
        return PRICES[service]["request"]
    return None


def request_costs(requests: Mapping[str, int], *, sqs_fifo: bool = True) -> tuple[dict[str, float], dict[str, int]]:
    """(USD per priced service, request counts of services the table has no price for).

    `requests` holds service totals (`"s3"`) and, where known, operations (`"s3:CopyObject"`): each
    operation is priced as itself, the rest of a service's total at the service's usual price.
    """
    costs: dict[str, float] = {}
    unpriced: dict[str, int] = {}
    totals = {key: count for key, count in requests.items() if ":" not in key}
    for service, total in totals.items():
        if service in _NOT_REQUESTS:
            continue
        operations = {key.split(":", 1)[1]: n for key, n in requests.items() if key.startswith(service + ":")}
        if request_price(service) is None:
            unpriced[service] = total
            continue
        rest = max(total - sum(operations.values()), 0)
        costs[service] = (sum(request_price(service, op, sqs_fifo=sqs_fifo) * n for op, n in operations.items())
                          + request_price(service, sqs_fifo=sqs_fifo) * rest)
    return costs, unpriced


def express_duration_cost(duration_s: float) -> float:
    """Express duration charge of one execution: 100 ms increments at the assumed 64 MB."""
    return billed_express_seconds(duration_s) * EXPRESS_MEMORY_GB * PRICE_PER_EXPRESS_GB_SECOND


def billed_express_seconds(duration_s: float) -> float:
    increments = math.ceil(round(max(duration_s, 0.0) / EXPRESS_BILLING_INCREMENT_S, 9))
    return increments * EXPRESS_BILLING_INCREMENT_S


def step_functions_cost(report: ExecutionReport) -> float:
    """Step Functions' own charge for one execution: transitions (Standard), or request + duration (Express)."""
    if report.state_machine_type == "EXPRESS":
        return PRICE_PER_EXPRESS_REQUEST + express_duration_cost(report.duration_s)
    return report.state_transitions * PRICE_PER_STATE_TRANSITION


def cost_lines(*, step_functions: float, lambda_invocations: int, lambda_gb_seconds: float,
               requests: Mapping[str, int]) -> dict[str, float]:
    """Cost lines in USD, plus their `total` (the run summary's estimate; `sandbox cost` itemises more)."""
    lines = {
        "step_functions": step_functions,
        "lambda_requests": lambda_invocations * PRICE_PER_LAMBDA_REQUEST,
        "lambda_compute": lambda_gb_seconds * PRICE_PER_LAMBDA_GB_SECOND_ARM,
        "api_requests": sum(request_costs(requests)[0].values()),
    }
    lines["total"] = sum(lines.values())
    return {key: round(value, 12) for key, value in lines.items()}


def estimate_cost_usd(
    report: ExecutionReport, requests: Mapping[str, int], *, lambda_gb_seconds: float = 0.0
) -> dict[str, float]:
    """Cost lines in USD for one execution, plus their `total`."""
    return cost_lines(step_functions=step_functions_cost(report), lambda_invocations=report.lambda_invocations,
                      lambda_gb_seconds=lambda_gb_seconds, requests=requests)


def with_map_children(lines: Mapping[str, float], children: Iterable[tuple[str, float, int, int]]) -> dict[str, float]:
    """`lines` plus what Distributed Map child executions cost: each `(execution type, duration s,
    transitions, Lambda invocations)`. EXPRESS children are billed as Express (request + duration),
    STANDARD ones per transition; their Lambda requests are added (their GB-seconds are already in
    the measured compute)."""
    children = list(children)
    if not children:
        return dict(lines)
    out = dict(lines)
    for execution_type, duration_s, transitions, invocations in children:
        if execution_type == "EXPRESS":
            out["step_functions"] += PRICE_PER_EXPRESS_REQUEST + express_duration_cost(duration_s)
        else:
            out["step_functions"] += transitions * PRICE_PER_STATE_TRANSITION
        out["lambda_requests"] += invocations * PRICE_PER_LAMBDA_REQUEST
    out["total"] = sum(value for key, value in out.items() if key != "total")
    return {key: round(value, 8) for key, value in out.items()}
