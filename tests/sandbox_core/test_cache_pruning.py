"""`.sandbox/` keeps only what a current synth refers to."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from sandbox.lambda_runtime import prune_code_cache
from sandbox.synth import prune_stale_assets


def test_asset_folders_no_manifest_names_are_removed(tmp_path: Path):
    # GIVEN an assembly whose manifest names one asset, beside a stale one from an earlier synth
    (tmp_path / "asset.current").mkdir()
    (tmp_path / "asset.stale").mkdir()
    (tmp_path / "asset.stale.zip").write_bytes(b"old")
    (tmp_path / "Stack.assets.json").write_text(json.dumps({"files": {"h": {"source": {"path": "asset.current", "packaging": "zip"}}}}))
    # WHEN pruned
    removed = prune_stale_assets(tmp_path)
    # THEN only the current asset is left
    assert sorted(removed) == ["asset.stale", "asset.stale.zip"]
    assert [p.name for p in tmp_path.glob("asset.*")] == ["asset.current"]


def test_function_code_unused_since_the_cutoff_is_removed(tmp_path: Path):
    # GIVEN one extracted function used recently, one long unused, and one left half-extracted
    functions = tmp_path / "functions"
    for name in ("recent", "old", "partial"):
        (functions / name).mkdir(parents=True)
    (functions / "recent" / ".extracted").write_text("recent")
    (functions / "old" / ".extracted").write_text("old")
    long_ago = time.time() - 7200
    os.utime(functions / "old" / ".extracted", (long_ago, long_ago))
    # WHEN pruned with a cutoff an hour ago
    removed = prune_code_cache(tmp_path, unused_since=time.time() - 3600)
    # THEN the recent one stays
    assert sorted(removed) == ["old", "partial"] and [p.name for p in functions.iterdir()] == ["recent"]
