"""The `local` stage's cloud assembly, kept current at the least cost.

Two caches, each keyed by what decides its bytes:

* the **templates** depend on the infrastructure: `app.py`, `cdk.json`, `requirements.txt`,
  everything under `stacks/` (code, `stages.json`; not the READMEs) and your `settings/local.json`.
  When any of it changes, the whole app is synthesized (`cdk synth` in a child process: it starts a
  jsii/Node kernel) into `.sandbox/cdk.out`;
* each **Lambda asset** depends only on its `lambda_src/<package>/` folder (source and
  `requirements.txt`) and the target platform (`stacks/common/bundling.py`'s `content_hash`).
  When only that changed, the asset is rebuilt alone, with the bundling code a synth uses, into
  `asset.<id>` under the id CDK would give it (`bundling.cdk_asset_hash`), and the assembly's JSON
  files that name the old id are rewritten to the new one, the template's own file-asset id
  (the sha256 of its bytes) included: the assembly is then the one a synth would have written.

`.sandbox-synth.json` in the assembly records both keys and, per package, the asset id it was
found under after the last synth. A package whose id CDK did not give as predicted (CDK changed
how it hashes, or the stage bundles for another platform) is never rebuilt alone: a change to it
synthesizes the app. A file lock lets several sandbox processes share the assembly: one updates
it, the others wait and reuse it; every file is replaced whole (written aside, then renamed).
Asset folders no current template refers to are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

REPO_ROOT = Path(__file__).resolve().parents[1]
SANDBOX_DIR = REPO_ROOT / ".sandbox"
CLOUD_ASSEMBLY = SANDBOX_DIR / "cdk.out"
STATE_FILE = ".sandbox-synth.json"
LAMBDA_SOURCES = "lambda_src"
_INFRASTRUCTURE = ("app.py", "cdk.json", "requirements.txt", "stacks")
_SKIP_PARTS = {"__pycache__", ".pytest_cache"}
_SKIP_SUFFIXES = {".pyc", ".md"}  # documentation beside a stack (its README and diagram) is not synthesized


class SynthError(RuntimeError):
    """`cdk synth` of the local stage failed (its output is in the message)."""


@dataclass(frozen=True)
class SynthPlan:
    """What bringing the assembly up to date takes: a whole synth (`reason` says why), rebuilding some
    packages' assets alone, or nothing."""

    synthesize: bool
    reason: str = ""
    rebuild: tuple[str, ...] = ()  # lambda_src packages whose asset is rebuilt alone

    @property
    def nothing(self) -> bool:
        return not self.synthesize and not self.rebuild


@dataclass(frozen=True)
class SynthResult:
    cloud_assembly: Path
    cached: bool  # nothing had changed
    seconds: float
    synthesized: bool = False  # the whole app was synthesized
    rebuilt_assets: dict[str, tuple[str, str]] = field(default_factory=dict)  # package -> (old asset id, new)
    reason: str = ""  # why it synthesized

    def describe(self) -> str:
        if self.synthesized:
            return f"synthesized ({self.reason}) in {self.seconds:.1f} s"
        if self.rebuilt_assets:
            return f"asset of {', '.join(self.rebuilt_assets)} rebuilt alone in {self.seconds:.1f} s (no synth)"
        return f"cached ({self.seconds:.2f} s)"


