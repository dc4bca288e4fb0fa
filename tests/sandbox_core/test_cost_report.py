"""`sandbox cost`: known runs priced against figures computed by hand from sandbox/prices.toml."""

from __future__ import annotations

import re

import pytest

from sandbox.cost_report import (
    ITEM_SCALING,
    ChildUse,
    CostModelError,
    FunctionUse,
    Usage,
    cost_report,
    runs_per_month_of,
)
from sandbox.costs import PRICES
from sandbox.last_run import load_usage, save_usage
from tests.conftest import requires_workflows


def _usage(**overrides) -> Usage:
    """A Standard run: 7 transitions, two functions, requests of every priced service, hourly schedule."""
    fields = dict(
        workflow="parallel-search", execution_arn="arn:aws:states:us-east-1:1:execution:m:run-1", status="SUCCEEDED",
        state_machine_type="STANDARD", duration_s=2.0, transitions=7,
        functions=[FunctionUse("SearchFunctionAB12CD34", 512, "arm64", invocations=2, billed_ms=1500),
                   FunctionUse("MergeFunction1EE70911", 1024, "x86_64", invocations=1, billed_ms=200),
                   FunctionUse("IdleFunction12345678", 128, "arm64", invocations=0, billed_ms=0)],
        requests={"lambda": 3, "lambda:Invoke": 3, "s3": 4, "s3:PutObject": 1, "s3:GetObject": 2, "s3:DeleteObject": 1,
                  "sqs": 3, "sqs:SendMessage": 3, "dynamodb": 2, "dynamodb:PutItem": 1, "dynamodb:Query": 1,
                  "secretsmanager": 1, "secretsmanager:GetSecretValue": 1, "sns": 1, "sns:Publish": 1, "sts": 2},
        schedule="rate(1 hour)", sqs_fifo=False)
    fields.update(overrides)
    return Usage(**fields)


def _lines(report) -> dict[str, float]:
    return {line.key: line.usd for line in report.lines}


def test_a_known_standard_run_costs_the_hand_computed_figure():
    report = cost_report(_usage())
    # Hand-computed from the table (us-east-1):
    #   7 transitions x $0.000025                          = 0.000175
    #   3 Lambda requests x $0.0000002                     = 0.0000006
    #   Search: 1.5 s x 0.5 GB = 0.75 GB-s x $0.0000133334 = 0.00001000005  (arm64)
    #   Merge:  0.2 s x 1 GB   = 0.2 GB-s  x $0.0000166667 = 0.00000333334  (x86_64)
    #   S3: 1 PUT x $0.000005 + 2 GET x $0.0000004 + DELETE free = 0.0000058
    #   SQS (standard queues): 3 x $0.0000004               = 0.0000012
    #   DynamoDB: 1 WRU x $0.000000625 + 1 RRU x $0.000000125 = 0.00000075
    #   Secrets Manager 1 x $0.000005, SNS 1 x $0.0000005, Scheduler 1 x $0.000001
    expected = {
        "stepfunctions_transitions": 0.000175, "lambda_requests": 0.0000006,
        "lambda_compute:SearchFunction": 0.00001000005, "lambda_compute:MergeFunction": 0.00000333334,
        "requests:s3": 0.0000058, "requests:sqs": 0.0000012, "requests:dynamodb": 0.00000075,
        "requests:secretsmanager": 0.000005, "requests:sns": 0.0000005, "requests:scheduler": 0.000001,
    }
    assert _lines(report) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert report.per_run_usd == pytest.approx(0.00020318339, rel=1e-9)
    # rate(1 hour): 24 runs a day, 365.25/12 days a month
    assert report.runs_per_month == pytest.approx(730.5) and report.runs_per_month_source == "schedule rate(1 hour)"
    assert report.to_dict()["per_month_usd"] == pytest.approx(0.00020318339 * 730.5, rel=1e-9)
    # THEN the biggest line is named, the unpriced service listed, the idle function left out
    assert report.biggest.key == "stepfunctions_transitions" == report.to_dict()["biggest"]
    assert report.not_priced == {"sts": 2}
    assert not any("IdleFunction" in key for key in _lines(report))


def test_fifo_queues_and_express_machines_are_priced_as_aws_bills_them():
    # GIVEN an EXPRESS tick of 0.25 s (billed 0.3 s at 64 MB) sending to a FIFO queue
    report = cost_report(_usage(state_machine_type="EXPRESS", duration_s=0.25, functions=[], schedule=None,
                                requests={"sqs": 2, "sqs:GetQueueAttributes": 1, "sqs:SendMessage": 1}, sqs_fifo=True),
                         runs_per_month=43_200)
    assert _lines(report) == pytest.approx({
        "stepfunctions_express_requests": 0.000001,
        "stepfunctions_express_duration": 0.3 * 64 / 1024 * 0.00001667,
        "requests:sqs": 2 * 0.0000005,
    })
    assert report.runs_per_month_source == "--runs-per-month"


