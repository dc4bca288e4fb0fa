"""Reliability properties every synthesized template must have. Each check takes one template and returns
its violations (an empty list when it holds); `PROPERTY_CHECKS` names them all.

The rules, and why they are sound:

task_timeouts
    Every state machine has TimeoutSeconds, and every Task TimeoutSeconds or TimeoutSecondsPath (AWS honours
    both on every kind of Task, so no integration is exempt). A Task that invokes a Lambda function of the
    template waits longer than the function may run: otherwise Step Functions gives up on a call that still
    runs, and a retry starts a second one beside it. In JSONata, TimeoutSeconds may be a `{% %}` expression:
    one that reads nothing ($states, variables) is a constant and is held to the same rules (a positive
    integer, longer than the function); one that reads the run is a timeout from the input, as
    TimeoutSecondsPath is.

lambda_task_retries
    For each Lambda service error AWS documents as transient (LAMBDA_TRANSIENT_ERRORS), the first Retrier
    that matches it (ASL applies the first match) has JitterStrategy FULL, MaxAttempts from 1 to
    MAX_RETRY_ATTEMPTS, and MaxDelaySeconds.

failures_notify_then_fail
    A Catch that matches a `States.*` error (States.ALL, States.TaskFailed, States.Timeout...) catches failures
    nobody named. From its target, every path must pass a notice (an SNS publish Task, or a notify step: a Task
    invoking a function of the template whose role may sns:Publish) before it reaches a Fail
    state, and no path may end the execution successfully. A Catch of named errors only is control flow the
    author chose (a once-per-key guard's ConditionalCheckFailed -> "already ran") and is not a failure.
    Two forms are allowed to go on: a best-effort step, whose Catch leads to the step's own Next, when the step
    is a Lambda function with an alarm (with actions) on its Errors metric, so its failure is heard there; and a
    per-item failure recorded and counted: after its notice, every path to success passes a failure-threshold
    Choice (a Choice one of whose branches reaches a Fail state), so past the threshold the run fails.
    A failure that no Catch handles (an input check's Fail state, an uncaught error) fails the execution:
    each state machine must have alarms, with actions, on ExecutionsFailed and ExecutionsTimedOut.
    A Lambda that posts elsewhere (Slack) is not taken for a notice: what it does cannot be read from the template.

loops_bounded
    Every cycle of a scope's state graph (transitions by Next, Choice, Default and Catch) must pass a bounding
    Choice, and a state in the cycle must count: `States.MathAdd(<counter>, <positive step>)`. A Choice
    bounds the cycle on counter path P against a number when either
    - a rule leaving the cycle is (or is an Or containing) P NumericGreaterThan/GreaterThanEquals/Equals the
      number, and every rule before it leaves the cycle too; or
    - every rule staying in the cycle is (or is an And containing) P NumericLessThan/LessThanEquals the
      number, and the Default leaves it.
    Removing the bounding Choices must leave the scope without cycles, so no cycle goes around them. The check
    proves the cycle reads, increments and bounds one counter; that an increment sent to a Lambda comes back
    in its result is for the workflow's sandbox tests to prove.
    In JSONata the counter is a variable: a state of the cycle assigns it `{% $n + <positive step> %}` (state,
    Choice rule or Catch `Assign`, on a transition that stays in the cycle) and nothing else in the cycle
    assigns it; a Choice `Condition` bounds it as above, `$n >= N` / `$n > N` / `$n = N` (or an `or` holding
    one) on a rule leaving the cycle, `$n < N` / `$n <= N` (or an `and` holding one) on every rule staying.
    A JSONata counter may also travel in the payload, as a top-level field f of each state's input. Every transition
    that stays in the cycle must keep it or raise it: its output (the state's or the rule's or the Catch's `Output`;
    without one, a Choice, Pass or Wait passes its input on, a Task, Map or Parallel its result and a Catch the error,
    which loses f) is `{% $states.input %}`, `{% $merge([$states.input, {...}]) %}` whose object literal sets f to
    `$states.input.f + <positive step>` or `$states.input.f` or leaves it out, or an object whose field f is one of
    those two; every cycle must pass a transition that raises it (the cycle without them has no cycle); and a
    Choice bounds it only the second way, `$states.input.f < N` on every rule staying and a Default that leaves:
    a field that is missing compares false and so leaves, where `>= N` on a leaving rule would never hold. A
    variable counter, too, must be raised on every cycle, not only somewhere in the component.

dead_letter_queues
    Every SQS queue that is no DLQ itself has a RedrivePolicy, to a DLQ of its own kind (FIFO to FIFO).
    Every DLQ (a queue's deadLetterTargetArn, a Lambda's or a schedule's or a rule target's DeadLetterConfig,
    an event source mapping's or async config's on-failure destination, an SNS subscription's redrive) is
    a queue of this template with a CloudWatch alarm, with actions, on its ApproximateNumberOfMessagesVisible.

no_wildcard_actions
    No Allow statement of any policy (identity policies, and queue, topic, bucket, key, secret and log
    resource policies) has an Action with `*` in it ("*", "s3:*", "s3:Get*") or uses NotAction. Deny
    statements may be broad (denying plain HTTP for "s3:*" is the point). One statement is not a grant: a KMS
    key policy's `kms:*` for its own account's root (AWS's default key policy) only lets that account's IAM
    policies grant use of the key, and those policies are checked here.

no_secrets
    detect-secrets (its default plugins and filters) over every string of the template and of each state
    machine's definition (so Lambda environments and state payloads too: Parameters, Arguments, Assign,
    Output). A JSONata `{% %}` expression is also scanned for what it writes itself: each string literal in
    it, and its value evaluated with nothing of the run bound (`'sk_' & 'live...'` is one secret), under
    the field's key. A finding of its KeywordDetector
    ("password = ...") is a name, not a secret, when its key ends in _NAME, _ARN or _ID (SLACK_WEBHOOK_SECRET_NAME
    names a Secrets Manager secret); a high-entropy finding is no secret when the string is a name CDK made
    (letters and digits ending in CDK's 8-hex-digit path hash: logical ids, policy names); findings of the format
    detectors (AWS keys, Slack tokens, private keys...) always count.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import networkx as nx

from sandbox.checks.graph import SUCCEEDED, StateGraph
from sandbox.checks.templates import (
    DefinitionNotInline,
    dead_letter_targets,
    StateMachine,
    Template,
    join_text,
    token_text,
    referenced_resource,
    state_machines,
    string_leaves,
)

LAMBDA_TRANSIENT_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
MAX_RETRY_ATTEMPTS = 10
_NOTICE_RESOURCE = re.compile(r":states:::(sns:publish(\.waitForTaskToken)?|aws-sdk:sns:publish)$")
_LAMBDA_INVOKE_RESOURCE = re.compile(r":states:::lambda:invoke(\.waitForTaskToken)?$")
_MATH_ADD = re.compile(r"States\.MathAdd\(\s*(\$[^,\s]+)\s*,\s*(-?[0-9.]+)\s*\)")
_JSONATA_INCREMENT = re.compile(r"^\s*(?:\$([^\W\d]\w*)\s*\+\s*([0-9.]+)|([0-9.]+)\s*\+\s*\$([^\W\d]\w*))\s*$")
_JSONATA_COUNTER = r"\$((?:states\.input\.)?[^\W\d]\w*)"  # a variable $n, or a payload field $states.input.f
_JSONATA_COMPARISON = re.compile(rf"^\s*{_JSONATA_COUNTER}\s*(>=|<=|>|<|=)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*$")
_JSONATA_COMPARISON_FLIPPED = re.compile(rf"^\s*(-?[0-9]+(?:\.[0-9]+)?)\s*(>=|<=|>|<|=)\s*{_JSONATA_COUNTER}\s*$")
_PAYLOAD = "$states.input."
_MERGE_INTO_INPUT = re.compile(r"^\s*\$merge\(\s*\[\s*\$states\.input\s*,\s*(\{.*\})\s*\]\s*\)\s*$", re.DOTALL)
_FLIPPED = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "=": "="}
_JSONATA_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
# Functions whose value changes from run to run (or may be huge): such expressions are not evaluated by no_secrets.
_UNSTABLE_FUNCTIONS = re.compile(r"\$(uuid|random|now|millis|range)\s*\(")
_REFERENCE_KEY = re.compile(r"(_NAME|_ARN|_ID|Name|Arn|Id)$")
_CDK_GENERATED_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*[0-9A-F]{8}")


@dataclass(frozen=True)
class Violation:
    check: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.check}: {self.where}: {self.message}"


Check = Callable[[Template], list[Violation]]


def _machines(template: Template, check: str) -> tuple[list[StateMachine], list[Violation]]:
    try:
        return state_machines(template), []
    except DefinitionNotInline as error:
        return [], [Violation(check, str(template), str(error))]


def _lambda_of_task(template: Template, state: dict[str, Any]) -> str | None:
    """Logical id of the template's Lambda function a Task invokes (by ARN or through lambda:invoke)."""
    resource = state.get("Resource")
    if isinstance(resource, str) and _LAMBDA_INVOKE_RESOURCE.search(resource):
        parameters = state.get("Parameters") or state.get("Arguments")
        # JSONata Arguments may be one expression: its function cannot be read here
        resource = parameters.get("FunctionName") if isinstance(parameters, dict) else None
    target = referenced_resource(resource)
    if target and (template.resources.get(target[0]) or {}).get("Type") == "AWS::Lambda::Function":
        return target[0]
    return None


