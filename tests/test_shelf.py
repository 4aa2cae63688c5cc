"""The shipped shelf, its icons and the module file that puts both on Maya's paths."""

from __future__ import annotations

import re
import struct

import pytest

from openpipeline.host import menu
from tests.helpers.cli import REPO

SHELF = REPO / "shelves" / "shelf_OpenPipeline.mel"
ICONS = REPO / "icons"
_FLAG = re.compile(r'-(\w+)\s+(?:"((?:[^"\\]|\\.)*)"|(\S+))')
_CALL = re.compile(r"\Aimport openpipeline\.host\.menu as m; m\.(\w+)\((.*)\)\Z")
WANTED = {"Browser", "Save Workshop", "Master", "Open", "Reference", "Import", "Check Out", "Check In",
          "Restore Texture", "Scatter", "History", "Snapshot"}


def _buttons() -> list[dict[str, str]]:
    text = SHELF.read_text(encoding="utf-8")
    blocks = re.findall(r"^\s*shelfButton\b(.*?)^\s*;\s*$", text, flags=re.S | re.M)
    return [{flag: quoted or bare for flag, quoted, bare in _FLAG.findall(block)} for block in blocks]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_shelf_has_every_everyday_button():
    """Browser, save workshop, master, open, reference, import, check out/in, restore texture,
    scatter, history and snapshot are all on the shelf."""
    labels = {button.get("label") for button in _buttons()}
    assert labels >= WANTED


@pytest.mark.parametrize("button", _buttons(), ids=lambda button: button.get("label", "?"))
def test_each_button_is_complete_and_calls_a_menu_function(button):
    """Label, annotation, a shipped icon, Python source, and a command naming a host.menu function."""
    assert button.get("label") and button.get("annotation", "").startswith("OpenPipeline: ")
    assert (ICONS / button["image1"]).is_file(), button["image1"]
    assert button.get("sourceType") == "python"
    call = _CALL.match(button.get("command", ""))
    assert call, button.get("command")
    assert callable(getattr(menu, call.group(1), None)), call.group(1)


def test_the_icons_are_32_pixel_pngs():
    """Every icon in icons/ is a 32x32 PNG, and make_icons.py draws each one it ships."""
    pngs = sorted(ICONS.glob("*.png"))
    assert len(pngs) >= 12
    for png in pngs:
        assert _png_size(png.read_bytes()) == (32, 32), png.name
    script = (ICONS / "make_icons.py").read_text(encoding="utf-8")
    assert all(f'"{png.stem}"' in script for png in pngs)


def test_the_module_puts_the_icons_on_xbmlangpath_for_every_maya():
    """module.mod has 'XBMLANGPATH +:= icons' in the 2024, 2025 and 2026 sections."""
    text = (REPO / "module.mod").read_text(encoding="utf-8")
    sections = re.split(r"^\+ ", text, flags=re.M)[1:]
    versions = {}
    for section in sections:
        header, _, body = section.partition("\n")
        version = re.search(r"MAYAVERSION:(\d{4})", header)
        assert version, header
        versions[version.group(1)] = [line.strip() for line in body.splitlines()]
    assert set(versions) >= {"2024", "2025", "2026"}
    for version, lines in versions.items():
        assert "XBMLANGPATH +:= icons" in lines, version
        assert "MAYA_SHELF_PATH +:= shelves" in lines, version
