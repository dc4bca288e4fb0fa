"""Template snapshots (syrupy). Review a diff, then `make snapshots` to accept it.

Asset hashes change with any byte of a function's code or dependencies, so
they are replaced by a placeholder: the snapshot tracks the infrastructure.
"""

from __future__ import annotations

import json
import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from stacks.common.registry import discover_workflows

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def normalized(template: dict) -> dict:
    return json.loads(ASSET_HASH.sub("<asset-hash>", json.dumps(template)))


@pytest.mark.parametrize("stack_id", [workflow.stack_id for workflow in discover_workflows()])
def test_template_matches_snapshot(stage, stack_id, snapshot_json):
    assert normalized(stage.template(stack_id)) == snapshot_json(name=f"{stack_id}-{stage.name}")
