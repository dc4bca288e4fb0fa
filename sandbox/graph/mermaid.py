"""A state machine definition as a Mermaid flowchart (which GitHub renders).

- every state is a node, named as in the definition; a second line says what it does
  (`Lambda SearchAFunction`, `sns:publish`, `wait 1 s`, `Fail: InvalidSearchInput`), and `↻ retry ≤N`
  marks a state with Retry rules (N: the most attempts any rule allows);
- Parallel states are groups (subgraphs) with one group per branch; Map states are groups holding
  their processor, titled with the mode (inline, or Distributed with its child execution type,
  reader, batching, concurrency, tolerance and result writer);
- Choice rules label their edges (`$.rows > 0`, or a JSONata `Condition` without its `{% %}`; long
  rules are cut at 70 characters), `default` labels the Default edge; Catch edges are dashed and
  labelled `catch` with their error names;
- JSONata: `{% %}` fields are shown as their expressions (`Fail: error from $states.input.Error`,
  `wait $delay s`); the variables a state, a Choice rule or a Catch assigns are named (`sets $plan`);
  in a definition mixing languages, a state in the other language than the top level's says which;
- with a `RunPath`, the states and edges the run took are coloured, and each state entered says
  how often, its retries, the errors it caught, and where the execution failed.

The output is deterministic (the same definition gives the same text), so a copy kept in a
README can be compared with the definition by a test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

from sandbox.asl import walk_states
from sandbox.definitions import StateMachine, readable_logical_id
from sandbox.engine.jsonata import expression_of
from sandbox.graph.run_path import RunPath

MAX_RULE_LABEL = 70
_CONTAINERS = ("Parallel", "Map")
_TOKEN_GETATT = re.compile(r"^<Fn::GetAtt ([^.>]+)\.Arn>$")
_COMPARISONS = {  # Choice rule operator -> how it reads
    "StringEquals": "=", "NumericEquals": "=", "BooleanEquals": "=", "TimestampEquals": "=",
    "NumericGreaterThan": ">", "StringGreaterThan": ">", "TimestampGreaterThan": ">",
    "NumericGreaterThanEquals": "≥", "StringGreaterThanEquals": "≥", "TimestampGreaterThanEquals": "≥",
    "NumericLessThan": "<", "StringLessThan": "<", "TimestampLessThan": "<",
    "NumericLessThanEquals": "≤", "StringLessThanEquals": "≤", "TimestampLessThanEquals": "≤",
    "StringMatches": "matches",
}
_TYPE_TESTS = {"IsPresent": ("present", "absent"), "IsNull": ("is null", "is not null"),
               "IsString": ("is a string", "is not a string"), "IsNumeric": ("is a number", "is not a number"),
               "IsBoolean": ("is a boolean", "is not a boolean"), "IsTimestamp": ("is a timestamp", "is not a timestamp")}

# Run colours: entered, entered and an error caught there, where the execution failed; edges taken.
_RUN_STYLES = (
    "classDef ran fill:#e8f5e9,stroke:#2e7d32,stroke-width:2px",
    "classDef ranCaught fill:#fff3e0,stroke:#ef6c00,stroke-width:3px",
    "classDef ranFailed fill:#ffebee,stroke:#c62828,stroke-width:3px",
    "classDef notRun fill:#f5f5f5,stroke:#bdbdbd,color:#9e9e9e",
)
_EDGE_TAKEN = "stroke:#2e7d32,stroke-width:3px"
_EDGE_CAUGHT = "stroke:#ef6c00,stroke-width:3px"


@dataclass(frozen=True)
class _Edge:
    source: str  # node id
    target: str
    label: str | None
    dashed: bool
    states: tuple[str | None, str | None]  # (from state, to state); None: the start or end marker


def escape_label(text: str) -> str:
    """Text safe inside a quoted Mermaid label (entity codes for what the parser or HTML would read)."""
    for char, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("`", "#96;")):
        text = text.replace(char, code)
    return text


def _value(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def field_text(value: Any) -> str:
    """A field's value as written: a JSONata `{% expr %}` as `expr` (whitespace collapsed)."""
    expression = expression_of(value)
    return " ".join(expression.split()) if expression is not None else str(value)


def _sets(assign: Any) -> str | None:
    """`sets $a, $b` for an Assign field."""
    if not isinstance(assign, dict) or not assign:
        return None
    return "sets " + ", ".join(f"${name.removesuffix('.$')}" for name in assign)


