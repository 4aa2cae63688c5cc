"""Names that become paths are validated before anything touches the disk."""

from __future__ import annotations

import pytest

from openpipeline.core.address import ItemRef
from openpipeline.core.errors import InvalidAddressError, InvalidNameError
from openpipeline.core.names import MAX_NAME_LENGTH, validate_name

BAD_NAMES = {
    "a/b": "found '/'",
    "a\\b": "found '\\'",
    "..": "'..'",
    "a..b": "'..'",
    "two words": "a space",
    "chаir": "CYRILLIC SMALL LETTER A",  # Cyrillic 'а' looks like ASCII 'a'
    "ﬁle": "LATIN SMALL LIGATURE FI",
    "": "empty",
    "x" * (MAX_NAME_LENGTH + 1): "characters long",
    "1chair": "must start with a letter",
    "_chair": "must start with a letter",
    "CON": "reserved by Windows",
    "lpt1": "reserved by Windows",
    "workshop": "folder name of the project layout",
    "tab\there": "whitespace",
}


@pytest.mark.parametrize("name,expected", sorted(BAD_NAMES.items()))
def test_bad_names_are_refused_with_a_reason(name, expected):
    """Each bad name is refused and the message says why."""
    with pytest.raises(InvalidNameError) as info:
        validate_name(name, "Asset")
    assert expected in str(info.value)
    assert str(info.value).endswith(".")


@pytest.mark.parametrize("name", ["chair", "Chair_01", "sh010", "a", "x" * MAX_NAME_LENGTH])
def test_good_names_pass(name):
    """Letters, digits and '_' starting with a letter are accepted unchanged."""
    assert validate_name(name, "Asset") == name


def test_case_only_difference_from_a_sibling_is_refused():
    """'Chair' beside 'chair' would collide on Windows and macOS."""
    with pytest.raises(InvalidNameError, match="only by case"):
        validate_name("Chair", "Asset", siblings=["chair", "table"])


def test_address_parsing():
    """Addresses parse into tab, levels and kind."""
    ref = ItemRef.parse("shot/sq010/sh020/anim")
    assert (ref.tab, ref.parts, ref.kind) == ("shot", ("sq010", "sh020", "anim"), "shot_component")
    assert ItemRef.parse("asset/prop").kind == "asset_type"
    assert str(ItemRef.parse("asset/prop/chair/").parent) == "asset/prop"


@pytest.mark.parametrize("text", ["", "prop/chair", "asset", "asset/a/b/c/d", "asset/a/../b",
                                  "asset/a//b", "cam/a/b"])
def test_bad_addresses_are_refused(text):
    """Malformed addresses raise a user error."""
    with pytest.raises((InvalidAddressError, InvalidNameError)):
        ItemRef.parse(text)


def test_a_lone_dot_is_reported_as_given():
    """The name '.' is refused naming '.', not '..'."""
    with pytest.raises(InvalidNameError) as info:
        validate_name(".", "Asset")
    assert str(info.value) == (
        "Asset name '.' may only contain letters, digits and '_' (found '.').")