def _is_lambda_task(state: dict[str, Any]) -> bool:
    """Invokes a Lambda function, of this template or not (a literal function ARN)."""
    resource = str(state.get("Resource", ""))
    return bool(_LAMBDA_INVOKE_RESOURCE.search(resource)) or bool(re.search(r":lambda:[^:]*:[^:]*:function:", resource))


def is_notice(template: Template, state: dict[str, Any]) -> bool:
    """An SNS publish Task, or a notify step: a Task invoking a function of the template whose role may sns:Publish."""
    if state.get("Type") != "Task":
        return False
    if _NOTICE_RESOURCE.search(str(state.get("Resource", ""))):
        return True
    function = _lambda_of_task(template, state)
    role = referenced_resource(((template.resources.get(function) or {}).get("Properties") or {}).get("Role")) if function else None
    return role is not None and "sns:Publish" in _allowed_actions(template, role[0])


def _allowed_actions(template: Template, role: str) -> set[str]:
    """Actions the template's AWS::IAM::Policy resources attached to `role` allow."""
    return {
        action
        for policy in template.of_type("AWS::IAM::Policy").values()
        if {"Ref": role} in (policy.get("Properties") or {}).get("Roles", [])
        for statement in _as_list(((policy.get("Properties") or {}).get("PolicyDocument") or {}).get("Statement"))
        if statement.get("Effect") == "Allow"
        for action in _as_list(statement.get("Action"))
    }


