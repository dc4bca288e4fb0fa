"""`python -m sandbox fork SOURCE NEW_NAME [--into DIR]`: a new workflow from an existing one, in one command.

A workflow is one unit (stacks/common/registry.py): its stack folder, its Lambda package, its sandbox
scenario (and bench), and its tests. Forking copies exactly those files, renames every spelling of the
source's name in their paths and texts (kebab, snake, Pascal, camel, upper, words: so handler paths,
settings key, metrics namespace, secret names and descriptions become the new workflow's), writes its
per-stage settings (`local` from the source; `dev`/`prod` with every setting that ships as a placeholder
reset to it, so preflight names what to set), creates its template snapshots, and prints what to do next.
No shared file is edited: discovery finds the new workflow.

`--into DIR` exports one workflow as a standalone project instead: the shared parts (app, stacks/common,
the sandbox, tests of the shared parts, Makefile, CI, pinned requirements) and the workflow, renamed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from stacks.common.config import is_placeholder
from stacks.common.registry import REPO_ROOT, Workflow, WorkflowError, check_name, discover_workflows, get_workflow, owner_of

# Never copied into an export: caches, build output, environments, your own settings.
_NOT_COPIED = {".git", ".venv", ".venv-tools", "node_modules", ".sandbox", ".cache", "cdk.out", "__pycache__", ".pytest_cache",
               ".ruff_cache", ".hypothesis", ".mypy_cache"}
_SNAPSHOTS = Path("tests/templates/__snapshots__")


class ForkError(ValueError):
    """The fork cannot be made (bad or taken name, unknown source, a target that exists); one line, exit 2."""


class SnapshotError(RuntimeError):
    """The fork's files are written but its templates could not be synthesized into snapshots."""


# --------------------------------------------------------------------------- spellings
def spellings(name: str) -> dict[str, str]:
    """Every spelling of a kebab-case name that a workflow's files use, by form."""
    words = name.split("-")
    return {
        "kebab": name,
        "snake": "_".join(words),
        "pascal": "".join(w.capitalize() for w in words),
        "camel": words[0] + "".join(w.capitalize() for w in words[1:]),
        "upper_snake": "_".join(words).upper(),
        "upper_kebab": name.upper(),
        "flat": "".join(words),
        "words": " ".join(words),
        "sentence": " ".join(words).capitalize(),
        "title": " ".join(w.capitalize() for w in words),
    }


@dataclass(frozen=True)
class Renamer:
    """Replaces every spelling of `old` with the same spelling of `new` (longest spelling first)."""

    old: str
    new: str
    table: dict[str, str] = field(init=False)
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        old, new = spellings(self.old), spellings(self.new)
        table = {old[form]: new[form] for form in old}
        object.__setattr__(self, "table", table)
        object.__setattr__(self, "pattern", re.compile("|".join(re.escape(k) for k in sorted(table, key=len, reverse=True))))

    def text(self, value: str) -> str:
        return self.pattern.sub(lambda m: self.table[m.group(0)], value)

    def path(self, relative: Path) -> Path:
        return Path(*(self.text(part) for part in relative.parts))

    def leftovers(self, value: str) -> list[str]:
        """Spellings of the old name still in `value` (case-insensitive, flat forms too)."""
        lowered = value.lower()
        return sorted({s for s in spellings(self.old).values() if s.lower() in lowered})


# --------------------------------------------------------------------------- what a workflow is made of
def unit_files(workflow: Workflow, root: Path) -> list[Path]:
    """The workflow's own files, relative to `root`: stack folder, Lambda package, scenario, bench, tests."""
    roots = [root / "stacks" / workflow.package, root / "lambda_src" / workflow.package,
             root / "sandbox" / "scenarios" / f"{workflow.package}.py", root / "sandbox" / "benches" / f"{workflow.package}.py"]
    all_workflows = discover_workflows() if root == REPO_ROOT else _workflows_in(root)
    tests = root / "tests"

    def owned(path: Path) -> bool:  # by name: a workflow read from another checkout has no summary or order
        owner = owner_of(path, all_workflows)
        return owner is not None and owner.name == workflow.name

    roots += [p for p in tests.rglob(f"*{workflow.package}*") if _SNAPSHOTS.parts[-1] not in p.parts
              and owned(p) and not any(owned(q) for q in p.parents if tests in q.parents)]
    files: list[Path] = []
    for path in roots:
        if path.is_file():
            files.append(path.relative_to(root))
        elif path.is_dir():
            files += [p.relative_to(root) for p in sorted(path.rglob("*")) if p.is_file() and not _ignored(p)]
    return sorted(set(files))


