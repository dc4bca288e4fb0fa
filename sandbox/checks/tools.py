"""The well-kept outside checkers, run offline over the same templates as the property checks:

- cfn-lint with the serverless rules of `cfn-lint-serverless` (awslabs serverless-rules), in this environment;
- checkov's CloudFormation checks, from the tool environment `.venv-tools` (`make setup` builds it from
  requirements-tools.txt: checkov pins boto3 1.35 and networkx 2.6, which conflict with this environment's pins);
- `asl-validator` (npm, pinned in package.json) over every state machine definition, its tokens written as
  values of the shape AWS gives them. Chosen over PyPI's `statelint`, which rejects what AWS accepts: an
  integer BackoffRate (CDK writes `2`) and the Distributed Map's `Label`; asl-validator knows them and also
  checks the syntax of every path and JSONata expression.

A rule is never skipped without a reason written beside it. `*_SKIPPED` rules are not run at all; a finding
of an `*_ACCEPTED` rule is dropped only where its test says the template already does what the rule wants.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from sandbox.checks.templates import (StateMachine, Template, dead_letter_targets, definition_of, realistic_token,
                                      referenced_resource)

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_VENV = REPO_ROOT / ".venv-tools"
CFN_LINT_CONFIG = REPO_ROOT / ".cfnlintrc.yaml"
SERVERLESS_RULES = "cfn_lint_serverless.rules"


class ToolMissing(RuntimeError):
    """An outside checker is not installed (run `make setup`)."""


@dataclass(frozen=True)
class Finding:
    tool: str
    rule: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.tool} {self.rule}: {self.where}: {self.message}"


@dataclass(frozen=True)
class Accepted:
    reason: str
    applies: Callable[[Template, str], bool]  # (template, logical id) -> the template already does what the rule wants


def _function_logs_with_retention(template: Template, logical_id: str) -> bool:
    config = ((template.resources.get(logical_id) or {}).get("Properties") or {}).get("LoggingConfig") or {}
    group = referenced_resource(config.get("LogGroup"))
    return bool(group) and "RetentionInDays" in ((template.resources.get(group[0]) or {}).get("Properties") or {})


def _is_dead_letter_queue(template: Template, logical_id: str) -> bool:
    return any(
        referenced_resource(target) == (logical_id, "Arn")
        for resource in template.resources.values()
        for target in dead_letter_targets(resource)
    )


def _reads_an_sqs_queue(template: Template, logical_id: str) -> bool:
    source = referenced_resource(((template.resources.get(logical_id) or {}).get("Properties") or {}).get("EventSourceArn"))
    return bool(source) and (template.resources.get(source[0]) or {}).get("Type") == "AWS::SQS::Queue"


def _has_sqs_managed_encryption(template: Template, logical_id: str) -> bool:
    return ((template.resources.get(logical_id) or {}).get("Properties") or {}).get("SqsManagedSseEnabled") is True


def _async_failures_kept_in_a_queue(template: Template, logical_id: str) -> bool:
    """The function's asynchronous invocations that fail for good go to a queue of this template (an on-failure
    destination of its EventInvokeConfig): what a function DLQ would keep."""
    return any(
        referenced_resource(((resource.get("Properties") or {}).get("FunctionName"))) == (logical_id, None)
        and any((template.resources.get((referenced_resource(target) or ("",))[0]) or {}).get("Type") == "AWS::SQS::Queue"
                for target in dead_letter_targets(resource))
        for resource in template.of_type("AWS::Lambda::EventInvokeConfig").values()
    )


def _permitted_function_keeps_async_failures(template: Template, logical_id: str) -> bool:
    """The Lambda permission's function has its asynchronous failures kept in a queue (see above)."""
    function = referenced_resource(((template.resources.get(logical_id) or {}).get("Properties") or {}).get("FunctionName"))
    return bool(function) and _async_failures_kept_in_a_queue(template, function[0])


def _never_invoked_asynchronously(template: Template, logical_id: str) -> bool:
    """No resource-based permission, async invoke config or URL names the function: only its role's callers
    (Step Functions Tasks, SQS event source mappings) invoke it, synchronously."""
    return not any(
        resource.get("Type") in ("AWS::Lambda::Permission", "AWS::Lambda::EventInvokeConfig", "AWS::Lambda::Url")
        and logical_id in json.dumps(resource.get("Properties") or {})
        for resource in template.resources.values()
    )


