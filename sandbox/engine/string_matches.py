"""Choice `StringMatches` with AWS's pattern rules, in moto 5.2.5.

AWS: `*` is the only wildcard (zero or more characters); `\\*` is a literal asterisk and `\\\\` a
literal backslash; every other character, `[`, `]` and `?` included, is itself. moto 5.2.5 uses
`fnmatch`, where `?` is any one character and `[...]` a character class, so a pattern such as
`["*"]` (a JSON array of strings) means "one of `"` or `*`" locally and never matches. This
extension compares as AWS does.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterator


@lru_cache(maxsize=256)
def aws_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression AWS's StringMatches `pattern` stands for."""
    parts, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern) and pattern[index + 1] in "*\\":
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


def string_matches(value: Any, pattern: Any) -> bool:
    return isinstance(value, str) and isinstance(pattern, str) and aws_pattern(pattern).fullmatch(value) is not None


@contextmanager
def aws_string_matches() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.string_operators import (
        StringMatches,
    )

    original = StringMatches.__dict__["_compare"]
    StringMatches._compare = staticmethod(string_matches)
    try:
        yield
    finally:
        StringMatches._compare = original