def rule_text(rule: dict[str, Any]) -> str:
    """A Choice rule as a short expression, e.g. `$.rows > 0 and $.checks ≥ 4`."""
    if "Condition" in rule:  # JSONata
        return field_text(rule["Condition"])
    if "And" in rule or "Or" in rule:
        word, parts = ("and", rule["And"]) if "And" in rule else ("or", rule["Or"])
        return f" {word} ".join(f"({rule_text(p)})" if ("And" in p or "Or" in p) else rule_text(p) for p in parts)
    if "Not" in rule:
        inner = rule["Not"]
        tests = [key for key in _TYPE_TESTS if key in inner]
        if tests and len(inner) == 2:  # Variable + one type test: "is not a string"
            positive, negative = _TYPE_TESTS[tests[0]]
            return f"{inner['Variable']} {negative if inner[tests[0]] else positive}"
        simple = rule_text(inner)
        if "And" not in inner and "Or" not in inner and " = " in simple:  # not (x = 1) -> x ≠ 1
            return simple.replace(" = ", " ≠ ", 1)
        return f"not ({simple})"
    variable = rule.get("Variable", "?")
    for key, (positive, negative) in _TYPE_TESTS.items():
        if key in rule:
            return f"{variable} {positive if rule[key] else negative}"
    for key, value in rule.items():
        operator = _COMPARISONS.get(key.removesuffix("Path"))
        if operator:
            return f"{variable} {operator} {value if key.endswith('Path') else _value(value)}"
    return "rule"


def _cut(text: str, limit: int = MAX_RULE_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _with_sets(label: str, assign: Any) -> str:
    sets = _sets(assign)
    return f"{label} · {sets}" if sets else label


def task_detail(state: dict[str, Any]) -> str:
    """What a Task does: `Lambda <function>`, a service integration (`sns:publish`), or an SDK call."""
    resource = str(state.get("Resource", ""))
    getatt = _TOKEN_GETATT.match(resource)
    if getatt:
        return f"Lambda {readable_logical_id(getatt.group(1))}"
    if ":function:" in resource:
        return f"Lambda {resource.rsplit(':function:', 1)[1].split(':')[0]}"
    service = resource.split(":states:::", 1)[1] if ":states:::" in resource else resource
    if service.startswith("lambda:invoke"):
        arguments = state.get("Parameters") or state.get("Arguments")
        function = str(arguments.get("FunctionName", "")) if isinstance(arguments, dict) else ""
        getatt = _TOKEN_GETATT.match(function)
        return f"Lambda {readable_logical_id(getatt.group(1)) if getatt else function.rsplit(':', 1)[-1]}".strip()
    if service.startswith("aws-sdk:"):
        return f"SDK {service.removeprefix('aws-sdk:')}"
    return service or "Task"


def _detail(state: dict[str, Any]) -> str | None:
    kind = state.get("Type")
    if kind == "Task":
        return task_detail(state)
    if kind == "Wait":
        for key, text in (("Seconds", "wait {} s"), ("SecondsPath", "wait {}"), ("Timestamp", "until {}"),
                          ("TimestampPath", "until {}")):
            if key in state:
                return text.format(field_text(state[key]))
        return "wait"
    if kind == "Fail":
        error = state.get("Error")
        if expression_of(error) is not None:
            error = f"error from {field_text(error)}"
        elif error is None and "ErrorPath" in state:
            error = f"error from {state['ErrorPath']}"
        return f"Fail: {error}" if error else "Fail"
    return kind if kind in ("Pass", "Succeed") else None


def _retry_mark(state: dict[str, Any]) -> str | None:
    attempts = [int(rule.get("MaxAttempts", 3)) for rule in state.get("Retry") or []]
    return f"↻ retry ≤{max(attempts)}" if attempts and max(attempts) > 0 else None


def _container_title(name: str, state: dict[str, Any]) -> str:
    if state["Type"] == "Parallel":
        parts = [f"{name} · Parallel, {len(state.get('Branches') or [])} branches"]
    else:
        processor = state.get("ItemProcessor") or state.get("Iterator") or {}
        config = processor.get("ProcessorConfig") or {}
        if config.get("Mode") == "DISTRIBUTED":
            parts = [f"{name} · Distributed Map, {config.get('ExecutionType', 'STANDARD')} children"]
            reader = (state.get("ItemReader") or {}).get("Resource")
            if reader:
                parts.append(f"reads {task_detail({'Resource': reader})}")
            batcher = state.get("ItemBatcher") or {}
            if "MaxItemsPerBatch" in batcher:
                parts.append(f"batches ≤{batcher['MaxItemsPerBatch']} items")
        else:
            parts = [f"{name} · Map (inline)"]
        if "Items" in state:
            parts.append(f"over {field_text(state['Items'])}")
        if "MaxConcurrency" in state:
            parts.append(f"≤{field_text(state['MaxConcurrency'])} at once")
        if "ToleratedFailurePercentage" in state:
            parts.append(f"tolerates {field_text(state['ToleratedFailurePercentage'])}% failed")
        writer = (state.get("ResultWriter") or {}).get("Resource")
        if writer:
            parts.append(f"results to {task_detail({'Resource': writer})}")
    retry = _retry_mark(state)
    return " · ".join(parts + ([retry] if retry else []))


def _node_ids(definition: dict[str, Any]) -> dict[str, str]:
    """State name -> a Mermaid-safe id, unique and stable (definition order)."""
    ids: dict[str, str] = {}
    taken: set[str] = {"exec_start", "exec_end"}
    for _, name, _, _ in walk_states(definition):
        base = "s_" + (re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "state")
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}_{n}", n + 1
        taken.add(candidate)
        ids[name] = candidate
    return ids


