"""JSONata as Step Functions evaluates it: jsonatapy plus the Step Functions-only functions.

Pure: no moto import. ``sandbox/engine/jsonata_states.py`` makes moto's interpreter call it; the
conformance suite calls it directly as well.

* ``evaluate(expression, location=..., states=..., variables=...)`` - one ``{% %}`` expression
  (without the braces), ``$states`` and the workflow variables bound as JSONata variables (no
  text splicing: a string holding quotes or ``%}`` stays data). A result of nothing (undefined),
  a function or a regex, or a JSONata error raises ``QueryEvaluationError`` with AWS's cause text
  ("The JSONata expression '...' specified for the field '...' returned nothing (undefined).").
* the Step Functions-only functions ``$partition``, ``$range``, ``$hash``, ``$random`` (optional
  seed), ``$uuid``, ``$parse``; ``$eval`` is refused as AWS refuses it.
* data holding a lone surrogate (JSON's "\ud800", which JSONata's UTF-16 strings hold and jsonatapy's
  cannot) is evaluated through stand-in code points and given back as it came.

Library: jsonatapy (Rust core, the JSONata reference suite passing). Measured against
jsonata-python on the JSONata documentation's examples and for speed by
``python -m sandbox.benches.jsonata_libraries``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import random
import re
import uuid
from typing import Any, Iterable

import jsonatapy

QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
HASH_ALGORITHMS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
HASH_INPUT_MAX_CHARS = 10_000  # as States.Hash: AWS limits the hashed text
_EXPRESSION = re.compile(r"^\{%(.*)%\}$", re.DOTALL)


class QueryEvaluationError(Exception):
    """A JSONata expression failed as AWS reports it: States.QueryEvaluationError with a cause."""

    error = QUERY_EVALUATION_ERROR

    def __init__(self, cause: str, location: str = "") -> None:
        super().__init__(cause)
        self.cause = cause
        self.location = location


class SfnFunctionError(ValueError):
    """A Step Functions-only function called with arguments it does not take."""


def expression_of(value: Any) -> str | None:
    """The JSONata expression of a field value ``"{% ... %}"``, or None if it is not one."""
    if isinstance(value, str):
        match = _EXPRESSION.match(value)
        if match:
            return match.group(1)
    return None


# --------------------------------------------------------------------------- Step Functions-only functions


def _is_integer(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and float(value).is_integer()


def sfn_partition(array: Any, chunk_size: Any) -> list[list[Any]]:
    """$partition(array, chunkSize): the array in chunks of chunkSize (the last may be shorter)."""
    if not isinstance(array, list):
        array = [array]
    if not _is_integer(chunk_size) or chunk_size < 1:
        raise SfnFunctionError(f"$partition: the chunk size must be a positive integer, got {json.dumps(chunk_size)}")
    size = int(chunk_size)
    return [array[start:start + size] for start in range(0, len(array), size)]


def sfn_range(start: Any, end: Any, step: Any) -> Any:
    """$range(start, end, step): start, start+step, ... up to end inclusive. A one-element result is
    that element, as AWS returns it ($range(1, 9, 9) is 1)."""
    if not all(_is_integer(v) for v in (start, end, step)):
        raise SfnFunctionError(f"$range: start, end and step must be integers, got {json.dumps([start, end, step])}")
    start, end, step = int(start), int(end), int(step)
    if step == 0:
        raise SfnFunctionError("$range: the step must not be 0")
    values = list(range(start, end + (1 if step > 0 else -1), step))
    return values[0] if len(values) == 1 else values


def sfn_hash(data: Any, algorithm: Any) -> str:
    """$hash(data, algorithm): hex digest of the text with MD5, SHA-1, SHA-256, SHA-384 or SHA-512."""
    if not isinstance(data, str):
        raise SfnFunctionError(f"$hash: the data must be a string, got {json.dumps(data)}")
    if algorithm not in HASH_ALGORITHMS:
        raise SfnFunctionError(f"$hash: the algorithm must be one of {', '.join(HASH_ALGORITHMS)}, got {json.dumps(algorithm)}")
    if len(data) > HASH_INPUT_MAX_CHARS:
        raise SfnFunctionError(f"$hash: the data must be at most {HASH_INPUT_MAX_CHARS:,} characters")
    return hashlib.new(HASH_ALGORITHMS[algorithm], data.encode("utf-8")).hexdigest()


def sfn_random(*seed: Any) -> float:
    """$random([seed]): a number in [0, 1); the same integer seed gives the same number (AWS's
    sequence for a seed is not published: only that property is reproduced)."""
    if not seed or seed[0] is None:
        return random.random()
    if not _is_integer(seed[0]):
        raise SfnFunctionError(f"$random: the seed must be an integer, got {json.dumps(seed[0])}")
    return random.Random(int(seed[0])).random()


def sfn_uuid() -> str:
    """$uuid(): a version 4 UUID."""
    return str(uuid.uuid4())


def sfn_parse(text: Any) -> Any:
    """$parse(jsonString): the JSON value the string holds."""
    if not isinstance(text, str):
        raise SfnFunctionError(f"$parse: the argument must be a string, got {json.dumps(text)}")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SfnFunctionError(f"$parse: the argument is not valid JSON: {exc}") from exc


def _refuse_eval(*_args: Any) -> Any:
    raise SfnFunctionError("$eval is not supported by Step Functions; use $parse")


SFN_FUNCTIONS = {"partition": sfn_partition, "range": sfn_range, "hash": sfn_hash, "uuid": sfn_uuid,
                 "parse": sfn_parse}
SFN_OVERRIDES = {"random": sfn_random, "eval": _refuse_eval}


# --------------------------------------------------------------------------- evaluation


def compile_expression(expression: str) -> jsonatapy.JsonataExpression:
    """The compiled expression with the Step Functions functions registered. Not cached: a jsonatapy
    expression must be used and dropped on the thread that compiled it (moto runs executions,
    branches and iterations on threads of their own), and compiling costs ~10 µs."""
    compiled = jsonatapy.compile(expression)
    for name, function in SFN_FUNCTIONS.items():
        compiled.register(name, function)
    for name, function in SFN_OVERRIDES.items():
        compiled.register_override(name, function)
    return compiled


def _json_safe(value: Any) -> Any:
    """Integers beyond 64 bits as floats (JSONata numbers are doubles; jsonatapy refuses them)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return float(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _library_message(exc: BaseException) -> str:
    """The JSONata error as jsonata-js words it (AWS's text): jsonatapy adds a prefix to parse
    errors, the host exception's type to our functions' errors, and the name to T1006."""
    message = str(exc).removeprefix("Parse error: ")
    message = re.sub(r"host function raised \w+: ", "", message)
    return re.sub(r"^(T1006: Attempted to invoke a non-function): \S+$", r"\1", message)


def _json_default(value: Any) -> Any:
    """SDK results hold datetimes; AWS hands them to JSONata as ISO-8601 text (as moto's JSON does)."""
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=_json_default))


