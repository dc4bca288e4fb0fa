"""Every test a README names as proof of a promise exists: the file, and the test function in it. A renamed or
deleted test would otherwise leave a guarantee that nothing proves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stacks.common.registry import REPO_ROOT, discover_workflows

READMES = [REPO_ROOT / "README.md", *(workflow.readme for workflow in discover_workflows())]
CODE_SPAN = re.compile(r"`([^`\n]+)`")
TEST_FILE = re.compile(r"\btests/[\w/]+\.py\b")
TEST_NAME = re.compile(r"(?<![\w/])(test_\w+)\b(?!\.py)")
DEFINED = re.compile(r"^(?:async )?def (test_\w+)\(", re.M)


def defined_tests(path: Path) -> set[str]:
    return set(DEFINED.findall(path.read_text(encoding="utf-8")))


ALL_TESTS = {name for path in (REPO_ROOT / "tests").rglob("test_*.py") for name in defined_tests(path)}


def references(readme: Path) -> list[tuple[str | None, str | None]]:
    """(test file or None, test name or None) named in each code span of `readme`."""
    found = []
    for span in CODE_SPAN.findall(readme.read_text(encoding="utf-8")):
        files = TEST_FILE.findall(span)
        names = [name for name in TEST_NAME.findall(span) if not name.endswith("_")]
        found += [(files[-1] if files else None, name) for name in names] or [(path, None) for path in files]
    return found


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_every_test_a_readme_names_exists(readme: Path):
    # GIVEN the test files and test functions a README names
    named = references(readme)
    # THEN each file exists and each test is defined (in the file named with it, else somewhere under tests/)
    missing = []
    for path, name in named:
        if path is not None and not (REPO_ROOT / path).is_file():
            missing.append(path)
        elif name is not None and name not in (defined_tests(REPO_ROOT / path) if path else ALL_TESTS):
            missing.append(f"{path or 'tests/'}::{name}")
    assert missing == [], missing


def test_the_reference_reader_finds_names_files_and_a_missing_test(tmp_path: Path):
    # GIVEN a README naming a file and test, a continuation (`::name`), a bare name and a file alone
    readme = tmp_path / "README.md"
    readme.write_text("`tests/unit/a.py::test_one`, `::test_two`; `test_three` and `tests/b.py` but not `test_.py`\n")
    # THEN each is read with the file it belongs to
    assert references(readme) == [("tests/unit/a.py", "test_one"), (None, "test_two"), (None, "test_three"), ("tests/b.py", None)]
