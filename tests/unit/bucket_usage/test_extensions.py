"""Extension grouping: the counting rules of the issue, by example and as properties (hypothesis)."""

from __future__ import annotations

import os.path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bucket_usage.extensions import DOTFILE, NO_EXTENSION, extension_group, normalise_compounds

COMPOUNDS = normalise_compounds(["tar.gz", "TAR.BZ2", "min.js.map"])

# Name parts without "/" or ".": letters (any case, some non-ASCII), digits, "-", "_", " ".
part = st.text(alphabet=st.characters(categories=("Lu", "Ll", "Nd"), include_characters="-_ "), min_size=1, max_size=12)
directory = st.lists(st.text(alphabet=st.characters(blacklist_characters="/", blacklist_categories=("Cs",)), max_size=8), max_size=3).map(
    lambda parts: "".join(p + "/" for p in parts)
)


@pytest.mark.parametrize(
    ("key", "group"),
    [
        ("photo.JPG", "jpg"),
        ("photo.jpg", "jpg"),
        ("dir/Sub.Dir/photo.Jpeg", "jpeg"),
        ("a.tar.gz", "tar.gz"),
        ("A.TAR.GZ", "tar.gz"),
        ("backup.tar.bz2", "tar.bz2"),
        ("app.min.js.map", "min.js.map"),
        ("x.js.map", "map"),
        ("a.b.gz", "gz"),
        (".tar.gz", "gz"),  # a compound needs a stem before it
        ("README", NO_EXTENSION),
        ("dir.d/README", NO_EXTENSION),
        ("file.", NO_EXTENSION),
        ("folder/", NO_EXTENSION),
        (".env", DOTFILE),
        ("home/u1/.profile", DOTFILE),
        ("..hidden", DOTFILE),
        (".eslintrc.json", "json"),
    ],
)
def test_examples(key, group):
    assert extension_group(key, COMPOUNDS) == group


def test_without_compounds_only_the_last_suffix_counts():
    assert extension_group("a.tar.gz") == "gz"


@pytest.mark.parametrize("bad", ["gz", ".", "tar..gz", "a/b.gz", "a.b.c.d.e"])
def test_bad_compound_extensions_are_refused(bad):
    with pytest.raises(ValueError):
        normalise_compounds([bad])


ascii_part = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=12)


@given(directory, ascii_part, ascii_part)
def test_ascii_case_never_matters(prefix, stem, ext):
    key = f"{prefix}{stem}.{ext}"
    assert extension_group(key.upper(), COMPOUNDS) == extension_group(key.lower(), COMPOUNDS) == extension_group(key, COMPOUNDS)


@given(directory, part, part)
def test_any_case_is_folded(prefix, stem, ext):
    # Unicode has no round trip through upper() (Turkish dotless i, "ŉ"); case folding is the rule.
    key = f"{prefix}{stem}.{ext}"
    assert extension_group(key.casefold(), COMPOUNDS) == extension_group(key, COMPOUNDS) == ext.casefold()


@given(directory, st.lists(part, min_size=2, max_size=5))
def test_without_compounds_the_group_is_the_lower_cased_last_suffix(prefix, parts):
    name = ".".join(parts)
    assert extension_group(prefix + name) == parts[-1].casefold()
    # the same answer as os.path.splitext for names that do not start with a dot
    assert extension_group(prefix + name) == os.path.splitext(name)[1][1:].casefold()


@given(directory, part)
def test_names_without_a_dot_form_one_group(prefix, name):
    assert extension_group(prefix + name, COMPOUNDS) == NO_EXTENSION
    assert extension_group(prefix + name + ".", COMPOUNDS) == NO_EXTENSION


@given(directory, part, st.integers(min_value=1, max_value=3))
def test_dotfiles_form_one_group(prefix, name, dots):
    assert extension_group(prefix + "." * dots + name, COMPOUNDS) == DOTFILE


@given(directory, part, st.sampled_from(COMPOUNDS))
def test_a_configured_compound_wins_over_its_last_suffix(prefix, stem, compound):
    assert extension_group(f"{prefix}{stem}.{compound.upper()}", COMPOUNDS) == compound


@given(directory, st.text(max_size=30))
def test_the_group_depends_on_the_last_segment_only_and_is_never_empty(prefix, name):
    assume("/" not in name)
    group = extension_group(prefix + name, COMPOUNDS)
    assert group and group == extension_group(name, COMPOUNDS)
    assert group in (NO_EXTENSION, DOTFILE) or (group == group.casefold() and "/" not in group)
