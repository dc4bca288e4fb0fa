"""`python -m sandbox cost WORKFLOW`: the work one sandbox run did, priced per run and per month.

What is counted (`Usage`, measured in one run):

- Step Functions: Standard state transitions as AWS bills them (the start, every state entered,
  every retry); an EXPRESS machine one request plus its duration; Distributed Map children one
  request plus duration each (EXPRESS) or their transitions (STANDARD);
- Lambda, per function: invocations (every one during the run, event-source consumers included)
  and billed milliseconds (each invocation rounded up to 1 ms) at the function's configured memory
  and architecture, read from the synthesized template (the deployed configuration);
- API requests the handlers and the engine made, per service and operation (S3, SQS, SNS, DynamoDB,
  Secrets Manager), and one EventBridge Scheduler invocation per run for a scheduled workflow.

Prices: `sandbox/prices.toml` (`sandbox.costs`). Per month: `--runs-per-month`, or the schedule's
runs in an average month (365.25/12 days), or 1,000 runs for a workflow started on demand.

Scaling to `--items N` (workflows with an `ItemScaling`): the run is split into a fixed part and a
part per item of its Map state. Per item: the Map's transitions (inline), each function its processor
invokes (invocations per iteration, or per child for a Distributed Map, and GB-seconds per item),
the requests the model lists as per item, and Express child duration per item. Children are
`ceil(N / batch)` with the batch from the definition's `ItemBatcher`; requests listed "per page"
take `ceil(N / page size)`. Everything else (states outside the Map, other functions, other requests)
stays as measured. So N items "like the run's": the same mix of objects (or bucket sizes), at the
speed measured here (moto on this machine is slower than S3, so duration lines lean high).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Mapping

from sandbox.asl import walk_states
from sandbox.costs import (
    DAYS_PER_MONTH,
    EXPRESS_MEMORY_GB,
    PRICE_PER_EXPRESS_GB_SECOND,
    PRICE_PER_EXPRESS_REQUEST,
    PRICE_PER_LAMBDA_GB_SECOND_ARM,
    PRICE_PER_LAMBDA_GB_SECOND_X86,
    PRICE_PER_LAMBDA_REQUEST,
    PRICE_PER_STATE_TRANSITION,
    PRICES,
    billed_express_seconds,
    request_costs,
)
from sandbox.definitions import readable_logical_id, state_machines
ON_DEMAND_RUNS_PER_MONTH = 1_000
_SERVICE_LABELS = {"s3": "S3 requests", "sqs": "SQS requests", "sns": "SNS requests", "dynamodb": "DynamoDB requests",
                   "secretsmanager": "Secrets Manager requests", "scheduler": "Scheduler invocations"}
EXCLUDED = ("CloudWatch Logs ingestion and storage", "X-Ray traces", "KMS requests", "S3 storage and data transfer",
            "Secrets Manager's $0.40 per secret a month", "free tiers")


class CostModelError(ValueError):
    """The run cannot be priced as asked (e.g. --items for a workflow without a per-item model)."""


# --------------------------------------------------------------------------- what a run did

@dataclass
class FunctionUse:
    logical_id: str
    memory_mb: int
    architecture: str  # arm64 | x86_64
    invocations: int
    billed_ms: int
    in_map: str | None = None  # the Map state whose processor invokes it

    @property
    def gb_seconds(self) -> float:
        return self.billed_ms / 1000 * self.memory_mb / 1024


@dataclass
class ChildUse:
    execution_type: str
    items: int
    duration_s: float
    transitions: int


@dataclass
class Usage:
    workflow: str
    execution_arn: str
    status: str
    state_machine_type: str
    duration_s: float
    transitions: int
    functions: list[FunctionUse]
    requests: dict[str, int]
    children: list[ChildUse] = field(default_factory=list)
    map_transitions: dict[str, int] = field(default_factory=dict)  # inline Map -> transitions inside it
    map_items: dict[str, int] = field(default_factory=dict)  # Map -> items it read (iterations / children's items)
    batch_items: dict[str, int] = field(default_factory=dict)  # Distributed Map -> items per child
    schedule: str | None = None  # the expression, when a schedule starts the workflow
    sqs_fifo: bool = False
    output: Any = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1, default=str)

    @classmethod
    def from_json(cls, text: str) -> "Usage":
        data = json.loads(text)
        data["functions"] = [FunctionUse(**f) for f in data["functions"]]
        data["children"] = [ChildUse(**c) for c in data["children"]]
        return cls(**data)


def lambda_snapshot(runtime: Any) -> tuple[dict[str, int], dict[str, int]]:
    """Invocations and billed ms per function so far (a run's share is the difference)."""
    return dict(runtime.invocations), dict(runtime.billed_ms)


def measure(deployed: Any, report: Any, before: tuple[dict[str, int], dict[str, int]], path: Any) -> Usage:
    """What one finished run of a deployed workflow did (`before`: `lambda_snapshot` taken before it;
    `path`: its `RunPath`)."""
    from sandbox.engine.distributed_map import map_runs
    from sandbox.scheduler import schedules_in

    template = deployed.template
    resources = template["Resources"]
    machine = next(m for m in state_machines(template) if m.logical_id == path.state_machine)
    map_of_function: dict[str, str] = {}
    map_states: dict[str, dict[str, Any]] = {}
    for state_path, name, state, _ in walk_states(machine.definition):
        if state.get("Type") == "Map":
            map_states[name] = state
        arguments = state.get("Parameters") or state.get("Arguments")  # JSONata: Arguments (maybe one expression)
        resource = str(state.get("Resource", "")) + str(arguments.get("FunctionName", "") if isinstance(arguments, dict) else "")
        containers = [part for part in state_path.split("/")[:-1] if part in map_states]
        for logical_id, resource_json in resources.items():
            if resource_json["Type"] == "AWS::Lambda::Function" and f"<Fn::GetAtt {logical_id}.Arn>" in resource and containers:
                map_of_function[logical_id] = containers[-1]
    invocations_before, billed_before = before
    runtime = deployed.emulator.lambda_runtime
    functions = []
    for logical_id, resource_json in resources.items():
        if resource_json["Type"] != "AWS::Lambda::Function":
            continue
        physical = deployed.stack.resources.get(logical_id, "")
        props = resource_json["Properties"]
        functions.append(FunctionUse(
            logical_id=logical_id, memory_mb=int(props.get("MemorySize", 128)),
            architecture=(props.get("Architectures") or ["x86_64"])[0],
            invocations=runtime.invocations.get(physical, 0) - invocations_before.get(physical, 0),
            billed_ms=runtime.billed_ms.get(physical, 0) - billed_before.get(physical, 0),
            in_map=map_of_function.get(logical_id)))
    runs = map_runs(report.execution_arn)
    children = [ChildUse(c.execution_type, c.items, c.duration_ms / 1000, c.transitions)
                for run in runs for c in run.ordered_children()]
    map_transitions, map_items, batch_items = {}, {}, {}
    for name, state in map_states.items():
        processor = state.get("ItemProcessor") or state.get("Iterator") or {}
        if (processor.get("ProcessorConfig") or {}).get("Mode") == "DISTRIBUTED":
            map_items[name] = sum(c.items for c in children)
            batch_items[name] = int((state.get("ItemBatcher") or {}).get("MaxItemsPerBatch", 1))
        else:
            inside = {n for _, n, _, _ in walk_states(processor)}
            map_transitions[name] = sum(v.entered + v.retries for n, v in path.states.items() if n in inside)
            map_items[name] = path.iterations.get(name, 0)
    schedule = next((s.expression for s in schedules_in(template) if s.target_logical_id == path.state_machine), None)
    return Usage(
        workflow=deployed.spec.name, execution_arn=report.execution_arn, status=report.status,
        state_machine_type=report.state_machine_type, duration_s=report.duration_s,
        transitions=report.state_transitions, functions=functions,
        requests=dict(sorted(deployed.emulator.request_counts().items())), children=children,
        map_transitions=map_transitions, map_items=map_items, batch_items=batch_items, schedule=schedule,
        sqs_fifo=any(r["Type"] == "AWS::SQS::Queue" and r.get("Properties", {}).get("FifoQueue") for r in resources.values()),
        output=report.output)


# --------------------------------------------------------------------------- scaling to N items

@dataclass(frozen=True)
class ItemScaling:
    unit: str  # what an item is: "objects", "buckets"
    map_state: str  # the Map state that handles one item per iteration (or per batch entry)
    per_item_requests: tuple[str, ...]  # "service:Operation" made once per item (on average)
    per_page_requests: Mapping[str, int] = field(default_factory=dict)  # "service:Operation" -> items per page
    model: str = ""


ITEM_SCALING: dict[str, ItemScaling] = {
    "distributed-copy": ItemScaling(
        unit="objects", map_state="CopyObjects",
        per_item_requests=("s3:HeadObject", "s3:CopyObject", "s3:DeleteObject", "s3:CreateMultipartUpload",
                           "s3:UploadPartCopy", "s3:CompleteMultipartUpload", "s3:AbortMultipartUpload"),
        per_page_requests={"s3:ListObjectsV2": 1000},
        model="N objects listed under the source prefix, in the run's mix (moved / other dates / failed); "
              "one EXPRESS child per batch; a verified copy and a delete per moved object; one list page per 1,000 keys"),
    "bucket-usage": ItemScaling(
        unit="buckets", map_state="ScanBuckets",
        per_item_requests=("s3:GetBucketLocation", "s3:ListObjectsV2", "dynamodb:PutItem"),
        model="N buckets like the run's (same objects per bucket, same share denied): per bucket the Map's states, "
              "its scan passes, a location lookup, the listing pages and a result row"),
}


@dataclass
class Work:
    """Quantities to price (fractions allowed once scaled)."""

    state_machine_type: str
    transitions: float
    express_executions: float
    express_gb_seconds: float
    child_requests: float  # EXPRESS children
    child_gb_seconds: float
    child_transitions: float  # STANDARD children
    functions: dict[str, tuple[FunctionUse, float, float]]  # logical id -> (config, invocations, GB-seconds)
    requests: dict[str, float]
    scheduler_invocations: float
    sqs_fifo: bool

    @classmethod
    def of(cls, usage: Usage) -> "Work":
        express = usage.state_machine_type == "EXPRESS"
        express_children = [c for c in usage.children if c.execution_type == "EXPRESS"]
        return cls(
            state_machine_type=usage.state_machine_type,
            transitions=0 if express else usage.transitions,
            express_executions=1 if express else 0,
            express_gb_seconds=billed_express_seconds(usage.duration_s) * EXPRESS_MEMORY_GB if express else 0.0,
            child_requests=len(express_children),
            child_gb_seconds=sum(billed_express_seconds(c.duration_s) for c in express_children) * EXPRESS_MEMORY_GB,
            child_transitions=sum(c.transitions for c in usage.children if c.execution_type != "EXPRESS"),
            functions={f.logical_id: (f, f.invocations, f.gb_seconds) for f in usage.functions},
            requests={k: float(v) for k, v in usage.requests.items()},
            scheduler_invocations=1 if usage.schedule else 0, sqs_fifo=usage.sqs_fifo)

    def scaled(self, usage: Usage, scaling: ItemScaling, items: int) -> "Work":
        measured = usage.map_items.get(scaling.map_state, 0)
        if measured <= 0:
            raise CostModelError(f"the run's {scaling.map_state} read no {scaling.unit}: nothing to scale from")
        factor = items / measured
        work = replace(self, functions=dict(self.functions), requests=dict(self.requests))
        inside = usage.map_transitions.get(scaling.map_state, 0)
        if not work.express_executions:
            work.transitions = usage.transitions - inside + inside * factor
        distributed = scaling.map_state in usage.batch_items
        measured_children = len(usage.children)
        children = 0
        if distributed and measured_children:
            batch = usage.batch_items[scaling.map_state]
            children = math.ceil(items / batch)
            per_item_s = sum(c.duration_s for c in usage.children) / measured
            full, rest = divmod(items, batch)
            billed = full * billed_express_seconds(per_item_s * batch) + (billed_express_seconds(per_item_s * rest) if rest else 0)
            if all(c.execution_type == "EXPRESS" for c in usage.children):
                work.child_requests, work.child_gb_seconds = children, billed * EXPRESS_MEMORY_GB
            else:
                work.child_transitions = sum(c.transitions for c in usage.children) / measured_children * children
        for logical_id, (config, invocations, gb_seconds) in self.functions.items():
            if config.in_map != scaling.map_state:
                continue
            scaled_invocations = invocations / measured_children * children if distributed and measured_children else invocations * factor
            work.functions[logical_id] = (config, scaled_invocations, gb_seconds * factor)
        for key in scaling.per_item_requests:
            self._set_request(work, key, self.requests.get(key, 0.0) * factor)
        for key, page in scaling.per_page_requests.items():
            self._set_request(work, key, math.ceil(items / page))
        return work

    @staticmethod
    def _set_request(work: "Work", key: str, count: float) -> None:
        service = key.split(":", 1)[0]
        work.requests[service] = work.requests.get(service, 0.0) + count - work.requests.get(key, 0.0)
        work.requests[key] = count


# --------------------------------------------------------------------------- pricing

@dataclass(frozen=True)
class CostLine:
    key: str
    label: str
    quantity: float
    unit: str
    usd: float


def price(work: Work) -> tuple[list[CostLine], dict[str, int]]:
    """Cost lines of one run's work (largest first), and the request counts of services the table does not price."""
    lines = []
    if work.express_executions:
        lines.append(CostLine("stepfunctions_express_requests", "Step Functions Express requests", work.express_executions,
                              "requests", work.express_executions * PRICE_PER_EXPRESS_REQUEST))
        lines.append(CostLine("stepfunctions_express_duration", "Step Functions Express duration (64 MB assumed)",
                              work.express_gb_seconds, "GB-s", work.express_gb_seconds * PRICE_PER_EXPRESS_GB_SECOND))
    else:
        lines.append(CostLine("stepfunctions_transitions", "Step Functions state transitions", work.transitions,
                              "transitions", work.transitions * PRICE_PER_STATE_TRANSITION))
    if work.child_requests:
        lines.append(CostLine("map_children_requests", "Distributed Map EXPRESS children", work.child_requests,
                              "requests", work.child_requests * PRICE_PER_EXPRESS_REQUEST))
        lines.append(CostLine("map_children_duration", "Distributed Map children duration (64 MB assumed)",
                              work.child_gb_seconds, "GB-s", work.child_gb_seconds * PRICE_PER_EXPRESS_GB_SECOND))
    if work.child_transitions:
        lines.append(CostLine("map_children_transitions", "Distributed Map STANDARD children transitions",
                              work.child_transitions, "transitions", work.child_transitions * PRICE_PER_STATE_TRANSITION))
    invocations = sum(n for _, n, _ in work.functions.values())
    if invocations:
        lines.append(CostLine("lambda_requests", "Lambda requests", invocations, "requests", invocations * PRICE_PER_LAMBDA_REQUEST))
    for logical_id, (config, n, gb_seconds) in work.functions.items():
        if not n and not gb_seconds:
            continue
        rate = PRICE_PER_LAMBDA_GB_SECOND_ARM if config.architecture == "arm64" else PRICE_PER_LAMBDA_GB_SECOND_X86
        lines.append(CostLine(f"lambda_compute:{readable_logical_id(logical_id)}",
                              f"Lambda {readable_logical_id(logical_id)} ({config.memory_mb} MB {config.architecture})",
                              gb_seconds, "GB-s", gb_seconds * rate))
    requests = {k: v for k, v in work.requests.items()}
    if work.scheduler_invocations:
        requests["scheduler"] = requests.get("scheduler", 0) + work.scheduler_invocations
    by_service, unpriced = request_costs(requests, sqs_fifo=work.sqs_fifo)
    for service, usd in by_service.items():
        lines.append(CostLine(f"requests:{service}", _SERVICE_LABELS.get(service, f"{service} requests"),
                              requests[service], "requests", usd))
    return sorted(lines, key=lambda line: -line.usd), unpriced


# --------------------------------------------------------------------------- the seed's design

@dataclass(frozen=True)
class SeedCost:
    label: str
    per_run_usd: float
    covers: str  # what the bench's figure includes


def _seed_distributed_copy(usage: Usage, items: int | None) -> SeedCost:
    from sandbox.benches.distributed_copy import seed_design

    objects = items or usage.map_items.get("CopyObjects", 0)
    design = seed_design(objects)
    return SeedCost(f"{design.label} ({objects:,} objects)", design.costs()["total"],
                    "Step Functions, Lambda (128 MB, 100 ms assumed), CopyObject and list requests (sandbox/benches/distributed_copy.py)")


def _seed_bucket_usage(usage: Usage, items: int | None) -> SeedCost:
    from sandbox.benches.bucket_usage import SEED_SCAN_SECONDS, seed_figures

    buckets = items or usage.map_items.get("ScanBuckets", 0)
    seed = seed_figures(buckets)
    usd = seed["transitions"] * PRICE_PER_STATE_TRANSITION + seed["lambda"] * PRICE_PER_LAMBDA_REQUEST
    return SeedCost(f"seed 003: a state machine created per run, polled every 30 s ({buckets:,} buckets, "
                    f"{SEED_SCAN_SECONDS // 60} min scan)", usd,
                    "transitions and Lambda requests walked from its definitions (sandbox/benches/bucket_usage.py); "
                    "no Lambda duration or S3/DynamoDB requests")


def _seed_single_flight(usage: Usage, items: int | None) -> SeedCost:
    from sandbox.benches.single_flight import seed_tick_cost

    enqueued = 1.0 if isinstance(usage.output, dict) and usage.output.get("enqueued") is True else 0.0
    return SeedCost("seed 004: Standard Task + EnQueue Lambda per tick", seed_tick_cost(enqueued)["total"],
                    "Step Functions, Lambda (128 MB x86, 100 ms assumed) and SQS requests of a tick "
                    "(sandbox/benches/single_flight.py)")


def _seed_weekly_batch(usage: Usage, items: int | None) -> SeedCost:
    from sandbox.benches.weekly_batch import walk_seed

    checks = int(usage.output.get("checks", 1)) if isinstance(usage.output, dict) else 1
    seed = walk_seed([0] * (checks - 1) + [1])
    usd = seed["transitions"] * PRICE_PER_STATE_TRANSITION + seed["lambdas"] * PRICE_PER_LAMBDA_REQUEST
    return SeedCost(f"seed 001: the same path ({checks} check{'s' if checks != 1 else ''})", usd,
                    "transitions and Lambda requests walked from its definition (sandbox/benches/weekly_batch.py); "
                    "no Lambda duration or requests")


SEED_COSTS: dict[str, Callable[[Usage, int | None], SeedCost]] = {
    "distributed-copy": _seed_distributed_copy,
    "bucket-usage": _seed_bucket_usage,
    "single-flight": _seed_single_flight,
    "weekly-batch": _seed_weekly_batch,
}


# --------------------------------------------------------------------------- the report

def runs_per_month_of(usage: Usage) -> tuple[float, str]:
    """Runs in an average month: the schedule's, or ON_DEMAND_RUNS_PER_MONTH."""
    if not usage.schedule:
        return ON_DEMAND_RUNS_PER_MONTH, "default for a workflow started on demand (no schedule); give --runs-per-month"
    from datetime import datetime, timedelta, timezone

    from sandbox.scheduler import Schedule, fire_times

    expression = usage.schedule
    if expression.startswith("rate("):
        amount, unit = expression[5:-1].split()
        seconds = int(amount) * {"minute": 60, "hour": 3600, "day": 86400}[unit.rstrip("s")]
        return DAYS_PER_MONTH * 86400 / seconds, f"schedule {expression}"
    schedule = Schedule(logical_id="s", expression=expression, timezone="UTC", target_logical_id="m", input_template="{}")
    start = moment = datetime(2026, 1, 1, tzinfo=timezone.utc)
    end, fired = start + timedelta(days=4 * 365 + 1), 0  # four years: leap days and weekdays even out
    while moment < end:
        times = fire_times(schedule, after=moment, count=1000)
        fired += sum(1 for t in times if t < end)
        moment = times[-1]
    return fired / 48, f"schedule {expression}"


@dataclass(frozen=True)
class CostReport:
    workflow: str
    execution_arn: str
    status: str
    runs_per_month: float
    runs_per_month_source: str
    items: dict[str, Any] | None
    lines: list[CostLine]
    not_priced: dict[str, int]
    seed: SeedCost | None

    @property
    def per_run_usd(self) -> float:
        return sum(line.usd for line in self.lines)

    @property
    def biggest(self) -> CostLine:
        return self.lines[0]

    def to_dict(self) -> dict[str, Any]:
        per_month = self.runs_per_month
        return {
            "workflow": self.workflow, "execution_arn": self.execution_arn, "status": self.status,
            "price_table": {"region": PRICES["region"], "checked": PRICES["checked"], "currency": PRICES["currency"],
                            "sources": sorted({v["source"] for v in PRICES.values() if isinstance(v, dict) and "source" in v})},
            "runs_per_month": per_month, "runs_per_month_source": self.runs_per_month_source, "items": self.items,
            "lines": [{**asdict(line), "per_run_usd": line.usd, "per_month_usd": line.usd * per_month} for line in self.lines],
            "per_run_usd": self.per_run_usd, "per_month_usd": self.per_run_usd * per_month,
            "biggest": self.biggest.key,
            "seed": None if self.seed is None else {"label": self.seed.label, "per_run_usd": self.seed.per_run_usd,
                                                     "per_month_usd": self.seed.per_run_usd * per_month, "covers": self.seed.covers},
            "not_priced": self.not_priced, "excluded": list(EXCLUDED),
        }


def cost_report(usage: Usage, *, runs_per_month: float | None = None, items: int | None = None) -> CostReport:
    work = Work.of(usage)
    items_info = None
    if items is not None:
        scaling = ITEM_SCALING.get(usage.workflow)
        if scaling is None:
            raise CostModelError(f"--items scales {', '.join(ITEM_SCALING)}; {usage.workflow} has no per-item model")
        work = work.scaled(usage, scaling, items)
        items_info = {"unit": scaling.unit, "measured": usage.map_items.get(scaling.map_state, 0), "scaled_to": items,
                      "model": scaling.model}
    lines, unpriced = price(work)
    if runs_per_month is None:
        runs, source = runs_per_month_of(usage)
    else:
        runs, source = runs_per_month, "--runs-per-month"
    # The seed's figure follows this run's path: compared only with a run that succeeded.
    seed = SEED_COSTS[usage.workflow](usage, items) if usage.workflow in SEED_COSTS and usage.status == "SUCCEEDED" else None
    return CostReport(workflow=usage.workflow, execution_arn=usage.execution_arn, status=usage.status, runs_per_month=runs,
                      runs_per_month_source=source, items=items_info, lines=lines, not_priced=unpriced, seed=seed)