# --------------------------------------------------------------------------- task_timeouts

def task_timeouts(template: Template) -> list[Violation]:
    machines, found = _machines(template, "task_timeouts")
    for machine in machines:
        if "TimeoutSeconds" not in machine.definition:
            found.append(Violation("task_timeouts", str(machine), "the state machine has no TimeoutSeconds"))
        for flat in StateGraph(machine.definition):
            if flat.type != "Task":
                continue
            where = f"{machine} state {flat.path}"
            timeout = flat.state.get("TimeoutSeconds")
            if timeout is None and "TimeoutSecondsPath" not in flat.state:
                found.append(Violation("task_timeouts", where, "Task has no TimeoutSeconds or TimeoutSecondsPath"))
                continue
            timeout, problem = _timeout_seconds(timeout)
            if problem:
                found.append(Violation("task_timeouts", where, problem))
                continue
            function = _lambda_of_task(template, flat.state)
            function_timeout = ((template.resources.get(function) or {}).get("Properties") or {}).get("Timeout", 3) if function else None
            if isinstance(timeout, int) and function_timeout is not None and timeout <= function_timeout:
                found.append(Violation("task_timeouts", where, f"Task gives up after {timeout} s but {function} may run "
                                       f"{function_timeout} s: a retry would run beside a call still running"))
    return found


def _timeout_seconds(value: Any) -> tuple[Any, str | None]:
    """(the timeout in seconds when the definition fixes it, else None; a problem with it, or None). A JSONata
    expression that reads nothing of the run is a constant; one that does is a timeout from the input."""
    from sandbox.engine.jsonata import QueryEvaluationError, evaluate, expression_of

    expression = expression_of(value)
    if expression is None:
        return value, None
    try:
        value = evaluate(expression.strip(), location="TimeoutSeconds")
    except QueryEvaluationError:
        return None, None  # it reads $states or a variable: set by the run, as TimeoutSecondsPath is
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1 or value != int(value):
        return None, f"TimeoutSeconds {expression.strip()!r} is always {value!r}, not a positive integer"
    return int(value), None


# --------------------------------------------------------------------------- lambda_task_retries

def lambda_task_retries(template: Template) -> list[Violation]:
    machines, found = _machines(template, "lambda_task_retries")
    for machine in machines:
        for flat in StateGraph(machine.definition):
            if flat.type != "Task" or not (_lambda_of_task(template, flat.state) or _is_lambda_task(flat.state)):
                continue
            where = f"{machine} state {flat.path}"
            retriers = flat.state.get("Retry") or []
            for error in LAMBDA_TRANSIENT_ERRORS:
                retrier = next((r for r in retriers if _matches(r.get("ErrorEquals", []), error)), None)
                if retrier is None:
                    found.append(Violation("lambda_task_retries", where, f"{error} is not retried"))
                    continue
                problems = []
                if retrier.get("JitterStrategy") != "FULL":
                    problems.append("no JitterStrategy FULL")
                attempts = retrier.get("MaxAttempts")
                if not isinstance(attempts, int) or not 1 <= attempts <= MAX_RETRY_ATTEMPTS:
                    problems.append(f"MaxAttempts {attempts!r} is not from 1 to {MAX_RETRY_ATTEMPTS}")
                if "MaxDelaySeconds" not in retrier:
                    problems.append("no MaxDelaySeconds")
                if problems:
                    found.append(Violation("lambda_task_retries", where, f"the retrier of {error}: {', '.join(problems)}"))
    return found


def _matches(error_equals: list[str], error: str) -> bool:
    return error in error_equals or "States.ALL" in error_equals or "States.TaskFailed" in error_equals


# --------------------------------------------------------------------------- failures_notify_then_fail