def snapshot_files(workflow: Workflow, root: Path) -> list[Path]:
    """Its template snapshots (named after its stack id)."""
    folder = root / _SNAPSHOTS
    return sorted(p.relative_to(root) for p in folder.rglob("*.json") if re.search(rf"\b{workflow.stack_id}-", p.name))


def _ignored(path: Path) -> bool:
    return bool(_NOT_COPIED.intersection(path.parts)) or path.suffix == ".pyc"


def _workflows_in(root: Path) -> list[Workflow]:
    """The workflows declared under another checkout's stacks/ (read as text: its modules are not importable here)."""
    found = []
    for manifest in sorted((root / "stacks").glob("*/workflow.py")):
        match = re.search(r'name="([a-z0-9-]+)"', manifest.read_text())
        if match:
            found.append(Workflow(name=match.group(1), summary=""))
    return found


def placeholder_defaults(settings_type: type, instance: Any = None) -> dict[str, Any]:
    """The settings that ship as placeholders (a nested object of them), from the dataclass defaults."""
    instance = instance if instance is not None else settings_type()
    found: dict[str, Any] = {}
    for item in fields(instance):
        value = getattr(instance, item.name)
        if is_dataclass(value):
            nested = placeholder_defaults(type(value), value)
            if nested:
                found[item.name] = nested
        elif is_placeholder(value):
            found[item.name] = value
    return found


