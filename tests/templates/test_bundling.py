"""Docker-free bundling: what goes into a function's asset for each stage."""

from __future__ import annotations

import json

import pytest

from stacks.common.bundling import RUNTIME_PROVIDED, TargetPlatform, content_hash
from stacks.common.registry import discover_workflows

WORKFLOWS = discover_workflows()


def asset_dirs(stage, stack_id: str) -> list:
    manifest = json.loads((stage.assembly_dir / f"{stack_id}.assets.json").read_text())
    return [stage.assembly_dir / asset["source"]["path"] for asset in manifest["files"].values() if asset["source"].get("packaging") == "zip"]


def binaries_of(stage) -> list[str]:
    """Every compiled module in every workflow's asset."""
    return sorted(path.name for workflow in WORKFLOWS for asset in asset_dirs(stage, workflow.stack_id) for path in asset.rglob("*.so"))


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.name for w in WORKFLOWS])
def test_one_asset_per_workflow_holds_its_package_and_dependencies(stage, workflow):
    (asset,) = asset_dirs(stage, workflow.stack_id)
    assert (asset / workflow.package / "handlers").is_dir()
    assert (asset / "aws_lambda_powertools").is_dir()
    # what the Lambda runtime already has is left out
    assert not [name for name in RUNTIME_PROVIDED if (asset / name).exists()]


def test_prod_bundles_binary_wheels_for_lambda_arm64_python_3_14(prod_stage):
    binaries = binaries_of(prod_stage)
    if not binaries:
        pytest.skip("no workflow bundles a compiled dependency")
    assert all("cpython-314-aarch64" in name or "abi3" in name for name in binaries), binaries


def test_local_bundles_for_this_host(local_stage):
    host = TargetPlatform.host()
    binaries = binaries_of(local_stage)
    if not binaries:
        pytest.skip("no workflow bundles a compiled dependency")
    assert all(f"cpython-{host.python_version.replace('.', '')}" in name or "abi3" in name for name in binaries), binaries


def test_asset_hash_follows_source_and_platform(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "handler.py").write_text("def handler(event, context):\n    return 1\n")
    lambda_arm = TargetPlatform()
    first = content_hash(source, lambda_arm)
    assert content_hash(source, lambda_arm) == first  # stable
    assert content_hash(source, TargetPlatform.host()) != first  # platform is part of the key
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\0")
    assert content_hash(source, lambda_arm) == first  # caches do not count
    (source / "handler.py").write_text("def handler(event, context):\n    return 2\n")
    assert content_hash(source, lambda_arm) != first  # any source byte does


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.name for w in WORKFLOWS])
def test_each_workflow_source_has_pinned_requirements(workflow):
    lines = [line for line in (workflow.lambda_dir / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert lines and all("==" in line for line in lines)


def test_bundling_docstrings_name_the_python_version_the_assets_are_built_for():
    import re

    import stacks.common.bundling as bundling

    # GIVEN the Python version the Lambda assets are built for
    target = TargetPlatform().python_version
    # WHEN reading the module's documentation (module, classes, functions)
    docs = [bundling.__doc__, bundling.target_platform.__doc__, bundling.TargetPlatform.__doc__]
    mentioned = {version for doc in docs for version in re.findall(r"\b3\.\d{1,2}\b", doc or "")}
    # THEN every Python version it names is that one (no stale 3.13 left behind)
    assert mentioned == {target}, mentioned


def test_concurrent_installs_of_one_requirements_file_share_one_cache_entry(tmp_path, monkeypatch):
    # GIVEN an empty dependency cache and two synths (test workers, a sandbox run) bundling at once
    import threading

    from stacks.common import bundling

    monkeypatch.setattr(bundling, "DEPS_CACHE", tmp_path / "lambda-deps")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("jmespath==1.1.0\n")  # one small pure-Python package: the race is the point, not the size
    results, errors = [], []

    def install() -> None:
        try:
            results.append(bundling.install_dependencies(requirements, TargetPlatform.host()))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=install) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    # THEN both get the same complete folder, and no half-installed one is left
    assert errors == [] and len(set(results)) == 1 and (results[0] / ".complete").exists()
    assert not list((tmp_path / "lambda-deps").glob("*.partial"))