@requires_workflows("distributed-copy")  # its seed's cost comes from its bench
def test_distributed_copy_scales_to_a_million_objects_by_its_model():
    # GIVEN a run that read 60 objects in one EXPRESS child of 3.0 s (batches of 100) and moved 50 of them
    usage = _usage(
        workflow="distributed-copy", transitions=6, schedule=None,
        functions=[FunctionUse("CopyFunction0486AA2A", 512, "arm64", 1, 1200, in_map="CopyObjects"),
                   FunctionUse("PlanFunction4FC0AD87", 256, "arm64", 1, 100)],
        children=[ChildUse("EXPRESS", items=60, duration_s=3.0, transitions=1)],
        map_items={"CopyObjects": 60}, batch_items={"CopyObjects": 100},
        requests={"lambda": 2, "s3": 154, "s3:HeadObject": 50, "s3:CopyObject": 50, "s3:DeleteObject": 50,
                  "s3:ListObjectsV2": 1, "s3:PutObject": 2, "s3:GetObject": 1})
    report = cost_report(usage, items=1_000_000)
    per_object = 1_000_000 / 60
    # 10,000 children of 100 objects x 0.05 s = 5.0 s each; 10,000 copy invocations + 1 plan;
    # copy GB-s 0.6 per 60 objects; HEAD and COPY per object in the run's mix; 1,000 list pages; the rest as measured
    assert _lines(report) == pytest.approx({
        "map_children_requests": 10_000 * 0.000001,
        "map_children_duration": 10_000 * 5.0 * 0.0625 * 0.00001667,
        "lambda_requests": 10_001 * 0.0000002,
        "lambda_compute:CopyFunction": 0.6 * per_object * 0.0000133334,
        "lambda_compute:PlanFunction": 0.025 * 0.0000133334,
        "requests:s3": 50 * per_object * (0.0000004 + 0.000005) + 1000 * 0.000005 + 2 * 0.000005 + 0.0000004,
        "stepfunctions_transitions": 6 * 0.000025,
    }, rel=1e-9)
    assert report.biggest.key == "requests:s3"
    assert report.items == {"unit": "objects", "measured": 60, "scaled_to": 1_000_000, "model": ITEM_SCALING["distributed-copy"].model}
    assert report.seed is not None and report.seed.per_run_usd > report.per_run_usd  # the seed's design, from its bench


@requires_workflows("bucket-usage")
def test_bucket_usage_scales_the_maps_transitions_and_scans_per_bucket():
    # GIVEN 5 buckets: 20 transitions of which 15 inside the Map, one scan each, a location lookup and a row each
    usage = _usage(
        workflow="bucket-usage", transitions=20, schedule=None, map_transitions={"ScanBuckets": 15}, map_items={"ScanBuckets": 5},
        functions=[FunctionUse("ScanFunctionB8421F36", 512, "arm64", 5, 1000, in_map="ScanBuckets"),
                   FunctionUse("SummaryFunction850A602F", 512, "arm64", 1, 100)],
        requests={"s3": 10, "s3:ListBuckets": 1, "s3:GetBucketLocation": 5, "s3:ListObjectsV2": 4,
                  "dynamodb": 6, "dynamodb:PutItem": 5, "dynamodb:Query": 1, "sns": 1})
    lines = _lines(cost_report(usage, items=50))
    assert lines["stepfunctions_transitions"] == pytest.approx((5 + 15 * 10) * 0.000025)
    assert lines["lambda_requests"] == pytest.approx(51 * 0.0000002)
    assert lines["lambda_compute:ScanFunction"] == pytest.approx(0.5 * 10 * 0.0000133334)
    assert lines["requests:s3"] == pytest.approx(0.000005 + 50 * 0.0000004 + 40 * 0.000005)
    assert lines["requests:dynamodb"] == pytest.approx(50 * 0.000000625 + 0.000000125)


def test_items_need_a_per_item_model():
    with pytest.raises(CostModelError, match="no per-item model"):
        cost_report(_usage(), items=10)
    with pytest.raises(CostModelError, match="read no buckets"):
        cost_report(_usage(workflow="bucket-usage", map_items={"ScanBuckets": 0}), items=10)


@pytest.mark.parametrize(("expression", "runs"), [("rate(1 minute)", 43_830), ("rate(5 minutes)", 8_766),
                                                  ("cron(30 9 ? * THU *)", 4.35), ("cron(0 3 * * ? *)", 30.44)])
def test_runs_per_month_follow_the_schedule(expression, runs):
    assert runs_per_month_of(_usage(schedule=expression))[0] == pytest.approx(runs, abs=0.01)
    assert runs_per_month_of(_usage(schedule=None)) [0] == 1_000


def test_the_price_table_names_its_region_date_and_sources():
    assert PRICES["region"] == "us-east-1" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", PRICES["checked"])
    sections = [value for value in PRICES.values() if isinstance(value, dict)]
    assert len(sections) == 8 and all(section["source"].startswith("https://aws.amazon.com/") for section in sections)


def test_a_run_kept_for_reuse_reads_back_equal(tmp_path):
    usage = _usage(children=[ChildUse("EXPRESS", 3, 0.5, 1)])
    save_usage(usage, tmp_path)
    assert load_usage("parallel-search", tmp_path) == usage and load_usage("weekly-batch", tmp_path) is None