def _merge(target: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value
    return target


def forked_stages(source: Workflow, renamer: Renamer, root: Path) -> dict[str, Any]:
    """The fork's stages.json: the source's sections renamed; in every deployable stage, each setting that ships
    as a placeholder is reset to it (a fork must not deploy against the source's endpoints, buckets or projects)."""
    committed = json.loads((root / "stacks" / source.package / "stages.json").read_text())
    stages = json.loads(renamer.text(json.dumps(committed, ensure_ascii=False)))
    placeholders = json.loads(renamer.text(json.dumps(placeholder_defaults(source.settings_type()), ensure_ascii=False)))
    for name in sorted({"dev", "prod", *stages} - {"local"}):
        stages[name] = _merge(stages.get(name, {}), json.loads(json.dumps(placeholders)))
    return stages


# --------------------------------------------------------------------------- forking
@dataclass(frozen=True)
class ForkResult:
    source: str
    name: str
    root: Path
    files: list[Path]
    snapshots: list[Path]
    placeholders: list[str]

    def next_steps(self) -> str:
        new = Workflow(name=self.name, summary="")
        lines = [f"Forked {self.source} into {self.name} ({len(self.files)} files, no shared file edited):"]
        for folder in (f"stacks/{new.package}/", f"lambda_src/{new.package}/", f"sandbox/scenarios/{new.package}.py"):
            lines.append(f"  {folder}")
        tests = sorted({str(Path(*p.parts[:3])) if len(p.parts) > 3 and p.parts[2] == new.package else str(p)
                        for p in self.files if p.parts[0] == "tests" and (p.suffix == ".py" or len(p.parts) > 3)})
        lines += [f"  {p}" for p in tests[:6]] + ([f"  ... and {len(tests) - 6} more test files"] if len(tests) > 6 else [])
        lines += [f"  {p}" for p in self.snapshots]
        lines += ["", "Next:",
                  f"  .venv/bin/python -m sandbox run {self.name}                # run it offline, end to end",
                  f"  .venv/bin/python -m pytest {' '.join(tests)}   # its own tests",
                  f"  edit stacks/{new.package}/stack.py and lambda_src/{new.package}/ to make it yours; "
                  f"`make snapshots` after reviewing a template change"]
        if self.placeholders:
            lines.append("  before deploying, set (for each stage: -c KEY=VALUE, or your git-ignored settings/<stage>.json):")
            lines += [f"    {key}" for key in self.placeholders]
        lines.append(f"  make deploy STAGE=dev WORKFLOW={self.name}")
        return "\n".join(lines)


def check_fork(source_name: str, new_name: str, root: Path = REPO_ROOT) -> tuple[Workflow, Workflow]:
    """Validate the names (ForkError, one line, before anything is written)."""
    try:
        source = get_workflow(source_name) if root == REPO_ROOT else next(
            (w for w in _workflows_in(root) if w.name == source_name), None) or get_workflow(source_name)
        check_name(new_name)
    except WorkflowError as exc:
        raise ForkError(str(exc)) from None
    new = Workflow(name=new_name, summary="")
    taken = [w for w in (discover_workflows() if root == REPO_ROOT else _workflows_in(root))
             if new.name == w.name or new.stack_id == w.stack_id]
    if taken:
        raise ForkError(f"workflow {new_name!r} exists already (stacks/{taken[0].package}/); choose another name")
    renamer = Renamer(source.name, new.name)
    clashes = [renamer.path(p) for p in unit_files(source, root) if (root / renamer.path(p)).exists()]
    if clashes:
        raise ForkError(f"{clashes[0]} exists already; remove it or choose another name")
    return source, new


def fork(source_name: str, new_name: str, *, root: Path = REPO_ROOT, snapshots: bool = True,
         log: Callable[[str], None] = lambda _: None) -> ForkResult:
    """Copy and rename `source_name`'s unit into `new_name` under `root` (a checkout of this project)."""
    source, new = check_fork(source_name, new_name, root)
    renamer = Renamer(source.name, new.name)
    written = []
    for relative in unit_files(source, root):
        target = root / renamer.path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = (root / relative).read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            target.write_bytes(data)  # binary: copied as is
        else:
            target.write_text(_adapt(relative, renamer.text(text), source, new), encoding="utf-8")
        written.append(renamer.path(relative))
    stages = forked_stages(source, renamer, root)
    (root / "stacks" / new.package / "stages.json").write_text(json.dumps(stages, indent=2, ensure_ascii=False) + "\n")
    log(f"copied {len(written)} files of {source.name} as {new.name}")
    made = create_snapshots(new, root) if snapshots else []
    placeholders = _flatten(placeholder_defaults(source.settings_type()), new.package)
    return ForkResult(source.name, new.name, root, written, made, placeholders)


def _adapt(relative: Path, text: str, source: Workflow, new: Workflow) -> str:
    """Per-file touches beyond renaming: the manifest sorts right after its source; the README says where it came from."""
    if relative.as_posix() == f"stacks/{source.package}/workflow.py":
        return re.sub(r"order=(\d+)", lambda m: f"order={int(m.group(1)) + 1}", text)
    if relative.as_posix() == f"stacks/{source.package}/README.md":
        title, _, rest = text.partition("\n")
        return f"{title}\n\n_Forked from `{source.name}` on {date.today():%Y-%m-%d} by `sandbox fork`._\n{rest}"
    return text


def _flatten(tree: dict[str, Any], prefix: str) -> list[str]:
    keys = []
    for key, value in tree.items():
        keys += _flatten(value, f"{prefix}.{key}") if isinstance(value, dict) else [f"{prefix}.{key}"]
    return keys


def create_snapshots(workflow: Workflow, root: Path) -> list[Path]:
    """Synthesize the workflow (local and prod) and write its template snapshots, with the project's own pytest."""
    before = set(snapshot_files(workflow, root))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider", "tests/templates/test_snapshots.py",
         "-k", workflow.stack_id, "--snapshot-update"],
        cwd=root, capture_output=True, text=True, check=False, env={**os.environ, "WORKFLOW_SETTINGS_DIR": ""},
    )
    made = sorted(set(snapshot_files(workflow, root)) - before)
    if result.returncode != 0 or not made:
        raise SnapshotError(f"{workflow.name}'s files are in place, but synthesizing its snapshots failed: "
                            f"{_last_lines(result.stdout + result.stderr)}")
    return made


def _last_lines(text: str, count: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-count:])


# --------------------------------------------------------------------------- standalone export
def copy_project(destination: Path, keep: Iterable[Workflow], *, root: Path = REPO_ROOT) -> list[Path]:
    """Copy this project into `destination` with only the `keep` workflows (their files and snapshots)."""
    keep = list(keep)
    others = [w for w in discover_workflows() if w not in keep]
    skipped = {p for w in others for p in unit_files(w, root) + snapshot_files(w, root)}
    copied = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or _ignored(relative) or relative in skipped or relative.parts[0] == "settings":
            continue
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        copied.append(relative)
    return copied