def _run(expression: str, document: str | None, bindings: dict[str, Any], context: Any) -> tuple[str | None, bool]:
    """(JSON text of the result or None for undefined, whether it is a function or regex). The
    compiled expression never leaves this frame, and the library's exception is turned into a
    message here, so no traceback carries the thread-bound object to another thread."""
    failure: str | None = None
    compiled = compile_expression(expression)
    try:
        try:
            text = compiled.evaluate_json_or_none(document, bindings)
        except OverflowError:
            bindings = _json_safe(bindings)
            text = compiled.evaluate_json_or_none(document, bindings)
        except (ValueError, TypeError) as exc:
            if "Cannot convert Python object" not in str(exc):
                raise
            bindings = _as_json(bindings)
            text = compiled.evaluate_json_or_none(document, bindings)
        # jsonatapy writes functions and regexes as "" in JSON text; evaluate() gives None for them
        unsupported = text == '""' and compiled.evaluate(context, bindings) is None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        failure = _library_message(exc)
    finally:
        del compiled
    if failure is not None:
        raise _LibraryError(failure)
    return text, unsupported


class _LibraryError(Exception):
    """A JSONata error, as text."""


# JSON text may hold a lone surrogate ("\ud800"); JSONata's strings (JavaScript's, UTF-16) hold it too, but
# jsonatapy's (Rust's) cannot. Such data is evaluated with each surrogate standing in as one code point of
# the last 2,048 of Supplementary Private Use Area-B, and the result mapped back.
_SURROGATES = re.compile("[\ud800-\udfff]")
_STAND_INS = re.compile("[\U0010f800-\U0010ffff]")
_STAND_IN_OFFSET = 0x10F800 - 0xD800


