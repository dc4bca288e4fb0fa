"""JSONata and workflow variables in moto 5.2.5's Step Functions interpreter, as AWS runs them.

moto's interpreter (LocalStack's, vendored) parses JSONata states and variables completely, but
its JSONata evaluator is a stub (``_eval_jsonata = None``): every ``{% %}`` field and every
``$variable`` read in a JSONPath field fails with States.Runtime "TypeError", and a Choice rule
reading a variable silently falls through to its Default. ``jsonata_and_variables()`` makes it
evaluate them with ``sandbox.engine.jsonata`` (jsonatapy + the Step Functions-only functions):

==============================================  =================================================
moto 5.2.5                                      here
==============================================  =================================================
``StringJSONata``: stub evaluator, variables    ``evaluate`` with ``$states`` and the variables
  spliced into the expression as text             bound; AWS's cause text, the field's location
                                                  ("Output/result") and an EvaluationFailed event
``StringVariableSample`` (``$x.y`` in a         the variable's value; a missing field is
  JSONPath field): stub evaluator                 States.Runtime as a missing JSONPath is
``AssignDecl``: any name, any size              AWS's limits: one variable <= 256 KiB, one Assign
                                                  <= 256 KiB, all variables <= 10 MiB
                                                  (States.DataLimitExceeded); names checked at
                                                  CreateStateMachine (InvalidDefinition)
string literals (Assign, Parameters values):    decoded as the JSON strings they are
  raw token text, so "Mar\\u00eda" stayed         ("María"; moto decoded some fields with Python's
  escaped and was escaped again                   string rules, others not at all)
==============================================  =================================================

Scope (moto's own, kept): Parallel branches and Map iterations read outer variables and cannot
assign them (States.Runtime); they return data through Output only.
"""

from __future__ import annotations

import json
import threading
import unicodedata
from typing import Any, ContextManager

from sandbox.engine import jsonata as sfn_jsonata
from sandbox.engine.patching import pinned_install


def utf8_json_size(value: Any) -> int:
    """Bytes of a variable's value as compact UTF-8 JSON (a string counts its quotes)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8", "surrogatepass"))

MAX_VARIABLE_BYTES = 256 * 1024  # one variable's value
MAX_ASSIGN_BYTES = 256 * 1024  # all the values of one Assign field
MAX_EXECUTION_VARIABLES_BYTES = 10 * 1024 * 1024  # every variable of a scope and its outer scopes
MAX_VARIABLE_NAME_LENGTH = 80
RESERVED_VARIABLE_NAMES = {"states"}
VARIABLE_LIMIT_ERROR = "States.DataLimitExceeded"

_LOCK = threading.Lock()
_ORIGINALS: dict[tuple[Any, str], Any] = {}


class VariableNameError(ValueError):
    """An Assign field names a variable AWS does not accept."""


def variable_name_problem(name: str) -> str | None:
    """Why AWS refuses ``name`` as a variable name (Unicode identifier, <= 80 characters, not
    'states'), or None."""
    if not name:
        return "a variable name must not be empty"
    if len(name) > MAX_VARIABLE_NAME_LENGTH:
        return f"variable name '{name[:20]}...' is longer than {MAX_VARIABLE_NAME_LENGTH} characters"
    if name in RESERVED_VARIABLE_NAMES:
        return f"'{name}' is reserved ($states)"
    # Unicode ID_Start then ID_Continue (Python identifiers follow the same annex, UAX #31)
    if not unicodedata.normalize("NFKC", name).isidentifier() or name.startswith("_") and len(name) == 1:
        return f"'{name}' is not a valid variable name (a letter first, then letters, digits or _)"
    return None


def check_variable_names(definition: dict[str, Any]) -> None:
    """Raise VariableNameError for the first Assign key (in any state, Catch included) AWS refuses."""

    def visit(value: Any, where: str) -> None:
        if isinstance(value, dict):
            assign = value.get("Assign")
            if isinstance(assign, dict):
                for key in assign:
                    problem = variable_name_problem(key[:-2] if key.endswith(".$") else key)
                    if problem:
                        raise VariableNameError(f"{where}: Assign: {problem}")
            for key, inner in value.items():
                visit(inner, f"{where}/{key}" if where else key)
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                visit(inner, f"{where}[{index}]")

    visit(definition.get("States") or {}, "States")


# --------------------------------------------------------------------------- field locations


def expression_locations(definition: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(state name, expression) -> AWS's field location ("Output/result", "Arguments/FunctionName",
    "Assign/x", "Items"...) of every ``{% %}`` field. The first location wins when one state holds
    the same expression twice."""
    found: dict[tuple[str, str], str] = {}

    def fields(state_name: str, value: Any, path: list[str]) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key in ("Branches", "ItemProcessor", "Iterator"):
                    continue
                fields(state_name, inner, path + [key])
        elif isinstance(value, list):
            for inner in value:
                fields(state_name, inner, path)
        else:
            expression = sfn_jsonata.expression_of(value)
            if expression is not None:
                found.setdefault((state_name, expression.strip()), "/".join(_location_parts(path)))

    def states(container: dict[str, Any]) -> None:
        for name, state in (container.get("States") or {}).items():
            if not isinstance(state, dict):
                continue
            fields(name, state, [])
            for branch in state.get("Branches") or []:
                if isinstance(branch, dict):
                    states(branch)
            for key in ("ItemProcessor", "Iterator"):
                if isinstance(state.get(key), dict):
                    states(state[key])

    states(definition)
    return found