def failures_notify_then_fail(template: Template) -> list[Violation]:
    machines, found = _machines(template, "failures_notify_then_fail")
    alarms = _alarms(template)
    for machine in machines:
        for metric in ("ExecutionsFailed", "ExecutionsTimedOut"):
            if not any(a.namespace == "AWS/States" and a.metric == metric and a.dimension("StateMachineArn") == (machine.logical_id, None)
                       for a in alarms):
                found.append(Violation("failures_notify_then_fail", str(machine), f"no alarm with actions on its {metric}"))
        graph = StateGraph(machine.definition)
        notices = {flat.path for flat in graph if is_notice(template, flat.state)}
        thresholds = _thresholds(graph)
        for flat in graph:
            for catcher in flat.state.get("Catch") or []:
                if not any(error.startswith("States.") for error in catcher.get("ErrorEquals", [])):
                    continue
                target = flat.scope + catcher.get("Next", "")
                if target not in graph.states:
                    continue
                where = f"{machine} state {flat.path} (Catch {catcher['ErrorEquals']} -> {catcher['Next']})"
                if catcher["Next"] == flat.state.get("Next") and _errors_alarmed(template, alarms, flat.state):
                    continue  # a best-effort step: its failure is heard through its function's Errors alarm
                before_notice = graph.reachable(target, stop_at=notices)
                unnoticed = sorted(graph.states[p].name for p in before_notice if p in graph.states and graph.states[p].type == "Fail")
                if unnoticed:
                    found.append(Violation("failures_notify_then_fail", where, f"reaches Fail state(s) {unnoticed} without a notice"))
                if SUCCEEDED in before_notice:
                    found.append(Violation("failures_notify_then_fail", where, "the caught failure can end the execution successfully"))
                elif any(SUCCEEDED in graph.reachable(notice, stop_at=thresholds) for notice in before_notice & notices):
                    found.append(Violation("failures_notify_then_fail", where, "the caught failure can end the execution successfully "
                                                                               "after a notice, with no failure threshold on the way"))
    return found


def _thresholds(graph: StateGraph) -> set[str]:
    """Choice states one of whose branches reaches a Fail state: a failure threshold (or any check that can fail the run)."""
    found = set()
    for flat in graph:
        if flat.state.get("Type") != "Choice":
            continue
        branches = [rule.get("Next") for rule in flat.state.get("Choices") or []] + [flat.state.get("Default")]
        for branch in filter(None, branches):
            reached = graph.reachable(flat.scope + branch)
            if any(p in graph.states and graph.states[p].type == "Fail" for p in reached):
                found.add(flat.path)
                break
    return found


def _errors_alarmed(template: Template, alarms: list["_Alarm"], state: dict[str, Any]) -> bool:
    function = _lambda_of_task(template, state)
    return bool(function) and any(a.namespace == "AWS/Lambda" and a.metric == "Errors" and a.dimension("FunctionName") == (function, None)
                                  for a in alarms)


@dataclass(frozen=True)
class _Alarm:
    logical_id: str
    namespace: str | None
    metric: str | None
    dimensions: tuple[tuple[str, Any], ...]

    def dimension(self, name: str) -> tuple[str, str | None] | None:
        return next((referenced_resource(value) for key, value in self.dimensions if key == name), None)


def _alarms(template: Template) -> list[_Alarm]:
    """The template's alarms that notify someone (have AlarmActions), each metric of a metric-math alarm apart."""
    found = []
    for logical_id, resource in template.of_type("AWS::CloudWatch::Alarm").items():
        properties = resource.get("Properties") or {}
        if not properties.get("AlarmActions"):
            continue
        metrics = [properties] + [(m.get("MetricStat") or {}).get("Metric") or {} for m in properties.get("Metrics") or []]
        for metric in metrics:
            dimensions = tuple((d.get("Name"), d.get("Value")) for d in metric.get("Dimensions") or [])
            found.append(_Alarm(logical_id, metric.get("Namespace"), metric.get("MetricName"), dimensions))
    return found


# --------------------------------------------------------------------------- loops_bounded

_EXIT_BOUNDS = ("NumericGreaterThan", "NumericGreaterThanEquals", "NumericEquals")
_STAY_BOUNDS = ("NumericLessThan", "NumericLessThanEquals")


def loops_bounded(template: Template) -> list[Violation]:
    machines, found = _machines(template, "loops_bounded")
    for machine in machines:
        graph = StateGraph(machine.definition)
        for scope_graph in graph.scope_graphs().values():
            for component in nx.strongly_connected_components(scope_graph):
                if len(component) == 1 and not scope_graph.has_edge(*(2 * tuple(component))):
                    continue
                increments = {
                    counter
                    for path in component
                    for _, text in string_leaves(graph.states[path].state)
                    for counter, step in _MATH_ADD.findall(text)
                    if float(step) > 0
                } | _variable_counters(graph, component) | _payload_counters(graph, component, machine.definition)
                bounding = [path for path in component
                            if _bounded_counters(graph.states[path].state, graph.states[path].scope, component) & increments]
                rest = scope_graph.subgraph(component - set(bounding))
                if not nx.is_directed_acyclic_graph(rest) or not bounding:
                    cycle = sorted(graph.states[p].name for p in component)
                    found.append(Violation("loops_bounded", f"{machine} cycle {cycle}",
                                           "no Choice in the cycle bounds a counter that the cycle increments "
                                           "(States.MathAdd, a variable assigned {% $n + step %}, or a payload field "
                                           "output as {% $states.input.f + step %})"))
    return found