def _map_strings(value: Any, change: Any) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {change(key): _map_strings(inner, change) for key, inner in value.items()}
    if isinstance(value, list):
        return [_map_strings(inner, change) for inner in value]
    return value


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


def _stand_in(text: str) -> str:
    return _SURROGATES.sub(lambda m: chr(ord(m.group()) + _STAND_IN_OFFSET), text)


def _surrogate(text: str) -> str:
    return _STAND_INS.sub(lambda m: chr(ord(m.group()) - _STAND_IN_OFFSET), text)


def evaluate(expression: str, *, location: str = "", states: dict[str, Any] | None = None,
             variables: dict[str, Any] | None = None, context: Any = None) -> Any:
    """Evaluate ``expression`` with ``$states`` and ``variables`` bound; raise QueryEvaluationError
    as AWS does (undefined, function or regex results, JSONata errors). Step Functions gives an
    expression no context (``$`` is undefined); ``context`` sets one, for the JSONata docs' examples."""
    bindings: dict[str, Any] = dict(variables or {})
    if states is not None:
        bindings["states"] = states
    where = f"The JSONata expression '{expression}' specified for the field '{location}'"
    surrogates = False
    try:
        try:
            text, unsupported = _run(expression, None if context is None else json.dumps(context), bindings, context)
        except _LibraryError:
            data = [bindings, context]
            if not any(_SURROGATES.search(string) for string in _strings(data)):
                raise
            if any(_STAND_INS.search(string) for string in _strings(data)):
                raise _LibraryError("the data holds both lone surrogates and code points U+10F800-U+10FFFF, "
                                    "which the sandbox's evaluator cannot tell apart") from None
            surrogates = True
            bindings, context = _map_strings(bindings, _stand_in), _map_strings(context, _stand_in)
            text, unsupported = _run(expression, None if context is None else json.dumps(context), bindings, context)
    except _LibraryError as exc:
        raise QueryEvaluationError(f"{where} threw an error during evaluation. {exc}", location) from None
    if text is None:
        raise QueryEvaluationError(f"{where} returned nothing (undefined).", location)
    if unsupported:
        raise QueryEvaluationError(f"{where} returned an unsupported result type.", location)
    result = json.loads(text)
    return _map_strings(result, _surrogate) if surrogates else result


def json_type(value: Any) -> str:
    """JSONata's $type name of a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def expect_type(value: Any, expected: str | Iterable[str], *, expression: str, location: str) -> Any:
    """``value`` when its JSON type is ``expected``; else AWS's "unexpected result type" error."""
    allowed = {expected} if isinstance(expected, str) else set(expected)
    actual = json_type(value)
    if actual in allowed or (actual == "number" and "integer" in allowed and _is_integer(value)):
        return value
    shown = "' or '".join(sorted(allowed))
    raise QueryEvaluationError(
        f"The JSONata expression '{expression}' specified for the field '{location}' returned an unexpected result "
        f"type. Expected '{shown}', but was '{actual}' for value: {json.dumps(value, separators=(',', ':'))}", location)
