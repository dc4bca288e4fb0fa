"""Synthesize the app for the `local` stage, once per change of its inputs.

Synth runs in a child process (it starts a jsii/Node kernel), writes to
`.sandbox/cdk.out`, and records a hash of every input file; a later call with
the same hash reuses the cloud assembly. A file lock lets several sandbox
processes share the cache: one synthesizes, the others wait and reuse it.
After a synth, asset folders no current template refers to are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

REPO_ROOT = Path(__file__).resolve().parents[1]
SANDBOX_DIR = REPO_ROOT / ".sandbox"
CLOUD_ASSEMBLY = SANDBOX_DIR / "cdk.out"
_INPUTS = ("app.py", "cdk.json", "requirements.txt", "stacks", "lambda_src")
_SKIP_PARTS = {"__pycache__", ".pytest_cache"}
_SKIP_SUFFIXES = {".pyc", ".md"}  # documentation beside a stack (its README and diagram) is not synthesized


class SynthError(RuntimeError):
    """`cdk synth` of the local stage failed (its output is in the message)."""


@dataclass(frozen=True)
class SynthResult:
    cloud_assembly: Path
    cached: bool
    seconds: float


def inputs_hash(root: Path = REPO_ROOT) -> str:
    from stacks.common.config import user_settings_dir

    digest = hashlib.sha256()
    user_settings = user_settings_dir()  # your git-ignored settings/local.json changes the local stage too
    for base in [root / name for name in _INPUTS] + ([user_settings / "local.json"] if user_settings else []):
        paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in paths:
            if _SKIP_PARTS.intersection(path.parts) or path.suffix in _SKIP_SUFFIXES:
                continue
            digest.update((path.relative_to(root) if path.is_relative_to(root) else path).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def synthesize_local(*, force: bool = False, outdir: Path = CLOUD_ASSEMBLY) -> SynthResult:
    """Cloud assembly of the `local` stage, synthesized only when an input changed."""
    started = time.perf_counter()
    outdir.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(outdir.parent / f".{outdir.name}.lock")):
        marker = outdir / ".inputs-sha256"
        digest = inputs_hash()
        if not force and marker.exists() and marker.read_text() == digest:
            return SynthResult(outdir, cached=True, seconds=time.perf_counter() - started)
        marker.unlink(missing_ok=True)
        program = (
            "import aws_cdk as cdk, app\n"
            f"app.build_app(cdk.App(context=app.cdk_context(stage='local'), outdir={str(outdir)!r})).synth()\n"
        )
        env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": os.environ.get("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")}
        result = subprocess.run([sys.executable, "-c", program], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SynthError(f"synth of stage 'local' failed:\n{(result.stdout + result.stderr)[-6000:]}")
        prune_stale_assets(outdir)
        marker.write_text(digest)
    return SynthResult(outdir, cached=False, seconds=time.perf_counter() - started)


def prune_stale_assets(outdir: Path) -> list[str]:
    """Remove `asset.*` folders and files that no asset manifest of the assembly names; return their names."""
    referenced = set()
    for manifest in outdir.glob("*.assets.json"):
        for asset in (json.loads(manifest.read_text()).get("files") or {}).values():
            referenced.add(Path(asset["source"]["path"]).parts[0])
    removed = []
    for path in outdir.glob("asset.*"):
        if path.name not in referenced:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
            removed.append(path.name)
    return removed