CFN_LINT_SKIPPED: dict[str, str] = {}  # every cfn-lint and serverless rule runs; .cfnlintrc.yaml says why W3005 does not
CFN_LINT_ACCEPTED: dict[str, Accepted] = {
    "WS1004": Accepted(
        "The rule looks for a log group named /aws/lambda/<function>; ours log to their own group through "
        "LoggingConfig.LogGroup, accepted where that group has a RetentionInDays.",
        _function_logs_with_retention,
    ),
    "ES6000": Accepted(
        "The rule asks every queue for a redrive policy, DLQs too; a DLQ keeps its messages for a person to redrive, "
        "alarmed on its depth (dead_letter_queues checks that, and that every other queue has a DLQ).",
        _is_dead_letter_queue,
    ),
    "ES1007": Accepted(
        "The rule matches a permission to its function's EventInvokeConfig by the literal FunctionName, and CDK "
        "writes the function's Arn in one and its Ref in the other; accepted where that function's async config "
        "sends failures to a queue of the template.",
        _permitted_function_keeps_async_failures,
    ),
    "ES1001": Accepted(
        "An on-failure destination exists only for stream and Kafka event sources; an SQS source's failures go to "
        "the queue's own DLQ (dead_letter_queues checks it).",
        _reads_an_sqs_queue,
    ),
}

CHECKOV_SKIPPED: dict[str, str] = {
    "CKV_AWS_158": "CloudWatch Logs encrypts every log group at rest already; a customer-managed key per log group "
    "adds a key to run and pay for, and state machines log no execution data (include_execution_data is off).",
    "CKV_AWS_117": "The functions call public APIs (Slack, the search APIs, BigQuery, the long API) and AWS APIs; "
    "in a VPC each would need a NAT gateway or endpoint, cost that protects nothing they hold.",
    "CKV_AWS_115": "Each function's concurrency is bounded by its caller (a Map's MaxConcurrency, a Parallel's "
    "branches, one tick a minute, a FIFO queue's message group); reserved concurrency would carve every "
    "workflow's share out of the account's pool.",
    "CKV_AWS_173": "Lambda encrypts environment variables at rest with an AWS managed key; ours hold no secret "
    "(no_secrets checks every environment), only the names of secrets read at run time from Secrets Manager.",
    "CKV_AWS_119": "Tables are encrypted at rest with an AWS owned key; they hold run guards, scan results and "
    "idempotency records, nothing that calls for a customer-managed key and its cost.",
    "CKV_AWS_18": "Payload and result buckets hold objects that expire after a day, written only by the "
    "workflow's roles over TLS; CloudTrail data events audit access where needed (cdk-nag AwsSolutions-S1, same reason).",
    "CKV_AWS_21": "Objects in payload and result buckets expire after a day and are written once: versions would "
    "only keep deleted payloads longer.",
}
CHECKOV_ACCEPTED: dict[str, Accepted] = {
    "CKV_AWS_27": Accepted(
        "The check looks only at KmsMasterKeyId; a queue with SqsManagedSseEnabled is encrypted at rest (SSE-SQS).",
        _has_sqs_managed_encryption,
    ),
    "CKV_AWS_116": Accepted(
        "A function's DLQ takes only asynchronous invocations; accepted where nothing may invoke the function "
        "asynchronously (no Lambda permission, async config or URL names it), so its errors reach a Task's "
        "Retry/Catch or an SQS queue's DLQ, or where its async config's on-failure destination is a queue of the "
        "template (AWS's successor to a function DLQ, with the error's details).",
        lambda template, logical_id: (_never_invoked_asynchronously(template, logical_id)
                                      or _async_failures_kept_in_a_queue(template, logical_id)),
    ),
}
ASL_VALIDATOR_SKIPPED: dict[str, str] = {}  # path and ARN checks both run


def _by_file(templates: Iterable[Template]) -> dict[str, Template]:
    return {str(t.path.resolve()): t for t in templates}


def _accepted(finding: Finding, accepted: dict[str, Accepted], template: Template, logical_id: str | None) -> bool:
    return finding.rule in accepted and bool(logical_id) and accepted[finding.rule].applies(template, logical_id)