def link_caches(destination: Path, root: Path = REPO_ROOT) -> None:
    """Seed the copy's Lambda dependency cache from ours with hard links (content-addressed; saves the pip installs)."""
    cache = root / ".cache" / "lambda-deps"
    if cache.is_dir() and not (destination / ".cache").exists():
        try:
            shutil.copytree(cache, destination / ".cache" / "lambda-deps", copy_function=os.link,
                            ignore=shutil.ignore_patterns("*.lock", "*.partial"))
        except OSError:  # another file system: a copy is still cheaper than reinstalling
            shutil.copytree(cache, destination / ".cache" / "lambda-deps", dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*.lock", "*.partial"))


def export(source_name: str, new_name: str, into: Path, *, snapshots: bool = True,
           log: Callable[[str], None] = lambda _: None) -> ForkResult:
    """A standalone project in `into` holding only `source_name`, renamed `new_name`."""
    source, _ = check_fork(source_name, new_name)
    into = into.resolve()
    if into.exists() and any(into.iterdir()):
        raise ForkError(f"--into {into}: the folder exists and is not empty")
    if into == REPO_ROOT or REPO_ROOT in into.parents:
        raise ForkError(f"--into {into}: choose a folder outside this project")
    copy_project(into, [source])
    link_caches(into)
    log(f"copied the shared parts and {source.name} into {into}")
    result = fork(source.name, new_name, root=into, snapshots=False)
    for relative in unit_files(source, into) + snapshot_files(source, into):
        (into / relative).unlink()
    _remove_empty_folders(into)
    others = [workflow for workflow in discover_workflows() if workflow.name != source.name]
    (into / "README.md").write_text(standalone_readme(into, Workflow(name=new_name, summary=""), source=source, others=others),
                                    encoding="utf-8")
    made = create_snapshots(Workflow(name=new_name, summary=""), into) if snapshots else []
    return ForkResult(source.name, new_name, into, result.files, made, result.placeholders)


def _remove_empty_folders(root: Path) -> None:
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()


STANDALONE_SECTIONS = ("Deploy", "Settings", "The sandbox", "Limits of the local engine")


def standalone_readme(root: Path, workflow: Workflow, *, source: Workflow, others: Sequence[Workflow] = ()) -> str:
    """The exported project's README: the two commands, its workflow's README, then the project's generic sections,
    their examples renamed from `source`, and none that names a workflow the export does not hold (`others`)."""
    top = (root / "README.md").read_text()
    own = (root / "stacks" / workflow.package / "README.md").read_text()
    title, _, body = own.partition("\n")
    parts = [f"# {workflow.name}\n", "```sh\nmake demo   # set up, synthesize, deploy into the embedded AWS emulator, run the workflow\n"
             "make test   # set up, then the whole suite, offline\n```\n",
             f"A Python AWS CDK v2 app holding one production-grade Step Functions workflow, `{workflow.name}`, that also runs "
             "offline, end to end, in an embedded AWS emulator. Its details: [stacks/"
             f"{workflow.package}/README.md](stacks/{workflow.package}/README.md).\n", body.strip() + "\n"]
    renamer = Renamer(source.name, workflow.name)
    for heading in STANDALONE_SECTIONS:
        section = _section(top, heading)
        if section:
            parts.append(without_examples_of(renamer.text(section), others))
    return "\n".join(parts)


# Inline code that starts like a command (tests/unit/test_readme_commands.py checks each one the READMEs show).
COMMAND_SPAN = re.compile(r"`((?:\.venv/bin/python|python3?|make|npx cdk|node_modules/\.bin/cdk) [^`\n]+)`")


def names_pattern(workflows: Sequence[Workflow]) -> re.Pattern[str]:
    """Any of `workflows` named as a whole word, kebab (its name) or snake (its package)."""
    spelled = "|".join(re.escape(spelling) for w in workflows for spelling in (w.name, w.package))
    return re.compile(rf"(?<![\w-])({spelled})(?![\w-])")


def without_examples_of(markdown: str, others: Sequence[Workflow]) -> str:
    """`markdown` with no example for a workflow in `others`: a shell-block line naming one is left out, and in
    prose a command naming one names `<workflow>` instead (the text about it stays, as of the upstream project)."""
    if not others:
        return markdown
    names = names_pattern(others)
    lines, in_block = [], False
    for line in markdown.splitlines(keepends=True):
        if line.startswith("```"):
            in_block = not in_block
        elif in_block and names.search(line):
            continue
        elif not in_block:
            line = COMMAND_SPAN.sub(lambda m: f"`{names.sub('<workflow>', m.group(1))}`", line)
        lines.append(line)
    return "".join(lines)


def _section(markdown: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", markdown, flags=re.M | re.S)
    return match.group(0).rstrip() + "\n" if match else ""