class _Diagram:
    def __init__(self, machine: StateMachine, run: RunPath | None) -> None:
        self.machine = machine
        self.definition = machine.definition
        self.run = run
        self.ids = _node_ids(self.definition)
        walked = list(walk_states(self.definition))
        self.kinds = {name: state.get("Type") for _, name, state, _ in walked}
        top = self.definition.get("QueryLanguage", "JSONPath")
        # states in the other language than the top level's (a definition migrated one state at a time)
        self.other_language = {name: language for _, name, _, language in walked if language != top}
        self.lines: list[str] = []
        self.edges: list[_Edge] = []

    def render(self) -> str:
        self.lines.append("flowchart TD")
        self.lines.append('  exec_start(("start"))')
        self._states(self.definition, depth=1, top=True)
        self.lines.append('  exec_end(("end"))')
        self.edges.insert(0, _Edge("exec_start", self.ids[self.definition["StartAt"]], None, False, (None, self.definition["StartAt"])))
        for edge in self.edges:
            arrow = "-.->" if edge.dashed else "-->"
            label = f'|"{escape_label(edge.label)}"|' if edge.label else ""
            self.lines.append(f"  {edge.source} {arrow}{label} {edge.target}")
        self.lines.append("  classDef failState stroke:#c62828,stroke-width:2px")
        fails = [self.ids[name] for name, kind in self.kinds.items() if kind == "Fail"]
        if fails:
            self.lines.append(f"  class {','.join(fails)} failState")
        if self.run is not None:
            self._run_styles()
        return "\n".join(self.lines) + "\n"

    # -- nodes --------------------------------------------------------------
    def _states(self, scope: dict[str, Any], *, depth: int, top: bool) -> None:
        pad = "  " * depth
        for name, state in (scope.get("States") or {}).items():
            kind = state.get("Type")
            node = self.ids[name]
            if kind == "Parallel":
                self.lines.append(f'{pad}subgraph {node} ["{escape_label(self._title(name, state))}"]')
                for index, branch in enumerate(state.get("Branches") or [], start=1):
                    self.lines.append(f'{pad}  subgraph {node}__b{index} ["branch {index}"]')
                    self._states(branch, depth=depth + 2, top=False)
                    self.lines.append(f"{pad}  end")
                self.lines.append(f"{pad}end")
            elif kind == "Map":
                processor = state.get("ItemProcessor") or state.get("Iterator") or {}
                self.lines.append(f'{pad}subgraph {node} ["{escape_label(self._title(name, state))}"]')
                self._states(processor, depth=depth + 1, top=False)
                self.lines.append(f"{pad}end")
            else:
                self.lines.append(f"{pad}{node}{self._shape(kind, self._label(name, state))}")
            self._edges(name, state, top=top)

    def _title(self, name: str, state: dict[str, Any]) -> str:
        parts = [_container_title(name, state)] + [part for part in (self.other_language.get(name), _sets(state.get("Assign"))) if part]
        note = self.run.note(name) if self.run is not None else None
        return " · ".join(parts + ([note] if note else []))

    def _label(self, name: str, state: dict[str, Any]) -> str:
        sets = _sets(state.get("Assign")) if state.get("Type") != "Choice" else None  # a Choice's own Assign goes with its default
        parts = [name] + [part for part in (_detail(state), _retry_mark(state), sets, self.other_language.get(name)) if part]
        note = self.run.note(name) if self.run is not None else None
        if note:
            parts.append(note)
        return escape_label(parts[0]) + "".join(f"<br/>{escape_label(part)}" for part in parts[1:])

    @staticmethod
    def _shape(kind: str | None, label: str) -> str:
        if kind == "Choice":
            return f'{{"{label}"}}'
        if kind in ("Succeed", "Fail"):
            return f'(["{label}"])'
        if kind == "Pass":
            return f'("{label}")'
        if kind == "Wait":
            return f'[/"{label}"/]'
        return f'["{label}"]'

    # -- edges --------------------------------------------------------------
    def _add(self, source: str, target: str | None, label: str | None = None, *, dashed: bool = False,
             end: bool = False) -> None:
        if end:
            self.edges.append(_Edge(self.ids[source], "exec_end", label, dashed, (source, None)))
        elif target in self.ids:
            self.edges.append(_Edge(self.ids[source], self.ids[target], label, dashed, (source, target)))

    def _edges(self, name: str, state: dict[str, Any], *, top: bool) -> None:
        kind = state.get("Type")
        if kind == "Choice":
            for rule in state.get("Choices") or []:
                self._add(name, rule.get("Next"), _with_sets(_cut(rule_text(rule)), rule.get("Assign")))
            if "Default" in state:
                self._add(name, state["Default"], _with_sets("default", state.get("Assign")))
        elif "Next" in state:
            self._add(name, state["Next"])
        elif top and (state.get("End") or kind == "Succeed"):
            self._add(name, None, end=True)
        for catcher in state.get("Catch") or []:
            label = _with_sets("catch " + ", ".join(catcher.get("ErrorEquals") or []), catcher.get("Assign"))
            self._add(name, catcher.get("Next"), label, dashed=True)

    # -- a run --------------------------------------------------------------
    def _run_styles(self) -> None:
        run = self.run
        assert run is not None
        self.lines.extend(f"  {style}" for style in _RUN_STYLES)
        groups: dict[str, list[str]] = {"ran": [], "ranCaught": [], "ranFailed": [], "notRun": []}
        for name, node in self.ids.items():
            seen = run.states.get(name)
            entered = seen is not None and seen.entered > 0 or name in run.child_states
            css = ("ranFailed" if seen and seen.failed else "ranCaught" if seen and (seen.caught or seen.errors)
                   else "ran" if entered else "notRun")
            if self.kinds[name] in _CONTAINERS:  # subgraphs take `style`, not `class`
                fill, stroke = {"ran": ("#f1f8e9", "#2e7d32"), "ranCaught": ("#fff8e1", "#ef6c00"),
                                "ranFailed": ("#fff5f5", "#c62828"), "notRun": ("#fafafa", "#bdbdbd")}[css]
                self.lines.append(f"  style {node} fill:{fill},stroke:{stroke},stroke-width:2px")
            else:
                groups[css].append(node)
        for css, nodes in groups.items():
            if nodes:
                self.lines.append(f"  class {','.join(nodes)} {css}")
        taken = [i for i, e in enumerate(self.edges) if self._taken(e) == "taken"]
        caught = [i for i, e in enumerate(self.edges) if self._taken(e) == "caught"]
        if taken:
            self.lines.append(f"  linkStyle {','.join(map(str, taken))} {_EDGE_TAKEN}")
        if caught:
            self.lines.append(f"  linkStyle {','.join(map(str, caught))} {_EDGE_CAUGHT}")

    def _taken(self, edge: _Edge) -> str | None:
        run = self.run
        assert run is not None
        source, target = edge.states
        if source is None:
            return "taken" if target in run.states else None
        if target is None:  # to the end marker: the run ended there
            return "taken" if run.status == "SUCCEEDED" and source in run.last_states else None
        if edge.dashed:
            return "caught" if (source, target) in run.caught_edges else None
        return "taken" if (source, target) in run.edges else None


def mermaid(machine: StateMachine, run: RunPath | None = None) -> str:
    """The Mermaid flowchart text of one state machine (coloured with `run` when given)."""
    return _Diagram(machine, run).render()


def state_names(machine: StateMachine) -> Iterator[str]:
    for _, name, _, _ in walk_states(machine.definition):
        yield name
