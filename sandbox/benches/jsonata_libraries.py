"""JSONata libraries compared for the sandbox's engine: correctness and speed, printed.

    .venv/bin/python -m sandbox.benches.jsonata_libraries

Correctness: the JSONata documentation's examples (tests/sandbox_core/conformance/jsonata_language.json),
each library's result against the documented one. Speed: expressions of the kind Step Functions
definitions hold, bound to a `$states` of two sizes: compile + evaluate (each expression once, as
the engine meets it first) and evaluate alone (compiled once, as the engine reuses it).

The sandbox pins one library (jsonatapy, see sandbox/engine/jsonata.py); the other, jsonata-python,
is measured when it is installed (`pip install jsonata-python==0.7.1`), else reported as absent.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.table import Table

CASES = Path(__file__).resolve().parents[2] / "tests" / "sandbox_core" / "conformance" / "jsonata_language.json"
UNDEFINED = "undefined"

# Expressions as Step Functions definitions write them.
SFN_EXPRESSIONS = [
    "$states.input.order.id",
    "$states.input.items[price > 10].name",
    "$sum($states.input.items.(price * quantity))",
    "{'count': $count($states.input.items), 'first': $states.input.items[0].name, 'run': $states.context.Execution.Name}",
    "$states.input.items.{'sku': sku, 'total': price * quantity}",
    "$count($states.input.items) > 3 and $states.input.order.priority = 'high'",
    "$join($states.input.items.name, ', ') & ' for ' & $uppercase($states.input.order.customer)",
    "$states.input.items^(>price)[[0..2]].sku",
]


def _states(items: int) -> dict[str, Any]:
    return {"input": {"order": {"id": "o-1", "customer": "maría", "priority": "high"},
                      "items": [{"sku": f"sku-{i}", "name": f"item {i}", "price": i % 50, "quantity": 1 + i % 3}
                                for i in range(items)]},
            "context": {"Execution": {"Name": "run-1"}}}


class _Library:
    def __init__(self, name: str, compile_: Callable[[str], Any], evaluate: Callable[[Any, Any, dict], Any]) -> None:
        self.name, self.compile, self.evaluate = name, compile_, evaluate


def _libraries() -> tuple[list[_Library], list[str]]:
    found, absent = [], []
    try:
        import jsonatapy
        from importlib.metadata import version

        found.append(_Library(f"jsonatapy {version('jsonatapy')}", jsonatapy.compile,
                              lambda expr, data, bindings: expr.evaluate(data, bindings)))
    except ImportError:
        absent.append("jsonatapy")
    try:
        import jsonata
        from importlib.metadata import version

        found.append(_Library(f"jsonata-python {version('jsonata-python')}", jsonata.Jsonata,
                              lambda expr, data, bindings: expr.evaluate(data, bindings)))
    except ImportError:
        absent.append("jsonata-python")
    return found, absent


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(actual, expected, rel_tol=1e-12)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(actual) == len(expected) and all(_same(a, e) for a, e in zip(actual, expected))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return list(actual) == list(expected) and all(_same(actual[k], expected[k]) for k in expected)
    return actual == expected


def check_cases(library: _Library) -> list[tuple[str, Any, Any]]:
    """(expression, expected, actual) of every documented example the library gets wrong."""
    spec = json.loads(CASES.read_text())
    wrong = []
    for case in spec["cases"]:
        data = spec["documents"].get(case.get("document", ""), None)
        try:
            actual = library.evaluate(library.compile(case["expression"]), data, {})
            if actual is None and case["result"] == UNDEFINED:
                continue  # both libraries give None for undefined; null is checked where it is the answer
        except Exception as exc:  # noqa: BLE001 - a failure is a wrong answer here
            actual = f"error: {exc}"
        if not _same(actual, case["result"]):
            wrong.append((case["expression"], case["result"], actual))
    return wrong


def _time_per_call(call: Callable[[], Any], min_seconds: float = 0.3) -> float:
    calls, started = 0, time.perf_counter()
    while True:
        call()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return elapsed / calls


def speed(library: _Library, items: int) -> tuple[float, float]:
    """Microseconds per expression: (compile + evaluate, evaluate of a compiled expression)."""
    bindings = {"states": _states(items)}
    compiled = [library.compile(expression) for expression in SFN_EXPRESSIONS]

    def cold() -> None:
        for expression in SFN_EXPRESSIONS:
            library.evaluate(library.compile(expression), None, bindings)

    def warm() -> None:
        for expr in compiled:
            library.evaluate(expr, None, bindings)

    per = len(SFN_EXPRESSIONS)
    return _time_per_call(cold) / per * 1e6, _time_per_call(warm) / per * 1e6


def main() -> None:
    console = Console(width=150)
    libraries, absent = _libraries()
    total = len(json.loads(CASES.read_text())["cases"])
    table = Table(title=f"JSONata libraries: {total} documented examples; speed over {len(SFN_EXPRESSIONS)} "
                        "Step Functions-style expressions (µs per expression)")
    for column in ("library", "examples right", "compile+eval, 10 items", "eval, 10 items",
                   "compile+eval, 1,000 items", "eval, 1,000 items"):
        table.add_column(column, justify="right" if column != "library" else "left")
    failures: dict[str, list] = {}
    for library in libraries:
        wrong = check_cases(library)
        failures[library.name] = wrong
        small, large = speed(library, 10), speed(library, 1000)
        table.add_row(library.name, f"{total - len(wrong)}/{total}", f"{small[0]:,.0f}", f"{small[1]:,.0f}",
                      f"{large[0]:,.0f}", f"{large[1]:,.0f}")
    console.print(table)
    for name, wrong in failures.items():
        for expression, expected, actual in wrong:
            console.print(f"  {name} wrong: {expression}  expected {json.dumps(expected, ensure_ascii=False)}, "
                          f"got {actual!r}", markup=False)
    for name in absent:
        console.print(f"  {name}: not installed, not measured")


if __name__ == "__main__":
    main()