def _location_parts(path: list[str]) -> list[str]:
    # Retry/Catch/Choices entries are named by their field (AWS: "Condition", "Output")
    return [part for part in path if part not in ("Choices", "Catch", "Retry")]


# --------------------------------------------------------------------------- runtime


def _variables(env: Any) -> dict[str, Any]:
    store = env.variable_store
    return {**store._outer_scope, **store._inner_scope}


def _fail_evaluation(env: Any, error: sfn_jsonata.QueryEvaluationError) -> Exception:
    from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    name = StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError)
    details = EvaluationFailedEventDetails(error=name.error_name, cause=error.cause)
    if error.location:
        details["location"] = error.location
    exception = FailureEventException(failure_event=FailureEvent(
        env=env, error_name=name, event_type=HistoryEventType.EvaluationFailed,
        event_details=EventDetails(evaluationFailedEventDetails=details)))
    env.event_manager.add_event(
        context=env.event_history_context, event_type=HistoryEventType.EvaluationFailed,
        event_details=EventDetails(evaluationFailedEventDetails=exception.get_evaluation_failed_event_details()))
    return exception


def string_jsonata_eval_body(self: Any, env: Any) -> None:
    """Replacement of StringJSONata._eval_body."""
    location = _LOCATIONS_BY_EXPRESSION_OBJECT.get(id(self)) or env.next_field_name or ""
    try:
        value = sfn_jsonata.evaluate(self.expression, location=location, states=env.states._states_data,
                                     variables=_variables(env))
    except sfn_jsonata.QueryEvaluationError as error:
        raise _fail_evaluation(env, error) from None
    env.stack.append(value)


# id(StringJSONata) -> location, filled when a definition is parsed (parsed programs live as long
# as their state machine; a recycled id only costs a location name)
_LOCATIONS_BY_EXPRESSION_OBJECT: dict[int, str] = {}


def string_variable_sample_eval_body(self: Any, env: Any) -> None:
    """Replacement of StringVariableSample._eval_body: ``$name`` / ``$name.path`` in a JSONPath field."""
    from moto.stepfunctions.parser.asl.component.common.query_language import QueryLanguageMode
    from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError

    variables = _variables(env)
    states = env.states._states_data if self.query_language_mode == QueryLanguageMode.JSONata else None
    try:
        value = sfn_jsonata.evaluate(self.expression, location=env.next_field_name or "", states=states,
                                     variables=variables)
    except sfn_jsonata.QueryEvaluationError:
        # AWS: a variable path that selects nothing fails like a JSONPath that selects nothing
        raise NoSuchJsonPathError(json_path=self.expression, data=variables) from None
    env.stack.append(value)


