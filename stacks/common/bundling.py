"""Docker-free Lambda packaging.

A workflow's `lambda_src/<workflow>/` folder is one asset: its source plus its
`requirements.txt` installed with pip for the target platform
(`--platform manylinux2014_aarch64 --python-version 3.14 --only-binary=:all:`,
or the host's Python for the `local` stage, whose handlers run on this machine).

Installed dependencies are cached under `.cache/lambda-deps/<hash>` keyed by the
requirements file and the target platform, and the asset hash is computed from
the source files plus that key, so an unchanged function is never re-bundled
and never re-uploaded.

Importing this module does not start jsii/Node (CDK is imported when an asset is made): the
sandbox rebuilds a changed function's asset with the same code, without a synth.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from functools import cache
from typing import TYPE_CHECKING

from filelock import FileLock

if TYPE_CHECKING:
    from aws_cdk import aws_lambda as lambda_

    from stacks.common.config import StageConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPS_CACHE = REPO_ROOT / ".cache" / "lambda-deps"
_IGNORED = ("__pycache__", ".pytest_cache", ".mypy_cache")
_IGNORED_SUFFIXES = (".pyc", ".pyo")
# The Lambda Python runtime ships these (boto3 and its dependencies); bundling them
# would only grow the asset and shadow the runtime's copies.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six", "bin")


class BundlingError(RuntimeError):
    """pip could not install a function's requirements for its target platform."""


@dataclass(frozen=True)
class TargetPlatform:
    """Where the bundled code will run.

    python_version: the Lambda runtime's Python (default "3.14").
    pip_platform: wheel platform tag (default arm64 Lambda); None means this host.
    """

    python_version: str = "3.14"
    pip_platform: str | None = "manylinux2014_aarch64"

    @classmethod
    def host(cls) -> "TargetPlatform":
        return cls(python_version=f"{sys.version_info.major}.{sys.version_info.minor}", pip_platform=None)

    @property
    def cache_key(self) -> str:
        return f"py{self.python_version}-{self.pip_platform or 'host-' + sys.platform + '-' + os.uname().machine}"


def _source_files(source_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in source_dir.rglob("*")
        if p.is_file() and not any(part in _IGNORED for part in p.parts) and p.suffix not in _IGNORED_SUFFIXES
    )


def content_hash(source_dir: Path, platform: TargetPlatform) -> str:
    """Hash of everything that decides the bundle's bytes: source files and target platform."""
    digest = hashlib.sha256(platform.cache_key.encode())
    for path in _source_files(source_dir):
        digest.update(path.relative_to(source_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def install_dependencies(requirements: Path, platform: TargetPlatform) -> Path:
    """pip-install `requirements` for `platform` into a content-addressed cache folder and return it.

    A file lock per cache key: several synths at once (test workers, a sandbox run) install it once.
    """
    key = hashlib.sha256(requirements.read_bytes() + platform.cache_key.encode()).hexdigest()[:32]
    target = DEPS_CACHE / key
    if (target / ".complete").exists():
        return target
    DEPS_CACHE.mkdir(parents=True, exist_ok=True)
    with FileLock(str(DEPS_CACHE / f"{key}.lock")):
        if (target / ".complete").exists():  # another process installed it while we waited
            return target
        staging = DEPS_CACHE / f"{key}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "--no-compile", "--target", str(staging), "-r", str(requirements)]
        if platform.pip_platform:
            command += ["--platform", platform.pip_platform, "--python-version", platform.python_version,
                        "--implementation", "cp", "--only-binary=:all:"]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BundlingError(f"pip install -r {requirements} for {platform.cache_key} failed:\n{result.stderr[-4000:]}")
        (staging / ".complete").write_text(platform.cache_key)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target


def _runtime_provided_filter(deps_root: Path):
    """shutil.copytree `ignore` callable: drop RUNTIME_PROVIDED packages (and their metadata) at the top level."""

    def distribution(name: str) -> str:
        stem = name.split("-")[0] if name.endswith(".dist-info") else name.removesuffix(".py")
        return stem.lower().removeprefix("python_")

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {name for name in names if name in (".complete", "__pycache__")}
        if Path(directory) == deps_root:
            skipped |= {name for name in names if distribution(name) in RUNTIME_PROVIDED}
        return skipped

    return ignore


def link_or_copy(source: str, destination: str) -> None:
    """Hard-link a cached dependency file into the bundle (the cache is never modified in place, and a
    synth then stages megabytes of dependencies without copying them); copy across file systems."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def bundle_into(out: Path, source_dir: Path, platform: TargetPlatform) -> None:
    """What a function's asset holds: `source_dir`'s requirements installed for `platform` (minus what the
    runtime provides) and its source files. CDK's local bundling and the sandbox's asset rebuild both call it."""
    requirements = source_dir / "requirements.txt"
    if requirements.exists():
        deps = install_dependencies(requirements, platform)
        shutil.copytree(deps, out, dirs_exist_ok=True, ignore=_runtime_provided_filter(deps), copy_function=link_or_copy)
    for path in _source_files(source_dir):
        destination = out / path.relative_to(source_dir)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)


# The image is required by the API but never pulled: local bundling always succeeds or raises.
_BUNDLING_IMAGE = "local-bundling-only"


def cdk_asset_hash(source_hash: str) -> str:
    """The asset id CDK gives `python_code_asset(...)` for a `content_hash` (its folder `asset.<id>`, its S3 key
    `<id>.zip`): aws-cdk-lib's AssetStaging hashes a CUSTOM hash with its bundling options,
    sha256(custom hash + JSON.stringify(bundling)), and ours serialize as below (the local bundler as `{}`).
    The sandbox checks this against every synth and synthesizes again where it does not hold."""
    bundling_json = '{"image":"%s","local":{}}' % _BUNDLING_IMAGE
    return hashlib.sha256((source_hash + bundling_json).encode()).hexdigest()


@cache
def _local_bundling_class() -> type:
    import jsii
    from aws_cdk import ILocalBundling

    @jsii.implements(ILocalBundling)
    class _PipLocalBundling:
        def __init__(self, source_dir: Path, platform: TargetPlatform) -> None:
            self._source_dir = source_dir
            self._platform = platform

        def try_bundle(self, output_dir: str, *, image, **_options) -> bool:  # noqa: ANN001 - jsii signature
            bundle_into(Path(output_dir), self._source_dir, self._platform)
            return True

    return _PipLocalBundling


def target_platform(stage: "StageConfig") -> TargetPlatform:
    """Lambda's Python 3.14 on arm64, or this host for the `local` stage (handlers run here)."""
    return TargetPlatform.host() if stage.bundle_for_host else TargetPlatform()


def python_code_asset(source_dir: Path, platform: TargetPlatform) -> "lambda_.Code":
    """Lambda code for `source_dir`, bundled locally (never in Docker) for `platform`."""
    from aws_cdk import AssetHashType, BundlingOptions, DockerImage
    from aws_cdk import aws_lambda as lambda_

    return lambda_.Code.from_asset(
        str(source_dir),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=content_hash(source_dir, platform),
        bundling=BundlingOptions(
            image=DockerImage.from_registry(_BUNDLING_IMAGE),
            local=_local_bundling_class()(source_dir, platform),
        ),
    )
