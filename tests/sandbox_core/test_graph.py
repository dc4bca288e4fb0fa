"""`sandbox graph`: the Mermaid text of a definition, the path of a run, the HTML page and the markdown block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sandbox.definitions import StateMachine
from sandbox.graph.mermaid import mermaid, rule_text
from sandbox.graph.page import BLOCK_END, BLOCK_START, Diagram, DiagramBlockMissing, html_page, markdown_block, read_block, refresh_block
from sandbox.graph.run_path import ChildRun, RunPath
from sandbox.last_run import load_last_run, save_last_run

_LAMBDA = "<Fn::GetAtt WorkFunctionAB12CD34.Arn>"
DEFINITION = {
    "StartAt": "Check",
    "States": {
        "Check": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 0, "Next": "Fan"},
            {"And": [{"Variable": "$.name", "IsPresent": True}, {"Not": {"Variable": "$.name", "StringEquals": ""}}], "Next": "Each"},
        ], "Default": "Bad \"input\""},
        "Bad \"input\"": {"Type": "Fail", "Error": "InvalidInput"},
        "Fan": {"Type": "Parallel", "Next": "Copy", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Notify"}], "Branches": [
            {"StartAt": "Left", "States": {"Left": {"Type": "Task", "Resource": _LAMBDA, "End": True,
                                                     "Retry": [{"ErrorEquals": ["Busy"], "MaxAttempts": 2}, {"ErrorEquals": ["Slow"], "MaxAttempts": 5}]}}},
            {"StartAt": "Right", "States": {"Right": {"Type": "Wait", "Seconds": 3, "End": True}}},
        ]},
        "Each": {"Type": "Map", "Next": "Copy", "MaxConcurrency": 4, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}}},
        "Copy": {"Type": "Map", "Next": "end", "ItemReader": {"Resource": "arn:<Ref AWS::Partition>:states:::s3:listObjectsV2"},
                 "ItemBatcher": {"MaxItemsPerBatch": 100}, "ItemProcessor": {
                     "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "CopyBatch",
                     "States": {"CopyBatch": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                              "Parameters": {"FunctionName": "<Fn::GetAtt CopyFunction0486AA2A.Arn>"}, "End": True}}}},
        "end": {"Type": "Succeed"},
        "Notify": {"Type": "Task", "Resource": "arn:<Ref AWS::Partition>:states:::sns:publish", "Next": "失敗"},
        "失敗": {"Type": "Fail", "ErrorPath": "$.Error"},
    },
}
MACHINE = StateMachine("MachineABCDEF12", "STANDARD", DEFINITION)
STATES = ["Check", 'Bad "input"', "Fan", "Left", "Right", "Each", "Item", "Copy", "CopyBatch", "end", "Notify", "失敗"]


def _node_lines(text: str) -> dict[str, str]:
    """node id -> its declaration line (nodes and subgraphs)."""
    found = {}
    for line in text.splitlines():
        match = re.match(r"\s*(?:subgraph )?(s_\w+|exec_\w+)\s*(\S.*)$", line)
        if match and "->" not in line and not line.strip().startswith(("class", "style", "linkStyle")):
            found[match.group(1)] = match.group(2)
    return found


def _edges(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if "-->" in line or "-.->" in line]


def test_every_state_is_a_node_with_a_safe_unique_id():
    # WHEN the definition is drawn
    text = mermaid(MACHINE)
    nodes = _node_lines(text)
    # THEN every state has its own id, made of letters, digits and _ (quotes, CJK and `end` cannot break the syntax)
    labels = " ".join(nodes.values())
    for name in STATES:
        assert name.replace('"', "#quot;") in labels, name
    assert len(nodes) == len(STATES) + 2 + 2  # + start and end markers + one group per Parallel branch
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", node) for node in nodes)
    assert "s_end" in nodes and nodes["s_end"].startswith('(["end')


def test_parallel_branches_and_both_map_kinds_are_groups_holding_their_states():
    text = mermaid(MACHINE)
    lines = [line.strip() for line in text.splitlines()]
    # THEN the Parallel is a group with one group per branch, each holding that branch's state
    start = lines.index('subgraph s_Fan ["Fan · Parallel, 2 branches"]')
    assert lines[start + 1:start + 7] == ['subgraph s_Fan__b1 ["branch 1"]', lines[start + 2], "end",
                                          'subgraph s_Fan__b2 ["branch 2"]', lines[start + 5], "end"]
    assert lines[start + 2].startswith("s_Left[") and lines[start + 5].startswith("s_Right[/")
    # AND the inline Map and the Distributed Map (EXPRESS children, reader, batching) are groups around their processors
    assert 'subgraph s_Each ["Each · Map (inline) · ≤4 at once"]' in lines
    assert lines[lines.index('subgraph s_Each ["Each · Map (inline) · ≤4 at once"]') + 1].startswith("s_Item(")
    copy = next(line for line in lines if line.startswith("subgraph s_Copy "))
    assert "Distributed Map, EXPRESS children" in copy and "reads s3:listObjectsV2" in copy and "batches ≤100 items" in copy
    assert lines[lines.index(copy) + 1].startswith('s_CopyBatch["CopyBatch<br/>Lambda CopyFunction"]')


def test_choice_rules_label_their_edges_catches_are_dashed_and_retries_marked():
    text = mermaid(MACHINE)
    edges = _edges(text)
    assert 's_Check -->|"$.n #gt; 0"| s_Fan' in edges
    assert "s_Check -->|\"$.name present and $.name ≠ ''\"| s_Each" in edges
    assert 's_Check -->|"default"| s_Bad_input' in edges
    assert 's_Fan -.->|"catch States.ALL"| s_Notify' in edges  # from the Parallel group
    assert "s_Notify --> s_state" in edges  # 失敗 has no ASCII letters: a generic id
    assert "s_end --> exec_end" in edges and "exec_start --> s_Check" in edges
    # Retry: the most attempts any rule allows; the Lambda named by its logical id without CDK's hash
    assert _node_lines(text)["s_Left"] == '["Left<br/>Lambda WorkFunction<br/>↻ retry ≤5"]'
    assert "class s_Bad_input,s_state failState" in text


def test_long_choice_rules_are_cut_and_operators_read_naturally():
    assert rule_text({"Variable": "$.x", "NumericLessThanEqualsPath": "$.max"}) == "$.x ≤ $.max"
    assert rule_text({"Not": {"Variable": "$.x", "IsNull": True}}) == "$.x is not null"
    assert rule_text({"Or": [{"Variable": "$.a", "BooleanEquals": True}, {"And": [{"Variable": "$.b", "IsString": False},
                                                                                  {"Variable": "$.c", "StringMatches": "*.csv"}]}]}) \
        == "$.a = true or ($.b is not a string and $.c matches '*.csv')"
    long_rule = {"Or": [{"Variable": f"$.field_{i}", "IsPresent": True} for i in range(10)], "Next": "Fan"}
    text = mermaid(StateMachine("M", "STANDARD", {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [long_rule], "Default": "Fan"}, "Fan": {"Type": "Succeed"}}}))
    label = re.search(r's_C -->\|"([^"]*)"\| s_Fan', text).group(1)
    assert len(label) == 70 and label.endswith("…")


JSONATA_DEFINITION = {
    "QueryLanguage": "JSONata",
    "StartAt": "Validate",
    "States": {
        "Validate": {"Type": "Choice", "Choices": [
            {"Condition": "{% $type($states.input.day) = 'string'\n   and $states.input.day != '' %}",
             "Assign": {"day": "{% $states.input.day %}"}, "Output": {}, "Next": "Plan"}],
            "Default": "Invalid"},
        "Invalid": {"Type": "Fail", "Error": "InvalidInput", "Cause": "day must be a string"},
        "Plan": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Arguments": "{% {'FunctionName': $fn} %}",
                 "Assign": {"plan": "{% $states.result %}", "tries": 0}, "Next": "Each",
                 "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"failure": "{% $states.errorOutput %}"}, "Next": "Failed"}]},
        "Each": {"Type": "Map", "Items": "{% $plan.days %}", "MaxConcurrency": "{% $plan.width %}", "Next": "Pause",
                 "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Day",
                                   "States": {"Day": {"Type": "Pass", "End": True}}}},
        "Pause": {"Type": "Wait", "Seconds": "{% $plan.delay %}", "Next": "Old"},
        "Old": {"Type": "Pass", "QueryLanguage": "JSONPath", "Parameters": {"x.$": "$.x"}, "End": True},
        "Failed": {"Type": "Fail", "Error": "{% $failure.Error %}", "Cause": "{% $failure.Cause %}"},
    },
}


def test_a_jsonata_definition_is_drawn_with_its_expressions_and_variables():
    # WHEN a JSONata definition (mixing in one JSONPath state) is drawn
    text = mermaid(StateMachine("M", "STANDARD", JSONATA_DEFINITION))
    edges, nodes = _edges(text), _node_lines(text)
    # THEN a Condition labels its edge as written (braces off, whitespace collapsed), with the variables the rule sets
    assert ("s_Validate -->|\"$type($states.input.day) = 'string' and $states.input.day != '' · sets $day\"| s_Plan"
            in edges)
    # AND states name what they assign, a Catch too, and {% %} fields read as their expressions
    assert nodes["s_Plan"] == '["Plan<br/>Lambda<br/>sets $plan, $tries"]'  # its function is an expression
    assert 's_Plan -.->|"catch States.ALL · sets $failure"| s_Failed' in edges
    assert nodes["s_Failed"] == '(["Failed<br/>Fail: error from $failure.Error"])'
    assert nodes["s_Pause"] == '[/"Pause<br/>wait $plan.delay s"/]'
    assert 'subgraph s_Each ["Each · Map (inline) · over $plan.days · ≤$plan.width at once"]' in text
    # AND the one state in the other language says so; the others (in the top level's) do not
    assert nodes["s_Old"] == '("Old<br/>Pass<br/>JSONPath")'
    assert "JSONata" not in text


def test_the_same_definition_gives_the_same_text():
    assert mermaid(MACHINE) == mermaid(StateMachine("MachineABCDEF12", "STANDARD", dict(DEFINITION)))


# --------------------------------------------------------------------------- a run's path

def _event(eid: int, previous: int, kind: str, **details) -> dict:
    key = "stateEnteredEventDetails" if kind.endswith("StateEntered") else "stateExitedEventDetails" if kind.endswith("StateExited") \
        else "details"
    return {"id": eid, "previousEventId": previous, "type": kind, **({f"{key}" if key != "details" else "xEventDetails": details} if details else {})}


# moto-style history: Check -> Fan (Left fails Busy, retried, fails Slow -> Parallel fails) -> caught -> Notify -> 失敗
HISTORY = [
    _event(1, 0, "ExecutionStarted"),
    _event(2, 0, "ChoiceStateEntered", name="Check"),
    _event(3, 2, "ChoiceStateExited", name="Check"),
    _event(4, 3, "ParallelStateEntered", name="Fan"),
    _event(5, 4, "ParallelStateStarted"),
    _event(6, 5, "TaskStateEntered", name="Left"),
    _event(7, 6, "LambdaFunctionScheduled"),
    _event(8, 7, "LambdaFunctionFailed", error="Busy"),
    _event(9, 8, "LambdaFunctionScheduled"),
    _event(10, 9, "LambdaFunctionFailed", error="Slow"),
    _event(11, 5, "WaitStateEntered", name="Right"),
    _event(12, 10, "ParallelStateFailed"),
    _event(13, 12, "ParallelStateExited", name="Fan"),
    _event(14, 13, "TaskStateEntered", name="Notify"),
    _event(15, 14, "TaskScheduled"),
    _event(16, 15, "TaskSucceeded"),
    _event(17, 16, "TaskStateExited", name="Notify"),
    _event(18, 17, "FailStateEntered", name="失敗"),
    _event(19, 18, "ExecutionFailed", error="Slow"),
]


def _run() -> RunPath:
    return RunPath.from_history(HISTORY, workflow="wf", state_machine="MachineABCDEF12", execution_arn="arn:x:exec:run-1",
                                status="FAILED", error="Slow", children=[ChildRun("SUCCEEDED", None, ["CopyBatch"])])


def test_the_path_of_a_run_names_edges_retries_caught_errors_and_the_failed_state():
    run = _run()
    # THEN normal edges, the caught edge (with the error the Parallel passed on), retries and the failed state are read
    assert run.edges == {("Check", "Fan"), ("Notify", "失敗")}
    assert run.caught_edges == {("Fan", "Notify")}
    assert run.states["Fan"].caught == ["Slow"]
    assert run.states["Left"].retries == 1 and run.states["Left"].errors == ["Busy", "Slow"]
    assert run.states["失敗"].failed and not run.states["Notify"].failed
    assert "Each" not in run.states and run.child_states == {"CopyBatch"}
    assert run.note("Left") == "✓ · ↻ 1 retry · ✗ Busy, Slow"
    assert run.note("失敗") == "✓ · ✗ failed: Slow"


def test_a_coloured_diagram_styles_exactly_the_states_and_edges_taken():
    text = mermaid(MACHINE, _run())
    edges = _edges(text)
    taken = re.search(r"linkStyle ([\d,]+) stroke:#2e7d32", text).group(1).split(",")
    caught = re.search(r"linkStyle ([\d,]+) stroke:#ef6c00", text).group(1).split(",")
    # THEN the green edges are the start, Check -> Fan (its rule) and Notify -> 失敗; the orange one the caught error
    assert sorted(edges[int(i)] for i in taken) == sorted(['exec_start --> s_Check', 's_Check -->|"$.n #gt; 0"| s_Fan',
                                                            "s_Notify --> s_state"])
    assert [edges[int(i)] for i in caught] == ['s_Fan -.->|"catch States.ALL"| s_Notify']
    assert "class s_Check,s_Right,s_CopyBatch,s_Notify ran" in text
    assert "class s_Left ranCaught" in text and "class s_state ranFailed" in text
    assert "style s_Fan fill:#fff8e1,stroke:#ef6c00" in text and "style s_Each fill:#fafafa" in text
    assert "✓ · ↻ 1 retry · ✗ Busy, Slow" in _node_lines(text)["s_Left"]


def test_the_last_run_is_kept_and_read_back(tmp_path: Path):
    run = _run()
    save_last_run(run, tmp_path)
    assert load_last_run("wf", tmp_path) == run
    assert load_last_run("other", tmp_path) is None


# --------------------------------------------------------------------------- page and markdown

def test_the_html_page_inlines_mermaid_and_loads_nothing(tmp_path: Path):
    script = tmp_path / "mermaid.min.js"
    script.write_text("var mermaid = {}; // '</script>' in a string must not end the element")
    page = html_page("wf", [Diagram('wf: "M"', mermaid(MACHINE))], mermaid_js=script)
    assert "var mermaid = {};" in page and "<\\/script>' in a string" in page
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)  # nothing fetched: no CDN
    assert "Bad #quot;input#quot;" in page and "s_Check --&gt;|&quot;$.n #gt; 0&quot;| s_Fan" in page  # HTML-escaped
    assert 'data-rendered="no"' in page and 'dataset.rendered = "yes"' in page


def test_a_markdown_block_is_refreshed_between_its_markers_only(tmp_path: Path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# wf\n\nBefore.\n\n{BLOCK_START}\nold\n{BLOCK_END}\n\nAfter.\n")
    block = markdown_block("wf", [Diagram("wf: Machine", mermaid(MACHINE))])
    assert refresh_block(readme, block) is True
    text = readme.read_text()
    assert text.startswith("# wf\n\nBefore.\n\n") and text.endswith(f"{BLOCK_END}\n\nAfter.\n")
    assert read_block(text) == block and "```mermaid\nflowchart TD\n" in block
    assert refresh_block(readme, block) is False  # unchanged the second time


@pytest.mark.parametrize("text", ["# no markers\n", f"{BLOCK_START}\na\n{BLOCK_END}\n{BLOCK_START}\nb\n{BLOCK_END}\n"])
def test_a_file_without_exactly_one_block_is_a_named_error(tmp_path: Path, text: str):
    readme = tmp_path / "README.md"
    readme.write_text(text)
    with pytest.raises(DiagramBlockMissing, match="diagram:start"):
        refresh_block(readme, "x")
    assert readme.read_text() == text


def test_refreshing_a_stack_readme_does_not_invalidate_the_synth_cache(tmp_path: Path):
    from sandbox.synth import infrastructure_hash

    # GIVEN a stack folder; WHEN its README (with the diagram block) changes, THEN the synth inputs are the same
    (tmp_path / "stacks" / "wf").mkdir(parents=True)
    (tmp_path / "stacks" / "wf" / "stack.py").write_text("X = 1\n")
    before = infrastructure_hash(tmp_path)
    (tmp_path / "stacks" / "wf" / "README.md").write_text(f"{BLOCK_START}\nflowchart TD\n{BLOCK_END}\n")
    assert infrastructure_hash(tmp_path) == before
    (tmp_path / "stacks" / "wf" / "stack.py").write_text("X = 2\n")  # while code still counts
    assert infrastructure_hash(tmp_path) != before