_PENDING = "_sandbox_pending_assign"


def assign_decl_eval_body(self: Any, env: Any) -> None:
    """Replacement of AssignDecl._eval_body. AWS's order: every Assign expression reads the values of
    state entry, and the new values take effect when the state exits (its Output/OutputPath still
    sees the old ones); moto set them at once. The size limits and the outer-scope rule are checked
    here, so a Catch can match the failure."""
    declarations: dict[str, Any] = {}
    for binding in self.declaration_bindings:
        binding.eval(env=env)
        declarations.update(env.stack.pop())
    assign_bytes = 0
    for name, value in declarations.items():
        if name in env.variable_store._outer_scope:
            raise _runtime_error(env, f"The variable '{name}' belongs to an outer scope: a Parallel branch or Map "
                                      "iteration reads outer variables but cannot assign them (return data "
                                      "through Output instead).")
        size = utf8_json_size(value)
        assign_bytes += size
        if size > MAX_VARIABLE_BYTES:
            raise _limit_error(env, f"The variable '{name}' is {size:,} bytes; a variable may hold at most "
                                    f"{MAX_VARIABLE_BYTES:,} bytes (256 KiB).")
    if assign_bytes > MAX_ASSIGN_BYTES:
        raise _limit_error(env, f"The Assign field's variables total {assign_bytes:,} bytes; one Assign may "
                                f"set at most {MAX_ASSIGN_BYTES:,} bytes (256 KiB).")
    after = {**_variables(env), **declarations}
    total = sum(utf8_json_size(value) for value in after.values())
    if total > MAX_EXECUTION_VARIABLES_BYTES:
        raise _limit_error(env, f"The workflow's variables would total {total:,} bytes; at most "
                                f"{MAX_EXECUTION_VARIABLES_BYTES:,} bytes (10 MiB) may be stored.")
    vars(env).setdefault(_PENDING, {}).update(declarations)


def _apply_pending_assignments(env: Any) -> None:
    for name, value in vars(env).pop(_PENDING, {}).items():
        env.variable_store.set(variable_identifier=name, variable_value=value)


def state_eval_body(original: Any) -> Any:
    """CommonStateField._eval_body: no Assign left over from a state that failed before exiting."""

    def _eval_body(self: Any, env: Any) -> None:
        vars(env).pop(_PENDING, None)
        original(self, env)

    return _eval_body


def state_exited_event_details(original: Any) -> Any:
    """CommonStateField._get_state_exited_event_details: the state's assignments take effect as it
    exits (and are listed in its StateExited event's assignedVariables)."""

    def _get_state_exited_event_details(self: Any, env: Any) -> Any:
        _apply_pending_assignments(env)
        return original(self, env)

    return _get_state_exited_event_details


def handle_catch(original: Any) -> Any:
    """ExecutionState._handle_catch: a caught state keeps the Catch's Assign, not its own."""

    def _handle_catch(self: Any, env: Any, failure_event: Any) -> None:
        vars(env).pop(_PENDING, None)
        original(self, env, failure_event)

    return _handle_catch


