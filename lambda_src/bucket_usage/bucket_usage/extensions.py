"""Which group an object key counts in.

Rules (the workflow's contract, property-tested in tests/unit/bucket_usage):

* Only the key's last path segment (after the last "/") matters.
* Extensions are case-insensitive: `A.JPG` and `b.jpg` are both `jpg` (Unicode case folding,
  `str.casefold`, so `.ẞ` and `.ss` are one group too).
* Only the last suffix counts (`a.tar.gz` is `gz`), unless a configured compound
  extension matches the end of the name (`tar.gz` configured: `a.tar.gz` is `tar.gz`);
  the longest configured match wins, and it needs a non-empty stem before it.
* Names without an extension form the group `(none)`: no dot, a trailing dot
  (`file.`), or a key ending in "/" (a folder marker).
* Dotfiles form the group `(dotfile)`: a name that starts with "." and has no other
  dot (`.env`, `.gitignore`). A dotted name with a later suffix counts by that
  suffix (`.eslintrc.json` is `json`), as `os.path.splitext` sees it.
"""

from __future__ import annotations

from typing import Iterable

NO_EXTENSION = "(none)"
DOTFILE = "(dotfile)"
OTHER = "(other)"  # extensions beyond the per-bucket cap (see counting.UsageCounts)
SPECIAL_GROUPS = (NO_EXTENSION, DOTFILE, OTHER)
MAX_COMPOUND_PARTS = 4


def normalise_compounds(compounds: Iterable[str]) -> tuple[str, ...]:
    """Validate configured compound extensions ("tar.gz"), lower-cased, longest first."""
    result = set()
    for raw in compounds:
        value = str(raw).strip().casefold().lstrip(".")
        parts = value.split(".")
        if len(parts) < 2 or len(parts) > MAX_COMPOUND_PARTS or not all(parts) or "/" in value:
            raise ValueError(f"compound extension {raw!r} must look like 'tar.gz' (2-{MAX_COMPOUND_PARTS} non-empty parts)")
        result.add(value)
    return tuple(sorted(result, key=lambda c: (-len(c), c)))


def extension_group(key: str, compounds: tuple[str, ...] = ()) -> str:
    """The group `key` counts in: a case-folded extension without its dot, `(none)` or `(dotfile)`.

    `compounds` must come from `normalise_compounds` (lower-case, longest first).
    """
    name = key.rsplit("/", 1)[-1].casefold()
    if not name:
        return NO_EXTENSION
    for compound in compounds:
        suffix = "." + compound
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            if stem.strip("."):
                return compound
    dot = name.rfind(".")
    if dot == -1 or dot == len(name) - 1:
        return NO_EXTENSION
    if name.lstrip(".").find(".") == -1:  # every dot is leading: ".env", "..x"
        return DOTFILE
    return name[dot + 1 :]