def _hash_files(root: Path, bases: list[Path]) -> str:
    digest = hashlib.sha256()
    for base in bases:
        paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in paths:
            if _SKIP_PARTS.intersection(path.parts) or path.suffix in _SKIP_SUFFIXES:
                continue
            digest.update((path.relative_to(root) if path.is_relative_to(root) else path).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def infrastructure_inputs(root: Path = REPO_ROOT) -> list[Path]:
    """Everything the templates are made from: all synth inputs but the Lambda sources."""
    from stacks.common.config import user_settings_dir

    user_settings = user_settings_dir()  # your git-ignored settings/local.json changes the local stage too
    return [root / name for name in _INFRASTRUCTURE] + ([user_settings / "local.json"] if user_settings else [])


def infrastructure_hash(root: Path = REPO_ROOT) -> str:
    return _hash_files(root, [path for path in infrastructure_inputs(root) if path.exists()])


def asset_source_hashes(root: Path = REPO_ROOT) -> dict[str, str]:
    """lambda_src package -> the content hash its asset is keyed by in the `local` stage (built for this host)."""
    from stacks.common.bundling import TargetPlatform, content_hash

    sources = root / LAMBDA_SOURCES
    host = TargetPlatform.host()
    return {path.name: content_hash(path, host) for path in sorted(sources.iterdir() if sources.is_dir() else ())
            if path.is_dir() and not path.name.startswith((".", "__"))}


def _read_state(outdir: Path) -> dict | None:
    try:
        return json.loads((outdir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def assembly_dir(root: Path = REPO_ROOT) -> Path:
    """Where the sandbox keeps the `local` stage's cloud assembly of the project at `root`."""
    return root / ".sandbox" / "cdk.out"


def plan_synth(root: Path = REPO_ROOT, outdir: Path | None = None, *, force: bool = False) -> SynthPlan:
    """Compare the project with what the assembly was made from (no change made)."""
    state = _read_state(outdir or assembly_dir(root))
    if force:
        return SynthPlan(True, "forced")
    if state is None:
        return SynthPlan(True, "no assembly yet")
    if state.get("infrastructure") != infrastructure_hash(root):
        return SynthPlan(True, "infrastructure changed")
    recorded: dict[str, dict] = state.get("assets", {})
    current = asset_source_hashes(root)
    changed = sorted(package for package in set(recorded) | set(current)
                     if (recorded.get(package) or {}).get("source") != current.get(package))
    unbuildable = [package for package in changed if package not in current or not (recorded.get(package) or {}).get("asset")]
    if unbuildable:
        return SynthPlan(True, f"lambda_src/{unbuildable[0]} cannot be rebuilt alone")
    return SynthPlan(False, rebuild=tuple(changed))


def synthesize_local(*, force: bool = False, root: Path = REPO_ROOT, outdir: Path | None = None) -> SynthResult:
    """Cloud assembly of the `local` stage: synthesized when the infrastructure changed, assets rebuilt alone
    when only their Lambda source did, reused otherwise."""
    started = time.perf_counter()
    outdir = outdir or assembly_dir(root)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    with assembly_lock(outdir):
        plan = plan_synth(root, outdir, force=force)
        if plan.nothing:
            return SynthResult(outdir, cached=True, seconds=time.perf_counter() - started)
        if plan.synthesize:
            _synthesize(root, outdir)
            return SynthResult(outdir, cached=False, seconds=time.perf_counter() - started, synthesized=True, reason=plan.reason)
        state = _read_state(outdir)
        assert state is not None
        current = asset_source_hashes(root)
        rebuilt = {}
        for package in plan.rebuild:
            old = state["assets"][package]["asset"]
            new = rebuild_asset(outdir, root / LAMBDA_SOURCES / package, old_id=old, source_hash=current[package])
            state["assets"][package] = {"source": current[package], "asset": new}
            rebuilt[package] = (old, new)
        _write(outdir / STATE_FILE, json.dumps(state, indent=1, sort_keys=True))
    return SynthResult(outdir, cached=False, seconds=time.perf_counter() - started, rebuilt_assets=rebuilt)


def _synthesize(root: Path, outdir: Path) -> None:
    from stacks.common.bundling import cdk_asset_hash

    (outdir / STATE_FILE).unlink(missing_ok=True)
    infrastructure, sources = infrastructure_hash(root), asset_source_hashes(root)
    program = (
        "import aws_cdk as cdk, app\n"
        f"app.build_app(cdk.App(context=app.cdk_context(stage='local'), outdir={str(outdir)!r})).synth()\n"
    )
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": os.environ.get("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")}
    result = subprocess.run([sys.executable, "-c", program], cwd=root, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SynthError(f"synth of stage 'local' failed:\n{(result.stdout + result.stderr)[-6000:]}")
    prune_stale_assets(outdir)
    referenced = _referenced_assets(outdir)
    assets = {}
    for package, source in sources.items():
        predicted = cdk_asset_hash(source)  # None: CDK named it otherwise, so a change to it synthesizes again
        assets[package] = {"source": source, "asset": predicted if predicted in referenced else None}
    _write(outdir / STATE_FILE, json.dumps({"infrastructure": infrastructure, "assets": assets}, indent=1, sort_keys=True))


def rebuild_asset(outdir: Path, source_dir: Path, *, old_id: str, source_hash: str) -> str:
    """Bundle `source_dir` into the assembly as the asset CDK would make of it and point every template that
    used `old_id` at it; returns the new asset id."""
    from stacks.common.bundling import TargetPlatform, bundle_into, cdk_asset_hash

    new_id = cdk_asset_hash(source_hash)
    target = outdir / f"asset.{new_id}"
    if not target.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=f".asset.{new_id[:12]}-", dir=outdir))
        try:
            bundle_into(staging, source_dir, TargetPlatform.host())
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    texts = {path: path.read_text() for path in sorted(outdir.glob("*.json"))}
    changed = {path: text.replace(old_id, new_id) for path, text in texts.items() if old_id in text}
    # A template's own file asset is named by the sha256 of its bytes: it changes with the code asset's id.
    for manifest_path in [p for p in texts if p.name.endswith(".assets.json")]:
        manifest = json.loads(texts[manifest_path])
        for template_id, asset in (manifest.get("files") or {}).items():
            template_path = outdir / asset["source"]["path"]
            if template_path in changed and asset["source"].get("packaging") == "file":
                new_template_id = hashlib.sha256(changed[template_path].encode()).hexdigest()
                for path, text in texts.items():
                    if template_id in changed.get(path, text):
                        changed[path] = changed.get(path, text).replace(template_id, new_template_id)
    # An asset manifest names each destination `<environment>-<first 8 hex of the sha256 of its JSON>`, and a
    # destination's object key holds the asset id: rename the destinations as CDK names them (where its old
    # names follow that rule).
    for path in [p for p in changed if p.name.endswith(".assets.json")]:
        if all(key == _destination_key(key, destination) for key, destination in _destinations(texts[path])):
            for key, destination in _destinations(changed[path]):
                changed[path] = changed[path].replace(json.dumps(key), json.dumps(_destination_key(key, destination)))
    # asset folder first (done above), then the manifests, then the templates: a reader never meets an id
    # that names no folder
    for path in sorted(changed, key=lambda p: p.name.endswith(".template.json")):
        _write(path, changed[path])
    prune_stale_assets(outdir)
    return new_id


def _destinations(manifest_text: str) -> list[tuple[str, dict]]:
    manifest = json.loads(manifest_text)
    return [(key, destination) for kind in ("files", "dockerImages") for asset in (manifest.get(kind) or {}).values()
            for key, destination in (asset.get("destinations") or {}).items()]


def _destination_key(key: str, destination: dict) -> str:
    """aws-cdk-lib's AssetManifestBuilder: `${environment}-${sha256(JSON.stringify(destination)).slice(0, 8)}`."""
    environment = key.rsplit("-", 1)[0]
    digest = hashlib.sha256(json.dumps(destination, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    return f"{environment}-{digest[:8]}"


def _write(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}-", suffix=".tmp", delete=False,
                                     encoding="utf-8") as tmp:
        tmp.write(text)
    Path(tmp.name).replace(path)


def _referenced_assets(outdir: Path) -> set[str]:
    """Asset folder ids the assembly's asset manifests name."""
    referenced = set()
    for manifest in outdir.glob("*.assets.json"):
        for asset in (json.loads(manifest.read_text()).get("files") or {}).values():
            first = Path(asset["source"]["path"]).parts[0]
            if first.startswith("asset."):
                referenced.add(first.removeprefix("asset."))
    return referenced


ZIP_CACHE = ".zips"  # in the assembly: each asset folder zipped once (sandbox.emulator.upload_assets)


def prune_stale_assets(outdir: Path) -> list[str]:
    """Remove `asset.*` folders and files (and their cached zips) that no asset manifest of the assembly names;
    return their names."""
    referenced = {f"asset.{asset_id}" for asset_id in _referenced_assets(outdir)}
    removed = []
    for path in [*outdir.glob("asset.*"), *(outdir / ZIP_CACHE).glob("*.zip")]:
        name = path.name.removesuffix(".zip") if path.parent.name == ZIP_CACHE else path.name
        if name not in referenced:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
            removed.append(path.name if path.parent == outdir else f"{ZIP_CACHE}/{path.name}")
    return removed


def assembly_lock(outdir: Path) -> FileLock:
    """The lock under which the assembly at `outdir` is changed; hold it to read a consistent one."""
    return FileLock(str(outdir.parent / f".{outdir.name}.lock"))


def copy_project(dest: Path, root: Path = REPO_ROOT) -> Path:
    """A copy of the project's synth inputs with its current `local` assembly, at `dest`: to try a change without
    touching the project (the hot-swap tests and bench). The assembly's files are hard-linked where they can be
    (every writer here replaces a file whole or adds a new one, never changes one in place)."""
    skip = shutil.ignore_patterns(*_SKIP_PARTS, "*.pyc")
    dest.mkdir(parents=True, exist_ok=True)
    for name in (*_INFRASTRUCTURE, LAMBDA_SOURCES):
        source = root / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=skip)
        elif source.exists():
            shutil.copy2(source, dest / name)
    from stacks.common.bundling import link_or_copy

    synthesize_local(root=root)  # current before it is copied
    with assembly_lock(assembly_dir(root)):
        shutil.copytree(assembly_dir(root), assembly_dir(dest), copy_function=link_or_copy)
    return dest
