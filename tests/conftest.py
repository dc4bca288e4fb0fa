"""Shared fixtures: each stage is synthesized at most once per test session.

`local` comes from the sandbox's cached cloud assembly (the same one the
workflow tests deploy); `prod` is synthesized in-process so tests can also run
cdk-nag's `validate_scope` on the construct tree.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class SynthesizedStage:
    name: str
    assembly_dir: Path
    app: Any = None  # the aws_cdk.App, when synthesized in this process

    def template(self, stack_id: str) -> dict[str, Any]:
        return json.loads((self.assembly_dir / f"{stack_id}.template.json").read_text())


@pytest.fixture(scope="session")
def local_stage() -> SynthesizedStage:
    from sandbox.synth import synthesize_local

    return SynthesizedStage("local", synthesize_local().cloud_assembly)


@pytest.fixture(scope="session")
def prod_stage(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedStage:
    import aws_cdk as cdk

    import app as cdk_app

    outdir = tmp_path_factory.mktemp("cdk.out.prod")
    application = cdk_app.build_app(cdk.App(context=cdk_app.cdk_context(stage="prod"), outdir=str(outdir)))
    application.synth()
    return SynthesizedStage("prod", outdir, application)


@pytest.fixture(params=["local", "prod"])
def stage(request: pytest.FixtureRequest) -> SynthesizedStage:
    return request.getfixturevalue(f"{request.param}_stage")