def _state_error(env: Any, error: str, cause: str) -> Exception:
    """A States.* failure of the current state (``error``: a StatesErrorNameType member name),
    which a Retry or Catch can match."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    name = StatesErrorName(typ=getattr(StatesErrorNameType, error))
    return FailureEventException(failure_event=FailureEvent(
        env=env, error_name=name, event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(error=name.error_name, cause=cause))))


def _runtime_error(env: Any, cause: str) -> Exception:
    return _state_error(env, "StatesRuntime", cause)


def _limit_error(env: Any, cause: str) -> Exception:
    return _state_error(env, "StatesStatesDataLimitExceeded", cause)


def condition_eval_body(self: Any, env: Any) -> None:
    """Replacement of ConditionStringJSONata._eval_body: a Condition that is not a boolean fails the
    state with States.QueryEvaluationError (moto: a bare RuntimeError)."""
    self.string_jsonata.eval(env=env)
    try:
        sfn_jsonata.expect_type(env.stack[-1], "boolean", expression=self.string_jsonata.expression,
                                location=_LOCATIONS_BY_EXPRESSION_OBJECT.get(id(self.string_jsonata), "Condition"))
    except sfn_jsonata.QueryEvaluationError as error:
        raise _fail_evaluation(env, error) from None


def choice_eval_state(self: Any, env: Any) -> None:
    """Replacement of StateChoice._eval_state: remembers whether a rule matched, so a rule whose
    Next is also the Default keeps its own Assign/Output (moto re-ran the state's)."""
    for rule in self.choices_decl.rules:
        rule.eval(env)
        if env.stack.pop() is True:
            if not rule.next_stmt:
                raise RuntimeError(f"Missing Next definition for state_choice rule '{rule}' in choices '{self}'.")
            env.stack.append((rule.next_stmt.name, False))
            return
    if self.default_state is None:
        raise RuntimeError("No branching option reached in state %s", self.name)
    env.stack.append((self.default_state.state_name, True))


def choice_eval_state_output(self: Any, env: Any) -> None:
    """Replacement of StateChoice._eval_state_output (see choice_eval_state)."""
    next_state_name, is_default = env.stack.pop()
    if is_default:
        if self.assign_decl:
            self.assign_decl.eval(env=env)
        if self.output:
            self.output.eval(env=env)
    if self._is_language_query_jsonpath():
        if self.output_path:
            self.output_path.eval(env=env)
        else:
            env.states.reset(input_value=env.stack.pop())
    env.next_state_name = next_state_name


def json_text_output(original: Any) -> Any:
    """BaseExecutionWorkerCommunication._reflect_execution_status: an execution whose output is a
    JSON string or null reports it as JSON text ("\"done\"", "null"): moto's DescribeExecution
    passes a str through as if it were JSON text already, and drops a null output."""

    def _reflect_execution_status(self: Any) -> None:
        original(self)
        output = self.execution.output
        if self.execution.exec_status == "SUCCEEDED" and (output is None or isinstance(output, str)):
            self.execution.output = json.dumps(output)

    return _reflect_execution_status


# --------------------------------------------------------------------------- parse hook


def json_string_token(parser_rule_context: Any) -> str | None:
    """The value of a JSON string token (escapes decoded), as Preprocessor._inner_string_of."""
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
    from moto.stepfunctions.parser.asl.antlt4utils.antlr4utils import is_terminal

    if is_terminal(parser_rule_context, ASLLexer.NULL):
        return None
    return json_string_literal(parser_rule_context)


def json_string_literal(parser_rule_context: Any) -> str | None:
    """from_string_literal with JSON's escape rules (moto used Python's)."""
    text = parser_rule_context.getText()
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        try:
            return json.loads(text)
        except ValueError:
            return text[1:-1]
    return text


def _attach_locations(program: Any, definition_text: str) -> None:
    """Record each parsed StringJSONata's field location, found from the definition's JSON."""
    from moto.stepfunctions.parser.asl.component.common.string.string_expression import StringJSONata
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField

    try:
        definition = json.loads(definition_text)
    except ValueError:
        return
    locations = expression_locations(definition)
    seen: set[int] = set()

    def walk(node: Any, state_name: str | None) -> None:
        if id(node) in seen or node is None or isinstance(node, (str, int, float, bool)):
            return
        seen.add(id(node))
        if isinstance(node, CommonStateField):
            state_name = node.name
        if isinstance(node, StringJSONata) and state_name is not None:
            location = locations.get((state_name, node.expression))
            if location:
                _LOCATIONS_BY_EXPRESSION_OBJECT[id(node)] = location
            return
        if isinstance(node, dict):
            for value in node.values():
                walk(value, state_name)
        elif isinstance(node, (list, tuple, set)):
            for value in node:
                walk(value, state_name)
        elif hasattr(node, "__dict__") and type(node).__module__.startswith("moto.stepfunctions.parser"):
            for value in vars(node).values():
                walk(value, state_name)

    walk(program, None)


_ABSENT = object()  # the patched class inherited the attribute: uninstalling deletes ours


def _patch(owner: Any, name: str, replacement: Any) -> None:
    _ORIGINALS[(owner, name)] = vars(owner).get(name, _ABSENT)
    setattr(owner, name, replacement)


def _preprocessor_with_own_scopes(base_init: Any) -> Any:
    """Preprocessor.__init__ giving each parse its own QueryLanguage scope stack: moto keeps one list
    on the class, so a definition refused mid-parse (or two parses on two threads) left scopes
    behind and later JSONPath definitions failed with "Unsupported declaration in
    QueryLanguage=JSONPath block"."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        base_init(self, *args, **kwargs)
        self._query_language_per_scope = []

    return __init__


def _install() -> None:
    from moto.stepfunctions.parser.asl.component.common.assign.assign_decl import AssignDecl
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison import ConditionStringJSONata
    from moto.stepfunctions.parser.asl.component.state.choice.state_choice import StateChoice
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
    from moto.stepfunctions.parser.asl.component.common.string.string_expression import (
        StringJSONata,
        StringVariableSample,
    )
    from moto.stepfunctions.parser.asl.parse import preprocessor
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser, ASLParserException

    current_parse = AmazonStateLanguageParser.__dict__["parse"].__func__

    def parse(definition: str) -> Any:
        try:
            parsed = json.loads(definition)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            try:
                check_variable_names(parsed)
            except VariableNameError as exc:
                raise ASLParserException(errors=[str(exc)]) from exc
        program, tree = current_parse(definition)
        _attach_locations(program, definition)
        return program, tree

    _patch(AmazonStateLanguageParser, "parse", staticmethod(parse))
    _patch(StringJSONata, "_eval_body", string_jsonata_eval_body)
    _patch(preprocessor.Preprocessor, "_inner_string_of", staticmethod(json_string_token))
    _patch(preprocessor.Preprocessor, "__init__", _preprocessor_with_own_scopes(preprocessor.Preprocessor.__init__))
    _ORIGINALS[(preprocessor, "from_string_literal")] = preprocessor.from_string_literal
    preprocessor.from_string_literal = json_string_literal
    _patch(StringVariableSample, "_eval_body", string_variable_sample_eval_body)
    _patch(AssignDecl, "_eval_body", assign_decl_eval_body)
    _patch(ConditionStringJSONata, "_eval_body", condition_eval_body)
    _patch(StateChoice, "_eval_state", choice_eval_state)
    _patch(StateChoice, "_eval_state_output", choice_eval_state_output)
    _patch(CommonStateField, "_eval_body", state_eval_body(CommonStateField._eval_body))
    _patch(CommonStateField, "_get_state_exited_event_details",
           state_exited_event_details(CommonStateField._get_state_exited_event_details))
    _patch(ExecutionState, "_handle_catch", handle_catch(ExecutionState._handle_catch))
    _patch(BaseExecutionWorkerCommunication, "_reflect_execution_status",
           json_text_output(BaseExecutionWorkerCommunication._reflect_execution_status))


def _uninstall() -> None:
    for (owner, name), original in reversed(list(_ORIGINALS.items())):
        if original is _ABSENT:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
    _ORIGINALS.clear()
    _LOCATIONS_BY_EXPRESSION_OBJECT.clear()


def installed() -> bool:
    return bool(_ORIGINALS)


def jsonata_and_variables() -> ContextManager[None]:
    """Patch moto's interpreter while the context is open (nested opens share one install)."""
    return pinned_install(source="sandbox/engine/jsonata_states.py", extends="Step Functions interpreter", lock=_LOCK,
                          installed=installed, install=_install, uninstall=_uninstall)