def cfn_lint(templates: list[Template]) -> list[Finding]:
    """cfn-lint's own rules and the serverless rules over the templates (one process)."""
    if not templates:
        return []
    executable = Path(sys.executable).with_name("cfn-lint")
    command = [str(executable), "--config-file", str(CFN_LINT_CONFIG), "-a", SERVERLESS_RULES, "-f", "json"]
    command += [arg for rule in CFN_LINT_SKIPPED for arg in ("-i", rule)]
    result = subprocess.run([*command, "--", *(str(t.path) for t in templates)], capture_output=True, text=True, check=False)
    if not result.stdout.strip():  # findings are printed as JSON; no output is no finding, unless it crashed
        if result.returncode == 0:
            return []
        raise RuntimeError(f"cfn-lint failed ({result.returncode}): {result.stderr[-2000:]}")
    by_file, found = _by_file(templates), []
    for match in json.loads(result.stdout):
        template = by_file[str(Path(match["Filename"]).resolve())]
        path = match["Location"]["Path"] or []
        logical_id = path[1] if len(path) > 1 and path[0] == "Resources" else None
        finding = Finding("cfn-lint", match["Rule"]["Id"], f"{template}/{logical_id or '/'.join(map(str, path))}", match["Message"])
        if not _accepted(finding, CFN_LINT_ACCEPTED, template, logical_id):
            found.append(finding)
    return found


def checkov(templates: list[Template]) -> list[Finding]:
    """checkov's CloudFormation checks over the templates (one process, from the tool environment)."""
    if not templates:
        return []
    executable = TOOLS_VENV / "bin" / "checkov"
    if not executable.exists():
        raise ToolMissing(f"{executable} is missing: run `make setup` (it builds .venv-tools from requirements-tools.txt)")
    command = [str(executable), "--framework", "cloudformation", "--skip-download", "--quiet", "--compact", "-o", "json",
               "--skip-check", ",".join(CHECKOV_SKIPPED)]
    for template in templates:
        command += ["-f", str(template.path)]
    result = subprocess.run(command, capture_output=True, text=True, check=False, env={**os.environ, "LOG_LEVEL": "ERROR"})
    if result.returncode not in (0, 1):
        raise RuntimeError(f"checkov failed ({result.returncode}): {result.stderr[-2000:]}")
    reports = json.loads(result.stdout) if result.stdout.strip() else []
    reports = reports if isinstance(reports, list) else [reports]
    by_file, found = _by_file(templates), []
    for report in reports:
        if report.get("summary", {}).get("parsing_errors"):
            raise RuntimeError(f"checkov could not parse a template: {report['summary']}")
        for failed in (report.get("results") or {}).get("failed_checks", []):
            template = by_file[str(Path(failed["file_abs_path"]).resolve())]
            logical_id = failed["resource"].rsplit(".", 1)[-1]
            finding = Finding("checkov", failed["check_id"], f"{template}/{logical_id}", failed["check_name"])
            if not _accepted(finding, CHECKOV_ACCEPTED, template, logical_id):
                found.append(finding)
    return found


_ASL_VALIDATE = """
const validator = require(process.argv[1]);
const definitions = JSON.parse(require("fs").readFileSync(0, "utf8"));
const results = definitions.map((definition) => {
  const { isValid, errors } = validator(definition, { checkPaths: true, checkArn: true });
  return isValid ? [] : errors.map((e) => `${e["Error code"]}: ${e.Message}`);
});
process.stdout.write(JSON.stringify(results));
"""


def asl_validator(machines: list[StateMachine]) -> list[Finding]:
    """asl-validator over every definition (one node process), tokens written as AWS would resolve them."""
    if not machines:
        return []
    module = REPO_ROOT / "node_modules" / "asl-validator"
    if not module.exists():
        raise ToolMissing(f"{module} is missing: run `make setup` (npm ci installs it from package-lock.json)")
    definitions = [
        definition_of(machine.template.resources[machine.logical_id], realistic_token(machine.template)) for machine in machines
    ]
    result = subprocess.run(["node", "-e", _ASL_VALIDATE, str(module)], input=json.dumps(definitions),
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"asl-validator failed ({result.returncode}): {result.stderr[-2000:]}")
    return [
        Finding("asl-validator", "ASL", str(machine), error)
        for machine, errors in zip(machines, json.loads(result.stdout))
        for error in errors
    ]
