"""`sandbox cost` and `sandbox graph --last` as a user runs them: one real run, priced, then its path drawn."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sandbox.cli import app
from sandbox.costs import PRICE_PER_LAMBDA_REQUEST, PRICE_PER_STATE_TRANSITION
from tests.conftest import requires_workflows
from tests.workflows.test_cli import sandbox_cli

pytestmark = requires_workflows("parallel-search")


def test_cost_prices_one_run_and_graph_colours_its_path():
    # WHEN a user prices parallel-search (one sandbox run with the sample input)
    result = sandbox_cli("cost", "parallel-search", "--json", "--runs-per-month", "3000")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    lines = {line["key"]: line for line in report["lines"]}
    # THEN the lines add up, the biggest is named, and the counted work is priced from the table
    assert report["status"] == "SUCCEEDED" and report["runs_per_month"] == 3000
    assert report["per_run_usd"] == pytest.approx(sum(line["per_run_usd"] for line in report["lines"]))
    assert report["per_month_usd"] == pytest.approx(report["per_run_usd"] * 3000)
    assert report["biggest"] == max(report["lines"], key=lambda line: line["per_run_usd"])["key"]
    assert lines["stepfunctions_transitions"]["per_run_usd"] == pytest.approx(6 * PRICE_PER_STATE_TRANSITION)
    assert lines["lambda_requests"]["quantity"] == 3
    assert lines["lambda_requests"]["per_run_usd"] == pytest.approx(3 * PRICE_PER_LAMBDA_REQUEST)
    assert {"lambda_compute:SearchAFunction", "lambda_compute:SearchBFunction", "lambda_compute:MergeFunction"} <= set(lines)
    assert lines["requests:secretsmanager"]["quantity"] == 2  # one API key per search function
    assert report["price_table"]["region"] == "us-east-1" and report["seed"] is None
    assert "◀ biggest" in result.stderr and result.stdout.count("\n") == 1  # the table on stderr, stdout the JSON alone
    # AND the run is kept: `graph --last` colours the path it took (the start, the rule, the Parallel, the merge)
    drawn = sandbox_cli("graph", "parallel-search", "--last")
    assert drawn.returncode == 0, drawn.stderr
    assert "class s_ValidateInput,s_Search_shop_a,s_Search_shop_b,s_MergeResults ran" in drawn.stdout
    assert "style s_SearchAll fill:#f1f8e9" in drawn.stdout and "linkStyle 0,1,3,5 " in drawn.stdout


@pytest.mark.parametrize(("args", "fragment"), [
    (["cost", "parallel-search", "--items", "10"], "no per-item model"),
    (["graph", "parallel-search", "--run", "--last"], "give one"),
    (["graph", "parallel-search", "--check"], "give --markdown"),
])
def test_cost_and_graph_usage_errors_are_one_line_exit_2(args, fragment):
    result = CliRunner().invoke(app, args)  # in-process: refused before any synth or deploy
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1 and fragment in errors[0], result.output