def _transition_assigns(flat: Any, cycle: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """(next state, its JSONata Assign, {} for none) of each of the state's transitions that stay in the cycle."""
    state, scope = flat.state, flat.scope
    found: list[tuple[str | None, Any]] = []
    if state.get("Type") == "Choice":
        found.append((state.get("Default"), state.get("Assign")))  # a Choice's own Assign goes with its Default
        found += [(rule.get("Next"), rule.get("Assign")) for rule in state.get("Choices") or []]
    else:
        found.append((state.get("Next"), state.get("Assign")))
    found += [(catcher.get("Next"), catcher.get("Assign")) for catcher in state.get("Catch") or []]
    return [(scope + target, {name: value for name, value in assign.items() if not name.endswith(".$")}
             if isinstance(assign, dict) else {})
            for target, assign in found if target is not None and scope + target in cycle]


def _variable_counters(graph: StateGraph, cycle: set[str]) -> set[str]:
    """"$n" for each variable the cycle only ever assigns `{% $n + <positive step> %}`, on a transition of
    every cycle."""
    from sandbox.engine.jsonata import expression_of

    transitions = [(path, target, assign) for path in cycle for target, assign in _transition_assigns(graph.states[path], cycle)]
    increments: set[str] = set()
    others: set[str] = set()
    for _, _, assign in transitions:
        for name, value in assign.items():
            match = _JSONATA_INCREMENT.match(expression_of(value) or "")
            variable, step = (match.group(1), match.group(2)) if match and match.group(1) else (
                (match.group(4), match.group(3)) if match else (None, None))
            if variable == name and float(step) > 0:
                increments.add(name)
            else:
                others.add(name)  # set to anything else (a reset) in the cycle: no counter
    counters = set()
    for name in increments - others:
        kept = {(source, target) for source, target, assign in transitions if name not in assign}
        raising = {(source, target) for source, target, assign in transitions if name in assign} - kept
        if _every_cycle_raises(cycle, [(source, target) for source, target, _ in transitions], raising):
            counters.add(f"${name}")
    return counters


def _every_cycle_raises(cycle: set[str], transitions: list[tuple[str, str]], raising: set[tuple[str, str]]) -> bool:
    """Every cycle passes a raising transition: the cycle's transitions without them hold no cycle. Two states
    joined by two transitions (two rules, a Next and a Catch) are joined by a raising one only if both raise:
    `raising` holds only such pairs."""
    rest = nx.DiGraph()
    rest.add_nodes_from(cycle)
    rest.add_edges_from(edge for edge in transitions if edge not in raising)
    return nx.is_directed_acyclic_graph(rest)


_PASSES_INPUT = object()  # a transition whose output is the state's input
_LOSES_INPUT = object()  # a transition whose output is a result or an error: no field of the input is kept


def _outputs_in_cycle(flat: Any, cycle: set[str], language: str) -> list[tuple[str, Any]]:
    """(next state, output) of each of the state's transitions that stay in the cycle; a Choice rule without its
    own Output is listed twice (the input, and the state's Output), so it keeps a field only if both keep it."""
    state, scope = flat.state, flat.scope
    if state.get("QueryLanguage", language) != "JSONata":
        return [(scope + target, _LOSES_INPUT) for target in _local_targets(state) if scope + target in cycle]
    passes_input = state.get("Type") in ("Choice", "Pass", "Wait")
    own = state.get("Output", _PASSES_INPUT if passes_input else _LOSES_INPUT)
    found: list[tuple[str, Any]] = []
    if state.get("Type") == "Choice":
        found += [(state.get("Default"), own)]
        for rule in state.get("Choices") or []:
            found += [(rule.get("Next"), rule["Output"])] if "Output" in rule else [
                (rule.get("Next"), _PASSES_INPUT), (rule.get("Next"), own)]
    else:
        found += [(state.get("Next"), own)]
    found += [(catcher.get("Next"), catcher.get("Output", _LOSES_INPUT)) for catcher in state.get("Catch") or []]
    return [(scope + target, output) for target, output in found if target is not None and scope + target in cycle]


def _local_targets(state: dict[str, Any]) -> list[str]:
    return [t for t in [state.get("Next"), state.get("Default"), *(r.get("Next") for r in state.get("Choices") or []),
                        *(c.get("Next") for c in state.get("Catch") or [])] if t]


def _payload_counters(graph: StateGraph, cycle: set[str], definition: dict[str, Any]) -> set[str]:
    """"$states.input.f" for each payload field that every transition of the cycle keeps or raises by a positive step
    and every cycle raises (see the module's rule)."""
    language = definition.get("QueryLanguage", "JSONPath")
    transitions = [(path, target, output) for path in cycle
                   for target, output in _outputs_in_cycle(graph.states[path], cycle, language)]
    fields = {field for _, _, output in transitions for field in _raised_fields(output)}
    counters = set()
    for field in fields:
        effects = [((source, target), _payload_effect(output, field)) for source, target, output in transitions]
        if any(effect is None for _, effect in effects):
            continue
        kept = {edge for edge, effect in effects if effect == "keep"}
        raising = {edge for edge, effect in effects if effect == "raise"} - kept
        if _every_cycle_raises(cycle, [edge for edge, _ in effects], raising):
            counters.add(_PAYLOAD + field)
    return counters


def _raised_fields(output: Any) -> set[str]:
    """The fields an output might raise (candidates, each checked by _payload_effect)."""
    if isinstance(output, dict):
        return {key for key in output if isinstance(key, str)}
    pairs = _merged_fields(output)
    return set(pairs or {})


def _merged_fields(output: Any) -> dict[str, str] | None:
    """{field: value expression} of `{% $merge([$states.input, {...}]) %}`'s object literal, or None when the output
    is not that form (or a key of the literal is not a plain string literal, or is repeated)."""
    from sandbox.engine.jsonata import expression_of

    match = _MERGE_INTO_INPUT.match(expression_of(output) or "")
    if not match or _unwrap_braces(match.group(1)) is None:
        return None
    fields: dict[str, str] = {}
    for pair in _split_top_level(_unwrap_braces(match.group(1)), ","):
        if not pair.strip():
            continue
        key, colon, value = (part.strip() for part in _split_once_top_level(pair, ":"))
        if not colon or not _JSONATA_STRING.fullmatch(key) or "\\" in key or key[1:-1] in fields:
            return None  # a computed, escaped or repeated key: which field it sets is not read here
        fields[key[1:-1]] = value
    return fields


def _unwrap_braces(literal: str) -> str | None:
    """The inside of `{...}` when the braces hold the whole text (one object literal), else None."""
    for index, depth in _outside_strings(literal):
        if depth == 1 and literal[index] in ")]}" and index < len(literal) - 1:
            return None  # the first bracket closes before the end
    return literal[1:-1]


def _split_once_top_level(text: str, separator: str) -> tuple[str, str, str]:
    parts = _split_top_level(text, separator)
    return (parts[0], separator, separator.join(parts[1:])) if len(parts) > 1 else (text, "", "")


def _payload_effect(output: Any, field: str) -> str | None:
    """What a transition's output does to the input's field: "keep", "raise" (by a positive step), or None
    (anything else: lost, reset, or not read here)."""
    from sandbox.engine.jsonata import expression_of

    if output is _PASSES_INPUT or (expression_of(output) or "").strip() == "$states.input":
        return "keep"
    if isinstance(output, dict):
        return _field_effect(expression_of(output[field]), field) if field in output else None
    merged = _merged_fields(output)
    if merged is None:
        return None
    return _field_effect(merged[field], field) if field in merged else "keep"


def _field_effect(expression: str | None, field: str) -> str | None:
    if expression is None:
        return None
    current = re.escape(_PAYLOAD + field)
    if re.fullmatch(rf"\s*{current}\s*", expression):
        return "keep"
    step = re.fullmatch(rf"\s*{current}\s*\+\s*([0-9.]+)\s*|\s*([0-9.]+)\s*\+\s*{current}\s*", expression)
    if step and float(step.group(1) or step.group(2)) > 0:
        return "raise"
    return None


def _bounded_counters(state: dict[str, Any], scope: str, cycle: set[str]) -> set[str]:
    """The counter paths a Choice state bounds the cycle with (see the module's rule)."""
    if state.get("Type") != "Choice":
        return set()
    rules = state.get("Choices") or []
    stays = [scope + rule.get("Next", "") in cycle for rule in rules]
    counters = set()
    for index, rule in enumerate(rules):  # leave when the counter reached the limit, with nothing staying before
        if not stays[index] and not any(stays[:index]):  # not a payload field: a missing one never reaches the limit
            counters |= {c for c in _comparisons(rule, _EXIT_BOUNDS, "Or") if not c.startswith(_PAYLOAD)}
    if any(stays) and scope + state.get("Default", "") not in cycle:  # stay only while the counter is below the limit
        counters |= set.intersection(*(_comparisons(rule, _STAY_BOUNDS, "And") for rule, stay in zip(rules, stays) if stay))
    return counters


def _comparisons(rule: dict[str, Any], operators: tuple[str, ...], combinator: str) -> set[str]:
    """Variables the rule compares against a number, alone or as one of `combinator`'s terms."""
    if "Condition" in rule:
        return _condition_comparisons(rule["Condition"], operators, combinator.lower())
    return {
        term["Variable"]
        for term in [rule, *rule.get(combinator, [])]
        if "Variable" in term
        and any(isinstance(term.get(op), (int, float)) and not isinstance(term.get(op), bool) for op in operators)
    }


_JSONATA_OPERATORS = {"NumericGreaterThan": ">", "NumericGreaterThanEquals": ">=", "NumericEquals": "=",
                      "NumericLessThan": "<", "NumericLessThanEquals": "<="}


def _condition_comparisons(condition: Any, operators: tuple[str, ...], combinator: str) -> set[str]:
    """"$n" for each variable a JSONata Condition compares against a number literal with one of `operators`,
    alone or as a top-level term of `combinator` ("and" / "or")."""
    from sandbox.engine.jsonata import expression_of

    wanted = {_JSONATA_OPERATORS[op] for op in operators}
    found = set()
    for term in _top_level_terms(expression_of(condition) or "", combinator):
        match = _JSONATA_COMPARISON.match(term)
        if match and match.group(2) in wanted:
            found.add(f"${match.group(1)}")
        flipped = _JSONATA_COMPARISON_FLIPPED.match(term)
        if flipped and _FLIPPED[flipped.group(2)] in wanted:
            found.add(f"${flipped.group(3)}")
    return found


def _top_level_terms(expression: str, combinator: str) -> list[str]:
    """The expression split on its top-level `combinator` ("and" binds tighter than "or": an expression with
    a top-level "or" is one term of an "and"); outer parentheses dropped."""
    expression = _unwrap(expression.strip())
    parts = _split_top_level(expression, "or")
    if combinator == "and":
        parts = _split_top_level(expression, "and") if len(parts) == 1 else [expression]
    return [_unwrap(part.strip()) for part in parts]


def _split_top_level(expression: str, word: str) -> list[str]:
    """The expression split on the operator `word` outside parentheses, brackets, braces and strings."""
    parts, start = [], 0
    for index, depth in _outside_strings(expression):
        if (index >= start and depth == 0 and expression.startswith(word, index)
                and (not word.isalpha() or _stands_alone(expression, index, len(word)))):
            parts.append(expression[start:index])
            start = index + len(word)
    parts.append(expression[start:])
    return parts


def _outside_strings(text: str) -> Iterator[tuple[int, int]]:
    """(index, depth) of each character outside string literals; depth counts the brackets open before it."""
    depth, quote, index = 0, "", 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        else:
            yield index, depth
            depth += 1 if char in "([{" else -1 if char in ")]}" else 0
        index += 1


def _stands_alone(text: str, index: int, length: int) -> bool:
    """The word at text[index:index+length] is not part of a name, a variable or a path."""
    before = text[index - 1] if index else " "
    after = text[index + length] if index + length < len(text) else " "
    return not (before.isalnum() or before in "_$.") and not (after.isalnum() or after == "_")


def _unwrap(expression: str) -> str:
    """`(x)` -> `x` when the parentheses hold the whole expression."""
    while expression.startswith("(") and expression.endswith(")"):
        depth = 0
        for index, char in enumerate(expression):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0 and index < len(expression) - 1:
                return expression
        expression = expression[1:-1].strip()
    return expression


# --------------------------------------------------------------------------- dead_letter_queues

def dead_letter_queues(template: Template) -> list[Violation]:
    found: list[Violation] = []
    queues = template.of_type("AWS::SQS::Queue")
    alarms = _alarms(template)
    dlqs: dict[str, str] = {}  # logical id of a DLQ (or its reference text) -> who sends to it

    def note(target: Any, source: str) -> str | None:
        ref = referenced_resource(target)
        if ref is None or ref[0] not in queues:
            found.append(Violation("dead_letter_queues", f"{template}/{source}", f"its DLQ {target!r} is not a queue of this template"))
            return None
        dlqs.setdefault(ref[0], source)
        return ref[0]

    for logical_id, resource in template.resources.items():
        properties, kind = resource.get("Properties") or {}, resource.get("Type")
        if kind == "AWS::SQS::Queue" and "RedrivePolicy" in properties:
            dlq = note(properties["RedrivePolicy"].get("deadLetterTargetArn"), logical_id)
            if dlq and bool(properties.get("FifoQueue")) != bool(queues[dlq]["Properties"].get("FifoQueue")):
                kinds = {True: "FIFO", False: "standard"}
                found.append(Violation("dead_letter_queues", f"{template}/{logical_id}",
                                       f"a {kinds[bool(properties.get('FifoQueue'))]} queue with a {kinds[not bool(properties.get('FifoQueue'))]} DLQ {dlq}"))
        if kind != "AWS::SQS::Queue":  # a queue's redrive is noted above, with its kind
            for target in dead_letter_targets(resource):
                note(target, logical_id)
    for logical_id, resource in queues.items():
        if logical_id not in dlqs and "RedrivePolicy" not in (resource.get("Properties") or {}):
            found.append(Violation("dead_letter_queues", f"{template}/{logical_id}", "a work queue without a DLQ (RedrivePolicy)"))
    for dlq, source in dlqs.items():
        if not any(a.namespace == "AWS/SQS" and a.metric == "ApproximateNumberOfMessagesVisible" and a.dimension("QueueName") == (dlq, "QueueName")
                   for a in alarms):
            found.append(Violation("dead_letter_queues", f"{template}/{dlq}", f"the DLQ of {source} has no alarm with actions on its depth"))
    return found


# --------------------------------------------------------------------------- no_wildcard_actions

_POLICY_PROPERTIES = {
    "AWS::IAM::Policy": "PolicyDocument",
    "AWS::IAM::ManagedPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::SecretsManager::ResourcePolicy": "ResourcePolicy",
    "AWS::Logs::ResourcePolicy": "PolicyDocument",
}


def no_wildcard_actions(template: Template) -> list[Violation]:
    found = []
    for logical_id, resource in template.resources.items():
        properties, kind = resource.get("Properties") or {}, resource.get("Type", "")
        documents = [properties.get(_POLICY_PROPERTIES[kind])] if kind in _POLICY_PROPERTIES else []
        if kind in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
            documents += [policy.get("PolicyDocument") for policy in properties.get("Policies") or []]
        for document in documents:
            if isinstance(document, str):
                document = json.loads(document)
            for statement in _as_list((document or {}).get("Statement")):
                if statement.get("Effect") != "Allow":
                    continue
                where = f"{template}/{logical_id} statement {statement.get('Sid', '')}".rstrip()
                if "NotAction" in statement:
                    found.append(Violation("no_wildcard_actions", where, "Allow with NotAction grants every other action"))
                wild = [a for a in _as_list(statement.get("Action")) if isinstance(a, str) and "*" in a]
                if wild and not (kind == "AWS::KMS::Key" and _is_key_root_delegation(statement)):
                    found.append(Violation("no_wildcard_actions", where, f"allows wildcard action(s) {wild}"))
    return found


def _is_key_root_delegation(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    try:
        root = join_text(principal.get("AWS"), token_text) if isinstance(principal, dict) and len(principal) == 1 else ""
    except ValueError:
        root = ""
    return (
        _as_list(statement.get("Action")) == ["kms:*"]
        and statement.get("Resource") == "*"
        and "Condition" not in statement
        and re.fullmatch(r"arn:(aws|<Ref AWS::Partition>):iam::<Ref AWS::AccountId>:root", root) is not None
    )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else ([] if value is None else [value])


# --------------------------------------------------------------------------- no_secrets

def no_secrets(template: Template) -> list[Violation]:
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    machines, found = _machines(template, "no_secrets")
    places: list[tuple[str, str, str]] = []  # (where, key, value); detect-secrets reports a secret once, at its first place
    for machine in machines:
        for path, value in string_leaves(machine.definition):
            where, key = f"{machine.logical_id} definition {'.'.join(path)}", path[-1] if path else ""
            places.append((where, key, value))
            places += [(where, key, written) for written in _written_by_expression(value)]
    for path, value in string_leaves(template.body):
        places.append((".".join(path), path[-1] if path else "", value))
    with tempfile.TemporaryDirectory() as folder:
        scanned = Path(folder, "strings.yaml")
        lines = [f"{re.sub(r'[^A-Za-z0-9_]', '_', key) or 'value'}: {_yaml_string(value)}" for _, key, value in places]
        scanned.write_text("\n".join(lines) + "\n")
        with default_settings():
            secrets = SecretsCollection()
            secrets.scan_file(str(scanned))
        for secret in (s for file_secrets in secrets.data.values() for s in file_secrets):
            where, key, value = places[secret.line_number - 1]
            if secret.type == "Secret Keyword" and _REFERENCE_KEY.search(key):
                continue  # names a secret (e.g. SLACK_WEBHOOK_SECRET_NAME), holds none
            if secret.type.endswith("High Entropy String") and _CDK_GENERATED_NAME.fullmatch(value):
                continue  # a name CDK made from a construct path and its hash (a logical id, a policy name)
            found.append(Violation("no_secrets", f"{template} {where}", f"looks like a secret ({secret.type})"))
    return found


def _written_by_expression(value: str) -> list[str]:
    """What a JSONata `{% %}` expression writes itself: its string literals, and the strings of its value with
    nothing of the run bound (unless it calls a function whose value changes from run to run)."""
    from sandbox.engine.jsonata import QueryEvaluationError, evaluate, expression_of

    expression = expression_of(value)
    if expression is None:
        return []
    written = [literal[1:-1] for literal in _JSONATA_STRING.findall(expression)]
    if not _UNSTABLE_FUNCTIONS.search(expression):
        try:
            result = evaluate(expression.strip(), states={"input": {}, "context": {}})
        except QueryEvaluationError:
            result = None
        written += [text for _, text in string_leaves(result)]
    return written


def _yaml_string(value: str) -> str:
    return json.dumps(value.replace("\n", " "))


PROPERTY_CHECKS: dict[str, Check] = {
    "task_timeouts": task_timeouts,
    "lambda_task_retries": lambda_task_retries,
    "failures_notify_then_fail": failures_notify_then_fail,
    "loops_bounded": loops_bounded,
    "dead_letter_queues": dead_letter_queues,
    "no_wildcard_actions": no_wildcard_actions,
    "no_secrets": no_secrets,
}
