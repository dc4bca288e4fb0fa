"""Hot swap: a handler edit rebuilds its asset alone (no synth) into the assembly a synth would write, and
`sandbox watch` puts the new code into the deployed functions (UpdateFunctionCode) and runs again.

Every test works on a copy of the project (synth inputs plus its current `local` assembly), never on the
repository's own files."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest

from sandbox.synth import STATE_FILE, assembly_dir, copy_project, plan_synth, synthesize_local
from stacks.common.bundling import TargetPlatform, cdk_asset_hash, content_hash
from stacks.common.registry import discover_workflows
from tests.conftest import requires_workflows

pytestmark = requires_workflows("parallel-search", "bucket-usage")
MERGE_HANDLER = Path("lambda_src/parallel_search/parallel_search/handlers/merge.py")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("project") / "copy")


def code_asset_ids(template: dict) -> set[str]:
    return {resource["Properties"]["Code"]["S3Key"].removesuffix(".zip") for resource in template["Resources"].values()
            if resource["Type"] == "AWS::Lambda::Function"}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} no longer holds {old!r}: update the test's edit"
    path.write_text(text.replace(old, new, 1))


def test_every_workflow_asset_can_be_rebuilt_alone(local_stage):
    # GIVEN the session's local assembly; THEN each workflow's Lambda package was found under the asset id
    # bundling.cdk_asset_hash predicts (else a change to it would synthesize the whole app)
    state = json.loads((local_stage.assembly_dir / STATE_FILE).read_text())
    for workflow in discover_workflows():
        recorded = state["assets"][workflow.package]
        assert recorded["asset"] == cdk_asset_hash(content_hash(workflow.lambda_dir, TargetPlatform.host())), workflow.name
        assert (local_stage.assembly_dir / f"asset.{recorded['asset']}").is_dir()


def test_what_changed_decides_between_a_synth_an_asset_and_nothing(project: Path):
    # GIVEN a current copy of the project
    assert plan_synth(project).nothing
    stack, readme = project / "stacks/parallel_search/stack.py", project / "stacks/parallel_search/README.md"
    handler = project / "lambda_src/bucket_usage/bucket_usage/handlers" / sorted(
        p.name for p in (project / "lambda_src/bucket_usage/bucket_usage/handlers").glob("[a-z]*.py"))[0]
    originals = {path: path.read_text() for path in (stack, readme, handler)}
    try:
        # WHEN only a README changes THEN nothing is to be done
        readme.write_text(originals[readme] + "\nmore words\n")
        assert plan_synth(project).nothing
        # WHEN a handler changes THEN its asset alone is rebuilt
        handler.write_text(originals[handler] + "\n# edited\n")
        assert plan_synth(project).rebuild == ("bucket_usage",) and not plan_synth(project).synthesize
        # WHEN the infrastructure changes too THEN the app is synthesized
        stack.write_text(originals[stack] + "\n# edited\n")
        plan = plan_synth(project)
        assert plan.synthesize and plan.reason == "infrastructure changed"
    finally:
        for path, text in originals.items():
            path.write_text(text)
    assert plan_synth(project).nothing


def test_a_handler_edit_rebuilds_its_asset_into_the_assembly_a_synth_would_write(project: Path):
    assembly = assembly_dir(project)
    before = {path.name: path.read_text() for path in assembly.glob("*.json")}
    (old,) = code_asset_ids(json.loads(before["ParallelSearch.template.json"]))
    # WHEN one line of a handler changes and the assembly is brought up to date (as `sandbox run` does)
    edit(project / MERGE_HANDLER, '"item_count": len(products),', '"item_count": len(products),  # edited')
    result = synthesize_local(root=project)
    # THEN nothing was synthesized: the package's asset alone was rebuilt, under the id CDK gives that content
    new = cdk_asset_hash(content_hash(project / "lambda_src/parallel_search", TargetPlatform.host()))
    assert not result.synthesized and result.rebuilt_assets == {"parallel_search": (old, new)} and new != old
    # and the assembly is consistent: the template's functions use the new asset, whose folder holds the edit
    template_text = (assembly / "ParallelSearch.template.json").read_text()
    assert code_asset_ids(json.loads(template_text)) == {new}
    assert "# edited" in (assembly / f"asset.{new}" / MERGE_HANDLER.relative_to("lambda_src/parallel_search")).read_text()
    assert not (assembly / f"asset.{old}").exists() and old not in "".join(p.read_text() for p in assembly.glob("*.json"))
    # the asset manifest names the new folder and key, and the template by the sha256 of its new bytes
    manifest = json.loads((assembly / "ParallelSearch.assets.json").read_text())["files"]
    assert manifest[new]["source"]["path"] == f"asset.{new}"
    assert [d["objectKey"] for d in manifest[new]["destinations"].values()] == [f"{new}.zip"]
    template_id = hashlib.sha256(template_text.encode()).hexdigest()
    assert manifest[template_id]["source"]["path"] == "ParallelSearch.template.json"
    assert template_id in (assembly / "manifest.json").read_text()
    # every destination named as CDK names it: environment + the first 8 hex of the sha256 of its JSON
    for asset in manifest.values():
        for key, destination in asset["destinations"].items():
            digest = hashlib.sha256(json.dumps(destination, separators=(",", ":")).encode()).hexdigest()
            assert key.endswith(f"-{digest[:8]}")
    # the other workflows' files are untouched
    after = {path.name: path.read_text() for path in assembly.glob("*.json")}
    assert {name for name in after if after[name] != before.get(name)} == {
        "ParallelSearch.template.json", "ParallelSearch.assets.json", "manifest.json", "tree.json", STATE_FILE}
    # AND a second look finds nothing to do
    assert synthesize_local(root=project).cached


def test_a_plain_run_after_a_handler_edit_deploys_the_rebuilt_asset_without_a_synth(project: Path):
    import io
    import zipfile

    from moto.awslambda.models import lambda_backends

    from sandbox.session import Sandbox

    # GIVEN a handler line changed since the assembly was made
    search = project / "lambda_src/parallel_search/parallel_search/handlers/search.py"
    edit(search, "\n", "\n# a plain run sees this line\n")
    # WHEN the sandbox starts as `sandbox run` starts it, and deploys the workflow
    with Sandbox(root=project) as sandbox:
        deployed = sandbox.deploy("parallel-search")
        emulator = sandbox.emulator
        functions = [name for logical_id, name in deployed.stack.resources.items()
                     if deployed.stack.resource_types[logical_id] == "AWS::Lambda::Function"]
        codes = [lambda_backends[emulator.account_id][emulator.region].get_function(name).code_bytes for name in functions]
    # THEN it rebuilt that asset alone, synthesized nothing, and every function runs the edited code
    assert not sandbox.synth.synthesized and list(sandbox.synth.rebuilt_assets) == ["parallel_search"]
    assert len(codes) == 3
    for code in codes:
        with zipfile.ZipFile(io.BytesIO(code)) as deployed_zip:
            assert "# a plain run sees this line" in deployed_zip.read("parallel_search/handlers/search.py").decode()


def test_watch_puts_the_edited_handler_into_the_deployed_functions_and_runs_again(project: Path):
    from sandbox.watch import Watch

    # GIVEN parallel-search deployed from the copy and run once
    with Watch("parallel-search", root=project) as watching:
        first = watching.run()
        assert first.status == "SUCCEEDED" and "hot_swapped" not in first.output
        lambda_client = watching.sandbox.emulator.client("lambda")
        deployed = watching.sandbox.deploy("parallel-search")
        merge = next(name for logical_id, name in deployed.stack.resources.items() if logical_id.startswith("MergeFunction"))
        code_before = lambda_client.get_function(FunctionName=merge)["Configuration"]["CodeSha256"]
        # WHEN the merge handler changes what it returns and the watcher hears of the file
        handler = project / MERGE_HANDLER
        edit(handler, '"item_count": len(products),', '"item_count": len(products),\n        "hot_swapped": True,')
        rounds = []
        watching.loop(iter([{handler}]), rounds.append, rounds=1)
        code_after = lambda_client.get_function(FunctionName=merge)["Configuration"]["CodeSha256"]
    # THEN its asset was rebuilt without a synth, the stack's three functions got the new code, and the run
    # that followed returned what the edited handler returns
    (round_,) = rounds
    assert not round_.swap.synth.synthesized and list(round_.swap.synth.rebuilt_assets) == ["parallel_search"]
    assert len(round_.swap.updated_functions) == 3 and merge in round_.swap.updated_functions and not round_.swap.redeploy
    assert round_.report is not None and round_.report.status == "SUCCEEDED" and round_.report.output["hot_swapped"] is True
    assert round_.report.execution_arn != first.execution_arn and code_after != code_before


def test_the_file_watcher_reports_a_saved_handler(tmp_path: Path):
    from sandbox.watch import file_changes

    # GIVEN a project folder watched for changes
    handler = tmp_path / "lambda_src" / "wf" / "handler.py"
    handler.parent.mkdir(parents=True)
    handler.write_text("A = 1\n")
    stop, seen, ready = threading.Event(), [], threading.Event()

    def watch() -> None:
        changes = file_changes(tmp_path, stop_event=stop)
        ready.set()
        for batch in changes:
            seen.append(batch)
            stop.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    ready.wait(5)
    # WHEN the handler is saved (again, until the watcher, which starts on its first read, sees it)
    for attempt in range(50):
        handler.write_text(f"A = {attempt + 2}\n")
        thread.join(0.2)
        if seen:
            break
    stop.set()
    thread.join(10)
    # THEN it is reported, and bytecode next to it is not
    assert seen and handler in seen[0] and not any(path.suffix == ".pyc" for path in seen[0])
